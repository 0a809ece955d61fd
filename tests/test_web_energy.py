"""The Energy page's numbers (/api/energy) from a real SQLite file filled by the real writer and
answered over real HTTPS: bars per local hour, day and month whose sums are the counters'
differences, 23 and 25 hour days, local week/month/year boundaries, the previous period and
the same period a year before, the base load and its yearly cost, and clear 400/404 answers."""

from __future__ import annotations

import dataclasses
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Dict, Iterator, List, Tuple

import pytest
from zoneinfo import ZoneInfo

from pyhm.config import EnergyConfig
from pyhm.store import Query
from pyhm.web import energy
from storehelp import Clock, reading, writer
from webhelp import Server

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000
FIRST, LAST = date(2025, 1, 1), date(2026, 11, 1)  # local days with data: [FIRST, LAST)
PRICE = Decimal("0.32")


def ms(day: date, hour: int = 0) -> int:
    """A local wall time in Berlin as UTC ms (independent of pyhm.localtime)."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN).timestamp() * 1000)


def energies(hour_ms: int) -> Tuple[int, int]:
    """What the house bought and sold in the hour that begins at ``hour_ms`` (Wh): at night
    100–135 Wh (lowest at 00:00, by the day of the month), 300+ by day, 500 sold from 10 to 16."""
    at = datetime.fromtimestamp(hour_ms / 1000, BERLIN)
    if at.hour < 5:
        bought = 100 + (at.day % 3) * 10 + at.hour * 5
    else:
        bought = 300 + at.hour * 10
    return bought, 500 if 10 <= at.hour < 16 else 0


def hours(a: int, b: int) -> Iterator[int]:
    return iter(range(a, b, HOUR))


def expected(a: int, b: int) -> Tuple[Decimal, Decimal]:
    """Import and export in kWh over [a, b), from the constructed hours."""
    imp = sum(energies(h)[0] for h in hours(a, b))
    exp = sum(energies(h)[1] for h in hours(a, b))
    return Decimal(imp) / 1000, Decimal(exp) / 1000


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two counters, one telegram an hour at HH:59 (so an hour's rollup holds exactly its
    energy), written through the real writer; returns the database path."""
    path = tmp_path_factory.mktemp("energy") / "pyhm.db"
    start, end = ms(FIRST) - HOUR, ms(LAST)
    clock = Clock(start)
    w = writer(path, clock)
    imp = exp = 0
    for n, h in enumerate(hours(start, end)):
        if h >= ms(FIRST):
            bought, sold = energies(h)
            imp, exp = imp + bought, exp + sold
        clock.ms = h + 59 * 60_000
        w.add(SERVER, [reading("1-0:1.8.0*255", str(1_000_000 + imp), 30), reading("1-0:2.8.0*255", str(exp), 30)],
              clock.ms)
        if n % 24 == 23:
            w.commit()
    w.commit(end + 600_000)
    w.set_meter(SERVER, "House")
    w.close()
    return path


@pytest.fixture(scope="module")
def server(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("web"), db=db, timezone="Europe/Berlin")
    yield s
    s.stop()


def get(server: Server, query: str) -> Dict:
    status, data = server.get_json("/api/energy?" + query)
    assert status == 200, data
    return data


@pytest.mark.parametrize("day, n", [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-10", 24)])
def test_a_local_day_has_its_hours_and_each_bar_is_the_hour(server: Server, day: str, n: int) -> None:
    d = date.fromisoformat(day)
    data = get(server, f"meter=House&period=day&date={day}")
    bars = data["bars"]
    assert len(bars) == n
    assert [b["t"] for b in bars] == list(hours(ms(d), ms(d + timedelta(days=1))))
    for b in bars:
        bought, sold = energies(b["t"])
        assert (b["import"], b["export"]) == (Decimal(bought) / 1000, Decimal(sold) / 1000)
    assert bars[0]["start"] == f"{day}T00:00:00{'+01:00' if d.month < 4 or d.month > 10 else '+02:00'}"
    if n == 25:  # 02:00 twice, first in summer time, then in winter time
        assert [b["start"][11:] for b in bars[2:4]] == ["02:00:00+02:00", "02:00:00+01:00"]
    imp, exp = expected(ms(d), ms(d + timedelta(days=1)))
    assert data["totals"] == {"import": imp, "export": exp, "net": imp - exp}
    assert sum(b["import"] for b in bars) == imp and data["running"] is False


def counter_difference(db: Path, obis: str, a: int, b: int) -> Decimal:
    """The counter's last reading before ``b`` minus its last before ``a`` (kWh), from the hour rollups."""
    import sqlite3
    con = sqlite3.connect(db)
    (sid,) = con.execute("SELECT id FROM series WHERE obis = ?", (obis,)).fetchone()
    last = [con.execute("SELECT vlast, exp FROM rollup_hour WHERE series_id = ? AND ts_ms < ? ORDER BY ts_ms DESC LIMIT 1",
                        (sid, t)).fetchone() for t in (a, b)]
    con.close()
    return (Decimal(last[1][0]).scaleb(last[1][1]) - Decimal(last[0][0]).scaleb(last[0][1])) / 1000


@pytest.mark.parametrize("period, day, first, starts", [
    ("week", "2026-03-25", date(2026, 3, 23), [date(2026, 3, 23) + timedelta(days=i) for i in range(7)]),
    ("week", "2026-03-29", date(2026, 3, 23), [date(2026, 3, 23) + timedelta(days=i) for i in range(7)]),
    ("month", "2026-02-14", date(2026, 2, 1), [date(2026, 2, 1) + timedelta(days=i) for i in range(28)]),
    ("month", "2026-10-31", date(2026, 10, 1), [date(2026, 10, 1) + timedelta(days=i) for i in range(31)]),
    ("year", "2025-07-01", date(2025, 1, 1), [date(2025, m, 1) for m in range(1, 13)]),
])
def test_weeks_months_years_are_local_and_bars_sum_to_the_counters(server: Server, db: Path, period: str, day: str,
                                                                   first: date, starts: List[date]) -> None:
    data = get(server, f"meter=1&period={period}&date={day}")
    assert data["start"] == first.isoformat() and len(data["bars"]) == len(starts)
    assert [b["t"] for b in data["bars"]] == [ms(s) for s in starts]
    ends = starts[1:] + [date(first.year + 1, 1, 1) if period == "year" else starts[-1] + timedelta(days=1)]
    for b, s, e in zip(data["bars"], starts, ends):
        assert (b["import"], b["export"]) == expected(ms(s), ms(e)), s
    a, z = ms(starts[0]), ms(ends[-1])
    assert data["totals"]["import"] == sum(b["import"] for b in data["bars"]) == counter_difference(db, "1-0:1.8.0*255", a, z)
    assert data["totals"]["export"] == counter_difference(db, "1-0:2.8.0*255", a, z)


@pytest.mark.parametrize("period, day, previous, last_year", [
    ("day", "2026-03-29", date(2026, 3, 28), date(2025, 3, 29)),
    ("week", "2026-03-29", date(2026, 3, 16), date(2025, 3, 24)),
    ("month", "2026-03-01", date(2026, 2, 1), date(2025, 3, 1)),
    ("year", "2026-05-05", date(2025, 1, 1), date(2025, 1, 1)),
])
def test_previous_period_and_last_year(server: Server, period: str, day: str, previous: date, last_year: date) -> None:
    data = get(server, f"meter=House&period={period}&date={day}")
    nxt = {"day": lambda d: d + timedelta(days=1), "week": lambda d: d + timedelta(days=7),
           "month": lambda d: (d.replace(day=28) + timedelta(days=4)).replace(day=1),
           "year": lambda d: d.replace(year=d.year + 1)}[period]
    imp_now = data["totals"]["import"]
    for key, first in (("previous", previous), ("last_year", last_year)):
        got = data[key]
        imp, exp = expected(ms(first), min(ms(nxt(first)), ms(LAST)))
        assert got["start"] == first.isoformat() and (got["import"], got["export"], got["net"]) == (imp, exp, imp - exp)
        if data["running"]:  # this year, still running: compared up to the same time last year
            cut = int(datetime.fromisoformat(got["same_time"]["to"]).timestamp() * 1000)
            assert ms(first) < cut < ms(nxt(first)) and abs(cut + 365 * 86_400_000 - time.time() * 1000) < 3_720_000
            imp = got["same_time"]["import"]
            assert imp == expected(ms(first), cut)[0]
        else:
            assert "same_time" not in got  # a past period is compared whole
        assert got["change"]["import"] == ((imp_now - imp) / imp * 100).quantize(Decimal("0.1"))
        assert got["change"]["net"] is None  # a difference of two flows: a per cent of it would mislead
    assert data["steps"]["previous"] == previous.isoformat()


def test_a_running_period_is_compared_up_to_the_same_time(db: Path) -> None:
    q = Query(db, BERLIN)
    try:
        now = ms(date(2026, 3, 29), 15) + 30 * 60_000  # 29 March 15:30, a day of 23 hours
        data = energy.energy(q, "House", "day", None, EnergyConfig(), now_ms=now)
        assert data["start"] == "2026-03-29" and data["running"] is True and data["steps"]["next"] is None
        prev = data["previous"]
        # 15:30 wall time on the day before (24 hours long): the same part of the day.
        assert prev["same_time"]["to"] == "2026-03-28T15:30:00+01:00"
        imp, _ = expected(ms(date(2026, 3, 28)), ms(date(2026, 3, 28), 15) + 30 * 60_000)
        assert prev["same_time"]["import"] == imp
        assert prev["import"] == expected(ms(date(2026, 3, 28)), ms(date(2026, 3, 29)))[0]
        assert prev["change"]["import"] == ((data["totals"]["import"] - imp) / imp * 100).quantize(Decimal("0.1"))
    finally:
        q.close()


def night_minima(first: date, last: date) -> List[int]:
    out = []
    d = first
    while d < last:
        night = [energies(h)[0] for h in hours(ms(d), ms(d, 5))]
        out.append(min(night))
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize("now, before, change", [
    ("8.27", "7.16", "15.5"), ("0", "17.09", "-100.0"), ("-4", "-2", "-100.0"),
    ("8.27", "-9.92", None), ("-1", "3", None), ("5", "0", None)])
def test_a_change_in_per_cent_only_where_it_means_something(now: str, before: str, change: object) -> None:
    """A net that went from export (-9.92 kWh) to import (8.27 kWh) gets no per cent: +183 % would mislead."""
    got = energy._change(Decimal(now), Decimal(before))
    assert got == (None if change is None else Decimal(str(change)))


def test_base_load_and_its_yearly_cost(db: Path) -> None:
    q = Query(db, BERLIN)
    try:
        prices = EnergyConfig(price=PRICE, feed_in=Decimal("0.082"))
        # One night: 4 March 2026, lowest hour 00:00–01:00 with 110 Wh → 110 W all year.
        data = energy.energy(q, "House", "day", date(2026, 3, 4), prices)
        assert data["base_load"] == {"watts": Decimal(110), "nights": 1, "kwh_per_year": Decimal("963.6"),
                                     "cost_per_year": Decimal("963.6") * PRICE}
        assert data["base_load"]["cost_per_year"] == Decimal("308.352")
        assert data["costs"]["import"] == data["totals"]["import"] * PRICE
        assert data["costs"]["export"] == data["totals"]["export"] * Decimal("0.082")
        # A month: the median of its nights' minima (100, 110, 120 W by the day of the month).
        data = energy.energy(q, "House", "month", date(2026, 3, 1), prices)
        minima = night_minima(date(2026, 3, 1), date(2026, 4, 1))
        assert len(minima) == 31 and data["base_load"]["watts"] == Decimal(median(minima)) == 110
        data = energy.energy(q, "House", "week", date(2026, 3, 2), prices)  # Mon 2 .. Sun 8 March: 100 ×2, 110 ×3, 120 ×2
        assert data["base_load"]["watts"] == Decimal(median(night_minima(date(2026, 3, 2), date(2026, 3, 9)))) == 110
        data = energy.energy(q, "House", "day", date(2026, 3, 6), EnergyConfig())
        assert data["base_load"]["watts"] == 100 and "cost_per_year" not in data["base_load"] and data["prices"] is None
        # No night at all after the last reading: no base load rather than a wrong one.
        data = energy.energy(q, "House", "day", date(2026, 11, 5), prices)
        assert data["base_load"] == {"watts": None, "nights": 0} and all(b["import"] is None for b in data["bars"])
    finally:
        q.close()


def test_an_even_number_of_nights_takes_the_mean_of_the_middle_two(db: Path) -> None:
    q = Query(db, BERLIN)
    try:
        # 5–6 March: minima 120 (5 % 3 = 2) and 100 (6 % 3 = 0) → 110; through energy.base_load directly.
        a, b = ms(date(2026, 3, 5)), ms(date(2026, 3, 7))
        s = q.find_series(1, "1-0:1.8.0*255")
        got = energy.base_load(q.hourly(s, a, b), s, 0, b, BERLIN)
        assert got == {"watts": Decimal(110), "nights": 2, "kwh_per_year": Decimal("963.6")}
        # An hour not yet complete (the meter not read after it ended) does not count.
        got = energy.base_load(q.hourly(s, a, b), s, 0, ms(date(2026, 3, 6), 0) + 30 * 60_000, BERLIN)
        assert got["nights"] == 1 and got["watts"] == 120
    finally:
        q.close()


def test_prices_reach_the_api_from_the_configuration(tmp_path: Path, db: Path) -> None:
    s = Server(tmp_path, db=db, timezone="Europe/Berlin", start=False)
    s.web.config = dataclasses.replace(s.config, energy=EnergyConfig(price=PRICE, currency="CHF"))
    s.start()
    try:
        data = get(s, "meter=House&period=day&date=2026-03-04")
        assert data["prices"] == {"currency": "CHF", "price": PRICE, "feed_in": None}
        assert data["base_load"]["cost_per_year"] == Decimal("308.352")
        assert data["costs"] == {"import": data["totals"]["import"] * PRICE, "export": None}
    finally:
        s.stop()


@pytest.mark.parametrize("query, parameter", [
    ("period=day", "meter"),
    ("meter=House&period=hour", "period"),
    ("meter=House&date=2026-13-01", "date"),
    ("meter=House&date=yesterday", "date"),
    ("meter=House&date=0001-01-01", "date"),
    ("meter=House&date=9999-12-31", "date"),
    ("meter=House&date=2026-3-1", "date"),
    ("meter=House&date=2026-W10-1", "date"),  # ISO week date: Python's fromisoformat takes it, the API says YYYY-MM-DD
    ("meter=" + "x" * 300, "meter"),
])
def test_bad_parameters_are_400_naming_them(server: Server, query: str, parameter: str) -> None:
    status, data = server.get_json("/api/energy?" + query)
    assert status == 400 and data["parameter"] == parameter, data


def test_an_unknown_meter_is_404(server: Server) -> None:
    status, data = server.get_json("/api/energy?meter=Garage&period=day")
    assert status == 404 and "Garage" in data["error"]


def test_the_page_renders_with_its_meter_picker_in_german(server: Server) -> None:
    status, _, body = server.request("GET", "/energy", headers={"Accept-Language": "de-DE"}, auth="correct horse battery")
    page = body.decode()
    assert status == 200 and '<html lang="de-DE"' in page and 'src="/static/energy.js"' in page
    assert 'data-meter="1"' in page and "Bezug" in page and "Einspeisung" in page and "Grundlast" in page
    status, _, _ = server.request("GET", "/energy/Garage", auth="correct horse battery")
    assert status == 404
    status, _, body = server.request("GET", "/energy/House?period=week&date=2026-03-25", auth="correct horse battery")
    assert status == 200 and 'data-period="week"' in body.decode() and 'data-date="2026-03-25"' in body.decode()


def test_a_zone_half_an_hour_off_utc_still_gets_its_hours(db: Path) -> None:
    q = Query(db, ZoneInfo("Asia/Kolkata"))  # UTC+05:30: local hours begin at :30 UTC
    try:
        data = energy.energy(q, "House", "day", date(2026, 6, 10), EnergyConfig())
        assert len(data["bars"]) == 24 and all(b["import"] is not None for b in data["bars"])
        assert data["totals"]["import"] == sum(b["import"] for b in data["bars"])
    finally:
        q.close()


def test_the_first_minutes_of_a_day_45_minutes_off_utc_stay_where_their_hour_goes(tmp_path: Path) -> None:
    """Kathmandu (UTC+05:45), 00:07: the hour not rolled up yet began at 23:45 yesterday. Its
    samples after midnight belong where its rollup will put them (yesterday's last bar), so
    today's total is the sum of today's bars, and writing the rollup moves nothing."""
    tz = ZoneInfo("Asia/Kathmandu")
    midnight = int(datetime(2026, 6, 1, tzinfo=tz).timestamp() * 1000)
    path = tmp_path / "pyhm.db"
    clock = Clock(midnight - 3 * HOUR)
    w = writer(path, clock)
    for n, t in enumerate(range(midnight - 3 * HOUR, midnight + 7 * 60_000 + 1, 60_000)):
        clock.ms = t
        w.add(SERVER, [reading("1-0:1.8.0*255", str(1000 + 10 * n), 30)], t)
        w.commit()
    w.set_meter(SERVER, "House")
    q = Query(path, tz)

    def days() -> Tuple[Decimal, Decimal, List[Decimal]]:
        today = energy.energy(q, "House", "day", date(2026, 6, 1), EnergyConfig(), now_ms=midnight + 7 * 60_000)
        before = energy.energy(q, "House", "day", date(2026, 5, 31), EnergyConfig(), now_ms=midnight + 7 * 60_000)
        return before["totals"]["import"], today["totals"]["import"], [b["import"] or 0 for b in today["bars"]]

    try:
        yesterday, today, bars = days()
        assert today == sum(bars, Decimal(0)) and yesterday + today == Decimal("1.870")  # 187 minutes of 10 Wh
        clock.ms = midnight + HOUR
        w.commit(rollups=True)  # the hour that began at 23:45 is rolled up
        assert days() == (yesterday, today, bars)
    finally:
        q.close()
        w.close()
