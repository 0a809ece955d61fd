"""Day totals over HTTPS in the configured zone: 23 and 25 hour days, ISO times without an
offset read as the household's wall time, answers with the zone's offset; /healthz turns 503
after a few missed telegrams."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest

from pyhm.localtime import midnight_ms, zone
from pyhm.store.rollup import HOUR_MS, MINUTE_MS
from storehelp import Clock, reading, writer
from webhelp import Server

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"
BERLIN = zone("Europe/Berlin")


def _counter(path: Path, start_ms: int, end_ms: int) -> None:
    """A counter rising 6 Wh a minute, one telegram a minute, through the real writer."""
    clock = Clock(start_ms)
    w = writer(path, clock)
    for i in range((end_ms - start_ms) // MINUTE_MS):
        clock.ms = start_ms + i * MINUTE_MS
        w.add(SERVER, [reading("1-0:1.8.0*255", str(100_000 + 6 * i), 30)], clock.ms)
        if i % 60 == 59:
            w.commit()
    w.commit(end_ms + 10 * MINUTE_MS)
    w.set_meter(SERVER, "House")
    w.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("dst")
    db = tmp / "pyhm.db"
    clock = Clock(0)
    w = writer(db, clock)
    w.close()
    for first in (date(2026, 3, 28), date(2026, 10, 24)):
        _counter(db, midnight_ms(first, BERLIN) - HOUR_MS, midnight_ms(first + timedelta(days=3), BERLIN) + HOUR_MS)
    s = Server(tmp, timezone="Europe/Berlin")
    yield s
    s.stop()


@pytest.mark.parametrize("first, totals", [
    ("2026-03-28", [8640, 8280, 8640]),
    ("2026-10-24", [8640, 9000, 8640]),
])
def test_day_totals_over_https(server: Server, first: str, totals: list) -> None:
    last = (date.fromisoformat(first) + timedelta(days=3)).isoformat()
    status, data = server.get_json(f"/api/consumption?meter=House&period=day&from={first}T00:00&to={last}T00:00")
    assert status == 200
    day = date.fromisoformat(first)
    assert data["values"] == [{"start": (day + timedelta(days=i)).isoformat(), "t": midnight_ms(day + timedelta(days=i), BERLIN),
                               "value": Decimal(t)} for i, t in enumerate(totals)]


def test_wall_times_are_the_households(server: Server) -> None:
    # 12:00 without an offset is Berlin's noon: 11:00 UTC in winter, 10:00 UTC in summer.
    for text, utc_hour, offset in (("2026-03-28T12:00", 11, "+01:00"), ("2026-03-30T12:00", 10, "+02:00")):
        status, data = server.get_json(f"/api/series?meter=House&obis=1-0:1.8.0&from={quote(text)}&to={quote(text[:-5] + '12:05')}")
        assert status == 200 and data["from"] == text + ":00" + offset
        assert data["points"][0]["t"] % 86_400_000 == utc_hour * HOUR_MS
        assert data["points"][0]["time"].endswith(offset)


def test_healthz_turns_503_within_15_seconds(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    clock = Clock(now - 16_000)
    w = writer(tmp_path / "pyhm.db", clock)
    w.add(SERVER, [reading("1-0:1.8.0*255", "1.0", 30)], clock.ms)
    w.commit()
    w.close()
    s = Server(tmp_path)
    try:
        status, health = s.get_json("/healthz", auth=None)
        assert status == 503 and health["status"] == "stale" and health["age_s"] >= 16
    finally:
        s.stop()
