"""Hello: the smallest PEP 3333 app, byte for byte the Rust hello's answer."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!\n"]
