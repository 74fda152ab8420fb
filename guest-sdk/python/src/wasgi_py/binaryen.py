"""Optimizes the shared libraries of a component with binaryen's ``wasm-opt``, on the
build machine.

componentize-py links CPython into the component as shared libraries (wasi-libc,
libpython, its runtime; an app's native extensions built for wasm too), each a core
module with a ``dylink.0`` section, compiled by clang without binaryen's passes over
the whole module. ``wasm-opt -O3`` over them makes the interpreter an eighth smaller
and a reused Flask request cheaper (docs/PERFORMANCE.md, "Binaryen over the
interpreter"). Only those modules are rewritten, and never one with a memory or data
of its own: the module that defines the memory holds the snapshot, whose data
``wasgi_py.immortal`` has already changed.

A library is optimized once per content and ``wasm-opt`` version, and kept in
wasgi-py's cache: libpython is the same for every app built with this componentize-py,
and optimizing it takes a minute.
"""

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from wasgi_py import wasm
from wasgi_py.deps import cache_dir

#: The features clang gives componentize-py's libraries (the extended constant
#: expressions of position-independent code among them); all of them wasmtime's
#: defaults. ``-g`` keeps the function names wasmtime shows in a trap's backtrace.
FLAGS = (
    "-O3",
    "-g",
    "--enable-bulk-memory",
    "--enable-extended-const",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
    "--enable-simd",
)


class OptimizeError(Exception):
    """wasm-opt is missing or refused a module."""


def shared_libraries(data):
    """``(start, end)`` of the bytes of each top-level core module of the component
    ``data`` that is a shared library: it has a ``dylink.0`` section, and neither a
    memory nor data of its own (its data is in the snapshot)."""
    for start, end, _ in wasm.core_modules(data):
        if is_shared_library(data, start, end):
            yield start, end


def is_shared_library(data, start, end):
    """Whether the core module ``data[start:end]`` is a shared library, as
    :func:`shared_libraries` says; it must parse to its end."""
    if data[start : start + 4] != b"\0asm":
        return False
    dylink = False
    try:
        for inner, body, inner_end in wasm.sections(data, start + wasm.HEADER, end):
            if inner in (wasm.MEMORY, wasm.DATA) or inner_end > end:
                return False
            dylink = dylink or (inner == wasm.CUSTOM and wasm.custom_name(data, body) == "dylink.0")
    except IndexError:
        return False
    return dylink


@functools.cache
def wasm_opt():
    """The ``wasm-opt`` command and its version line (found once per process: the
    command line checks it before ``-r`` resolves, the build uses it)."""
    found = shutil.which("wasm-opt")
    if found is None:
        raise OptimizeError("wasm-opt is not on PATH: install binaryen, e.g. apt-get install binaryen")
    result = subprocess.run([found, "--version"], capture_output=True, text=True, errors="replace")
    version = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or not version:
        raise OptimizeError(f"{found} --version failed")
    return found, version


def optimized(module, name, command, version):
    """The bytes of ``module`` (``name`` in messages) after ``wasm-opt``, from the cache
    when it holds them whole."""
    key = hashlib.sha256("\0".join((version, *FLAGS)).encode() + b"\0" + module)
    kept = cache_dir() / "wasm-opt" / f"{key.hexdigest()}.wasm"
    if kept.is_file():
        cached = kept.read_bytes()
        if is_shared_library(cached, 0, len(cached)):
            return cached
    kept.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wasgi-py-opt-") as work:
        source, output = Path(work) / "in.wasm", Path(work) / "out.wasm"
        source.write_bytes(module)
        result = subprocess.run(
            [command, *FLAGS, str(source), "-o", str(output)],
            capture_output=True,
            text=True,
            errors="replace",
        )
        if result.returncode != 0:
            raise OptimizeError(f"wasm-opt refused {name}: {refusal(result)}")
        done = output.read_bytes()
    if not is_shared_library(done, 0, len(done)):
        raise OptimizeError(f"wasm-opt made {name} into something that is not a shared library")
    fd, partial = tempfile.mkstemp(dir=kept.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(done)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, kept)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return done


def refusal(result):
    """What a failed ``wasm-opt`` said: its first line naming an error, and its last."""
    if result.returncode < 0:
        return f"killed by signal {-result.returncode}"
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    said = [*errors[:1], *lines[-1:]] if errors and errors[0] != lines[-1] else lines[-1:]
    return " / ".join(said) or f"exit status {result.returncode}, no output"


def apply(component_path, tool):
    """Rewrites the component at ``component_path`` with its shared libraries
    optimized by ``tool`` (what :func:`wasm_opt` found)."""
    command, version = tool
    with open(component_path, "rb") as f:
        data = f.read()
    out = bytearray()
    copied = 0
    try:
        libraries = list(shared_libraries(data))
    except IndexError as e:
        raise OptimizeError(f"the component does not parse ({e})") from None
    for index, (start, end) in enumerate(libraries):
        name = f"shared library {index + 1} of {len(libraries)} ({end - start} bytes)"
        out += data[copied : wasm.header_start(data, start)]
        out += wasm.section(wasm.CORE_MODULE, optimized(data[start:end], name, command, version))
        copied = end
    out += data[copied:]
    with open(component_path, "wb") as f:
        f.write(out)
