"""The history stream: every stored telegram, once, in order, QoS 1, from a cursor on disk.

Per meter the cursor holds the time of the last telegram the broker acknowledged (PUBACK),
and the counters published up to it. It moves only on acknowledgements, in order, and is
written to a small JSON file atomically (write, fsync, rename; every few seconds and at
stop), so a restart, a broker outage or a network cut resumes after the last acknowledged
telegram (after a crash or a power cut: at most the last few seconds are sent again).

Messages are only published while connected, at most ``window`` unacknowledged at a time;
paho re-sends those after a reconnect, so nothing is published twice by pyhm (QoS 1 may still
deliver one twice when an acknowledgement is lost on the wire). Acknowledgements are read
from paho's message handles by the main thread (no callback, no lock shared with paho's
network thread).
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Protocol, Tuple

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


class Handle(Protocol):
    """What paho's ``publish`` returns: says when the broker acknowledged the message."""

    def is_published(self) -> bool: ...


class _Sent:
    __slots__ = ("meter", "ts_ms", "counters", "handle")

    def __init__(self, meter: str, ts_ms: int, counters: Dict[str, list], handle: Handle) -> None:
        self.meter = meter
        self.ts_ms = ts_ms
        self.counters = counters
        self.handle = handle


Publish = Callable[[str, str], Optional[Handle]]  # (topic, payload) → handle, None if not taken


class History:
    """Reads telegrams after each meter's cursor and publishes them, ``window`` in flight at most."""

    def __init__(self, cursor: Cursor, topics: Topics, window: int = 100) -> None:
        self.cursor = cursor
        self.topics = topics
        self.window = window
        self.guard = CounterGuard("history")
        self.sent_ms: Dict[str, int] = {}  # newest telegram handed to the client, per meter
        self._order: Dict[str, Deque[_Sent]] = {}  # unacknowledged, per meter, oldest first
        self.inflight = 0
        self.published = 0
        self.acknowledged = 0
        self.backlog = False  # the last pump stopped at a full window: more is due as acks come

    def start(self, query: Query) -> None:
        """At service start: meters never published before start after their newest telegram."""
        for m in query.meters():
            self._start_meter(m.server_id.hex(), query.last_seen_ms(m.id))

    def _start_meter(self, meter: str, newest_ms: Optional[int]) -> None:
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
        self.backlog = True
        for m in query.meters():
            meter = m.server_id.hex()
            if meter not in self.sent_ms:
                self._start_meter(meter, None)
            while True:
                room = min(self.window - self.inflight, BATCH)
                if room <= 0:
                    return count
                rows = query.telegrams(m.id, self.sent_ms[meter], room)
                for ts, values in rows:
                    if not self._publish(meter, m.label, ts, values, publish):
                        return count
                    count += 1
                if len(rows) < room:
                    break
        self.backlog = False
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
        handle = publish(self.topics.readings(meter), exactjson.dumps(message))
        if handle is None:
            return False
        self._order.setdefault(meter, deque()).append(_Sent(meter, ts, self.guard.export(meter), handle))
        self.inflight += 1
        self.sent_ms[meter] = ts
        self.published += 1
        return True

    def collect(self) -> None:
        """Move each meter's cursor over the messages the broker acknowledged, in order."""
        for order in self._order.values():
            while order and order[0].handle.is_published():
                done = order.popleft()
                self.cursor.set(done.meter, done.ts_ms, done.counters)
                self.inflight -= 1
                self.acknowledged += 1

    def save(self) -> None:
        """Write the cursor if it moved; a failed write is logged and tried again next time."""
        if not self.cursor.dirty:
            return
        self.cursor.dirty = False
        try:
            self.cursor.write(self.cursor.snapshot())
        except OSError as exc:
            log.error("cannot write the history cursor %s: %s", self.cursor.path, exc)
            self.cursor.dirty = True
