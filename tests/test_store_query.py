"""Queries: charts with at most N points at the right resolution, consumption per local
period, latest values, statistics."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pyhm.localtime import midnight_ms, period_range, zone
from pyhm.simulator import SimulatedMeter
from pyhm.store import SCHEMA_VERSION, Query, Writer
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


def _counter_db(path: Path, start_ms: int, minutes: int, step_ms: int = MINUTE_MS, wh_per_step: int = 6) -> Writer:
    """A counter in Wh rising ``wh_per_step`` with every telegram, through the real writer."""
    clock = Clock(start_ms)
    w = writer(path, clock)
    for i in range(minutes * MINUTE_MS // step_ms):
        clock.ms = start_ms + i * step_ms
        w.add(SERVER, [reading("1-0:1.8.0*255", str(100_000 + i * wh_per_step), 30)], clock.ms)
        if i % 60 == 59:
            w.commit()
    w.commit()
    return w


@pytest.mark.parametrize("first, totals", [
    (date(2026, 3, 28), [8640, 8280, 8640]),   # 29 March: 23 hours
    (date(2026, 10, 24), [8640, 9000, 8640]),  # 25 October: 25 hours
])
def test_day_totals_across_daylight_saving(tmp_path: Path, first: date, totals: list) -> None:
    berlin = zone("Europe/Berlin")
    start = midnight_ms(first, berlin) - HOUR_MS  # from an hour before the first day
    end = midnight_ms(first + timedelta(days=3), berlin) + HOUR_MS
    w = _counter_db(tmp_path / "dst.db", start, (end - start) // MINUTE_MS)
    w.commit(end + 10 * MINUTE_MS)
    w.close()
    q = Query(tmp_path / "dst.db", berlin)
    energy = q.find_series(q.meters()[0].id, "1-0:1.8.0*255")
    days = q.consumption(energy, "day", midnight_ms(first, berlin), midnight_ms(first + timedelta(days=3), berlin))
    assert days == [(first + timedelta(days=i), Decimal(t)) for i, t in enumerate(totals)]
    # The same hours grouped by a fixed offset (the old way) put an hour into the wrong day.
    fixed = q.consumption(energy, "day", midnight_ms(first, berlin), midnight_ms(first + timedelta(days=3), berlin),
                          timezone(timedelta(hours=1)))
    assert [v for _, v in fixed] != totals
    (month,) = q.consumption(energy, "month", midnight_ms(first, berlin), midnight_ms(first + timedelta(days=3), berlin))
    assert month == (first.replace(day=1), Decimal(sum(totals)))
    q.close()


def test_totals_run_to_the_newest_reading(tmp_path: Path) -> None:
    """The open minute (not yet in any rollup) counts: today's total is the counter's rise."""
    utc = timezone.utc
    w = _counter_db(tmp_path / "open.db", T0 + 10 * HOUR_MS, 3, step_ms=1000, wh_per_step=1)
    q = Query(tmp_path / "open.db", utc)
    energy = q.find_series(q.meters()[0].id, "1-0:1.8.0*255")
    last = [Decimal(v).scaleb(e) for _, v, e in q.raw(energy, 0, 2**62)][-1]
    assert q.db.execute("SELECT count(*) FROM rollup_minute").fetchone()[0] == 2  # the third minute is open
    start, end = period_range(T0 + 10 * HOUR_MS, "day", utc)
    ((_, today),) = q.consumption(energy, "day", start, end)
    assert today == last - Decimal(100_000) == Decimal(179)
    # A range that starts inside the open minute counts from the reading before it.
    ((_, tail),) = q.consumption(energy, "day", T0 + 10 * HOUR_MS + 150_000, end)
    assert tail == Decimal(30)
    q.close()
    w.close()
