"""Rollups: per series and minute, hour and day, aggregates that summarise the raw samples.

Gauges (power, voltage, ...) keep count, min, max and sum (so the mean is exact); counters
(energy registers) keep first, last and ``inc``, the sum of the increases from each sample to
the next. ``inc`` is what consumption is made of: a counter that is reset or replaced
contributes no negative step, so consumption is never negative.

Every value is an integer at a decimal exponent (value = int * 10**exp), exactly as the meter
sent it; samples with a finer scaler lower the bucket's exponent, exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Optional, Tuple

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
LEVEL_MS = {"minute": MINUTE_MS, "hour": HOUR_MS, "day": DAY_MS}

Row = Tuple[int, int, int, int, object, object, object, object, object, object]


def at_exp(raw: int, scaler: int, exp: int) -> int:
    """``raw * 10**scaler`` as an integer at exponent ``exp`` (``exp <= scaler``)."""
    return raw * 10 ** (scaler - exp) if scaler != exp else raw


def decimal(value: Optional[int], exp: int) -> Optional[Decimal]:
    if value is None:
        return None
    return Decimal(value).scaleb(exp) if exp < 0 else Decimal(value * 10**exp)


class Agg:
    """The aggregate of one series over one bucket."""

    __slots__ = ("start", "counter", "n", "exp", "vmin", "vmax", "vsum", "first", "last", "inc")

    def __init__(self, start: int, counter: bool, exp: int) -> None:
        self.start = start
        self.counter = counter
        self.n = 0
        self.exp = exp
        self.vmin = self.vmax = self.vsum = self.first = self.last = None  # type: Optional[int]
        self.inc = 0

    def _lower(self, exp: int) -> None:
        """Re-express every value at the finer exponent ``exp``."""
        f = 10 ** (self.exp - exp)
        for name in ("vmin", "vmax", "vsum", "first", "last"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v * f)
        self.inc *= f
        self.exp = exp

    def add(self, raw: int, scaler: int, prev: Optional[Tuple[int, int]]) -> None:
        """Add one sample; ``prev`` is the series' previous sample (raw, scaler), for counters."""
        if scaler < self.exp:
            self._lower(scaler)
        v = at_exp(raw, scaler, self.exp)
        self.n += 1
        if self.counter:
            if self.first is None:
                self.first = v
            self.last = v
            if prev is not None:
                p_raw, p_scaler = prev
                if p_scaler < self.exp:
                    self._lower(p_scaler)
                    v = at_exp(raw, scaler, self.exp)
                step = v - at_exp(p_raw, p_scaler, self.exp)
                if step > 0:
                    self.inc += step
        else:
            if self.vmin is None or v < self.vmin:
                self.vmin = v
            if self.vmax is None or v > self.vmax:
                self.vmax = v
            self.vsum = v if self.vsum is None else self.vsum + v

    def merge(self, other: "Agg") -> None:
        """Fold a finer bucket (a closed minute into its hour, ...) into this one."""
        if other.exp < self.exp:
            self._lower(other.exp)
        f = 10 ** (other.exp - self.exp)
        self.n += other.n
        self.inc += other.inc * f
        if self.counter:
            if self.first is None and other.first is not None:
                self.first = other.first * f
            if other.last is not None:
                self.last = other.last * f
        else:
            if other.vmin is not None:
                v = other.vmin * f
                self.vmin = v if self.vmin is None else min(self.vmin, v)
                v = other.vmax * f
                self.vmax = v if self.vmax is None else max(self.vmax, v)
                v = other.vsum * f
                self.vsum = v if self.vsum is None else self.vsum + v

    def row(self, series_id: int) -> Row:
        """The database row (integers beyond 64 bits as text, see ``db_int``)."""
        if self.counter:
            return (series_id, self.start, self.n, self.exp, None, None, None,
                    db_int(self.first), db_int(self.last), db_int(self.inc))
        return (series_id, self.start, self.n, self.exp, db_int(self.vmin), db_int(self.vmax),
                db_int(self.vsum), None, None, None)

    @classmethod
    def from_row(cls, counter: bool, row: Row) -> "Agg":
        _, start, n, exp, vmin, vmax, vsum, first, last, inc = row
        agg = cls(start, counter, exp)
        agg.n = n
        agg.vmin, agg.vmax, agg.vsum = py_int(vmin), py_int(vmax), py_int(vsum)
        agg.first, agg.last, agg.inc = py_int(first), py_int(last), py_int(inc) or 0
        return agg


_I64 = (-(1 << 63), (1 << 63) - 1)


def db_int(v: Optional[int]) -> object:
    """SQLite integers are 64-bit: a larger one is stored as its decimal text."""
    if v is None or _I64[0] <= v <= _I64[1]:
        return v
    return str(v)


def py_int(v: object) -> Optional[int]:
    if v is None or isinstance(v, int):
        return v  # type: ignore[return-value]
    return int(v)  # type: ignore[arg-type]
