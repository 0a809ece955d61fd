"""A full disk: the writer says so clearly, keeps the readings in a bounded buffer, loses
nothing already stored, and resumes by itself when there is room again."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pyhm.simulator import SimulatedMeter
from pyhm.store import Query
from storehelp import Clock, feed, telegram, writer


def raw_count(path: Path) -> int:
    q = Query(path)
    try:
        series = q.find_series(q.meters()[0].id, "1-0:16.7.0*255")
        return sum(1 for _ in q.raw(series, 0, 2**62))
    finally:
        q.close()


def fill_until_full(w, clock: Clock, meter: SimulatedMeter) -> int:  # type: ignore[no-untyped-def]
    """Send telegrams until a commit fails for want of space; return how many were sent."""
    for sent in range(1, 100_000):
        clock.ms += 1000
        server, readings = telegram(meter)
        w.add(server, readings, clock.ms)
        if not w.commit():
            return sent
    raise AssertionError("the disk never filled up")


def test_disk_full_buffers_then_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "full.db"
    clock = Clock()
    w = writer(db, clock)
    meter = SimulatedMeter(1)
    feed(w, clock, [meter], 120)
    assert raw_count(db) == 120

    pages = w.db.execute("PRAGMA page_count").fetchone()[0]
    w.db.execute(f"PRAGMA max_page_count = {pages}")  # the card is full
    caplog.set_level(logging.WARNING, "pyhm.store")
    sent = fill_until_full(w, clock, meter)
    stored = raw_count(db)
    assert stored == 120 + sent - 1
    for _ in range(600):
        clock.ms += 1000
        server, readings = telegram(meter)
        w.add(server, readings, clock.ms)
        w.commit()
    assert w.failing and "disk full" in w.failing
    assert len(w.pending) == 601 and w.dropped == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "disk full" in errors[0].getMessage()  # said once, not 600 times
    assert raw_count(db) == stored  # what was stored is still there, readable meanwhile

    w.db.execute(f"PRAGMA max_page_count = {pages * 100}")  # room again
    clock.ms += 60_000  # past the retry pause
    assert w.commit()
    assert w.failing is None and not w.pending
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert raw_count(db) == 120 + sent + 600
    w.close()


def test_buffer_is_bounded_and_counts_what_it_dropped(tmp_path: Path) -> None:
    db = tmp_path / "bounded.db"
    clock = Clock()
    w = writer(db, clock, buffer_limit=50)
    meter = SimulatedMeter(1)
    feed(w, clock, [meter], 10)
    w.db.execute(f"PRAGMA max_page_count = {w.db.execute('PRAGMA page_count').fetchone()[0]}")
    sent = fill_until_full(w, clock, meter)
    for _ in range(79):
        clock.ms += 1000
        server, readings = telegram(meter)
        w.add(server, readings, clock.ms)
    assert len(w.pending) == 50 and w.dropped == 30
    w.db.execute("PRAGMA max_page_count = 1000000")
    clock.ms += 60_000
    assert w.commit()
    assert raw_count(db) == 10 + sent - 1 + 50
    w.close()
