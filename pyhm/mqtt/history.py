"""The history stream: every stored telegram, once, in order, QoS 1, from a cursor on disk.

Per meter the cursor holds the time of the last telegram the broker acknowledged (PUBACK),
and the counters published up to it. It moves only on acknowledgements, in order, and is
written to a small JSON file atomically (write, fsync, rename), so a restart, a broker outage
or a network cut resumes exactly after the last acknowledged telegram.

Messages are only published while connected, at most ``window`` unacknowledged at a time;
paho re-sends those after a reconnect, so nothing is published twice by pyhm (QoS 1 may still
deliver one twice when an acknowledgement is lost on the wire).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from pyhm import exactjson
from pyhm.store import Query

from pyhm.mqtt.guard import CounterGuard
from pyhm.mqtt.live import iso
from pyhm.mqtt.topics import SCHEMA, Topics

log = logging.getLogger("pyhm.mqtt")

CURSOR_VERSION = 1
BATCH = 200  # telegrams read per meter and query


class Cursor:
    """The cursor file: {meter hex: {"ts_ms": acknowledged up to, "counters": {...}}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meters: Dict[str, Dict[str, Any]] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != CURSOR_VERSION or not isinstance(data.get("meters"), dict):
                raise ValueError(f"not a version {CURSOR_VERSION} cursor")
            for meter, entry in data["meters"].items():
                self.meters[meter] = {"ts_ms": int(entry["ts_ms"]), "counters": dict(entry.get("counters", {}))}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            bad = path.with_suffix(path.suffix + ".bad")
            log.error("history cursor %s is unusable (%s); kept as %s, starting afresh from the newest telegrams",
                      path, exc, bad)
            try:
                os.replace(path, bad)
            except OSError:
                pass
            self.meters = {}

    def get(self, meter: str) -> Optional[int]:
        entry = self.meters.get(meter)
        return entry["ts_ms"] if entry else None

    def set(self, meter: str, ts_ms: int, counters: Dict[str, list]) -> None:
        self.meters[meter] = {"ts_ms": ts_ms, "counters": counters}
        self.dirty = True

    def snapshot(self) -> bytes:
        return json.dumps({"version": CURSOR_VERSION, "meters": self.meters}, sort_keys=True).encode()

    def write(self, data: bytes) -> None:
        """Replace the file: a temporary file, fsync, then rename over the old one."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


class _Sent:
    __slots__ = ("meter", "ts_ms", "counters", "acked")

    def __init__(self, meter: str, ts_ms: int, counters: Dict[str, list]) -> None:
        self.meter = meter
        self.ts_ms = ts_ms
        self.counters = counters
        self.acked = False


Publish = Callable[[str, str], Optional[int]]  # (topic, payload) → message id, None if not sent


class History:
    """Reads telegrams after each meter's cursor and publishes them, ``window`` in flight at most."""

    def __init__(self, cursor: Cursor, topics: Topics, window: int = 100) -> None:
        self.cursor = cursor
        self.topics = topics
        self.window = window
        self.guard = CounterGuard("history")
        self.sent_ms: Dict[str, int] = {}  # newest telegram handed to the client, per meter
        self._lock = threading.Lock()
        self._inflight: Dict[int, _Sent] = {}
        self._order: Dict[str, Deque[_Sent]] = {}
        self.published = 0
        self.acknowledged = 0

    def start(self, query: Query) -> None:
        """At service start: meters never published before start after their newest telegram."""
        for m in query.meters():
            self._start_meter(m.server_id.hex(), query.last_seen_ms(m.id))

    def _start_meter(self, meter: str, newest_ms: Optional[int]) -> None:
        with self._lock:
            ts = self.cursor.get(meter)
            if ts is None:
                ts = newest_ms if newest_ms is not None else -1
                self.cursor.set(meter, ts, {})
                log.info("history of meter %s starts after %s", meter, iso(ts) if ts >= 0 else "its first telegram")
            else:
                self.guard.restore(meter, self.cursor.meters[meter]["counters"])
        self.sent_ms[meter] = ts

    def pump(self, query: Query, publish: Publish) -> int:
        """Publish what is due while the window has room; returns how many were published.

        A meter that appears while the service runs is published from its first telegram.
        """
        count = 0
        for m in query.meters():
            meter = m.server_id.hex()
            if meter not in self.sent_ms:
                self._start_meter(meter, None)
            while True:
                room = min(self.window - len(self._inflight), BATCH)
                if room <= 0:
                    return count
                rows = query.telegrams(m.id, self.sent_ms[meter], room)
                for ts, values in rows:
                    if not self._publish(meter, m.label, ts, values, publish):
                        return count
                    count += 1
                if len(rows) < room:
                    break
        return count

    def _publish(self, meter: str, name: str, ts: int, values: List[Tuple[Any, Decimal]], publish: Publish) -> bool:
        out: Dict[str, Any] = {}
        held = []
        for series, value in values:
            if series.kind == "counter" and not self.guard.check((meter, series.obis), value, ts, series.unit_symbol):
                held.append(series.obis)
                continue
            out[series.obis] = {"value": value, "unit": series.unit_symbol}
        message: Dict[str, Any] = {"schema": f"pyhm/{SCHEMA}", "site": self.topics.site, "meter": meter,
                                   "name": name, "time": iso(ts), "ts_ms": ts, "values": out}
        if held:
            message["held"] = held
        sent = _Sent(meter, ts, self.guard.export(meter))
        with self._lock:  # the acknowledgement may come before publish() returns
            mid = publish(self.topics.readings(meter), exactjson.dumps(message))
            if mid is None:
                return False
            self._inflight[mid] = sent
            self._order.setdefault(meter, deque()).append(sent)
        self.sent_ms[meter] = ts
        self.published += 1
        return True

    def acked(self, mid: int) -> None:
        """PUBACK for ``mid`` (paho's network thread): move the cursor over what is acknowledged in order."""
        with self._lock:
            sent = self._inflight.pop(mid, None)
            if sent is None:
                return
            sent.acked = True
            self.acknowledged += 1
            order = self._order[sent.meter]
            while order and order[0].acked:
                done = order.popleft()
                self.cursor.set(done.meter, done.ts_ms, done.counters)

    def save(self) -> None:
        """Write the cursor if it moved; a failed write is logged and tried again next time."""
        with self._lock:
            if not self.cursor.dirty:
                return
            data = self.cursor.snapshot()
            self.cursor.dirty = False
        try:
            self.cursor.write(data)
        except OSError as exc:
            log.error("cannot write the history cursor %s: %s", self.cursor.path, exc)
            self.cursor.dirty = True

    @property
    def inflight(self) -> int:
        return len(self._inflight)
