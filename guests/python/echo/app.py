"""Echo: streams the request body back, one chunk per read of wsgi.input.

The query picks how wsgi.input is read, so every reading method is exercised:
``?read=N`` (default, N=8192) reads fixed blocks, ``?read=all`` one read(),
``?read=lines`` iterates over lines, ``?read=readline`` calls readline() until it
returns b"", ``?read=readlines`` calls readlines().
"""

from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    how = query.get("read", ["8192"])[0]
    content_type = environ.get("CONTENT_TYPE") or "application/octet-stream"
    start_response("200 OK", [("Content-Type", content_type)])
    return chunks(environ["wsgi.input"], how)


def chunks(body, how):
    if how == "all":
        yield body.read()
    elif how == "lines":
        yield from body
    elif how == "readline":
        yield from iter(body.readline, b"")
    elif how == "readlines":
        yield from body.readlines()
    else:
        yield from iter(lambda: body.read(int(how)), b"")
