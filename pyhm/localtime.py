"""The household's local time: its IANA zone, local days, weeks, months and years as UTC ranges.

A fixed UTC offset is wrong twice a year: a local day has 23, 24 or 25 hours. Everything that
groups or parses by local time goes through the zone (``zoneinfo``, tzdata from the system)
here. Pure functions; timestamps are UTC milliseconds as stored.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Optional, Tuple

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PERIODS = ("day", "week", "month", "year")
LOCALTIME = Path("/etc/localtime")


def zone(name: Optional[str] = None) -> tzinfo:
    """The IANA zone ``name`` (ValueError if unknown); without a name, the host's zone."""
    if not name:
        return host_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone \"{name}\" (expected an IANA name such as Europe/Berlin)") from None


def host_zone(localtime: Path = LOCALTIME) -> tzinfo:
    """The host's zone: ``TZ``, else what ``/etc/localtime`` links to or holds, else UTC."""
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    target = os.path.realpath(localtime)
    if "/zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open(localtime, "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return timezone.utc


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone, for the browser's ``Intl`` (``UTC`` if it has none)."""
    key = getattr(tz, "key", None)
    return key if key and key != "localtime" else "UTC"


def local(ts_ms: int, tz: tzinfo) -> datetime:
    """A stored timestamp as an aware local datetime."""
    return datetime.fromtimestamp(ts_ms / 1000, tz)


def to_ms(dt: datetime, tz: tzinfo) -> int:
    """A datetime as UTC milliseconds; a naive one is a wall time in ``tz`` (an ambiguous
    one is its first occurrence, one in a spring-forward gap counts with the offset before)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    delta = dt.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta // timedelta(milliseconds=1)


def period_start(day: date, period: str) -> date:
    """The first day of the day, week (Monday), month or year that ``day`` lies in."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def next_start(first: date, period: str) -> date:
    """The first day of the period after the one starting on ``first``."""
    if period == "day":
        return first + timedelta(days=1)
    if period == "week":
        return first + timedelta(days=7)
    if period == "month":
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.replace(year=first.year + 1)


def midnight_ms(day: date, tz: tzinfo) -> int:
    """When a local day begins, in UTC milliseconds."""
    return to_ms(datetime.combine(day, time()), tz)


def period_of(ts_ms: int, period: str, tz: tzinfo) -> date:
    """The first day of the local period that the instant ``ts_ms`` lies in."""
    return period_start(local(ts_ms, tz).date(), period)


def period_range(ts_ms: int, period: str, tz: tzinfo) -> Tuple[int, int]:
    """[start, end) in UTC milliseconds of the local period around the instant ``ts_ms``."""
    first = period_of(ts_ms, period, tz)
    return midnight_ms(first, tz), midnight_ms(next_start(first, period), tz)
