"""The files a component carries, at request time: a lazy import, open() of a file
next to the module, importlib.resources of a package's data, a standard-library
module imported only now, and a write into the app's own directory, which must fail
(the carried files are read-only)."""

import os


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/lazy":
        import lazy_module  # first imported here, inside the request

        body = lazy_module.greeting()
    elif path == "/open":
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "assets", "data", "note.txt"), encoding="utf-8") as f:
            body = f.read()
    elif path == "/resource":
        import importlib.resources

        body = importlib.resources.files("assets").joinpath("data/note.txt").read_text("utf-8")
    elif path == "/stdlib":
        import colorsys  # a standard-library module nothing imports at build time

        body = f"{colorsys.rgb_to_hsv(1.0, 0.0, 0.0)}\n"
    elif path == "/write":
        target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "written.txt")
        try:
            with open(target, "w") as f:
                f.write("should not be possible")
            body = "written\n"
        except OSError as e:
            body = f"refused: {type(e).__name__}\n"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /lazy, /open, /resource, /stdlib or /write\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode("utf-8")]
