"""Helpers for the storage tests: a writer on a controlled clock, fed by simulated meters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from pyhm.simulator import SimulatedMeter
from pyhm.sml import Reading, decode_frame, read_frames
from pyhm.store import Retention, Writer

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Clock:
    def __init__(self, ms: int = T0) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def telegram(meter: SimulatedMeter) -> Tuple[bytes, List[Reading]]:
    t = decode_frame(read_frames(meter.telegram())[0])
    assert t.server_id is not None
    return t.server_id, t.readings


def writer(path: Path, clock: Optional[Clock] = None, **kwargs: object) -> Writer:
    return Writer(path, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def feed(w: Writer, clock: Clock, meters: Iterable[SimulatedMeter], seconds: int, step_ms: int = 1000) -> None:
    """Every meter sends a telegram every ``step_ms``, for ``seconds``; committed as they go."""
    meters = list(meters)
    for _ in range(seconds * 1000 // step_ms):
        clock.ms += step_ms
        for m in meters:
            server, readings = telegram(m)
            w.add(server, readings, clock.ms)
        w.commit()


def reading(obis: str, value: str, unit: Optional[int] = 30, server: bytes = b"\x0a\x01TST\x00\x00\x00\x00\x01") -> Reading:
    v = Decimal(value)
    exp = v.as_tuple().exponent
    assert isinstance(exp, int)
    return Reading(server, obis, v, unit, exp, int(v.scaleb(-exp)), None, None)


__all__ = ["Clock", "T0", "feed", "reading", "telegram", "writer", "Retention"]
