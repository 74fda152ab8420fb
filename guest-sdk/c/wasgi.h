/*
 * wasgi.h -- write wasgi applications in C.
 *
 * A wasgi application is PEP 3333's application(environ, start_response) compiled to
 * a WebAssembly component. In C it is one function and one macro:
 *
 *     #include "wasgi.h"
 *
 *     static int hello(const wasgi_environ *environ, wasgi_body *body) {
 *         wasgi_header headers[] = {{"Content-Type", "text/plain"}};
 *         if (wasgi_start_response("200 OK", headers, 1) != 0)
 *             return WASGI_FAIL;
 *         return wasgi_body_string(body, "Hello, World!\n");
 *     }
 *
 *     WASGI_APPLICATION(hello)
 *
 * Build it with guest-sdk/c/wasgi-cc (clang for wasm32-wasi, then wasm-tools
 * component new): `guest-sdk/c/wasgi-cc -o hello.wasm hello.c`.
 *
 * Rules, as PEP 3333's:
 * - Every gateway call returns 0 on success and -1 when the gateway refused it; then
 *   wasgi_error() says why. Propagate a refusal: return WASGI_FAIL (PEP 3333's
 *   "re-raise"). The host logs the message and sends its generic 500 if nothing was
 *   sent yet, else aborts the response.
 * - The body is pulled one chunk at a time through body->next; body->close runs
 *   exactly once when the host is done with the body (PEP 3333's close()), however
 *   the response ended.
 * - Everything a gateway call returns (wasgi_read's bytes aside, which land in your
 *   buffer) belongs to the SDK and stays valid for the whole request.
 *
 * wsgi.errors is stderr: fprintf(stderr, ...) goes to the host's log. stdout goes
 * there too, never to the response.
 */
#ifndef WASGI_H
#define WASGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an application (or body->next) returns when it fails. */
#define WASGI_FAIL (-1)

/* ---- the request: PEP 3333's environ ------------------------------------------ */

/* The request's environ: its CGI and HTTP_* variables (raw bytes) and wsgi.* flags. */
typedef struct wasgi_environ wasgi_environ;

/* The value of variable `name` (REQUEST_METHOD, PATH_INFO, HTTP_ACCEPT, ...), or NULL
 * when the request has none. The value is NUL-terminated for convenience; values may
 * hold any byte, so use `len` (when not NULL) for the exact length. */
const char *wasgi_get(const wasgi_environ *environ, const char *name, size_t *len);

/* The number of variables, and the i-th one's name and value (0 <= i < count), in the
 * order the host gave them. */
size_t wasgi_count(const wasgi_environ *environ);
const char *wasgi_name(const wasgi_environ *environ, size_t i);
const char *wasgi_value(const wasgi_environ *environ, size_t i, size_t *len);

/* The query parameter `name` from QUERY_STRING, percent- and '+'-decoded, copied
 * into `buf` (NUL-terminated, truncated to `size`); returns its length, or -1 when
 * the query has no such parameter. */
long wasgi_query_param(const wasgi_environ *environ, const char *name, char *buf, size_t size);

/* wsgi.url_scheme ("http" or "https"), wsgi.multithread, wsgi.multiprocess,
 * wsgi.run_once and wsgi.input_terminated. */
const char *wasgi_url_scheme(const wasgi_environ *environ);
bool wasgi_multithread(const wasgi_environ *environ);
bool wasgi_multiprocess(const wasgi_environ *environ);
bool wasgi_run_once(const wasgi_environ *environ);
bool wasgi_input_terminated(const wasgi_environ *environ);

/* wsgi.input: reads at most `max` bytes of the request body into `buf`. Returns the
 * number read, 0 at the end of the body, -1 when the client went away. Never reads
 * past CONTENT_LENGTH. */
long wasgi_read(void *buf, size_t max);

/* ---- the response: start_response and write ------------------------------------- */

/* One response header: a name (a token) and a NUL-terminated value. */
typedef struct {
    const char *name;
    const char *value;
} wasgi_header;

/* PEP 3333's start_response(status, headers): stores them; nothing is sent yet.
 * `status` is "NNN Reason". */
int wasgi_start_response(const char *status, const wasgi_header *headers, size_t count);

/* start_response(status, headers, exc_info): replaces the stored response with an
 * error page while nothing was sent; `exc_info` describes the failure (the host logs
 * it). After the headers went out it fails (WASGI_HEADERS_ALREADY_SENT) and the
 * response is aborted: propagate it. */
int wasgi_start_response_exc_info(const char *status, const wasgi_header *headers,
                                  size_t count, const char *exc_info);

/* PEP 3333's legacy write(): sends `len` bytes now, headers first. wasgi_write_str
 * sends a NUL-terminated string. */
int wasgi_write(const void *data, size_t len);
int wasgi_write_str(const char *text);

/* Why the last gateway call failed. */
typedef enum {
    WASGI_OK = 0,
    WASGI_WRITE_BEFORE_START_RESPONSE,
    WASGI_HEADERS_ALREADY_SET,
    WASGI_HEADERS_ALREADY_SENT,
    WASGI_INVALID_STATUS,
    WASGI_INVALID_HEADER,
    WASGI_OUTPUT_CLOSED,
    WASGI_INPUT_FAILED,
} wasgi_error_kind;

typedef struct {
    wasgi_error_kind kind;
    /* One line naming the rule that was broken (never NULL; "" with WASGI_OK). */
    const char *message;
} wasgi_error_t;

/* The last gateway refusal of this request. */
wasgi_error_t wasgi_error(void);

/* Sets the message the host logs when the application (or body->next) returns
 * WASGI_FAIL for a failure of its own (printf-style). Returns WASGI_FAIL. Without it,
 * the message is the last gateway refusal's. */
int wasgi_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- the body: PEP 3333's iterable ---------------------------------------------- */

/* The response body. The application fills it in; the host then pulls chunks. */
typedef struct wasgi_body {
    /* The next chunk: set *data and *len and return 1; return 0 at the end of the
     * body; WASGI_FAIL on failure. The chunk must stay valid until the next call. An
     * empty chunk sends nothing. NULL: the body is empty. */
    int (*next)(void *state, const void **data, size_t *len);
    /* PEP 3333's close(): runs exactly once when the host drops the body. May be NULL. */
    void (*close)(void *state);
    /* Passed to next and close. */
    void *state;
} wasgi_body;

/* A body of one NUL-terminated string (not copied: a literal, or memory that outlives
 * the request), or of `len` bytes. Both return 0. */
int wasgi_body_string(wasgi_body *body, const char *text);
int wasgi_body_bytes(wasgi_body *body, const void *data, size_t len);

/* A body of `len` bytes from malloc, which the SDK frees (free()) when the body is
 * closed. Returns 0. */
int wasgi_body_owned(wasgi_body *body, void *data, size_t len);

/* The application: fills in `body` and returns 0, or returns WASGI_FAIL. */
typedef int (*wasgi_application)(const wasgi_environ *environ, wasgi_body *body);

/* Serves `app`: put it once in the program, after the function. */
#define WASGI_APPLICATION(app) \
    wasgi_application wasgi_main_application = (app);

/* The application WASGI_APPLICATION names (defined by that macro). */
extern wasgi_application wasgi_main_application;

#ifdef __cplusplus
}
#endif

#endif /* WASGI_H */
