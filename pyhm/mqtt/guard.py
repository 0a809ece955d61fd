"""A counter never goes down in what pyhm publishes.

An energy register that drops (a misread, a swapped meter reporting under the same id) or
leaps further than any real load could drive it is held back and logged, never sent: Home
Assistant's ``total_increasing`` would otherwise book the drop as a reset and the leap as
consumption. A leap is let through once the next reading continues plausibly from it; a drop
stays held until the counter is back above what was published.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Dict, Optional, Tuple

log = logging.getLogger("pyhm.mqtt")

MAX_POWER_W = 10_000_000  # no head reads a meter that passes more than this
_ENERGY_UNITS = {"Wh": 1, "varh": 1, "VAh": 1}
Key = Tuple[str, str]  # meter, OBIS code


class CounterGuard:
    """Remembers the last published value of each counter; ``check`` says whether a new one may go."""

    def __init__(self, what: str) -> None:
        self.what = what  # "state" or "history", for the log
        self.published: Dict[Key, Tuple[Decimal, int]] = {}
        self._suspect: Dict[Key, Tuple[Decimal, int]] = {}
        self._held: Dict[Key, str] = {}  # why a counter is held, while it is

    def check(self, key: Key, value: Decimal, ts_ms: int, unit: Optional[str]) -> bool:
        """True: publish ``value`` (and remember it); False: hold it back."""
        last = self.published.get(key)
        if last is None or value == last[0]:
            return self._accept(key, value, ts_ms)
        if value < last[0]:
            return self._hold(key, "%s: counter %s of meter %s went down from %s to %s: held back, not published",
                              last[0], value)
        if not self._leap(last, value, ts_ms, unit):
            return self._accept(key, value, ts_ms)
        suspect = self._suspect.get(key)
        if suspect is not None and value >= suspect[0] and not self._leap(suspect, value, ts_ms, unit):
            return self._accept(key, value, ts_ms)  # the leap is confirmed by the reading after it
        self._suspect[key] = (value, ts_ms)
        return self._hold(key, "%s: counter %s of meter %s leapt from %s to %s in %g s: held back, not published",
                          last[0], value, (ts_ms - last[1]) / 1000)

    def value(self, key: Key) -> Optional[Decimal]:
        last = self.published.get(key)
        return last[0] if last else None

    @staticmethod
    def _leap(last: Tuple[Decimal, int], value: Decimal, ts_ms: int, unit: Optional[str]) -> bool:
        if unit not in _ENERGY_UNITS:
            return False
        seconds = max(1, ts_ms - last[1]) / 1000
        return (value - last[0]) * 3600 > MAX_POWER_W * Decimal(max(seconds, 1))

    def _accept(self, key: Key, value: Decimal, ts_ms: int) -> bool:
        self.published[key] = (value, ts_ms)
        self._suspect.pop(key, None)
        if self._held.pop(key, None) is not None:
            log.warning("%s: counter %s of meter %s is plausible again at %s: published", self.what, key[1], key[0], value)
        return True

    def _hold(self, key: Key, message: str, *args: object) -> bool:
        """Log (once while it lasts; one message per kind, for the log's rate limit) and refuse."""
        if self._held.get(key) != message:
            log.warning(message, self.what, key[1], key[0], *args)
        self._held[key] = message
        return False

    def export(self, meter: str) -> Dict[str, list]:
        """A meter's published counters, for the cursor file."""
        return {obis: [str(v), ts] for (m, obis), (v, ts) in self.published.items() if m == meter}

    def restore(self, meter: str, saved: Dict[str, list]) -> None:
        for obis, (v, ts) in saved.items():
            self.published[(meter, obis)] = (Decimal(v), int(ts))
