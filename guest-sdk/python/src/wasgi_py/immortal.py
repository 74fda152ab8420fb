"""Makes the objects of a component's snapshot immortal (PEP 683), on the build machine.

A fresh instance starts from the heap componentize-py snapshotted after the app was
imported and warmed up. Every reference a request takes to one of those objects
(a module, a function, a class, a dict of settings) writes its reference count, and
each write dirties the page it is on: a Flask request dirtied hundreds of pages
scattered over the snapshot, which the host copies back from the image after every
instance (docs/PERFORMANCE.md). An immortal object's count is never written.

The adapter records the address of every object alive at the end of
pre-initialisation, with its type's (``wasgi_py.adapter.record_heap``); this module
then sets each one's reference count, in the data the snapshot is made of, to
CPython's value for an immortal object. The component's layout is checked, never
guessed: one core module defines the memory, and an object's count is written only
where the snapshot holds its type in the next word.
"""

import bisect
import struct

from wasgi_py import wasm

#: CPython 3.14 on a 32-bit platform: an object whose ``ob_refcnt`` (its first word) is
#: at least ``_Py_IMMORTAL_MINIMUM_REFCNT`` is immortal; ``_Py_IMMORTAL_INITIAL_REFCNT``
#: is what CPython sets when it makes one (Include/refcount.h), below the range kept
#: for statically allocated objects.
IMMORTAL_MINIMUM = 1 << 30
IMMORTAL_INITIAL = 5 << 28

_I32_CONST = 0x41
_END = 0x0B


class LayoutError(Exception):
    """The component is not laid out as componentize-py lays it out."""


def _segments(data, start, end):
    """The data segments of the data section ``data[start:end]`` of the module that
    defines the memory, each ``(address, length, offset of the bytes in data)``: every
    one must be active, for that memory, at a constant address."""
    count, at = wasm.read_leb(data, start)
    for _ in range(count):
        flags, at = wasm.read_leb(data, at)
        if flags == 1:
            length, at = wasm.read_leb(data, at)
            at += length
            continue
        memory = 0
        if flags == 2:
            memory, at = wasm.read_leb(data, at)
        if flags not in (0, 2) or memory != 0:
            raise LayoutError("a data segment is not for the one memory")
        if data[at] != _I32_CONST:
            raise LayoutError("a data segment of the snapshot has no constant address")
        address, at = wasm.read_leb(data, at + 1, signed=True)
        if data[at] != _END:
            raise LayoutError("a data segment of the snapshot has no constant address")
        length, at = wasm.read_leb(data, at + 1)
        yield address & 0xFFFFFFFF, length, at
        at += length
    if at != end:
        raise LayoutError("a data section does not parse")


def snapshot_segments(data):
    """The data segments of the one core module that defines a memory: the snapshot."""
    if data[:4] != b"\0asm":
        raise LayoutError("not a WebAssembly component")
    found = []
    for _, _, inner in wasm.core_modules(data):
        if any(s == wasm.MEMORY for s, _, _ in inner):
            data_sections = [(a, b) for s, a, b in inner if s == wasm.DATA]
            found.append([seg for a, b in data_sections for seg in _segments(data, a, b)])
    if len(found) != 1:
        raise LayoutError(f"{len(found)} core modules define a memory, not one")
    return sorted(found[0])


def immortalize(component, objects):
    """Makes each object of ``objects``, ``(address, its type's address)`` pairs, in the
    snapshot of ``component`` (a bytearray, changed in place) immortal. An object is
    left mortal where the snapshot's data does not hold both its words (a segment
    boundary within them) or holds another type there; one that is immortal already
    (CPython's own) is left as it is. More than one in a hundred left means the record
    does not describe this snapshot: a :class:`LayoutError`."""
    segments = snapshot_segments(component)
    starts = [address for address, _, _ in segments]
    left = 0
    for address, kind in objects:
        index = bisect.bisect_right(starts, address) - 1
        base, length, offset = segments[index] if index >= 0 else (0, 0, 0)
        at = offset + address - base
        whole = base <= address and address + 8 <= base + length
        count, typed = struct.unpack_from("<iI", component, at) if whole else (0, 0)
        if typed != kind or count <= 0:
            left += 1
        elif count < IMMORTAL_MINIMUM:
            struct.pack_into("<i", component, at, IMMORTAL_INITIAL)
    if left * 100 > len(objects):
        raise LayoutError(f"{left} of {len(objects)} recorded objects are not in the snapshot")


def apply(component_path, record_path):
    """Rewrites the component at ``component_path`` with the objects recorded at
    ``record_path`` (``record_heap``'s file) made immortal."""
    with open(record_path, "rb") as f:
        record = f.read()
    if len(record) % 8:
        raise LayoutError("the heap record is not whole pairs of 32-bit words")
    words = struct.unpack(f"<{len(record) // 4}I", record)
    with open(component_path, "rb") as f:
        component = bytearray(f.read())
    try:
        immortalize(component, list(zip(words[::2], words[1::2])))
    except (IndexError, struct.error) as e:
        raise LayoutError(f"the component does not parse ({e})") from None
    with open(component_path, "wb") as f:
        f.write(component)
