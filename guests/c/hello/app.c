/* Hello, World! The smallest wasgi application in C. */
#include "wasgi.h"

static int hello(const wasgi_environ *environ, wasgi_body *body) {
    (void)environ;
    wasgi_header headers[] = {{"Content-Type", "text/plain"}};
    if (wasgi_start_response("200 OK", headers, 1) != 0)
        return WASGI_FAIL;
    return wasgi_body_string(body, "Hello, World!\n");
}

WASGI_APPLICATION(hello)
