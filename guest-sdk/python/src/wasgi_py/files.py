"""The files a component carries: packed into its ``wasgi:files`` custom section.

A component built by wasgi-py holds, beside its code, every file its Python path held
at build time (the app, its dependencies and their data files, the standard library),
so that lazy imports, ``open()`` of the app's own files and ``importlib.resources``
work at request time. The host (``host/src/bundle.rs``) extracts the section once into
its cache and mounts each top-level directory read-only at ``/NAME`` in the guest: the
very paths the build saw.

The section's payload (a custom section is ignored by every other runtime)::

    b"wasgifs1"                                  magic and format version
    entries, until the end:
        u8 kind (1 directory, 2 file)
        u16 little-endian path length, path      UTF-8, "/"-separated, relative;
                                                 its first part is the mount name
        for a file: u64 little-endian size, the bytes

Directories come before what they hold; no path has an empty, ``.`` or ``..`` part.
"""

import os
import struct
from pathlib import Path

from wasgi_py import wasm

SECTION = "wasgi:files"
MAGIC = b"wasgifs1"
DIRECTORY = 1
FILE = 2

#: Names never carried: version control, byte code of other Pythons (the component's
#: own is compiled at build time), virtual environments, build products.
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".tox", "node_modules"}
SKIP_SUFFIXES = (".wasm", ".cwasm", ".pyc", ".pyo")


def walk(root, skip=()):
    """``(relative path, absolute path, is_dir)`` under ``root``, sorted, parents
    first; skipping junk, virtual environments and the directories in ``skip``."""
    root = Path(root)
    skip = {Path(s).resolve() for s in skip}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not (here / d / "pyvenv.cfg").exists()
            and (here / d).resolve() not in skip
            and not (here / d).is_symlink()
        )
        for d in dirs:
            yield (here / d).relative_to(root).as_posix(), here / d, True
        for f in sorted(files):
            path = here / f
            if f.endswith(SKIP_SUFFIXES) or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path, False


def walk_compiled(root):
    """Like :func:`walk`, but keeps ``__pycache__`` and its ``.pyc`` files: for trees
    whose byte code the component compiled itself (see ``wasgi_py.carry``)."""
    root = Path(root)
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for d in dirs:
            yield (here / d).relative_to(root).as_posix(), here / d, True
        for f in sorted(files):
            path = here / f
            if path.is_file() and not f.endswith(".wasm"):
                yield path.relative_to(root).as_posix(), path, False


def pack(mounts, out):
    """Writes the payload for ``mounts`` (``(name, entries)`` pairs, the entries as
    :func:`walk` yields them) to the binary file ``out``; returns (files, bytes)."""
    count = size = 0
    out.write(MAGIC)
    for name, entries in mounts:
        _entry(out, DIRECTORY, name)
        for relative, path, is_dir in entries:
            if is_dir:
                _entry(out, DIRECTORY, f"{name}/{relative}")
                continue
            data = path.read_bytes()
            _entry(out, FILE, f"{name}/{relative}")
            out.write(struct.pack("<Q", len(data)))
            out.write(data)
            count += 1
            size += len(data)
    return count, size


def _entry(out, kind, path):
    encoded = path.encode("utf-8")
    if len(encoded) > 0xFFFF:
        raise ValueError(f"path too long to carry: {path}")
    out.write(struct.pack("<BH", kind, len(encoded)))
    out.write(encoded)


def append_section(component, payload):
    """Appends ``payload`` (a file) to the component file as the custom section
    ``wasgi:files``. Top-level custom sections are allowed anywhere in a component."""
    name = SECTION.encode()
    length = os.path.getsize(payload)
    named = wasm.leb128(len(name)) + name
    header = bytes([wasm.CUSTOM]) + wasm.leb128(len(named) + length) + named
    with open(component, "ab") as out, open(payload, "rb") as data:
        out.write(header)
        while chunk := data.read(1 << 20):
            out.write(chunk)
