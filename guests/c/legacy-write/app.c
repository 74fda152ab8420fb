/* Legacy write: sends most of its body through PEP 3333's write() callable, then
 * yields one last chunk; both go out in order. */
#include "wasgi.h"

static int legacy_write(const wasgi_environ *environ, wasgi_body *body) {
    (void)environ;
    wasgi_header headers[] = {{"Content-Type", "text/plain"}};
    if (wasgi_start_response("200 OK", headers, 1) != 0 || wasgi_write_str("written first\n") != 0 ||
        wasgi_write_str("written second\n") != 0)
        return WASGI_FAIL;
    return wasgi_body_string(body, "yielded last\n");
}

WASGI_APPLICATION(legacy_write)
