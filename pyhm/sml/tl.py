"""SML type-length fields: turn a payload into plain Python values.

Octet strings become ``bytes``, integers ``int`` (signed or unsigned by the type nibble,
1 to 8 bytes), booleans ``bool``, lists ``list``, an absent optional field ``None`` and the
end-of-message marker ``END``. Multi-byte TL fields (long strings, lists of more than 15
entries) are read in full. Everything is bounds-checked: malformed input raises ParseError.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from pyhm.sml.errors import ParseError

END = "END"  # the endOfSmlMsg marker (a lone 0x00)
MAX_DEPTH = 32
_from_bytes = int.from_bytes


def read_tl(data: bytes, pos: int, end: int) -> Tuple[int, int, int]:
    """Read a (possibly multi-byte) TL field: return (type nibble << 4, length, next pos).

    For lists the length is the number of entries; for other types it is the number of data
    bytes, the TL bytes themselves already subtracted.
    """
    b = data[pos]
    kind = b & 0x70
    length = b & 0x0F
    p = pos + 1
    while b & 0x80:
        if p >= end:
            raise ParseError("truncated TL field", pos)
        b = data[p]
        # The type bits of a continuation byte should be zero; real meters set them, and
        # libsml and SmlLib ignore them, as this does.
        length = (length << 4) | (b & 0x0F)
        p += 1
    if kind != 0x70:
        length -= p - pos
        if length < 0:
            raise ParseError("TL length shorter than the TL field", pos)
    return kind, length, p


def read_value(data: bytes, pos: int, end: int, depth: int = 0) -> Tuple[Any, int]:
    """Read one SML value of any type starting at ``pos``; return it and the next position."""
    if pos >= end:
        raise ParseError("unexpected end of data", pos)
    b = data[pos]
    if b == 0:
        return END, pos + 1
    if b & 0x80:
        kind, length, p = read_tl(data, pos, end)
    else:
        kind = b & 0x70
        length = b & 0x0F
        p = pos + 1
        if kind != 0x70:
            length -= 1
    if kind == 0x70:
        if depth >= MAX_DEPTH:
            raise ParseError("lists nested too deeply", pos)
        return read_list(data, p, length, end, depth + 1)
    q = p + length
    if q > end:
        raise ParseError("value runs past the end of data", pos)
    if kind == 0x00:
        return (data[p:q] if length else None), q
    if length == 0:
        if kind in (0x40, 0x50, 0x60):
            return None, q
        raise ParseError(f"invalid TL byte 0x{b:02x}", pos)
    if kind == 0x60:
        if length > 8:
            raise ParseError(f"unsigned integer of {length} bytes", pos)
        return _from_bytes(data[p:q], "big"), q
    if kind == 0x50:
        if length > 8:
            raise ParseError(f"integer of {length} bytes", pos)
        return _from_bytes(data[p:q], "big", signed=True), q
    if kind == 0x40:
        if length != 1:
            raise ParseError(f"boolean of {length} bytes", pos)
        return data[p] != 0, q
    raise ParseError(f"invalid TL byte 0x{b:02x}", pos)


def read_list(data: bytes, pos: int, count: int, end: int, depth: int = 0) -> Tuple[List[Any], int]:
    """Read ``count`` values (the entries of a list whose TL was already read)."""
    out: List[Any] = []
    append = out.append
    for _ in range(count):
        if pos >= end:
            raise ParseError("list runs past the end of data", pos)
        b = data[pos]
        # Fast path for the single-byte TL fields that make up nearly every telegram.
        if b < 0x80 and b & 0x70 != 0x70 and b:
            q = pos + (b & 0x0F)
            if q > end:
                raise ParseError("value runs past the end of data", pos)
            kind = b & 0x70
            if kind == 0x00:
                append(data[pos + 1 : q] if q > pos + 1 else None)
                pos = q
                continue
            if kind == 0x60 and pos + 1 < q <= pos + 9:
                append(_from_bytes(data[pos + 1 : q], "big"))
                pos = q
                continue
            if kind == 0x50 and pos + 1 < q <= pos + 9:
                append(_from_bytes(data[pos + 1 : q], "big", signed=True))
                pos = q
                continue
        value, pos = read_value(data, pos, end, depth)
        append(value)
    return out, pos
