"""Counts the requests its instance has answered, in a module-level global: built with
``wasgi-py build --warm-up /`` (its WARM_UP file), every fresh instance has answered
one already, the build's, so its first request is its second. What a warm-up request
leaves in memory, every instance starts with (docs/PYTHON.md).

``/immortal`` tells instead whether this function, an object of the build's snapshot,
and an object made by the request are immortal (``wasgi-py build`` makes the
snapshot's objects so, unless ``--no-immortalize``). ``/heap`` tells whether the build
filled the snapshot's free memory (unless ``--no-fill-heap``) and, if so, how many of
the objects the request makes, small and large, lie below the top of the snapshot's
heap (where the snapshot's free chunks would have taken them) rather than past it."""

import sys

answered = 0


def application(environ, start_response):
    global answered
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/immortal":
        made = sys._is_immortal(application), sys._is_immortal(object())
        return [f"snapshot: {made[0]}, request: {made[1]}\n".encode()]
    if environ["PATH_INFO"] == "/heap":
        from wasgi_py.adapter import HEAP_TOP

        if not HEAP_TOP:
            return [b"filled: False\n"]
        made = [bytes(size) for size in (24, 200, 5000) for _ in range(40)]
        below = sum(id(m) < HEAP_TOP for m in made)
        return [f"filled: True, {below} of {len(made)} objects made below its top\n".encode()]
    answered += 1
    return [f"request {answered} of this instance: {environ['PATH_INFO']}\n".encode()]
