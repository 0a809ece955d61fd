"""Packing a telegram's numeric values into one row.

A layout is the list of (series id, struct code, scaler) of the values a row holds; the row's
data is ``struct.pack`` of the raw integers. Layouts are few per meter (they change when a
counter is thinned out or a value needs a wider integer) and are stored once, by id.
"""

from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence, Tuple

Slot = Tuple[int, str, int]  # series id, struct code, scaler

_CODES = (("b", -(1 << 7), (1 << 7) - 1), ("h", -(1 << 15), (1 << 15) - 1),
          ("i", -(1 << 31), (1 << 31) - 1), ("q", -(1 << 63), (1 << 63) - 1), ("Q", 0, (1 << 64) - 1))


def code_for(raw: int) -> str:
    """The narrowest struct code that holds ``raw`` exactly (SML integers are at most 64 bits)."""
    for code, lo, hi in _CODES:
        if lo <= raw <= hi:
            return code
    raise OverflowError(f"{raw} does not fit 64 bits")


def spec_text(slots: Sequence[Slot]) -> str:
    return ",".join(f"{sid}:{code}:{scaler}" for sid, code, scaler in slots)


def parse_spec(text: str) -> List[Slot]:
    out: List[Slot] = []
    for part in text.split(","):
        sid, code, scaler = part.split(":")
        out.append((int(sid), code, int(scaler)))
    return out


class Layout:
    """A parsed layout: how to unpack a row and where each series stands in it."""

    __slots__ = ("id", "slots", "struct", "index")

    def __init__(self, layout_id: int, slots: Sequence[Slot]) -> None:
        self.id = layout_id
        self.slots = list(slots)
        self.struct = struct.Struct(">" + "".join(code for _, code, _ in slots))
        self.index: Dict[int, Tuple[int, int]] = {sid: (i, sc) for i, (sid, _, sc) in enumerate(slots)}

    def pack(self, raws: Sequence[int]) -> bytes:
        return self.struct.pack(*raws)

    def unpack(self, data: bytes) -> Tuple[int, ...]:
        return self.struct.unpack(data)

    def value(self, data: bytes, series_id: int) -> Optional[Tuple[int, int]]:
        """(raw, scaler) of one series in a row of this layout, or None if it is not there."""
        at = self.index.get(series_id)
        if at is None:
            return None
        return self.struct.unpack(data)[at[0]], at[1]
