"""The dashboard's data (`api.meters`) from a real SQLite file written by the real writer:
today against the same wall time yesterday, across both daylight saving changes of Berlin, and
the last hour's curve as minute means, whether the minute rollups are written yet or not."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pyhm.localtime import midnight_ms, to_ms, zone
from pyhm.store import Query
from pyhm.store.rollup import HOUR_MS, MINUTE_MS
from pyhm.web import api
from storehelp import Clock, reading, writer
from test_web_dst import _counter

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"
BERLIN = zone("Europe/Berlin")


def _counter_until(path: Path, now_ms: int) -> None:
    """An import counter rising 6 Wh a minute from an hour before yesterday's local midnight up
    to ``now_ms`` (test_web_dst's, through the real writer)."""
    yesterday = datetime.fromtimestamp(now_ms / 1000, BERLIN).date() - timedelta(days=1)
    _counter(path, midnight_ms(yesterday, BERLIN) - HOUR_MS, now_ms)


@pytest.mark.parametrize("now, today_wh, yesterday_wh, until", [
    # The day after the 23-hour day: at 01:30 yesterday's 01:30 was still winter time, so
    # "the same time yesterday" is 90 minutes after midnight (24 hours back would be 30).
    ("2026-03-30T01:30", 540, 540, "2026-03-29T01:30:00+01:00"),
    ("2026-03-30T10:00", 3600, 3240, "2026-03-29T10:00:00+02:00"),  # 29 March 00:00–10:00 had 9 hours
    ("2026-10-26T10:00", 3600, 3960, "2026-10-25T10:00:00+01:00"),  # 25 October 00:00–10:00 had 11
    ("2026-06-15T18:45", 6750, 6750, "2026-06-14T18:45:00+02:00"),
])
def test_today_against_the_same_time_yesterday(tmp_path: Path, now: str, today_wh: int, yesterday_wh: int,
                                               until: str) -> None:
    now_ms = to_ms(datetime.fromisoformat(now), BERLIN)
    _counter_until(tmp_path / "pyhm.db", now_ms)
    q = Query(tmp_path / "pyhm.db", tz=BERLIN)
    try:
        (card,) = api.meters(q, now_ms)["meters"]
    finally:
        q.close()
    assert card["today"]["import"] == Decimal(today_wh)
    assert card["yesterday"] == {"import": Decimal(yesterday_wh), "export": None, "until": until}


def test_yesterday_before_the_first_reading_is_unknown(tmp_path: Path) -> None:
    now_ms = to_ms(datetime(2026, 3, 30, 10, 0), BERLIN)
    clock = Clock(now_ms - 2 * HOUR_MS)
    w = writer(tmp_path / "pyhm.db", clock)
    for i in range(120):
        clock.ms = now_ms - 2 * HOUR_MS + i * MINUTE_MS
        w.add(SERVER, [reading("1-0:1.8.0*255", str(100 + i), 30)], clock.ms)
    w.close()
    q = Query(tmp_path / "pyhm.db", tz=BERLIN)
    try:
        (card,) = api.meters(q, now_ms)["meters"]
    finally:
        q.close()
    assert card["today"]["import"] == Decimal(119) and card["yesterday"]["import"] is None  # "–", not "+100 %"


@pytest.mark.parametrize("rollup_seconds", [0, 3600])  # rollups written at each commit, or once an hour as in the service
def test_the_last_hour_as_minute_means(tmp_path: Path, rollup_seconds: int) -> None:
    minute = to_ms(datetime(2026, 6, 15, 12, 0), BERLIN)
    base = minute - 90 * MINUTE_MS
    now_ms = minute + 25_000  # the open minute has telegrams at :00, :10 and :20
    clock = Clock(base)
    w = writer(tmp_path / "pyhm.db", clock, rollup_seconds=rollup_seconds)
    # Power from -600 W (export) rising 10 W a minute, and 0..5 W within each minute: the mean
    # of a whole minute is 2.5 W over its start value.
    for j in range((now_ms - base) // 10_000 + 1):
        clock.ms = base + j * 10_000
        m, k = divmod(j, 6)
        w.add(SERVER, [reading("1-0:16.7.0*255", str(10 * m + k - 600), 27)], clock.ms)
        if k == 5:
            w.commit()
    clock.ms = now_ms
    w.commit(now_ms)
    q = Query(tmp_path / "pyhm.db", tz=BERLIN)
    try:
        (card,) = api.meters(q, now_ms)["meters"]
        written = q.db.execute("SELECT MAX(ts_ms) FROM rollup_minute").fetchone()[0]
    finally:
        q.close()
        w.db.close()
    # The minutes from 59 before the open one up to it, each its mean; the open one so far.
    starts = [minute - 59 * MINUTE_MS + i * MINUTE_MS for i in range(60)]
    expected = [[t, Decimal(10 * ((t - base) // MINUTE_MS) - 600) + Decimal("2.5")] for t in starts[:-1]]
    expected.append([minute, Decimal(10 * 90 - 600 + 1)])
    assert card["hour"] == expected
    assert any(v < 0 for _, v in card["hour"]) and any(v > 0 for _, v in card["hour"])
    if rollup_seconds:
        assert written < minute - 20 * MINUTE_MS  # half an hour came from the raw telegrams
