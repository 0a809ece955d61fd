"""Rollups agree with the raw data they summarise, through restarts and retention."""

from __future__ import annotations

from collections import defaultdict
from datetime import timezone
from decimal import Decimal

import pytest
from pathlib import Path
from typing import Dict, List, Tuple

from pyhm.simulator import SimulatedMeter
from pyhm.store import Query, Retention
from pyhm.store.query import Series
from pyhm.store.rollup import DAY_MS, HOUR_MS, MINUTE_MS, decimal
from storehelp import T0, Clock, feed, reading, writer

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"


def expected(samples: List[Tuple[int, Decimal]], width: int, counter: bool) -> Dict[int, tuple]:
    """Aggregates computed straight from the samples, with plain Decimal arithmetic."""
    buckets: Dict[int, list] = defaultdict(list)
    prev = None
    for ts, v in samples:
        step = v - prev if counter and prev is not None and v > prev else Decimal(0)
        buckets[ts - ts % width].append((v, step))
        prev = v
    out = {}
    for start, items in buckets.items():
        values = [v for v, _ in items]
        if counter:
            out[start] = (len(values), values[0], values[-1], sum(s for _, s in items))
        else:
            out[start] = (len(values), min(values), max(values), sum(values))
    return out


def stored(q: Query, series: Series, level: str) -> Dict[int, tuple]:
    out = {}
    for a in q.rollups(series, level, 0, 2**62):
        if a.counter:
            out[a.start] = (a.n, decimal(a.first, a.exp), decimal(a.last, a.exp), decimal(a.inc, a.exp))
        else:
            out[a.start] = (a.n, decimal(a.vmin, a.exp), decimal(a.vmax, a.exp), decimal(a.vsum, a.exp))
    return out


def check_all(q: Query, raw: Dict[int, List[Tuple[int, Decimal]]]) -> None:
    for meter in q.meters():
        for series in q.series_of(meter.id):
            if series.kind == "text":
                continue
            samples = raw.get(series.id) or [(ts, decimal(v, e)) for ts, v, e in q.raw(series, 0, 2**62)]
            for level, width in (("minute", MINUTE_MS), ("hour", HOUR_MS), ("day", DAY_MS)):
                assert stored(q, series, level) == expected(samples, width, series.kind == "counter"), (series, level)


def test_rollups_of_simulated_meters_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    clock = Clock(T0 + 23 * HOUR_MS + 30 * MINUTE_MS)  # crosses midnight
    meters = [SimulatedMeter(1), SimulatedMeter(2)]
    w = writer(db, clock)
    feed(w, clock, meters, 1800 + 17)
    del w  # killed: the open minute only lived in memory
    w = writer(db, clock)
    feed(w, clock, meters, 1800)
    clock.ms += 5 * MINUTE_MS
    w.commit()  # closes the last minutes
    w.close()
    q = Query(db)
    check_all(q, {})
    q.close()


def test_counter_reset_and_scaler_change(tmp_path: Path) -> None:
    db = tmp_path / "reset.db"
    clock = Clock()
    w = writer(db, clock)
    values = ["100.5", "100.7", "101.0", "101.0", "5.0", "5.25", "6", "6.125", "7"]
    power = ["-12.5", "300", "0", "1e3", "2.5", "-1", "7", "8", "9"]
    samples = []
    for i, (energy, p) in enumerate(zip(values, power)):
        clock.ms = T0 + i * 20_000
        w.add(SERVER, [reading("1-0:1.8.0*255", energy), reading("1-0:16.7.0*255", p, 27)], clock.ms)
        samples.append((clock.ms, Decimal(energy)))
        w.commit()
    clock.ms += 10 * MINUTE_MS
    w.commit()
    w.close()
    q = Query(db)
    check_all(q, {})
    counter = q.find_series(q.meters()[0].id, "1-0:1.8.0*255")
    (day,) = q.consumption(counter, "day", T0 - DAY_MS, T0 + DAY_MS)
    assert day[1] == Decimal("0.5") + Decimal("2")  # 100.5→101.0, reset to 5, 5→7: never negative
    q.close()


def test_retention(tmp_path: Path) -> None:
    db = tmp_path / "ret.db"
    clock = Clock()
    w = writer(db, clock, retention=Retention(raw_days=1, minute_days=2))
    meter = SimulatedMeter(4)
    feed(w, clock, [meter], 4 * 86400, step_ms=60_000)
    clock.ms += 10 * MINUTE_MS
    w.commit()
    q = Query(db)
    series = q.find_series(q.meters()[0].id, "1-0:16.7.0*255")
    before = {level: stored(q, series, level) for level in ("hour", "day")}
    q.close()
    w.prune()
    w.close()
    q = Query(db)
    now = clock.ms
    raw = list(q.raw(series, 0, 2**62))
    assert raw and raw[0][0] >= now - DAY_MS and len(raw) >= 1400
    minutes = list(q.rollups(series, "minute", 0, 2**62))
    assert minutes[0].start >= now - 2 * DAY_MS and len(minutes) >= 2 * 1400
    assert {level: stored(q, series, level) for level in ("hour", "day")} == before  # kept forever
    q.close()


def test_imported_history_then_live_data(tmp_path: Path) -> None:
    from pyhm.store.rollup import Agg

    db = tmp_path / "import.db"
    clock = Clock(T0 + 3 * HOUR_MS)
    w = writer(db, clock)
    meter = SimulatedMeter(6)
    for i in range(180):  # three hours of minutes from another logger
        gauge = Agg(T0 + i * MINUTE_MS, False, -2)
        gauge.n, gauge.vmin, gauge.vmax, gauge.vsum = 60, 100 + i, 200 + i, 150 * 60 + i
        w.import_minute(meter.server_id, "1-0:16.7.0*255", 27, gauge)
        counter = Agg(T0 + i * MINUTE_MS, True, -1)
        counter.n, counter.first, counter.last, counter.inc = 60, 1000 + i * 10, 1010 + i * 10, 10
        w.import_minute(meter.server_id, "1-0:1.8.0*255", 30, counter)
    w.commit()
    with pytest.raises(ValueError):
        w.import_minute(meter.server_id, "1-0:16.7.0*255", 27, Agg(T0, False, -2))
    meter.import_cws = 2800 * 36_000  # the live counter goes on from the imported one
    feed(w, clock, [meter], 600)
    clock.ms += 5 * MINUTE_MS
    w.commit()
    w.close()
    q = Query(db)
    power = q.find_series(q.meters()[0].id, "1-0:16.7.0*255")
    hours = list(q.rollups(power, "hour", 0, 2**62))
    assert [h.n for h in hours] == [3600, 3600, 3600, 600]
    assert hours[0].vmin == 100 and hours[0].vmax == 259
    energy = q.find_series(q.meters()[0].id, "1-0:1.8.0*255")
    (day,) = q.consumption(energy, "day", T0 - DAY_MS, T0 + DAY_MS, timezone.utc)
    assert day[1] == Decimal(180) + (decimal(meter.import_cws // 36_000, -1) - Decimal("280.0"))
    level, points = q.chart(power, T0, T0 + 4 * HOUR_MS, 1000)
    assert level == "minute" and len(points) == 180 + 11  # live: 3:00:01 to 3:10:00
    q.close()
