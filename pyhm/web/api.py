"""The JSON API's answers, from the store: pure functions of a Query and checked parameters.

Times leave as ISO 8601 in local time with its offset; values as exact decimals.
"""

from __future__ import annotations

import platform
import re
import sqlite3
import time
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from pyhm import __version__, localtime
from pyhm.decode import value_text
from pyhm.export import parse_time
from pyhm.obis import parse_obis
from pyhm.store import Query
from pyhm.store.query import PERIODS, Meter, NotFound, Series
from pyhm.store.rollup import HOUR_MS, MINUTE_MS, Agg, decimal
from pyhm.web.i18n import N_

T = TypeVar("T")
IMPORT, EXPORT, POWER = "1-0:1.8.0*255", "1-0:2.8.0*255", "1-0:16.7.0*255"
PHASES = ("1-0:36.7.0*255", "1-0:56.7.0*255", "1-0:76.7.0*255")
FRESH_S = 15  # data older than this (a few missed telegrams) is stale for /healthz
ALIVE_S = 15  # the acquisition service commits every second
LAST_MS = 253370764800000  # 9999-01-01 UTC: a local day, month or year after any time asked stays in year 9999
# The API speaks English; pages translate these words where they show them (the catalogue needs
# them marked here because the acquisition and pyhm.obis write them without gettext).
HEAD_STATES = (N_("starting"), N_("reading"), N_("retrying"), N_("stalled"), N_("stopped"), N_("failed"), N_("gone"))
SERIES_NAMES = (
    N_("Energy import total"), N_("Energy export total"), N_("Reactive energy import total"),
    N_("Reactive energy export total"), N_("Power import"), N_("Power export"), N_("Power (absolute)"), N_("Power"),
    N_("Power L1"), N_("Power L2"), N_("Power L3"), N_("Current L1"), N_("Current L2"), N_("Current L3"),
    N_("Current neutral"), N_("Voltage L1"), N_("Voltage L2"), N_("Voltage L3"), N_("Frequency"), N_("Power factor"),
    N_("Phase angle U-L2 to U-L1"), N_("Phase angle U-L3 to U-L1"), N_("Phase angle I-L1 to U-L1"),
    N_("Phase angle I-L2 to U-L2"), N_("Phase angle I-L3 to U-L3"), N_("Device id"), N_("Firmware version"),
    N_("Status word"), N_("Manufacturer"), N_("Firmware checksum"), N_("Public key"),
    N_("Energy import"), N_("Energy export"), N_("Reactive energy import"), N_("Reactive energy export"),
)
TARIFF = N_("{kind} tariff {n}")
_TARIFF_NAME = re.compile(r"^(.+) tariff (\d+)$")


class BadParameter(ValueError):
    """A request parameter that cannot be used: answered with 400 naming it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def iso(ts_ms: Optional[int], tz: tzinfo) -> Optional[str]:
    """A stored time in the household's zone, with its offset."""
    if ts_ms is None:
        return None
    return localtime.local(ts_ms, tz).isoformat(timespec="seconds")


def checked(name: str, raw: Optional[str], parse: Callable[[str], T], default: Optional[T] = None) -> T:
    """A parameter through its parser; a missing one takes ``default`` (None: required)."""
    if raw is None or raw == "":
        if default is None:
            raise BadParameter(name, "is required")
        return default
    if len(raw) > 200:
        raise BadParameter(name, "is too long")
    try:
        return parse(raw)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadParameter(name, str(exc)) from None


def time_ms(text: str, tz: tzinfo) -> int:
    """ISO 8601 (without an offset: a wall time in the household's zone ``tz``), or
    milliseconds since the epoch."""
    if text.lstrip("-").isdigit():
        value = int(text)
    else:
        value = localtime.to_ms(parse_time(text), tz)
    if not 0 <= value < LAST_MS:
        raise ValueError("must be from 1970 to 9998")
    return value


def time_range(params: Any, default_span_ms: int, tz: tzinfo) -> Tuple[int, int]:
    """``from`` and ``to`` of a request: ``to`` defaults to now, ``from`` to a span before it."""
    def parse(text: str) -> int:
        return time_ms(text, tz)
    end = checked("to", params.get("to"), parse, int(time.time() * 1000))
    start = checked("from", params.get("from"), parse, end - default_span_ms)
    return start, end


def points(text: str) -> int:
    n = int(text)
    if not 2 <= n <= 5000:
        raise ValueError("must be from 2 to 5000")
    return n


def period(text: str) -> str:
    if text not in PERIODS:
        raise ValueError(f"must be one of {', '.join(PERIODS)}")
    return text


def obis(text: str) -> str:
    return parse_obis(text)


def meter_of(q: Query, ref: str) -> Meter:
    if len(ref) > 200:
        raise BadParameter("meter", "is too long")
    return q.meter(ref)  # NotFound → 404


def series_of(q: Query, meter: Meter, code: str) -> Series:
    return q.find_series(meter.id, code)  # NotFound → 404


def _latest_value(latest: Dict[str, Dict[str, Any]], code: str, tz: tzinfo) -> Optional[Dict[str, Any]]:
    entry = latest.get(code)
    if entry is None:
        return None
    return {"value": value_text(entry["value"]), "unit": entry["unit"], "time": iso(entry["ts_ms"], tz)}


def _energy_now(q: Query, meter: Meter, code: str, now_ms: int) -> Tuple[Optional[Decimal], Optional[Decimal]]:
    """What a counter counted in this local day and this month, up to its newest reading. The
    month's days before today come from the hour rollups alone, so the samples not rolled up yet
    (up to an hour of them) are read once, for today, not twice."""
    try:
        s = q.find_series(meter.id, code)
    except NotFound:
        return None, None
    day_start, day_end = localtime.period_range(now_ms, "day", q.tz)
    month_start = localtime.period_range(now_ms, "month", q.tz)[0]
    today = sum((v for _, v in q.consumption(s, "day", day_start, day_end)), Decimal(0))
    before = sum((v for _, v in q.consumption(s, "month", month_start, day_start)), Decimal(0)) if month_start < day_start else 0
    return today, before + today


def yesterday_range(now_ms: int, tz: tzinfo) -> Tuple[int, int]:
    """Yesterday from its local midnight to the wall time it is now: "the same time yesterday",
    also after a 23 or 25 hour day (never simply 24 hours back)."""
    now = localtime.local(now_ms, tz)
    day = now.date() - timedelta(days=1)
    return localtime.midnight_ms(day, tz), localtime.to_ms(datetime.combine(day, now.time()), tz)


def counted(q: Query, series: Series, start_ms: int, end_ms: int) -> Optional[Decimal]:
    """What a counter counted in [start, end) to the minute, from the written rollups (whole
    hours from the hour rows, the ends from minute rows); None if they hold nothing there.
    For a past range only: the rollups of the last hour may not be written yet."""
    end_ms -= end_ms % MINUTE_MS
    first_hour, last_hour = -(-start_ms // HOUR_MS) * HOUR_MS, end_ms - end_ms % HOUR_MS
    parts = [("minute", start_ms, end_ms)] if first_hour >= last_hour else \
        [("minute", start_ms, first_hour), ("hour", first_hour, last_hour), ("minute", last_hour, end_ms)]
    total: Optional[Agg] = None
    for level, a, b in parts:
        for agg in q.rollups(series, level, a, b) if a < b else ():
            total = total or Agg(0, True, agg.exp)
            total.merge(agg)
    return None if total is None else decimal(total.inc, total.exp)


def _energy_yesterday(q: Query, meter: Meter, code: str, now_ms: int) -> Optional[Decimal]:
    try:
        s = q.find_series(meter.id, code)
    except NotFound:
        return None
    return counted(q, s, *yesterday_range(now_ms, q.tz))


def last_hour(q: Query, meter: Meter, now_ms: int) -> Dict[str, Any]:
    """The power of the last hour for the dashboard's curve: a mean per minute in whole watts
    (None: no telegram that minute), the open minute last. Minute rollups and the raw tail only,
    the same cost whatever the database holds; 60 small integers, cheap to send every second."""
    end = now_ms - now_ms % MINUTE_MS + MINUTE_MS
    out: Dict[str, Any] = {"from": end - HOUR_MS, "step_ms": MINUTE_MS, "power": [None] * (HOUR_MS // MINUTE_MS)}
    try:
        s = q.find_series(meter.id, POWER)
    except NotFound:
        return out
    for p in q.chart(s, end - HOUR_MS, end, 60, level="minute")[1]:
        out["power"][(p.ts_ms - out["from"]) // MINUTE_MS] = int(p.value.to_integral_value())
    return out


def meter_summary(q: Query, meter: Meter, heads: Optional[List[Dict[str, Any]]] = None,
                  now_ms: Optional[int] = None) -> Dict[str, Any]:
    """A meter now: power (by sign, per phase), energy today and this month, age, head."""
    latest = q.latest(meter.id)
    last = q.last_seen_ms(meter.id)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    head = next((h for h in heads or [] if h.get("server_id") == meter.server_id), None)
    (imp_day, imp_month), (exp_day, exp_month) = (_energy_now(q, meter, code, now) for code in (IMPORT, EXPORT))
    phases = [dict(_latest_value(latest, code, q.tz) or {}, phase=f"L{i}") for i, code in enumerate(PHASES, 1) if code in latest]
    return {
        "id": meter.id,
        "server_id": meter.server_id.hex(),
        "name": meter.name,
        "note": meter.note,
        "label": meter.label,
        "last_seen": iso(last, q.tz),
        "age_s": None if last is None else round(now / 1000 - last / 1000, 1),
        "power": _latest_value(latest, POWER, q.tz),
        "phases": phases,
        "today": {"import": imp_day, "export": exp_day},
        "month": {"import": imp_month, "export": exp_month},
        "head": None if head is None else {"serial": head["serial"], "state": head["state"], "present": bool(head["present"])},
    }


def meter_card(q: Query, meter: Meter, heads: List[Dict[str, Any]], now_ms: int) -> Dict[str, Any]:
    """One dashboard card: the meter now, its power over the last hour, and what it counted
    yesterday up to the wall time it is now (today's comparison)."""
    out = meter_summary(q, meter, heads, now_ms)
    out["hour"] = last_hour(q, meter, now_ms)
    out["yesterday"] = {"import": _energy_yesterday(q, meter, IMPORT, now_ms),
                        "export": _energy_yesterday(q, meter, EXPORT, now_ms),
                        "until": iso(yesterday_range(now_ms, q.tz)[1], q.tz)}
    return out


def acquisition(q: Query) -> Dict[str, Any]:
    alive = q.writer_alive_ms()
    age = None if alive is None else time.time() - alive / 1000
    return {"running": age is not None and age < ALIVE_S, "last_commit": iso(alive, q.tz),
            "age_s": None if age is None else round(age, 1)}


def meters(q: Query, now_ms: Optional[int] = None) -> Dict[str, Any]:
    """The dashboard: every meter's card (``now_ms``: the time it is made for, default now)."""
    heads = q.heads()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return {"meters": [meter_card(q, m, heads, now) for m in q.meters()], "acquisition": acquisition(q)}


def meter_detail(q: Query, ref: str) -> Dict[str, Any]:
    m = meter_of(q, ref)
    out = meter_summary(q, m, q.heads())
    latest = q.latest(m.id)
    out["series"] = [
        {"obis": s.obis, "name": s.name, "unit": s.unit_symbol, "kind": s.kind,
         "latest": _latest_value(latest, s.obis, q.tz)}
        for s in q.series_of(m.id)
    ]
    return out


def series(q: Query, meter: str, code: str, start: int, end: int, n: int) -> Dict[str, Any]:
    if end <= start:
        raise BadParameter("to", "must be after from")
    m = meter_of(q, meter)
    s = series_of(q, m, code)
    if s.kind == "text":
        raise BadParameter("obis", "holds text, not numbers")
    level, pts = q.chart(s, start, end, n)
    return {
        "meter": m.id, "obis": s.obis, "name": s.name, "unit": s.unit_symbol, "kind": s.kind,
        "resolution": level, "from": iso(start, q.tz), "to": iso(end, q.tz),
        "points": [{"time": iso(p.ts_ms, q.tz), "t": p.ts_ms, "value": p.value, "min": p.min, "max": p.max} for p in pts],
    }


def consumption(q: Query, meter: str, code: str, kind: str, start: int, end: int) -> Dict[str, Any]:
    if end <= start:
        raise BadParameter("to", "must be after from")
    m = meter_of(q, meter)
    s = series_of(q, m, code)
    if s.kind != "counter":
        raise BadParameter("obis", "is not an energy counter")
    rows = q.consumption(s, kind, start, end)
    return {"meter": m.id, "obis": s.obis, "name": s.name, "unit": s.unit_symbol, "period": kind,
            "values": [{"start": d.isoformat(), "t": localtime.midnight_ms(d, q.tz), "value": v} for d, v in rows]}


def series_name(name: Optional[str], gettext: Callable[[str], str]) -> Optional[str]:
    """A series' name (from pyhm.obis) in a page's language; a tariff register's name is built
    from its kind, so it is translated the same way."""
    if not name:
        return name
    m = _TARIFF_NAME.match(name)
    if m:
        return gettext(TARIFF).format(kind=gettext(m.group(1)), n=m.group(2))
    return gettext(name)


def status(q: Optional[Query]) -> Dict[str, Any]:
    import bottle
    import cheroot

    versions = {"pyhm": __version__, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                "bottle": bottle.__version__, "cheroot": cheroot.__version__}
    if q is None:
        return {"database": None, "acquisition": {"running": False}, "heads": [], "versions": versions}
    now = int(time.time() * 1000)
    meters = {m.server_id: m for m in q.meters()}
    heads = []
    for h in q.heads():
        minutes = q.head_minutes(h["serial"], now - 3_600_000, now + 60_000)
        meter = meters.get(bytes(h["server_id"])) if h["server_id"] else None
        heads.append({
            "serial": h["serial"], "device": h["device"], "present": bool(h["present"]), "state": h["state"],
            "meter": h["server_id"].hex() if h["server_id"] else None,
            "meter_id": meter.id if meter else None, "meter_label": meter.label if meter else None,
            "frames_ok": h["frames_ok"], "frames_bad": h["frames_bad"], "bytes_skipped": h["bytes_skipped"],
            "messages_bad": h["messages_bad"],
            "last_frame": iso(h["last_frame_ms"], q.tz), "last_seen": iso(h["last_seen_ms"], q.tz), "last_error": h["last_error"],
            "last_hour": {"frames_ok": sum(m[1] for m in minutes), "frames_bad": sum(m[2] for m in minutes),
                          "bytes_skipped": sum(m[3] for m in minutes)},
        })
    stats = q.stats()
    database = {k: v for k, v in stats.items() if not k.endswith("_ms")}
    database["oldest_raw"], database["newest_raw"] = iso(stats["oldest_raw_ms"], q.tz), iso(stats["newest_raw_ms"], q.tz)
    return {"database": database, "acquisition": acquisition(q), "heads": heads, "disk": disk_writes(q),
            "versions": versions}


SD_BUDGET_MIB = 100  # a day, for all of pyhm: what an SD card bears for years
MEASURE_MS = 600_000  # a figure per day needs this much measuring first
ADVICE = {  # what the disk writes mean, by advice_id (the status page translates it)
    "measuring": N_("Measuring: a figure per day after ten minutes."),
    "fine": N_("Within the budget of an SD card (100 MiB a day): it will last for years."),
    "commit-less-often": N_("More than an SD card should take for years. On an SD card, set database.commit_seconds to 60 or more (now {seconds} s); on an SSD this is fine."),  # noqa: E501 - one literal for the catalogue
    "ssd": N_("More than an SD card should take for years: many meters; an SSD is the better disk here."),
}


def disk_writes(q: Query) -> Optional[Dict[str, Any]]:
    """What the acquisition wrote to disk, per day (its /proc/self/io), with a line of advice."""
    live = q.live()
    io = live.facts.get("io") if live else None
    if not io or io.get("write_bytes") is None:
        return None
    span = live.written_ms - io["since_ms"]  # type: ignore[union-attr]
    window = live.commit_seconds  # type: ignore[union-attr]
    out: Dict[str, Any] = {"commit_seconds": window, "since": iso(io["since_ms"], q.tz), "mib_per_day": None}
    if span < MEASURE_MS:
        key = "measuring"
    else:
        per_day = io["write_bytes"] / span * 86_400_000 / 1_048_576
        out["mib_per_day"] = round(per_day, 1)
        key = "fine" if per_day <= SD_BUDGET_MIB else "commit-less-often" if window < 60 else "ssd"
    out["advice_id"] = key
    out["advice"] = ADVICE[key].format(seconds=f"{window:g}")
    return out


def health(q: Optional[Query]) -> Dict[str, Any]:
    """For /healthz: is data arriving?"""
    if q is None:
        return {"status": "no-database", "fresh": False}
    newest = q.newest_ms()  # the live store too: commits come once a window
    if newest is None:
        return {"status": "no-data", "fresh": False}
    age = time.time() - newest / 1000
    fresh = age < FRESH_S
    return {"status": "ok" if fresh else "stale", "fresh": fresh, "newest_telegram": iso(newest, q.tz), "age_s": round(age, 1),
            "acquisition": acquisition(q)}
