"""The live state: the newest values of every meter, as Home Assistant reads them.

``latest`` is the one place that says where "now" comes from: ``store.Query``, which lays the
acquisition's live store (readings not yet committed, within a second of their arrival) over
the database, the same path the web service reads.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from pyhm.store import Query
from pyhm.store.rollup import MINUTE_MS

from pyhm.mqtt.discovery import HEALTH_CRC, HEALTH_SILENCE, POWER, Entity, entities, signed_power
from pyhm.mqtt.guard import CounterGuard


class Value(NamedTuple):
    value: Decimal
    unit: Optional[str]
    kind: str  # counter or gauge
    ts_ms: int


class MeterNow(NamedTuple):
    """A meter's newest values (by OBIS code) and when its newest telegram arrived."""

    server_id: bytes
    name: str
    ts_ms: int
    values: Dict[str, Value]

    @property
    def key(self) -> str:
        return self.server_id.hex()


def latest(query: Query) -> Dict[bytes, MeterNow]:
    """The newest values of every meter that has any, by server id."""
    out: Dict[bytes, MeterNow] = {}
    for m in query.meters():
        values = {obis: Value(e["value"], e["unit"], e["kind"], e["ts_ms"])
                  for obis, e in sorted(query.latest(m.id).items()) if e["kind"] != "text"}
        if values:
            out[m.server_id] = MeterNow(m.server_id, m.label, max(v.ts_ms for v in values.values()), values)
    return out


def health(query: Query, now_ms: int) -> Dict[bytes, Dict[str, Any]]:
    """Per meter: CRC errors in the last closed minute and seconds since its head's last frame."""
    out: Dict[bytes, Dict[str, Any]] = {}
    minute = now_ms - now_ms % MINUTE_MS - MINUTE_MS
    for h in query.heads():
        if not h["server_id"]:
            continue
        rows = query.head_minutes(h["serial"], minute, minute + MINUTE_MS)
        silence = None
        if h["last_frame_ms"] is not None:
            silence = Decimal(max(0, now_ms - h["last_frame_ms"]) // 100).scaleb(-1)
        out[bytes(h["server_id"])] = {HEALTH_CRC: sum(r[2] for r in rows), HEALTH_SILENCE: silence}
    return out


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sensors(now: MeterNow) -> List[Entity]:
    return entities((obis, v.unit, v.kind) for obis, v in now.values.items())


def state(now: MeterNow, guard: CounterGuard, head: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The retained state message of one meter: one key per sensor of its discovery message.

    A counter the guard holds back keeps its last published value.
    """
    out: Dict[str, Any] = {"time": iso(now.ts_ms)}
    power = signed_power({obis: (v.value, v.unit) for obis, v in now.values.items()})
    if power is not None:
        out[POWER] = power
    for e in sensors(now):
        v = now.values.get(e.key)
        if v is None:
            continue
        if v.kind == "counter" and not guard.check((now.key, e.key), v.value, v.ts_ms, v.unit):
            held = guard.value((now.key, e.key))
            if held is None:
                continue
            out[e.key] = e.convert(held)
        else:
            out[e.key] = e.convert(v.value)
    out.update((k, v) for k, v in (head or {}).items() if v is not None)
    return out


def keys_of(now: MeterNow) -> Tuple[str, ...]:
    """What the discovery message of a meter depends on: its sensors."""
    return tuple(e.key for e in sensors(now))
