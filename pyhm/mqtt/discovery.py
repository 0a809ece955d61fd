"""Home Assistant discovery: one device per meter, one entity per value, named as in pyhm.

Device-based discovery (one retained message per meter under
``<discovery_prefix>/device/...``): the device, the origin, the availability and the state
topic are said once; each component reads its value from the meter's JSON state by key.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from pyhm import __version__
from pyhm.obis import obis_name
from pyhm.mqtt.topics import Topics

POWER = "power"  # the signed power: import positive, export negative
HEALTH_CRC = "crc_errors_per_min"
HEALTH_SILENCE = "seconds_since_frame"

_CDE = re.compile(r"^1-\d+:(\d+)\.(\d+)\.(\d+)\*\d+$")


def _cde(obis: str) -> str:
    """``1-0:16.7.0*255`` → ``16.7.0`` (electricity codes only)."""
    m = _CDE.match(obis)
    return ".".join(m.groups()) if m else ""


class Entity(NamedTuple):
    """One Home Assistant sensor: the key in the state JSON and how HA should show it."""

    key: str
    name: str
    device_class: Optional[str]
    unit: Optional[str]
    state_class: Optional[str]
    scale: int = 0  # the published value is the stored one times 10**scale (Wh → kWh: -3)
    diagnostic: bool = False

    def convert(self, value: Decimal) -> Decimal:
        return value.scaleb(self.scale) if self.scale else value


def entity_for(obis: str, unit: Optional[str], kind: str) -> Optional[Entity]:
    """The sensor for one stored series, or None for what HA has no use for (texts)."""
    if kind == "text":
        return None
    name = obis_name(obis) or obis
    if kind == "counter":
        if unit == "Wh":
            return Entity(obis, name, "energy", "kWh", "total_increasing", -3)
        return Entity(obis, name, None, unit, "total_increasing")
    if _cde(obis) == "16.7.0":
        return None  # published as the signed power
    if unit == "W":
        return Entity(obis, name, "power", "W", "measurement")
    classes = {"V": "voltage", "A": "current", "Hz": "frequency"}
    if unit in classes:
        return Entity(obis, name, classes[unit], unit, "measurement")
    return Entity(obis, name, None, unit, "measurement")


def signed_power(values: Dict[str, Tuple[Decimal, Optional[str]]]) -> Optional[Decimal]:
    """The meter's power in W, export negative: 16.7.0 if it sends it, else 1.7.0 − 2.7.0."""
    by_cde = {_cde(obis): value for obis, (value, unit) in values.items() if unit == "W"}
    if "16.7.0" in by_cde:
        return by_cde["16.7.0"]
    if "1.7.0" in by_cde:
        return by_cde["1.7.0"] - by_cde.get("2.7.0", Decimal(0))
    return None


def has_power(series: Iterable[Tuple[str, Optional[str]]]) -> bool:
    return any(_cde(obis) in ("16.7.0", "1.7.0") and unit == "W" for obis, unit in series)


HEALTH = (
    Entity(HEALTH_CRC, "Reception CRC errors", None, "errors/min", "measurement", diagnostic=True),
    Entity(HEALTH_SILENCE, "Seconds since the last telegram", "duration", "s", "measurement", diagnostic=True),
)


def entities(series: Iterable[Tuple[str, Optional[str], str]]) -> List[Entity]:
    """Every sensor of a meter, from its stored series (OBIS, unit symbol, kind)."""
    series = list(series)
    out = [e for e in (entity_for(*s) for s in series) if e is not None]
    if has_power((o, u) for o, u, _ in series):
        out.insert(0, Entity(POWER, "Power", "power", "W", "measurement"))
    return out + list(HEALTH)


def component_id(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def config_message(topics: Topics, meter: str, name: str, items: List[Entity], qos: int = 1) -> Tuple[str, str]:
    """(topic, payload) of a meter's retained discovery message."""
    components = {}
    for e in items:
        cid = component_id(e.key)
        c = {
            "p": "sensor",
            "name": e.name,
            "unique_id": f"pyhm_{meter}_{cid}",
            "value_template": "{{ value_json[%s] }}" % json.dumps(e.key),
        }
        for field, value in (("device_class", e.device_class), ("unit_of_measurement", e.unit),
                             ("state_class", e.state_class)):
            if value is not None:
                c[field] = value
        if e.diagnostic:
            c["entity_category"] = "diagnostic"
        components[cid] = c
    payload = {
        "dev": {"ids": [f"pyhm_{meter}"], "name": name, "mdl": "SML meter", "sn": meter, "mf": "pyhm"},
        "o": {"name": "pyhm", "sw": __version__},
        "avty_t": topics.status,
        "stat_t": topics.state(meter),
        "qos": qos,
        "cmps": components,
    }
    return topics.discovery(meter), json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
