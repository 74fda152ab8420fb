"""Environ: answers with the request's environ as JSON, byte for byte as the Rust,
JavaScript and C environ guests (keys sorted, two-space indent), so every language's
environ can be compared by the conformance suite. CGI values are native strings (bytes
as latin-1), shown one code point per byte. It first checks that wsgi.input and
wsgi.errors have the file methods PEP 3333 requires: a missing one fails the request."""

import json

INPUT_METHODS = ("read", "readline", "readlines", "__iter__")
ERRORS_METHODS = ("flush", "write", "writelines")
FLAGS = (
    "wsgi.input_terminated",
    "wsgi.multiprocess",
    "wsgi.multithread",
    "wsgi.run_once",
    "wsgi.url_scheme",
)


def application(environ, start_response):
    for stream, methods in (("wsgi.input", INPUT_METHODS), ("wsgi.errors", ERRORS_METHODS)):
        missing = [m for m in methods if not callable(getattr(environ[stream], m, None))]
        if missing:
            raise TypeError(f"{stream} lacks {', '.join(missing)}")
    if environ["wsgi.version"] != (1, 0):
        raise ValueError(f"wsgi.version is {environ['wsgi.version']!r}")
    body = {"variables": {k: v for k, v in environ.items() if not k.startswith("wsgi.")}}
    body.update({flag: environ.get(flag, False) for flag in FLAGS})
    text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [text.encode("utf-8")]
