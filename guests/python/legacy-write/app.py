"""Legacy write: the imperative write() callable start_response returns, then a
yielded chunk, which must go out after what was written."""


def application(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written first\n")
    write(b"written second\n")
    return [b"yielded last\n"]
