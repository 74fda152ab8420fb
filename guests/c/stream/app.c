/* Stream: yields `n` numbered lines (query `?n=`, default 10), one chunk each, made
 * only when the host asks for the next. Logs how far it got when closed. */
#include <stdio.h>
#include <stdlib.h>

#include "wasgi.h"

struct lines {
    unsigned long sent, total;
    char line[32];
};

static int next_line(void *state, const void **data, size_t *len) {
    struct lines *lines = state;
    if (lines->sent == lines->total)
        return 0;
    lines->sent++;
    *len = (size_t)snprintf(lines->line, sizeof lines->line, "line %lu\n", lines->sent);
    *data = lines->line;
    return 1;
}

static void close_lines(void *state) {
    struct lines *lines = state;
    fprintf(stderr, "stream: closed after %lu of %lu lines\n", lines->sent, lines->total);
    free(lines);
}

static int stream(const wasgi_environ *environ, wasgi_body *body) {
    char n[32];
    unsigned long total = 10;
    if (wasgi_query_param(environ, "n", n, sizeof n) >= 0) {
        char *end;
        total = strtoul(n, &end, 10);
        if (*n < '0' || *n > '9' || *end != '\0')
            return wasgi_fail("stream: n is not a number: %s", n);
    }
    wasgi_header headers[] = {{"Content-Type", "text/plain"}};
    if (wasgi_start_response("200 OK", headers, 1) != 0)
        return WASGI_FAIL;
    struct lines *lines = calloc(1, sizeof *lines);
    if (lines == NULL)
        return wasgi_fail("stream: out of memory");
    lines->total = total;
    body->next = next_line;
    body->close = close_lines;
    body->state = lines;
    return 0;
}

WASGI_APPLICATION(stream)
