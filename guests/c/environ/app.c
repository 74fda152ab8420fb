/* Environ: answers with the request's environ as JSON, byte for byte as the Rust
 * environ guest (serde_json's pretty printer: two-space indent, keys sorted). Variable
 * values are shown as PEP 3333 shows them to Python: each byte one code point
 * (latin-1), so bytes that are not UTF-8 survive the trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

struct text {
    char *data;
    size_t len, cap;
};

static int grow(struct text *t, size_t more) {
    if (t->len + more <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + more)
        cap *= 2;
    char *data = realloc(t->data, cap);
    if (data == NULL)
        return -1;
    t->data = data;
    t->cap = cap;
    return 0;
}

static int put(struct text *t, const char *s, size_t n) {
    if (grow(t, n) != 0)
        return -1;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    return 0;
}

static int puts_(struct text *t, const char *s) { return put(t, s, strlen(s)); }

/* A JSON string of `len` bytes, each byte one code point (as serde_json escapes). */
static int put_string(struct text *t, const char *s, size_t len) {
    if (puts_(t, "\"") != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        char esc[8];
        int r;
        switch (b) {
        case '"': r = puts_(t, "\\\""); break;
        case '\\': r = puts_(t, "\\\\"); break;
        case '\b': r = puts_(t, "\\b"); break;
        case '\f': r = puts_(t, "\\f"); break;
        case '\n': r = puts_(t, "\\n"); break;
        case '\r': r = puts_(t, "\\r"); break;
        case '\t': r = puts_(t, "\\t"); break;
        default:
            if (b < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", b);
                r = puts_(t, esc);
            } else if (b < 0x80) {
                r = put(t, (const char *)&b, 1);
            } else {
                esc[0] = (char)(0xc0 | (b >> 6));
                esc[1] = (char)(0x80 | (b & 0x3f));
                r = put(t, esc, 2);
            }
        }
        if (r != 0)
            return -1;
    }
    return puts_(t, "\"");
}

static const wasgi_environ *sorting;

static int by_name(const void *a, const void *b) {
    return strcmp(wasgi_name(sorting, *(const size_t *)a), wasgi_name(sorting, *(const size_t *)b));
}

static int environ(const wasgi_environ *environ, wasgi_body *body) {
    size_t count = wasgi_count(environ);
    size_t *order = malloc((count ? count : 1) * sizeof *order);
    struct text t = {0};
    if (order == NULL)
        return wasgi_fail("environ: out of memory");
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    sorting = environ;
    qsort(order, count, sizeof *order, by_name);

    int r = puts_(&t, "{\n  \"variables\": {");
    for (size_t k = 0; k < count && r == 0; k++) {
        size_t len;
        const char *name = wasgi_name(environ, order[k]);
        const char *value = wasgi_value(environ, order[k], &len);
        r = puts_(&t, k ? ",\n    " : "\n    ");
        if (r == 0)
            r = put_string(&t, name, strlen(name));
        if (r == 0)
            r = puts_(&t, ": ");
        if (r == 0)
            r = put_string(&t, value, len);
    }
    free(order);
    if (r == 0)
        r = puts_(&t, count ? "\n  },\n" : "},\n");
    char flags[512];
    snprintf(flags, sizeof flags,
             "  \"wsgi.input_terminated\": %s,\n  \"wsgi.multiprocess\": %s,\n"
             "  \"wsgi.multithread\": %s,\n  \"wsgi.run_once\": %s,\n  \"wsgi.url_scheme\": ",
             wasgi_input_terminated(environ) ? "true" : "false",
             wasgi_multiprocess(environ) ? "true" : "false",
             wasgi_multithread(environ) ? "true" : "false",
             wasgi_run_once(environ) ? "true" : "false");
    const char *scheme = wasgi_url_scheme(environ);
    if (r == 0)
        r = puts_(&t, flags);
    if (r == 0)
        r = put_string(&t, scheme, strlen(scheme));
    if (r == 0)
        r = puts_(&t, "\n}");
    if (r != 0) {
        free(t.data);
        return wasgi_fail("environ: out of memory");
    }

    wasgi_header headers[] = {{"Content-Type", "application/json"}};
    if (wasgi_start_response("200 OK", headers, 1) != 0) {
        free(t.data);
        return WASGI_FAIL;
    }
    return wasgi_body_owned(body, t.data, t.len);
}

WASGI_APPLICATION(environ)
