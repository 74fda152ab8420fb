"""Stream: a generator yielding ``n`` numbered lines (query ``?n=``, default 10), each
one chunk, made only when the server asks for the next. Its close() is logged on
wsgi.errors with how far it got."""

from urllib.parse import parse_qs


def application(environ, start_response):
    n = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["10"])[0])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Lines(n, environ["wsgi.errors"])


class Lines:
    """An iterable with a close(), as PEP 3333 allows."""

    def __init__(self, total, errors):
        self.total = total
        self.sent = 0
        self.errors = errors

    def __iter__(self):
        while self.sent < self.total:
            self.sent += 1
            yield f"line {self.sent}\n".encode()

    def close(self):
        self.errors.write(f"stream: closed after {self.sent} of {self.total} lines\n")
