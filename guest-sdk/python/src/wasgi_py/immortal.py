"""Makes the objects of a component's snapshot immortal (PEP 683), on the build machine.

A fresh instance starts from the heap componentize-py snapshotted after the app was
imported and warmed up. Every reference a request takes to one of those objects
(a module, a function, a class, a dict of settings) writes its reference count, and
each write dirties the page it is on: a Flask request dirtied hundreds of pages
scattered over the snapshot, which the host copies back from the image after every
instance (docs/PERFORMANCE.md). An immortal object's count is never written.

The adapter records the address of every object alive at the end of
pre-initialisation (``wasgi_py.adapter.record_heap``); this module then sets each
one's reference count, in the data the snapshot is made of, to CPython's value for an
immortal object. The component's layout is checked, never guessed: one core module
defines the memory, and every recorded object lies in its data segments.
"""

import bisect
import struct

#: CPython 3.14 on a 32-bit platform: an object whose ``ob_refcnt`` (its first word) is
#: at least ``_Py_IMMORTAL_MINIMUM_REFCNT`` is immortal; ``_Py_IMMORTAL_INITIAL_REFCNT``
#: is what CPython sets when it makes one (Include/refcount.h), below the range kept
#: for statically allocated objects.
IMMORTAL_MINIMUM = 1 << 30
IMMORTAL_INITIAL = 5 << 28

_CORE_MODULE = 1
_MEMORY_SECTION = 5
_DATA_SECTION = 11
_I32_CONST = 0x41
_END = 0x0B


class LayoutError(Exception):
    """The component is not laid out as componentize-py lays it out."""


def _leb(data, at, signed=False):
    """The LEB128 number at ``data[at]`` and where it ends."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if signed and byte & 0x40:
                value -= 1 << shift
            return value, at


def _sections(data, start, end):
    """``(id, body start, body end)`` of each section between ``start`` and ``end``."""
    at = start
    while at < end:
        section = data[at]
        size, body = _leb(data, at + 1)
        yield section, body, body + size
        at = body + size


def _segments(data, start, end):
    """The active data segments of memory 0 at a constant address in the data section
    ``data[start:end]``: ``(address, length, offset of the bytes in data)``."""
    count, at = _leb(data, start)
    for _ in range(count):
        flags, at = _leb(data, at)
        if flags == 1:
            length, at = _leb(data, at)
            at += length
            continue
        memory = 0
        if flags == 2:
            memory, at = _leb(data, at)
        address = None
        if data[at] == _I32_CONST and memory == 0:
            address, at = _leb(data, at + 1, signed=True)
        while data[at] != _END:
            at += 1
        length, at = _leb(data, at + 1)
        if address is not None:
            yield address & 0xFFFFFFFF, length, at
        at += length
    if at != end:
        raise LayoutError("a data section does not parse")


def snapshot_segments(data):
    """The data segments of the one core module that defines a memory: the snapshot."""
    if data[:4] != b"\0asm":
        raise LayoutError("not a WebAssembly component")
    found = []
    for section, start, end in _sections(data, 8, len(data)):
        if section != _CORE_MODULE:
            continue
        inner = list(_sections(data, start + 8, end))
        if any(s == _MEMORY_SECTION for s, _, _ in inner):
            data_sections = [(a, b) for s, a, b in inner if s == _DATA_SECTION]
            found.append([seg for a, b in data_sections for seg in _segments(data, a, b)])
    if len(found) != 1:
        raise LayoutError(f"{len(found)} core modules define a memory, not one")
    return sorted(found[0])


def immortalize(component, addresses):
    """Makes each object at ``addresses`` in the snapshot of ``component`` (a
    bytearray, changed in place) immortal. Returns how many were made so, and how many
    were left mortal because their count is not all in the snapshot's data (a segment
    boundary within it). An object that is immortal already (CPython's own) is left
    as it is. More than one in a hundred left means the record does not describe this
    snapshot: a :class:`LayoutError`."""
    segments = snapshot_segments(component)
    starts = [address for address, _, _ in segments]
    made = left = 0
    for address in sorted(set(addresses)):
        index = bisect.bisect_right(starts, address) - 1
        base, length, offset = segments[index] if index >= 0 else (0, 0, 0)
        at = offset + address - base
        count = struct.unpack_from("<i", component, at)[0] if address + 4 <= base + length else 0
        if count >= IMMORTAL_MINIMUM:
            continue
        if count <= 0:
            left += 1
            continue
        struct.pack_into("<i", component, at, IMMORTAL_INITIAL)
        made += 1
    if left * 100 > len(addresses):
        raise LayoutError(f"{left} of {len(addresses)} recorded objects are not in the snapshot")
    return made, left


def apply(component_path, record_path):
    """Rewrites the component at ``component_path`` with the objects recorded at
    ``record_path`` (``record_heap``'s file) made immortal; returns what
    :func:`immortalize` does."""
    record = open(record_path, "rb").read()
    if len(record) % 4:
        raise LayoutError("the heap record is not whole 32-bit words")
    addresses = struct.unpack(f"<{len(record) // 4}I", record)
    with open(component_path, "rb") as f:
        component = bytearray(f.read())
    made, left = immortalize(component, addresses)
    with open(component_path, "wb") as f:
        f.write(component)
    return made, left
