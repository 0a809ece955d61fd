"""An SML encoder: the simulator's meters and the tests speak real SML with it.

Values map back the way ``tl`` reads them: ``bytes`` → octet string, ``None`` → absent,
``bool`` → boolean, ``list`` → list, ``Int``/``UInt`` → integers of an explicit width (a plain
``int`` takes the smallest width that holds it).
"""

from __future__ import annotations

from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from pyhm.sml.crc import crc_kermit, crc_x25
from pyhm.sml.messages import CLOSE_RES, GET_LIST_RES, OPEN_RES
from pyhm.sml.tl import END
from pyhm.sml.transport import ESC, START


class Int(NamedTuple):
    value: int
    width: int = 0  # bytes; 0 = smallest that holds the value


class UInt(NamedTuple):
    value: int
    width: int = 0


def _tl(kind: int, length: int, is_list: bool = False) -> bytes:
    """TL bytes for ``length`` data bytes (or ``length`` entries of a list)."""
    n = 1
    while True:
        total = length if is_list else length + n
        if total < 16**n:
            break
        n += 1
    nibbles = [(total >> (4 * (n - 1 - i))) & 0x0F for i in range(n)]
    out = bytearray()
    for i, nib in enumerate(nibbles):
        more = 0x80 if i < n - 1 else 0
        out.append(more | (kind if i == 0 else 0) | nib)
    return bytes(out)


def _int_width(value: int, signed: bool) -> int:
    for width in (1, 2, 3, 4, 5, 6, 7, 8):
        try:
            value.to_bytes(width, "big", signed=signed)
            return width
        except OverflowError:
            continue
    raise ValueError(f"integer {value} needs more than 8 bytes")


def encode_value(value: Any) -> bytes:
    """Encode one value (recursively for lists)."""
    if value is None:
        return b"\x01"
    if value is END:
        return b"\x00"
    if isinstance(value, bool):
        return b"\x42" + (b"\x01" if value else b"\x00")
    if isinstance(value, (Int, UInt)) or isinstance(value, int):
        signed = not isinstance(value, UInt)
        v, width = (value.value, value.width) if isinstance(value, (Int, UInt)) else (value, 0)
        width = width or _int_width(v, signed)
        return _tl(0x50 if signed else 0x60, width) + v.to_bytes(width, "big", signed=signed)
    if isinstance(value, (bytes, bytearray)):
        return _tl(0x00, len(value)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _tl(0x70, len(value), is_list=True) + b"".join(encode_value(v) for v in value)
    raise TypeError(f"cannot encode {value!r} as SML")


def encode_message(tag: int, body: Sequence[Any], transaction_id: bytes, crc: str = "x25") -> bytes:
    """One SML message with its CRC (sent as the frames of real meters send it)."""
    head = b"\x76" + encode_value(transaction_id) + encode_value(UInt(0, 1)) + encode_value(UInt(0, 1))
    head += encode_value([UInt(tag, 4), list(body)])
    if crc == "kermit":
        value = crc_kermit(head)
    else:
        value = crc_x25(head)
        value = ((value & 0xFF) << 8) | (value >> 8)
    return head + encode_value(UInt(value, 2)) + b"\x00"


def escape(payload: bytes) -> bytes:
    """Double every 4-byte-aligned escape sequence in a (padded) payload."""
    if ESC not in payload:
        return payload
    return b"".join(
        payload[i : i + 4] * 2 if payload[i : i + 4] == ESC else payload[i : i + 4]
        for i in range(0, len(payload), 4)
    )


def encode_frame(payload: bytes, crc: str = "x25") -> bytes:
    """Wrap messages in a transport v1 frame: escape, pad to 4 bytes, CRC."""
    pad = (-len(payload)) % 4
    body = START + escape(payload + b"\x00" * pad) + ESC + bytes((0x1A, pad))
    if crc == "kermit":
        return body + crc_kermit(body).to_bytes(2, "big")
    return body + crc_x25(body).to_bytes(2, "little")


class Entry(NamedTuple):
    """One list entry to send: OBIS bytes, raw integer (or bytes), unit code, scaler."""

    obis: bytes
    value: Any
    unit: Optional[int] = None
    scaler: Optional[int] = None
    status: Optional[int] = None


def encode_telegram(
    server_id: bytes,
    entries: Iterable[Entry],
    seq: int = 0,
    sec_index: Optional[int] = None,
    crc: str = "x25",
) -> bytes:
    """A complete telegram as meters push it: Open.Res, GetList.Res, Close.Res in one frame."""
    tid = seq.to_bytes(4, "big")
    t = None if sec_index is None else [UInt(1, 1), UInt(sec_index, 4)]
    rows: List[List[Any]] = []
    for e in entries:
        value = e.value
        if isinstance(value, int) and not isinstance(value, (bool, Int, UInt)):
            value = Int(value) if value < 0 else UInt(value)
        rows.append([
            e.obis,
            None if e.status is None else UInt(e.status),
            None,
            None if e.unit is None else UInt(e.unit, 1),
            None if e.scaler is None else Int(e.scaler, 1),
            value,
            None,
        ])
    messages: List[Tuple[int, List[Any]]] = [
        (OPEN_RES, [None, None, b"pyhm" + tid, server_id, t, None]),
        (GET_LIST_RES, [None, server_id, None, t, rows, None, None]),
        (CLOSE_RES, [None]),
    ]
    payload = b"".join(
        encode_message(tag, body, tid + bytes((i,)), crc) for i, (tag, body) in enumerate(messages)
    )
    return encode_frame(payload, crc)
