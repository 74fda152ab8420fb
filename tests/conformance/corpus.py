"""Writes corpus.json, the conformance corpus (tests/all/conformance.rs reads it).

The expected bytes are spelled out here once, readably; run `python3 corpus.py` after
editing. Byte strings in the JSON: a string (its UTF-8 bytes), {"hex": ...},
{"repeat": ..., "times": N}, or an array of those, concatenated. `${REMOTE_PORT}`,
`${SERVER_SOFTWARE}` and `${REQUEST_ID}` in serve expectations are filled in by the test.
"""

import json
from pathlib import Path

GENERIC_500 = "A server error occurred.  Please contact the administrator."
TEXT = [("Content-Type", "text/plain")]
JSON = [("Content-Type", "application/json")]
OCTETS = [("Content-Type", "application/octet-stream")]


def cgi(status, headers, body=""):
    """`wasgi run`'s stdout: the CGI head, then the body (a byte string)."""
    head = f"Status: {status}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head + body if isinstance(body, str) else [head, body]


def head(status, headers, chunked=True):
    """`wasgi serve`'s head for a `Connection: close` request, `date` left out."""
    lines = f"HTTP/1.1 {status}\r\n" + "".join(f"{n.lower()}: {v}\r\n" for n, v in headers)
    return lines + "connection: close\r\n" + ("transfer-encoding: chunked\r\n" if chunked else "")


GENERIC_500_HEAD = head("500 Internal Server Error", TEXT)

cases = []


def case(guest, name, request, run=None, serve=None):
    entry = {"guest": guest, "name": name, "request": request}
    if run is not None:
        entry["run"] = run
    if serve is not None:
        entry["serve"] = serve
    cases.append(entry)


def same(status, headers, body, log=()):
    """The same answer from both front ends."""
    run = {"exit": 0, "stdout": cgi(status, headers, body)}
    serve = {"head": head(status, headers), "body": body, "complete": True}
    if log:
        run["log"] = serve["log"] = list(log)
    return {"run": run, "serve": serve}


# hello
case("hello", "get", {"method": "GET", "path": "/"}, **same("200 OK", TEXT, "Hello, World!\n"))
case(
    "hello",
    "post with a body it ignores",
    {"method": "POST", "path": "/x?y=1", "body": "ignored"},
    **same("200 OK", TEXT, "Hello, World!\n"),
)

# echo
case(
    "echo",
    "text",
    {"method": "POST", "path": "/", "headers": [["Content-Type", "text/plain"]], "body": "hello, wasgi\n"},
    **same("200 OK", TEXT, "hello, wasgi\n"),
)
case("echo", "no content type", {"method": "POST", "path": "/", "body": "abc"}, **same("200 OK", OCTETS, "abc"))
EVERY_BYTE = {"hex": bytes(range(256)).hex()}
case(
    "echo",
    "every byte value",
    {"method": "PUT", "path": "/", "headers": [["Content-Type", "application/octet-stream"]], "body": EVERY_BYTE},
    **same("200 OK", OCTETS, EVERY_BYTE),
)
BIG = {"repeat": "0123456789abcdef", "times": 20000}
case(
    "echo",
    "320 KB, more than one read",
    {"method": "POST", "path": "/", "headers": [["Content-Type", "text/plain"]], "body": BIG},
    **same("200 OK", TEXT, BIG),
)
case(
    "echo",
    "empty body",
    {"method": "POST", "path": "/", "headers": [["Content-Type", "text/plain"]]},
    **same("200 OK", TEXT, ""),
)
case(
    "echo",
    "CGI body bounded by CONTENT_LENGTH",
    {
        "cgi": {
            "REQUEST_METHOD": "POST",
            "SERVER_NAME": "example.test",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "5",
        },
        "body": "12345 and what follows is not the body",
    },
    run={"exit": 0, "stdout": cgi("200 OK", TEXT, "12345")},
)


# stream
def lines(n):
    return "".join(f"line {i}\n" for i in range(1, n + 1))


for name, query, n in [("three lines", "?n=3", 3), ("ten by default", "", 10), ("a hundred lines", "?n=100", 100), ("none", "?n=0", 0)]:
    case(
        "stream",
        name,
        {"method": "GET", "path": "/" + query},
        **same("200 OK", TEXT, lines(n), log=[f"stream: closed after {n} of {n} lines"]),
    )
case(
    "stream",
    "not a number",
    {"method": "GET", "path": "/?n=many"},
    run={"exit": 3, "stdout": cgi("500 Internal Server Error", TEXT, GENERIC_500)},
    serve={"head": GENERIC_500_HEAD, "body": GENERIC_500, "complete": True},
)

# exc-info
case(
    "exc-info",
    "error page before the body",
    {"method": "GET", "path": "/"},
    **same("500 Internal Server Error", TEXT, "error page: failed before the body\n"),
)
case(
    "exc-info",
    "exc_info after the headers aborts",
    {"method": "GET", "path": "/after-headers"},
    run={"exit": 4, "stdout": cgi("200 OK", TEXT, "partial body\n"), "log": ["failed mid-body"]},
    serve={"head": head("200 OK", TEXT), "body": "partial body\n", "complete": False, "log": ["failed mid-body"]},
)
case(
    "exc-info",
    "unhandled before the headers",
    {"method": "GET", "path": "/unhandled"},
    run={"exit": 3, "stdout": cgi("500 Internal Server Error", TEXT, GENERIC_500), "log": ["unhandled before the headers"]},
    serve={"head": GENERIC_500_HEAD, "body": GENERIC_500, "complete": True, "log": ["unhandled before the headers"]},
)

# legacy-write
case(
    "legacy-write",
    "write then yield",
    {"method": "GET", "path": "/"},
    **same("200 OK", TEXT, "written first\nwritten second\nyielded last\n"),
)


# environ: serde_json's pretty printer, which Python's json.dumps(indent=2, sort_keys=True,
# ensure_ascii=False) matches byte for byte.
def environ(variables, terminated, multiprocess, multithread, run_once, scheme="http"):
    return json.dumps(
        {
            "variables": variables,
            "wsgi.input_terminated": terminated,
            "wsgi.multiprocess": multiprocess,
            "wsgi.multithread": multithread,
            "wsgi.run_once": run_once,
            "wsgi.url_scheme": scheme,
        },
        indent=2,
        sort_keys=True,
        ensure_ascii=False,
    )


TESTING_DEFAULTS = {
    "HTTP_HOST": "localhost",
    "PATH_INFO": "/",
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.0",
}
case(
    "environ",
    "testing defaults",
    {},
    run={"exit": 0, "stdout": cgi("200 OK", JSON, environ(TESTING_DEFAULTS, False, True, False, True))},
)
# Values as PEP 3333 shows them: one character per byte (latin-1).
CGI_VARIABLES = {
    "REQUEST_METHOD": "GET",
    "SERVER_NAME": "example.test",
    "SERVER_PORT": "8080",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SCRIPT_NAME": "/app",
    "PATH_INFO": "/caf\u00c3\u00a9",
    "QUERY_STRING": "a=1&b=%C3%A9",
    "HTTPS": "on",
    "HTTP_X_BYTES": "\t\x01\x1f\"\\ \x7f\x80\xe9\xff",
    "REMOTE_ADDR": "192.0.2.7",
    "GATEWAY_INTERFACE": "CGI/1.1",
}
case(
    "environ",
    "CGI variables with bytes that are not UTF-8",
    {"cgi": {k: {"hex": v.encode("latin-1").hex()} for k, v in CGI_VARIABLES.items()}},
    run={"exit": 0, "stdout": cgi("200 OK", JSON, environ(CGI_VARIABLES, False, True, False, True, "https"))},
)
OVER_HTTP = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "HTTP_CONNECTION": "close",
    "HTTP_HOST": "conformance.test",
    "HTTP_X_TEST": "yes",
    "PATH_INFO": "/caf\u00c3\u00a9",
    "QUERY_STRING": "q=1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "${REMOTE_PORT}",
    "REQUEST_ID": "${REQUEST_ID}",
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "SERVER_NAME": "conformance.test",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SERVER_SOFTWARE": "${SERVER_SOFTWARE}",
}
case(
    "environ",
    "a request over HTTP",
    {"method": "GET", "path": "/caf%C3%A9?q=1", "headers": [["X-Test", "yes"]]},
    serve={"head": head("200 OK", JSON), "body": environ(OVER_HTTP, True, False, True, False), "complete": True},
)

corpus = {
    "about": "The conformance corpus, written by corpus.py (edit that, then run it): "
    "tests/all/conformance.rs runs every case against every language's guest of its "
    "behaviour, in `wasgi run` and `wasgi serve`.",
    "cases": cases,
}
out = Path(__file__).with_name("corpus.json")
out.write_text(json.dumps(corpus, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
