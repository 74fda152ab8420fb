"""Exc-info: error handling the PEP 3333 way.

- ``/`` starts a 200, fails, and replaces it with an error page through
  ``start_response(..., exc_info)``: possible because no body was sent yet.
- ``/after-headers`` sends part of the body, fails, and calls start_response with
  exc_info again: the headers are gone, so the PEP's rule re-raises the app's own
  exception and the response is aborted.
- ``/unhandled`` lets an exception escape before any headers: the server's 500.
"""

import sys

TEXT = [("Content-Type", "text/plain")]


class Boom(Exception):
    """The app's own failure."""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/after-headers":
        return after_headers(start_response)
    if path == "/unhandled":
        raise Boom("unhandled before the headers")
    start_response("200 OK", TEXT)
    try:
        raise Boom("failed before the body")
    except Boom as e:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
        return [f"error page: {e}\n".encode()]


def after_headers(start_response):
    start_response("200 OK", TEXT)
    yield b"partial body\n"
    try:
        raise Boom("failed mid-body")
    except Boom:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    yield b"never sent\n"
