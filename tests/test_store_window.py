"""The commit window and the live store: what waits in RAM is seen by readers at once, is
counted once after it is committed, and a writer that dies loses no rollup."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from pyhm.simulator import SimulatedMeter
from pyhm.store import Query
from pyhm.store.live import LiveWriter, live_path
from pyhm.store.rollup import HOUR_MS
from storehelp import T0, Clock, telegram, writer

IMPORT, POWER = "1-0:1.8.0*255", "1-0:16.7.0*255"


def rollups(db: Path) -> dict:
    q = Query(db)
    try:
        return {level: q.db.execute(f"SELECT * FROM rollup_{level} ORDER BY series_id, ts_ms").fetchall()
                for level in ("minute", "hour", "day")}
    finally:
        q.close()


def test_rollups_written_hourly_survive_a_crash(tmp_path: Path) -> None:
    """Rollups held in RAM for an hour are rebuilt exactly from the raw telegrams after a
    crash: the same rows as a writer that wrote them at every commit."""
    meters = [SimulatedMeter(1), SimulatedMeter(2)]
    ref_db, held_db = tmp_path / "ref.db", tmp_path / "held.db"
    ref_clock, held_clock = Clock(), Clock()
    ref = writer(ref_db, ref_clock)
    held = writer(held_db, held_clock, commit_seconds=60, rollup_seconds=3600)
    frames = []
    for i in range(int(1.5 * 3600 / 5)):  # 90 minutes, a telegram per meter every 5 s
        for m in meters:
            frames.append((T0 + i * 5000, telegram(m)))
    for ts, (server, readings) in frames:
        ref_clock.ms = held_clock.ms = ts
        ref.add(server, readings, ts)
        held.add(server, readings, ts)
        held.commit() if held.due(ts) else None
    ref.commit()
    held.commit()
    assert held.pending == type(held.pending)()  # everything committed ...
    held.db.close()  # ... and then the process dies: the rollups of the last half hour never written
    end = frames[-1][0] + 5 * 60_000
    ref_clock.ms = end
    ref.close()
    reopened = writer(held_db, Clock(end))
    reopened.close()
    assert rollups(held_db) == rollups(ref_db)
    assert rollups(held_db)["minute"]


def test_writes_are_batched_by_window(tmp_path: Path) -> None:
    db = tmp_path / "pyhm.db"
    clock = Clock()
    w = writer(db, clock, commit_seconds=60)
    meter = SimulatedMeter(1)
    commits = []
    for i in range(300):
        clock.ms = T0 + i * 1000
        server, readings = telegram(meter)
        before = w.last_commit_ms
        w.add(server, readings, clock.ms)
        if w.due(clock.ms):
            w.commit()
        if w.last_commit_ms != before:
            commits.append(clock.ms)
    # The first telegram (a new meter) is committed at once; then once per window.
    assert commits[0] == T0
    assert len(commits) in (5, 6) and all(b - a >= 59_000 for a, b in zip(commits[1:], commits[2:]))


def test_query_sees_uncommitted_readings_once(tmp_path: Path) -> None:
    """Latest values, charts and totals include what waits in RAM; after the commit nothing
    is counted twice."""
    db = tmp_path / "pyhm.db"
    start = int(time.time() * 1000) - 33_000  # the live file's freshness goes by the real clock
    clock = Clock(start)
    w = writer(db, clock, commit_seconds=60)
    live = LiveWriter(live_path(db, tmp_path / "run"), db, 60)
    w.set_setting("live.path", str(live.path))
    meter = SimulatedMeter(1)

    def step(n: int) -> None:
        for _ in range(n):
            clock.ms += 1000
            server, readings = telegram(meter)
            live.add(server, readings, clock.ms)
            w.add(server, readings, clock.ms)
        live.write(clock.ms)

    step(1)  # a new meter: committed at once
    w.commit()
    live.committed(w.committed_ms)
    step(30)  # 30 telegrams only in RAM
    q = Query(db)
    m = q.meters()[0]
    s = q.find_series(m.id, IMPORT)
    stored = q.db.execute("SELECT count(*) FROM telegrams").fetchone()[0]
    assert stored == 1
    latest = q.latest(m.id)[IMPORT]
    assert latest["ts_ms"] == clock.ms
    assert q.last_seen_ms(m.id) == clock.ms
    samples = list(q.raw(s, start, clock.ms + 1))
    assert [ts for ts, _, _ in samples] == [start + 1000 * (i + 1) for i in range(31)]
    total = sum(v for _, v in q.consumption(s, "day", start - HOUR_MS, clock.ms + 1))
    first, last = samples[0], samples[-1]
    assert total == Decimal(last[1] - first[1]).scaleb(last[2]) > 0

    w.commit()  # now in the database; the live file still holds them (written before the commit)
    assert q.db.execute("SELECT count(*) FROM telegrams").fetchone()[0] == 31
    for _ in range(3):  # the live file stale, then emptied, then gone (a clean stop)
        after = list(q.raw(s, start, clock.ms + 1))
        # The database keeps an unchanged counter once a minute; nothing else differs.
        assert set(after) <= set(samples) and after[-1][1:] == samples[-1][1:]
        assert sorted({v for _, v, _ in after}) == sorted({v for _, v, _ in samples})
        assert sum(v for _, v in q.consumption(s, "day", start - HOUR_MS, clock.ms + 1)) == total
        if live.path.exists() and live._meters:
            live.committed(w.committed_ms)
            live.write(clock.ms)
        else:
            live.remove()
    q.close()
