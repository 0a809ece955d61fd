"""Storage benchmark: a year of two meters, ingest rate, size, and chart/consumption latency
against the naive way (every raw row, then every n-th point) measured in the same run.

Run: .venv/bin/python bench/store.py [--days 365] [--raw-days 35] [--dir DIR]

The data set: 2 meters, 1 telegram per second each: power as a random walk with load events,
import/export counters integrating it exactly, power and voltage per phase. The last
``--raw-days`` go through the real writer (its ingest rate is measured); the older part is
built in bulk as minute aggregates through the same rollup code (``Writer.import_minute``).
The naive store holds every raw row of one meter's power and energy for the whole range.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhm.obis import obis_str  # noqa: E402
from pyhm.simulator import OBIS_EXPORT, OBIS_IMPORT, OBIS_PHASE_POWER, OBIS_POWER, OBIS_VOLTAGE, SimulatedMeter  # noqa: E402
from pyhm.sml import Reading  # noqa: E402
from pyhm.sml.readings import scaled  # noqa: E402
from pyhm.store import Query, Writer  # noqa: E402
from pyhm.store.rollup import DAY_MS, HOUR_MS, MINUTE_MS, Agg  # noqa: E402

POWER, ENERGY = obis_str(OBIS_POWER), obis_str(OBIS_IMPORT)
GAUGES = [(OBIS_POWER, 27, -2)] + [(o, 27, -2) for o in OBIS_PHASE_POWER] + [(o, 35, -1) for o in OBIS_VOLTAGE]
COUNTERS = [(OBIS_IMPORT, 30, -1), (OBIS_EXPORT, 30, -1)]


class Clock:
    ms = 0

    def __call__(self) -> float:
        return self.ms / 1000


def bulk_minutes(w: Writer, meter: SimulatedMeter, start: int, minutes: int) -> None:
    """The history before the raw window: one random-walk step per minute, as minute rollups."""
    rng = random.Random(meter.server_id)
    p = 30_000
    for i in range(minutes):
        ts = start + i * MINUTE_MS
        p = max(-250_000, min(450_000, p + rng.randint(-6_000, 6_000)))
        spread = rng.randint(500, 20_000)
        values = [p, p // 3, p // 3, p - 2 * (p // 3)] + [2300 + rng.randint(-20, 20) for _ in range(3)]
        for (obis, unit, exp), v in zip(GAUGES, values):
            agg = Agg(ts, False, exp)
            agg.n, agg.vmin, agg.vmax, agg.vsum = 60, v - spread, v + spread, v * 60
            w.import_minute(meter.server_id, obis_str(obis), unit, agg)
        before = (meter.import_cws // 36_000, meter.export_cws // 36_000)
        if p >= 0:
            meter.import_cws += p * 60
        else:
            meter.export_cws -= p * 60
        after = (meter.import_cws // 36_000, meter.export_cws // 36_000)
        for (obis, unit, exp), first, last in zip(COUNTERS, before, after):
            agg = Agg(ts, True, exp)
            agg.n, agg.first, agg.last, agg.inc = 60, first, last, last - first
            w.import_minute(meter.server_id, obis_str(obis), unit, agg)
        if i % 1440 == 1439:
            w.commit(ts + MINUTE_MS)


def readings(meter: SimulatedMeter) -> List[Reading]:
    """The simulator's telegram as readings (SML encoding is the decoder's benchmark, not this)."""
    meter.step()
    return [Reading(meter.server_id, obis_str(e.obis), scaled(e.value, e.scaler) if isinstance(e.value, int) else e.value,
                    e.unit, e.scaler, e.value, e.status, None) for e in meter.entries()]


def build(path: Path, days: int, raw_days: int) -> Tuple[float, int, int]:
    """The year of data; returns the live writer's ingest rate (readings/s), readings and telegrams."""
    clock = Clock()
    now = int(time.time() * 1000) // DAY_MS * DAY_MS
    start = now - days * DAY_MS
    raw_start = now - raw_days * DAY_MS
    clock.ms = start
    w = Writer(path, clock=clock)
    meters = [SimulatedMeter(1), SimulatedMeter(2)]
    t0 = time.perf_counter()
    for m in meters:
        bulk_minutes(w, m, start, (raw_start - start) // MINUTE_MS)
    w.commit(raw_start)
    print(f"  history before the raw window built in {time.perf_counter() - t0:.0f} s", flush=True)
    batches = [[(m.server_id, readings(m)) for m in meters] for _ in range(3600)]
    count = 0
    elapsed = 0.0
    for second in range(raw_days * 86400):
        if second % 3600 == 0 and second:
            batches = [[(m.server_id, readings(m)) for m in meters] for _ in range(3600)]
        clock.ms = raw_start + second * 1000
        batch = batches[second % 3600]
        t0 = time.perf_counter()
        for server, rs in batch:
            w.add(server, rs, clock.ms)
        elapsed += time.perf_counter() - t0
        count += sum(len(rs) for _, rs in batch)
        if second % 86400 == 86399:
            print(f"  raw day {second // 86400 + 1}/{raw_days}: {count / elapsed:,.0f} readings/s", flush=True)
    t0 = time.perf_counter()
    w.commit()
    elapsed += time.perf_counter() - t0
    w.close()
    return count / elapsed, count, raw_days * 86400 * len(meters)


def build_naive(path: Path, start: int, end: int) -> None:
    """Every raw row of one meter's power and energy, one row per value, as naive loggers do."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("CREATE TABLE samples (obis TEXT, ts INTEGER, value REAL, PRIMARY KEY (obis, ts)) WITHOUT ROWID")
    n = (end - start) // 1000
    for obis, value in ((POWER, "(abs(random()) % 500000) / 100.0"), (ENERGY, "1234567.0 + i * 0.1")):
        db.execute(
            f"INSERT INTO samples WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ?) "
            f"SELECT ?, ? + i * 1000, {value} FROM t", (n - 1, obis, start))
        db.commit()
    db.close()


def naive_chart(db: sqlite3.Connection, obis: str, start: int, end: int, points: int) -> list:
    rows = db.execute("SELECT ts, value FROM samples WHERE obis = ? AND ts >= ? AND ts < ? ORDER BY ts",
                      (obis, start, end)).fetchall()
    return rows[:: max(1, len(rows) // points)]


def naive_daily(db: sqlite3.Connection, start: int, end: int) -> Dict[object, float]:
    first: Dict[object, float] = {}
    last: Dict[object, float] = {}
    for ts, value in db.execute("SELECT ts, value FROM samples WHERE obis = ? AND ts >= ? AND ts < ? ORDER BY ts",
                                (ENERGY, start, end)):
        day = datetime.fromtimestamp(ts / 1000).date()
        first.setdefault(day, value)
        last[day] = value
    return {d: last[d] - first[d] for d in first}


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def sizes(path: Path) -> Dict[str, int]:
    db = sqlite3.connect(path)
    out = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--raw-days", type=int, default=35)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temporary directory)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="pyhm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path, naive_path = work / "pyhm.db", work / "naive.db"
    for p in work.glob("*.db*"):
        p.unlink()

    print(f"Building {args.days} days for 2 meters ({args.raw_days} days raw) in {work}", flush=True)
    rate, count, telegrams = build(path, args.days, args.raw_days)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    q = Query(path)
    meter = q.meters()[0]
    power, energy = q.find_series(meter.id, POWER), q.find_series(meter.id, ENERGY)
    end = q.last_seen_ms(meter.id) + 1000
    start = end - args.days * DAY_MS
    print(f"Building the naive store ({args.days} days of 1 s rows, power and energy)", flush=True)
    t0 = time.perf_counter()
    build_naive(naive_path, start, end)
    print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)

    table = sizes(path)
    total = path.stat().st_size
    raw_bytes = table.get("telegrams", 0)
    values = sum(len(q._layout(lid).slots) * n for lid, n in
                 q.db.execute("SELECT layout_id, count(*) FROM telegrams GROUP BY layout_id"))
    minute_bytes = table.get("rollup_minute", 0)
    steady = (total + minute_bytes * (730 - args.days) / args.days) / 2

    print("\nIngest (live writer, raw window)")
    print(f"  {count:,} readings in {telegrams:,} telegrams: {rate:,.0f} readings/s, "
          f"{rate * telegrams / count:,.0f} telegrams/s")
    print("\nSize")
    print(f"  database: {total / 2**20:,.1f} MiB for 2 meters → {total / 2 / 2**20:,.1f} MiB per meter-year")
    for name in ("telegrams", "rollup_minute", "rollup_hour", "rollup_day", "texts", "layouts", "series"):
        print(f"    {name:<14} {table.get(name, 0) / 2**20:9.1f} MiB")
    print(f"  raw: {values:,} stored values, {raw_bytes / max(1, values):.2f} bytes per stored raw sample")
    print(f"  steady state of the default retention (35 d raw, 730 d minutes): {steady / 2**30:.2f} GiB per meter")

    naive = sqlite3.connect(naive_path)
    print(f"\nQueries, 1000 points (median of {args.repeat}; naive: one run)")
    print(f"  {'query':<26}{'level':<8}{'points':>7}{'pyhm ms':>10}{'naive ms':>11}{'ratio':>9}")
    for label, span in (("chart 1 hour", HOUR_MS), ("chart 1 day", DAY_MS), ("chart 30 days", 30 * DAY_MS),
                        ("chart 1 year", 365 * DAY_MS)):
        level, points = q.chart(power, end - span, end, 1000)
        ours = timed(lambda: q.chart(power, end - span, end, 1000), args.repeat)
        theirs = timed(lambda: naive_chart(naive, POWER, end - span, end, 1000), 1)
        print(f"  {label:<26}{level:<8}{len(points):>7}{ours:>10.1f}{theirs:>11.1f}{theirs / ours:>8.1f}x")
    days = q.consumption(energy, "day", start, end)
    ours = timed(lambda: q.consumption(energy, "day", start, end), args.repeat)
    theirs = timed(lambda: naive_daily(naive, start, end), 1)
    print(f"  {'daily consumption, 1 year':<26}{'hour':<8}{len(days):>7}{ours:>10.1f}{theirs:>11.1f}{theirs / ours:>8.1f}x")
    q.close()
    naive.close()
    print(f"\nPython {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    if args.dir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
