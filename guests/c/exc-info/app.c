/* Exc-info: error handling the PEP 3333 way.
 *
 * - `/` starts a 200, fails, and replaces it with an error page through
 *   start_response with exc_info: possible because no body was sent yet.
 * - `/after-headers` sends part of the body, fails, and calls start_response with
 *   exc_info again: the headers are gone, so the gateway refuses, the response is
 *   aborted, and the app propagates the failure.
 * - `/unhandled` fails before any headers: the server's 500. */
#include <string.h>

#include "wasgi.h"

static const wasgi_header TEXT[] = {{"Content-Type", "text/plain"}};

static int after_headers_next(void *state, const void **data, size_t *len) {
    int *step = state;
    if (++*step == 1) {
        *data = "partial body\n";
        *len = strlen("partial body\n");
        return 1;
    }
    if (wasgi_start_response_exc_info("500 Internal Server Error", TEXT, 1,
                                      "Boom: failed mid-body") != 0)
        return wasgi_fail("Boom: failed mid-body");
    *data = "never sent\n";
    *len = strlen("never sent\n");
    return 1;
}

static int exc_info(const wasgi_environ *environ, wasgi_body *body) {
    static int step;
    const char *path = wasgi_get(environ, "PATH_INFO", NULL);
    if (path != NULL && strcmp(path, "/after-headers") == 0) {
        if (wasgi_start_response("200 OK", TEXT, 1) != 0)
            return WASGI_FAIL;
        body->next = after_headers_next;
        body->state = &step;
        return 0;
    }
    if (path != NULL && strcmp(path, "/unhandled") == 0)
        return wasgi_fail("Boom: unhandled before the headers");
    if (wasgi_start_response("200 OK", TEXT, 1) != 0)
        return WASGI_FAIL;
    if (wasgi_start_response_exc_info("500 Internal Server Error", TEXT, 1,
                                      "Boom: failed before the body") != 0)
        return WASGI_FAIL;
    return wasgi_body_string(body, "error page: failed before the body\n");
}

WASGI_APPLICATION(exc_info)
