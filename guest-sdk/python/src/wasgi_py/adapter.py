"""The adapter: any PEP 3333 callable as the wasgi world's ``application`` export.

Runs inside the component only (it imports the bindings componentize-py generates).
The build writes an entry module that does::

    from wasgi_py.adapter import application_class
    Application = application_class("app:application")

which imports the app while componentize-py pre-initialises the component.

Per request (one instance each), ``call`` builds a real environ dict, calls the app with
``start_response``, and returns a ``Body`` the host pulls one chunk at a time. What the
adapter guarantees:

- environ values are PEP 3333 native strings, the WIT's raw bytes decoded as latin-1;
  ``wsgi.input`` streams the body through ``server.read-input`` and never asks past
  CONTENT_LENGTH; ``wsgi.errors`` is ``sys.stderr`` (WASI stderr, the host's log).
- ``start_response`` and ``write`` raise the gateway's refusals as exceptions the app
  can catch (``GatewayError``, ``GatewayIOError``); ``exc_info`` after the headers went
  out re-raises the app's own exception, as the PEP asks.
- the app's ``close()`` runs exactly once, however the response ends (see ``Body``).
- an exception escaping the app is printed with its traceback on ``wsgi.errors`` and
  becomes the WIT error: the host sends its generic 500, or aborts a response already
  under way. The traceback never reaches the response.
"""

import encodings
import gc
import importlib
import io
import pkgutil
import struct
import sys
import traceback
import urllib.parse
from types import CodeType

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import application as wit_application
from wit_world.imports import server, types

from wasgi_py.spec import resolve

#: The most wsgi.input asks the host for in one call.
READ_SIZE = 64 * 1024

#: What ``next(iterator, _END)`` gives when the app's iterable is exhausted.
_END = object()

#: Every object alive when the build recorded the heap (``record_heap``), kept alive so
#: that none is freed, and its memory reused, before the snapshot is taken.
_HEAP = []

#: The types whose objects cache their hash in their own header the first time it is
#: asked for: ``record_heap`` asks it of the snapshot's, so that a request never
#: writes it (a write that dirties the object's page, as a reference count does).
_HASH_CACHING = (str, bytes, tuple, frozenset)

#: The objects that fill the free memory of the build's snapshot (``fill_free_memory``),
#: alive as long as the instance.
_FILLERS = []

#: The address where the free top of the heap began when ``fill_free_memory`` filled
#: the snapshot's free memory: what a request allocates lies at or past it. 0: the
#: build left the free memory as it was (``wasgi-py build --no-fill-heap``).
HEAP_TOP = 0

#: Bytes of the probe that finds the top of the heap: more than any free chunk of a
#: snapshot, so that malloc carves it from the top (growing the memory when the top is
#: smaller). An app that leaves a larger chunk free gets a partial fill: the probe is
#: carved from that chunk, and what lies past it is not filled.
_PROBE_SIZE = 8 << 20

#: The sizes of the ``bytes`` objects that fill the free chunks, largest first. With
#: wasi-libc's 16-byte alignment, ``bytes(8)`` takes the smallest chunk a ``bytes``
#: object can; the 16-byte chunks no ``bytes`` fits stay free.
_FILLER_SIZES = (
    *(1 << shift for shift in range(20, 11, -2)),
    *(1 << shift for shift in range(10, 2, -1)),
)


class GatewayError(AssertionError):
    """The gateway refused a call because the app broke a PEP 3333 rule.

    An ``AssertionError``, as the PEP's own example and wsgiref raise for the same
    mistakes, so apps written against them behave the same.
    """


class GatewayIOError(OSError):
    """The response can take no more output, or the request body cannot be read (the
    client went away)."""


def _exception(error):
    """The Python exception for a WIT ``gateway-error``."""
    if isinstance(error, types.GatewayError_WriteBeforeStartResponse):
        return GatewayError("write() before start_response()")
    if isinstance(error, types.GatewayError_HeadersAlreadySet):
        return GatewayError("start_response() called again without exc_info: headers already set")
    if isinstance(error, types.GatewayError_HeadersAlreadySent):
        return GatewayError("start_response() with exc_info after the headers were sent")
    if isinstance(error, types.GatewayError_InvalidStatus):
        return GatewayError(f"invalid status: {error.value}")
    if isinstance(error, types.GatewayError_InvalidHeader):
        return GatewayError(f"invalid header: {error.value}")
    if isinstance(error, types.GatewayError_OutputClosed):
        return GatewayIOError(f"output closed: {error.value}")
    if isinstance(error, types.GatewayError_InputFailed):
        return GatewayIOError(f"input failed: {error.value}")
    return GatewayError(f"gateway error: {error!r}")


def _native(value, what):
    """A PEP 3333 native string as the bytes it stands for (latin-1)."""
    if type(value) is not str:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"{what} {value!r} is not latin-1: PEP 3333 native strings hold bytes as latin-1"
        ) from None


def _header(name, value):
    """One response header for the WIT: the name as is (the host checks it is a
    token), the value as its latin-1 bytes."""
    if type(name) is not str:
        raise TypeError(f"header name must be a str, not {type(name).__name__}")
    return name, _native(value, f"header {name!r}")


def _bytestring(value, what):
    """A PEP 3333 bytestring (the body): bytes, never str."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


class Input:
    """``wsgi.input``: the request body, read from the host as the app asks.

    ``read(n)`` returns ``n`` bytes unless the body ends first, as a buffered file does;
    ``readline`` keeps what it read past the newline for the next read. With a valid
    CONTENT_LENGTH the adapter never asks for more than what is left of it (the host
    bounds the body by it too).
    """

    def __init__(self, content_length):
        self._buffer = bytearray()
        self._left = content_length
        self._ended = False

    def _fill(self, want):
        """Reads more from the host into the buffer; False at the end of the body."""
        if self._left is not None:
            want = min(want, self._left)
        if self._ended or want <= 0:
            self._ended = True
            return False
        try:
            data = server.read_input(min(want, READ_SIZE))
        except Err as e:
            raise _exception(e.value) from None
        if not data:
            self._ended = True
            return False
        if self._left is not None:
            self._left -= len(data)
        self._buffer += data
        return True

    def _take(self, size):
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill(READ_SIZE):
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._fill(size - len(self._buffer)):
            pass
        return self._take(size)

    def readline(self, size=-1):
        limited = size is not None and size >= 0
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                end = newline + 1
                break
            if (limited and len(self._buffer) >= size) or not self._fill(READ_SIZE):
                end = len(self._buffer)
                break
        return self._take(min(end, size) if limited else end)

    def readlines(self, hint=-1):
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _content_length(environ):
    value = environ.get("CONTENT_LENGTH", "")
    return int(value) if value.isdigit() and value.isascii() else None


def build_environ(wit_environ):
    """The PEP 3333 environ dict for the WIT environ record."""
    environ = {name: value.decode("latin-1") for name, value in wit_environ.variables}
    environ.update(
        {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": wit_environ.url_scheme,
            "wsgi.input": Input(_content_length(environ)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": wit_environ.multithread,
            "wsgi.multiprocess": wit_environ.multiprocess,
            "wsgi.run_once": wit_environ.run_once,
        }
    )
    if wit_environ.input_terminated:
        environ["wsgi.input_terminated"] = True
    return environ


def start_response(status, headers, exc_info=None):
    """PEP 3333's ``start_response``: the host stores the status and headers and checks
    them (its refusals come back as exceptions here). Returns ``write``."""
    status = _native(status, "status")
    wit_headers = [_header(name, value) for name, value in headers]
    described = None
    if exc_info:
        described = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
    try:
        server.start_response(status, wit_headers, described)
        return write
    except Err as e:
        refusal = e.value
    if exc_info and isinstance(refusal, types.GatewayError_HeadersAlreadySent):
        # The PEP's rule: re-raise the app's own exception (the host has aborted the
        # response already).
        try:
            raise exc_info[1].with_traceback(exc_info[2])
        finally:
            exc_info = None
    raise _exception(refusal)


def write(data):
    """PEP 3333's legacy ``write``: sends ``data`` now, headers first."""
    try:
        server.write(_bytestring(data, "write() data"))
    except Err as e:
        raise _exception(e.value) from None


def _failed(exc):
    """Prints an escaped exception on wsgi.errors; the one-line message for the host."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    sys.stderr.flush()
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class Body(wit_application.Body):
    """The app's iterable, pulled one chunk per ``next``.

    Each chunk goes out through ``server.write`` and ``next`` hands the host an empty
    chunk (which it skips): componentize-py 0.25.1 runs no Python code when the host
    drops the body (the resource's destructor), so a chunk the host failed to send
    would leave the app's ``close()`` uncalled. Through ``write`` every failure comes
    back here, and ``close()`` runs before ``next`` reports the end or the error.
    """

    def __init__(self, result):
        self._result = result
        self._chunks = None
        self._closed = False

    def start(self):
        """PEP 3333's ``for data in result`` begins: the iterator is asked for."""
        self._chunks = iter(self._result)

    def next(self):
        try:
            chunk = next(self._chunks, _END)
            if chunk is _END:
                self.close()
                return None
            data = _bytestring(chunk, "body chunk")
            if data:
                write(data)
            return b""
        except BaseException as exc:
            raise Err(self.fail(exc)) from None

    def fail(self, exc):
        """Reports an escaped exception, closes the body, returns the message."""
        message = _failed(exc)
        try:
            self.close()
        except BaseException as close_exc:
            _failed(close_exc)
        return message

    def close(self):
        """The app's ``close()``, once."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def serve(app, wit_environ):
    """One request: PEP 3333's ``result = application(environ, start_response)``."""
    environ = build_environ(wit_environ)
    try:
        result = app(environ, start_response)
    except BaseException as exc:
        raise Err(_failed(exc)) from None
    body = Body(result)
    try:
        body.start()
    except BaseException as exc:
        raise Err(body.fail(exc)) from None
    return body


def _import_codecs():
    """Imports every codec the standard library has.

    The component has no file system at request time (componentize-py ships none), and
    Python finds a codec by importing ``encodings.<name>`` the first time it is used,
    as ``"...".encode("idna")`` in werkzeug's URL handling does. Importing them all
    now, during pre-initialisation, keeps every codec usable. Modules for other
    platforms (``mbcs`` and the like) fail to import here and are skipped.
    """
    for module in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module(f"encodings.{module.name}")
        except ImportError:
            pass


def warm_up(app, target):
    """Runs ``app`` on a ``GET`` of ``target`` (``/path?query``) while the component is
    pre-initialised, so that what a framework sets up on its first request (Flask and
    Werkzeug compile their URL map, fill their caches, import what the request needs)
    is in the snapshot every instance starts from. The response is read and dropped;
    a failure, or a status of 400 or more, stops the build."""
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    answered = []

    def discard(status, headers, exc_info=None):
        answered.append(status)
        return lambda data: None

    result = app(environ, discard)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = answered[-1] if answered else "no status"
    if not status[:3].isdigit() or int(status[:3]) >= 400:
        raise RuntimeError(
            f"the warm-up request GET {target} answered {status!r}: "
            "warm up with a path the app serves"
        )


def record_heap(path):
    """Writes to ``path`` the address of every object alive now, at the end of
    pre-initialisation, each with its type's address (what the object's second word
    holds, which the build checks before it writes the first), for the build to make
    the objects immortal in the snapshot (``wasgi_py.immortal``), as little-endian
    32-bit words; keeps them all alive until then (``_HEAP``); computes the hash of
    those that cache it (``_HASH_CACHING``); and freezes them out of the cycle
    collector's work.

    The constants of code objects, nested code's too, are left out: bytecode
    specialised while they were mortal (``LOAD_CONST_MORTAL``) counts references to
    them without the immortality check, so they stay mortal. Objects only C code holds
    are not found, and stay mortal.
    """
    gc.collect()
    tracked = gc.get_objects()
    seen = set()
    constants = set()
    while tracked:
        obj = tracked.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        _HEAP.append(obj)
        if type(obj) is CodeType:
            # Code objects are not traversed: the code nested in their constants is
            # reached here, and its constants stay mortal too.
            constants.update(id(c) for c in obj.co_consts)
            tracked.extend(c for c in obj.co_consts if type(c) is CodeType)
        tracked.extend(gc.get_referents(obj))
    for obj in _HEAP:
        if type(obj) in _HASH_CACHING:
            try:
                hash(obj)
            except TypeError:  # a tuple holding something unhashable
                pass
    gc.freeze()
    words = [w for obj in _HEAP if id(obj) not in constants for w in (id(obj), id(type(obj)))]
    with open(path, "wb") as out:
        out.write(struct.pack(f"<{len(words)}I", *words))


def fill_free_memory():
    """Fills the free memory of the heap at the end of pre-initialisation, so that what
    a request allocates comes from past the snapshot's heap, not from the free chunks
    scattered over it.

    componentize-py's CPython has no pymalloc: every object comes from wasi-libc's
    malloc (dlmalloc), which reuses free chunks before it carves new memory from the
    free top of the heap. The chunks that importing and warming up the app freed lie
    all over the snapshot, so a fresh instance's objects landed on pages of the
    snapshot, each a page that the host copies back from the image after the request
    (docs/PERFORMANCE.md, "Filling the snapshot's free memory").

    The probe, larger than any free chunk, is carved from the top and freed at once,
    merging back into it: its address (``id()``, in CPython) is where the top begins,
    ``HEAP_TOP``. Then ``bytes`` objects of each of ``_FILLER_SIZES``, largest first,
    are made and kept until one comes from the top (freed, merging back too). The
    memory grows by at most the probe; what the fillers take was free memory of the
    snapshot already. The heap is recorded after the fill (``record_heap``): what the
    record itself allocates comes from the top and is freed before the snapshot, so
    a request's first objects take that memory, past ``HEAP_TOP`` too, next to each
    other. (Filled after the record instead, those megabytes became zeros, which
    the snapshot leaves out of its data: a sparse image, see ``DENSE_IMAGE_SPAN`` in
    the host's ``app.rs``.)
    """
    global HEAP_TOP
    gc.collect()
    probe = bytes(_PROBE_SIZE)
    top = id(probe)
    del probe
    for size in _FILLER_SIZES:
        while True:
            filler = bytes(size)
            if id(filler) >= top:
                break
            _FILLERS.append(filler)
        del filler
    HEAP_TOP = top


def application_class(spec, preload=(), warm_up_paths=(), heap_record=None, fill_heap=True):
    """The ``Application`` export class serving the app ``spec`` names
    (``module:callable``), which is imported now, with every codec and the modules in
    ``preload`` (which the app imports only when a request needs them); then each of
    ``warm_up_paths`` is requested once (see ``warm_up``); then, with ``fill_heap``,
    the heap's free memory is filled (see ``fill_free_memory``); last, with
    ``heap_record``, the heap is recorded there (see ``record_heap``)."""
    _import_codecs()
    for module in preload:
        importlib.import_module(module)
    app = resolve(spec)
    for target in warm_up_paths:
        warm_up(app, target)

    class Application(exports.Application):
        def call(self, environ):
            return serve(app, environ)

    if fill_heap:
        fill_free_memory()
    if heap_record is not None:
        record_heap(heap_record)
    return Application
