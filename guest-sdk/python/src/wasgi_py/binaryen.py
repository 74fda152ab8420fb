"""Optimizes the shared libraries of a component with binaryen's ``wasm-opt``, on the
build machine.

componentize-py links CPython into the component as shared libraries (wasi-libc,
libpython, its runtime; an app's native extensions built for wasm too), each a core
module with a ``dylink.0`` section, compiled by clang without binaryen's passes over
the whole module. ``wasm-opt -O3`` over them makes the interpreter a tenth smaller and
a reused Flask request cheaper (docs/PERFORMANCE.md, "Binaryen over the interpreter").
Only those modules are rewritten: the one that defines the memory holds the snapshot,
whose data ``wasgi_py.immortal`` has already changed.

A library is optimized once per content and ``wasm-opt`` version, and kept in
wasgi-py's cache: libpython is the same for every app built with this componentize-py,
and optimizing it takes a minute.
"""

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
    ``data`` that is a shared library (has a ``dylink.0`` section)."""
    for section, start, end in wasm.sections(data, wasm.HEADER, len(data)):
        if section != wasm.CORE_MODULE:
            continue
        for inner, body, _ in wasm.sections(data, start + wasm.HEADER, end):
            if inner == wasm.CUSTOM and wasm.custom_name(data, body) == "dylink.0":
                yield start, end
                break


def wasm_opt():
    """The ``wasm-opt`` command and its version line."""
    found = shutil.which("wasm-opt")
    if found is None:
        raise OptimizeError("wasm-opt is not on PATH: install binaryen, e.g. apt-get install binaryen")
    result = subprocess.run([found, "--version"], capture_output=True, text=True)
    if result.returncode != 0:
        raise OptimizeError(f"{found} --version failed")
    return found, result.stdout.strip()


def optimized(module, command, version):
    """The bytes of ``module`` after ``wasm-opt``, from the cache when it holds them."""
    key = hashlib.sha256("\0".join((version, *FLAGS)).encode() + b"\0" + module)
    kept = cache_dir() / "wasm-opt" / f"{key.hexdigest()}.wasm"
    if kept.is_file():
        return kept.read_bytes()
    kept.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wasgi-py-opt-") as work:
        source, output = Path(work) / "in.wasm", Path(work) / "out.wasm"
        source.write_bytes(module)
        result = subprocess.run(
            [command, *FLAGS, str(source), "-o", str(output)], capture_output=True, text=True
        )
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["no output"]
            raise OptimizeError(f"wasm-opt refused a shared library: {lines[-1]}")
        partial = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
        shutil.copyfile(output, partial)
        os.replace(partial, kept)
    return kept.read_bytes()


def apply(component_path, tool):
    """Rewrites the component at ``component_path`` with its shared libraries
    optimized by ``tool`` (what :func:`wasm_opt` found)."""
    command, version = tool
    with open(component_path, "rb") as f:
        data = f.read()
    out = bytearray()
    copied = 0
    for start, end in shared_libraries(data):
        out += data[copied : wasm.header_start(data, start)]
        out += wasm.section(wasm.CORE_MODULE, optimized(data[start:end], command, version))
        copied = end
    out += data[copied:]
    with open(component_path, "wb") as f:
        f.write(out)
