/* Echo: streams the request body back as it arrives, one chunk per read of
 * wsgi.input, so the first bytes go back before the last arrive. */
#include <stdlib.h>

#include "wasgi.h"

#define BLOCK (64 * 1024)

static int next_block(void *state, const void **data, size_t *len) {
    long n = wasgi_read(state, BLOCK);
    if (n < 0)
        return WASGI_FAIL;
    *data = state;
    *len = (size_t)n;
    return n > 0;
}

static void close_body(void *state) { free(state); }

static int echo(const wasgi_environ *environ, wasgi_body *body) {
    const char *type = wasgi_get(environ, "CONTENT_TYPE", NULL);
    if (type == NULL || *type == '\0')
        type = "application/octet-stream";
    wasgi_header headers[] = {{"Content-Type", type}};
    if (wasgi_start_response("200 OK", headers, 1) != 0)
        return WASGI_FAIL;
    void *buffer = malloc(BLOCK);
    if (buffer == NULL)
        return wasgi_fail("echo: out of memory");
    body->next = next_block;
    body->close = close_body;
    body->state = buffer;
    return 0;
}

WASGI_APPLICATION(echo)
