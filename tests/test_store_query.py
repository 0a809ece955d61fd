"""Queries: charts with at most N points at the right resolution, consumption per local
period, latest values, statistics."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pyhm.simulator import SimulatedMeter
from pyhm.store import SCHEMA_VERSION, Query
from pyhm.store.query import NotFound
from pyhm.store.rollup import DAY_MS, HOUR_MS, MINUTE_MS
from storehelp import T0, Clock, feed, reading, writer

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("q") / "q.db"
    clock = Clock()
    w = writer(db, clock)
    meter = SimulatedMeter(9)
    feed(w, clock, [meter], 3 * 3600)  # three hours at one telegram a second
    feed(w, clock, [meter], 2 * 86400, step_ms=60_000)  # then two days at one a minute
    clock.ms += 10 * MINUTE_MS
    w.commit()
    w.set_meter(meter.server_id, "House", "cellar, left")
    w.close()
    return db


def test_chart_levels_and_point_counts(two_days: Path) -> None:
    q = Query(two_days)
    meter = q.meter("House")
    power = q.find_series(meter.id, "1-0:16.7.0*255")
    cases = [(HOUR_MS, "raw"), (3 * HOUR_MS, "minute"), (2 * DAY_MS, "minute"), (30 * DAY_MS, "hour"), (400 * DAY_MS, "hour"), (800 * DAY_MS, "day")]
    for span, level in cases:
        got, points = q.chart(power, T0, T0 + span, 1000)
        assert got == level and 0 < len(points) <= 1000
        assert all(p.min <= p.value <= p.max for p in points)
        assert [p.ts_ms for p in points] == sorted(p.ts_ms for p in points)
    _, points = q.chart(power, T0, T0 + 3 * HOUR_MS, 50)
    assert len(points) <= 50
    energy = q.find_series(meter.id, "1-0:1.8.0*255")
    _, steps = q.chart(energy, T0, T0 + 2 * DAY_MS, 200)
    assert [p.value for p in steps] == sorted(p.value for p in steps)  # a counter only grows
    q.close()


def test_chart_buckets_are_exact_over_raw(two_days: Path) -> None:
    q = Query(two_days)
    power = q.find_series(q.meter("House").id, "1-0:16.7.0*255")
    level, points = q.chart(power, T0, T0 + 60_000, 15)  # 15 buckets of 4 seconds
    assert level == "raw" and len(points) == 15
    raw = [(ts, Decimal(v).scaleb(e)) for ts, v, e in q.raw(power, T0, T0 + 60_000)]
    for point in points:
        values = [v for ts, v in raw if point.ts_ms <= ts < point.ts_ms + 4000]
        assert (point.min, point.max) == (min(values), max(values))
        assert abs(point.value - sum(values) / len(values)) < Decimal("0.0001")
    q.close()


def test_consumption_by_local_day_and_period(two_days: Path) -> None:
    q = Query(two_days)
    meter = q.meter("House")
    energy = q.find_series(meter.id, "1-0:1.8.0*255")
    plus_one = timezone(timedelta(hours=1))
    days = q.consumption(energy, "day", T0 - DAY_MS, T0 + 3 * DAY_MS, plus_one)
    assert [d for d, _ in days] == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
    assert all(v >= 0 for _, v in days)
    first = [Decimal(v).scaleb(e) for _, v, e in q.raw(energy, 0, 2**62)]
    assert sum(v for _, v in days) == first[-1] - first[0]  # every Wh counted once
    (month,) = q.consumption(energy, "month", T0 - DAY_MS, T0 + 3 * DAY_MS, plus_one)
    (year,) = q.consumption(energy, "year", T0 - DAY_MS, T0 + 3 * DAY_MS, plus_one)
    assert month[1] == year[1] == sum(v for _, v in days)
    weeks = q.consumption(energy, "week", T0 - DAY_MS, T0 + 3 * DAY_MS, plus_one)
    assert weeks[0][0] == date(2025, 12, 29)  # a Monday
    with pytest.raises(NotFound):
        q.consumption(q.find_series(meter.id, "1-0:16.7.0*255"), "day", T0, T0 + DAY_MS)
    with pytest.raises(ValueError):
        q.consumption(energy, "fortnight", T0, T0 + DAY_MS)
    q.close()


def test_latest_meters_and_stats(two_days: Path) -> None:
    q = Query(two_days)
    (meter,) = q.meters()
    assert (meter.name, meter.note, meter.label) == ("House", "cellar, left", "House")
    latest = q.latest(meter.id)
    assert latest["1-0:16.7.0*255"]["unit"] == "W" and latest["1-0:1.8.0*255"]["name"] == "Energy import total"
    assert latest["129-129:199.130.3*255"]["value"] == b"PYH"
    assert q.last_seen_ms(meter.id) == latest["1-0:16.7.0*255"]["ts_ms"]
    stats = q.stats()
    assert stats["meters_rows"] == 1 and stats["telegrams_rows"] == 3 * 3600 + 2 * 1440
    assert stats["size_bytes"] > 0 and stats["schema_version"] == SCHEMA_VERSION
    with pytest.raises(NotFound):
        q.meter("nobody")
    q.close()


def test_the_series_a_single_reading_makes(tmp_path: Path) -> None:
    clock = Clock()
    w = writer(tmp_path / "one.db", clock)
    w.add(SERVER, [reading("1-0:1.8.0*255", "42.0")], clock.ms)
    w.commit()
    q = Query(tmp_path / "one.db")
    energy = q.find_series(q.meters()[0].id, "1-0:1.8.0*255")
    assert q.chart(energy, T0 - HOUR_MS, T0 + HOUR_MS, 100)[1][0].value == Decimal("42.0")
    q.close()
    w.close()
