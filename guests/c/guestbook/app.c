/* Guestbook: a small form app. `GET /` shows the form; `POST /sign` reads the
 * url-encoded form from wsgi.input and thanks the visitor by name, HTML-escaped;
 * `GET /stats` answers the request's method, path and user agent as JSON-free plain
 * text. Any other path is a 404, any other method a 405 with an Allow header. Every
 * request is one fresh instance: nothing persists, so the book is never written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

#define MAX_FORM (16 * 1024)

static const char FORM[] =
    "<!doctype html>\n<title>Guestbook</title>\n"
    "<form method=\"post\" action=\"sign\">\n"
    "<label>Name <input name=\"name\"></label>\n"
    "<button>Sign</button>\n</form>\n";

static const wasgi_header HTML[] = {{"Content-Type", "text/html; charset=utf-8"}};
static const wasgi_header TEXT[] = {{"Content-Type", "text/plain; charset=utf-8"}};

static int hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The value of `name` in the url-encoded `form`, decoded into `out`. */
static int form_field(const char *form, const char *name, char *out, size_t size) {
    size_t name_len = strlen(name);
    for (const char *p = form; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, name_len) != 0 || p[name_len] != '=')
            continue;
        size_t n = 0;
        for (p += name_len + 1; *p && *p != '&' && n + 1 < size; p++) {
            if (*p == '+') {
                out[n++] = ' ';
            } else if (*p == '%' && hex(p[1]) >= 0 && hex(p[2]) >= 0) {
                out[n++] = (char)(hex(p[1]) * 16 + hex(p[2]));
                p += 2;
            } else {
                out[n++] = *p;
            }
        }
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* `text` HTML-escaped, appended to `out` (room for `size` bytes). */
static void escape_html(const char *text, char *out, size_t size) {
    size_t n = strlen(out);
    for (; *text && n + 7 < size; text++) {
        const char *rep = NULL;
        switch (*text) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        }
        if (rep) {
            strcpy(out + n, rep);
            n += strlen(rep);
        } else {
            out[n++] = *text;
        }
    }
    out[n] = '\0';
}

static int sign(wasgi_body *body) {
    char *form = malloc(MAX_FORM + 1);
    char name[256] = "";
    size_t got = 0;
    long n;
    if (form == NULL)
        return wasgi_fail("guestbook: out of memory");
    while (got < MAX_FORM && (n = wasgi_read(form + got, MAX_FORM - got)) > 0)
        got += (size_t)n;
    form[got] = '\0';
    if (n < 0) {
        free(form);
        return WASGI_FAIL;
    }
    int found = form_field(form, "name", name, sizeof name);
    free(form);
    if (found != 0 || name[0] == '\0') {
        static const wasgi_header bad[] = {{"Content-Type", "text/plain; charset=utf-8"}};
        if (wasgi_start_response("400 Bad Request", bad, 1) != 0)
            return WASGI_FAIL;
        return wasgi_body_string(body, "a name, please\n");
    }
    char *page = malloc(2048);
    if (page == NULL)
        return wasgi_fail("guestbook: out of memory");
    strcpy(page, "<!doctype html>\n<title>Thanks</title>\n<p>Thank you, ");
    escape_html(name, page, 2048 - 16);
    strcat(page, "!</p>\n");
    if (wasgi_start_response("200 OK", HTML, 1) != 0) {
        free(page);
        return WASGI_FAIL;
    }
    return wasgi_body_owned(body, page, strlen(page));
}

static int guestbook(const wasgi_environ *environ, wasgi_body *body) {
    const char *method = wasgi_get(environ, "REQUEST_METHOD", NULL);
    const char *path = wasgi_get(environ, "PATH_INFO", NULL);
    if (path == NULL || *path == '\0')
        path = "/";
    if (strcmp(path, "/") == 0 || strcmp(path, "/sign") == 0 || strcmp(path, "/stats") == 0) {
        const char *allowed = strcmp(path, "/sign") == 0 ? "POST" : "GET";
        if (strcmp(method, allowed) != 0 && !(strcmp(allowed, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
            wasgi_header headers[] = {{"Content-Type", "text/plain; charset=utf-8"}, {"Allow", allowed}};
            if (wasgi_start_response("405 Method Not Allowed", headers, 2) != 0)
                return WASGI_FAIL;
            return wasgi_body_string(body, "method not allowed\n");
        }
    } else {
        if (wasgi_start_response("404 Not Found", TEXT, 1) != 0)
            return WASGI_FAIL;
        return wasgi_body_string(body, "not found\n");
    }
    if (strcmp(path, "/sign") == 0)
        return sign(body);
    if (strcmp(path, "/stats") == 0) {
        const char *agent = wasgi_get(environ, "HTTP_USER_AGENT", NULL);
        char *text = malloc(1024);
        if (text == NULL)
            return wasgi_fail("guestbook: out of memory");
        int n = snprintf(text, 1024, "method: %s\npath: %s\nuser agent: %s\n", method, path,
                         agent ? agent : "(none)");
        if (wasgi_start_response("200 OK", TEXT, 1) != 0) {
            free(text);
            return WASGI_FAIL;
        }
        return wasgi_body_owned(body, text, n < 1024 ? (size_t)n : 1023);
    }
    if (wasgi_start_response("200 OK", HTML, 1) != 0)
        return WASGI_FAIL;
    return wasgi_body_string(body, FORM);
}

WASGI_APPLICATION(guestbook)
