"""Counts the requests its instance has answered, in a module-level global: built with
``wasgi-py build --warm-up /`` (its WARM_UP file), every fresh instance has answered
one already, the build's, so its first request is its second. What a warm-up request
leaves in memory, every instance starts with (docs/PYTHON.md)."""

answered = 0


def application(environ, start_response):
    global answered
    answered += 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"request {answered} of this instance: {environ['PATH_INFO']}\n".encode()]
