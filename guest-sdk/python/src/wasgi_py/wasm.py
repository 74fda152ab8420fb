"""The WebAssembly binary format, as far as the build reads and rewrites components:
LEB128 numbers and sections (the core specification's "Binary Format" and the
component model's ``Binary.md``)."""

#: Section ids, in a component's top level and in a core module.
CUSTOM = 0
CORE_MODULE = 1
MEMORY = 5
DATA = 11

#: Where the sections start: after the magic number and the version (or layer) words.
HEADER = 8


def leb128(n):
    """``n`` (unsigned) as LEB128 bytes."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_leb(data, at, signed=False):
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


def sections(data, start, end):
    """``(id, body start, body end)`` of each section between ``start`` and ``end``."""
    at = start
    while at < end:
        section = data[at]
        size, body = read_leb(data, at + 1)
        yield section, body, body + size
        at = body + size


def core_modules(data):
    """``(start, end, sections)`` of each top-level core module of the component
    ``data``: where its bytes are, and its own sections as :func:`sections` gives them."""
    for section, start, end in sections(data, HEADER, len(data)):
        if section == CORE_MODULE:
            yield start, end, list(sections(data, start + HEADER, end))


def header_start(data, body):
    """Where the section whose body starts at ``body`` starts: its id, then its size
    (a LEB128 number whose bytes but the last have their top bit set)."""
    at = body - 1
    while data[at - 1] & 0x80:
        at -= 1
    return at - 1


def section(section_id, body):
    """A section of ``body``."""
    return bytes([section_id]) + leb128(len(body)) + body


def custom_name(data, start):
    """The name of the custom section whose body starts at ``start``."""
    length, at = read_leb(data, start)
    return bytes(data[at : at + length]).decode("utf-8", "replace")
