/*
 * wasgi.c -- the C SDK over the generated bindings (gen/app.h, from `wit-bindgen c`).
 *
 * Implements wasgi.h: the export `application.call` builds a wasgi_environ from the
 * WIT record, calls the application the program named with WASGI_APPLICATION, and
 * hands its wasgi_body to the host as the `body` resource, whose `next` pulls chunks
 * and whose destructor (the host dropping the body) runs the body's close exactly
 * once. Gateway refusals are kept for wasgi_error(); an application's failure message
 * (wasgi_fail, or else the last refusal) becomes the WIT error string.
 *
 * Ownership, as wit-bindgen's C bindings want it: the export's arguments belong to
 * this file (freed when the request's instance goes away, which is one request);
 * strings and lists returned to the host are malloc'ed and freed by the bindings'
 * post-return; import results are ours to free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "wasgi.h"

struct wasgi_environ {
    exports_wasgi_gateway_application_environ_t raw;
    /* The variables' names and values, NUL-terminated copies. */
    char **names;
    char **values;
    char *url_scheme;
};

/* The body resource: what the application filled in. */
struct exports_wasgi_gateway_application_body_t {
    wasgi_body body;
    int closed;
};

/* The last refusal, and the message of the application's own failure. */
static wasgi_error_kind last_kind = WASGI_OK;
static char *last_message;
static char *fail_message;

static char *copy(const uint8_t *ptr, size_t len) {
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    memcpy(s, ptr, len);
    s[len] = '\0';
    return s;
}

static void set_message(char **slot, char *message) {
    free(*slot);
    *slot = message;
}

/* Keeps a refusal for wasgi_error() and frees the WIT value. Returns -1. */
static int refused(wasgi_gateway_types_gateway_error_t *error) {
    static const char *const rules[] = {
        [WASGI_WRITE_BEFORE_START_RESPONSE] = "write() before start_response()",
        [WASGI_HEADERS_ALREADY_SET] = "start_response() called again without exc_info: headers already set",
        [WASGI_HEADERS_ALREADY_SENT] = "start_response() with exc_info after the headers were sent",
        [WASGI_INVALID_STATUS] = "invalid status: ",
        [WASGI_INVALID_HEADER] = "invalid header: ",
        [WASGI_OUTPUT_CLOSED] = "output closed: ",
        [WASGI_INPUT_FAILED] = "input failed: ",
    };
    /* The WIT cases, in order, are the enum's values after WASGI_OK. */
    last_kind = (wasgi_error_kind)(error->tag + 1);
    const char *rule = rules[last_kind];
    app_string_t *detail = NULL;
    switch (error->tag) {
    case WASGI_GATEWAY_TYPES_GATEWAY_ERROR_INVALID_STATUS: detail = &error->val.invalid_status; break;
    case WASGI_GATEWAY_TYPES_GATEWAY_ERROR_INVALID_HEADER: detail = &error->val.invalid_header; break;
    case WASGI_GATEWAY_TYPES_GATEWAY_ERROR_OUTPUT_CLOSED: detail = &error->val.output_closed; break;
    case WASGI_GATEWAY_TYPES_GATEWAY_ERROR_INPUT_FAILED: detail = &error->val.input_failed; break;
    default: break;
    }
    size_t rule_len = strlen(rule), detail_len = detail ? detail->len : 0;
    char *message = malloc(rule_len + detail_len + 1);
    if (message == NULL)
        abort();
    memcpy(message, rule, rule_len);
    if (detail)
        memcpy(message + rule_len, detail->ptr, detail_len);
    message[rule_len + detail_len] = '\0';
    set_message(&last_message, message);
    wasgi_gateway_types_gateway_error_free(error);
    return -1;
}

wasgi_error_t wasgi_error(void) {
    wasgi_error_t error = {last_kind, last_message ? last_message : ""};
    return error;
}

int wasgi_fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    int len = vsnprintf(NULL, 0, format, args);
    va_end(args);
    char *message = malloc(len > 0 ? (size_t)len + 1 : 1);
    if (message == NULL)
        abort();
    va_start(args, format);
    vsnprintf(message, (size_t)len + 1, format, args);
    va_end(args);
    set_message(&fail_message, message);
    return WASGI_FAIL;
}

/* The WIT error string for a failure: the app's message, else the last refusal's. */
static void failure(app_string_t *err) {
    const char *message = fail_message ? fail_message : last_message ? last_message : "application failed";
    app_string_dup(err, message);
    fprintf(stderr, "%s\n", message);
    set_message(&fail_message, NULL);
}

/* ---- environ -------------------------------------------------------------------- */

const char *wasgi_get(const wasgi_environ *environ, const char *name, size_t *len) {
    for (size_t i = 0; i < environ->raw.variables.len; i++) {
        if (strcmp(environ->names[i], name) == 0)
            return wasgi_value(environ, i, len);
    }
    return NULL;
}

size_t wasgi_count(const wasgi_environ *environ) { return environ->raw.variables.len; }

const char *wasgi_name(const wasgi_environ *environ, size_t i) {
    return i < environ->raw.variables.len ? environ->names[i] : NULL;
}

const char *wasgi_value(const wasgi_environ *environ, size_t i, size_t *len) {
    if (i >= environ->raw.variables.len)
        return NULL;
    if (len)
        *len = environ->raw.variables.ptr[i].f1.len;
    return environ->values[i];
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long wasgi_query_param(const wasgi_environ *environ, const char *name, char *buf, size_t size) {
    const char *query = wasgi_get(environ, "QUERY_STRING", NULL);
    size_t name_len = strlen(name);
    if (query == NULL || size == 0)
        return -1;
    for (const char *p = query; p != NULL; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, name_len) != 0 || (p[name_len] != '=' && p[name_len] != '&' && p[name_len] != '\0'))
            continue;
        size_t n = 0;
        p += name_len;
        if (*p == '=')
            p++;
        for (; *p && *p != '&'; p++) {
            int c = (unsigned char)*p;
            if (c == '+') {
                c = ' ';
            } else if (c == '%' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0) {
                c = hex_digit(p[1]) * 16 + hex_digit(p[2]);
                p += 2;
            }
            if (n + 1 < size)
                buf[n] = (char)c;
            n++;
        }
        buf[n + 1 < size ? n : size - 1] = '\0';
        return (long)n;
    }
    return -1;
}

const char *wasgi_url_scheme(const wasgi_environ *environ) { return environ->url_scheme; }
bool wasgi_multithread(const wasgi_environ *environ) { return environ->raw.multithread; }
bool wasgi_multiprocess(const wasgi_environ *environ) { return environ->raw.multiprocess; }
bool wasgi_run_once(const wasgi_environ *environ) { return environ->raw.run_once; }
bool wasgi_input_terminated(const wasgi_environ *environ) { return environ->raw.input_terminated; }

long wasgi_read(void *buf, size_t max) {
    app_list_u8_t data;
    wasgi_gateway_types_gateway_error_t error;
    if (max > UINT32_MAX)
        max = UINT32_MAX;
    if (!wasgi_gateway_server_read_input((uint32_t)max, &data, &error))
        return refused(&error);
    size_t n = data.len < max ? data.len : max;
    memcpy(buf, data.ptr, n);
    app_list_u8_free(&data);
    return (long)n;
}

/* ---- start_response and write --------------------------------------------------- */

static int start_response(const char *status, const wasgi_header *headers, size_t count,
                          const char *exc_info) {
    app_list_u8_t wit_status = {(uint8_t *)status, strlen(status)};
    wasgi_gateway_types_header_t *list = malloc((count ? count : 1) * sizeof *list);
    if (list == NULL)
        return wasgi_fail("out of memory");
    for (size_t i = 0; i < count; i++) {
        list[i].f0 = (app_string_t){(uint8_t *)headers[i].name, strlen(headers[i].name)};
        list[i].f1 = (app_list_u8_t){(uint8_t *)headers[i].value, strlen(headers[i].value)};
    }
    wasgi_gateway_server_list_header_t wit_headers = {list, count};
    app_string_t described;
    if (exc_info)
        described = (app_string_t){(uint8_t *)exc_info, strlen(exc_info)};
    wasgi_gateway_types_gateway_error_t error;
    bool ok = wasgi_gateway_server_start_response(&wit_status, &wit_headers, exc_info ? &described : NULL, &error);
    free(list);
    return ok ? 0 : refused(&error);
}

int wasgi_start_response(const char *status, const wasgi_header *headers, size_t count) {
    return start_response(status, headers, count, NULL);
}

int wasgi_start_response_exc_info(const char *status, const wasgi_header *headers, size_t count,
                                  const char *exc_info) {
    return start_response(status, headers, count, exc_info ? exc_info : "");
}

int wasgi_write(const void *data, size_t len) {
    app_list_u8_t list = {(uint8_t *)data, len};
    wasgi_gateway_types_gateway_error_t error;
    return wasgi_gateway_server_write(&list, &error) ? 0 : refused(&error);
}

int wasgi_write_str(const char *text) { return wasgi_write(text, strlen(text)); }

/* ---- bodies --------------------------------------------------------------------- */

struct bytes_body {
    const void *data;
    size_t len;
    int sent;
    int owned;
};

static int bytes_next(void *state, const void **data, size_t *len) {
    struct bytes_body *b = state;
    if (b->sent)
        return 0;
    b->sent = 1;
    *data = b->data;
    *len = b->len;
    return 1;
}

static void bytes_close(void *state) {
    struct bytes_body *b = state;
    if (b->owned)
        free((void *)b->data);
    free(b);
}

static int bytes_body(wasgi_body *body, const void *data, size_t len, int owned) {
    struct bytes_body *b = malloc(sizeof *b);
    if (b == NULL)
        return wasgi_fail("out of memory");
    *b = (struct bytes_body){data, len, 0, owned};
    body->next = bytes_next;
    body->close = bytes_close;
    body->state = b;
    return 0;
}

int wasgi_body_string(wasgi_body *body, const char *text) { return bytes_body(body, text, strlen(text), 0); }
int wasgi_body_bytes(wasgi_body *body, const void *data, size_t len) { return bytes_body(body, data, len, 0); }
int wasgi_body_owned(wasgi_body *body, void *data, size_t len) { return bytes_body(body, data, len, 1); }

/* gen/ is generated with --no-object-file: `wasm-tools component embed` (wasgi-cc)
 * records the WIT world instead of wit-bindgen's object file, whose only symbol the
 * bindings still reference. */
void __component_type_object_force_link_app(void) {}

/* ---- the exports ---------------------------------------------------------------- */

static void close_body(exports_wasgi_gateway_application_body_t *rep) {
    if (rep->closed)
        return;
    rep->closed = 1;
    if (rep->body.close)
        rep->body.close(rep->body.state);
}

bool exports_wasgi_gateway_application_call(exports_wasgi_gateway_application_environ_t *raw,
                                            exports_wasgi_gateway_application_own_body_t *ret,
                                            app_string_t *err) {
    /* One request per instance: the environ lives as long as the instance. */
    static wasgi_environ environ;
    environ.raw = *raw;
    size_t n = raw->variables.len;
    environ.names = malloc((n ? n : 1) * sizeof(char *));
    environ.values = malloc((n ? n : 1) * sizeof(char *));
    if (environ.names == NULL || environ.values == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        environ.names[i] = copy(raw->variables.ptr[i].f0.ptr, raw->variables.ptr[i].f0.len);
        environ.values[i] = copy(raw->variables.ptr[i].f1.ptr, raw->variables.ptr[i].f1.len);
    }
    environ.url_scheme = copy(raw->url_scheme.ptr, raw->url_scheme.len);

    exports_wasgi_gateway_application_body_t *rep = calloc(1, sizeof *rep);
    if (rep == NULL)
        abort();
    if (wasgi_main_application(&environ, &rep->body) != 0) {
        close_body(rep);
        free(rep);
        failure(err);
        return false;
    }
    *ret = exports_wasgi_gateway_application_body_new(rep);
    return true;
}

bool exports_wasgi_gateway_application_method_body_next(exports_wasgi_gateway_application_borrow_body_t self,
                                                        app_option_list_u8_t *ret, app_string_t *err) {
    exports_wasgi_gateway_application_body_t *rep = self;
    const void *data = NULL;
    size_t len = 0;
    int more = rep->body.next && !rep->closed ? rep->body.next(rep->body.state, &data, &len) : 0;
    if (more < 0) {
        failure(err);
        return false;
    }
    ret->is_some = more > 0;
    if (more > 0) {
        ret->val.ptr = malloc(len ? len : 1);
        if (ret->val.ptr == NULL)
            abort();
        memcpy(ret->val.ptr, data, len);
        ret->val.len = len;
    }
    return true;
}

void exports_wasgi_gateway_application_body_destructor(exports_wasgi_gateway_application_body_t *rep) {
    close_body(rep);
    free(rep);
}
