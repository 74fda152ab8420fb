"""Environ: answers with the environ it was given, one ``key: value`` line per key in
sorted order, so two gateways' environs can be compared byte for byte. CGI values are
shown with repr() (native strings holding bytes as latin-1); wsgi.input and
wsgi.errors by the file methods PEP 3333 requires of them."""

INPUT_METHODS = ("read", "readline", "readlines", "__iter__")
ERRORS_METHODS = ("flush", "write", "writelines")


def application(environ, start_response):
    lines = []
    for key in sorted(environ):
        value = environ[key]
        if key == "wsgi.input":
            value = [m for m in INPUT_METHODS if callable(getattr(value, m, None))]
        elif key == "wsgi.errors":
            value = [m for m in ERRORS_METHODS if callable(getattr(value, m, None))]
        lines.append(f"{key}: {value!r}\n")
    body = "".join(lines).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
