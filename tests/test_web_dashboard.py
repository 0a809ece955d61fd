"""The dashboard. Its data (`api.meters`) from a real SQLite file written by the real writer:
today against the same wall time yesterday, across both daylight saving changes of Berlin, and
the last hour's curve as minute means, whether the minute rollups are written yet or not. Its
cards in a real browser (headless chromium) over real HTTPS, fed live by a real writer: power as
a magnitude with its direction, the last hour drawn, readable on a wall tablet and a phone, in
English and German, light and dark; screenshots to out/screenshots/."""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from browser import Browser, chromium
from pyhm.localtime import midnight_ms, to_ms, zone
from pyhm.sml import Reading
from pyhm.store import Query, Writer
from pyhm.store.rollup import HOUR_MS, MINUTE_MS
from pyhm.web import api
from storehelp import Clock, reading, writer
from test_web_browser import CONTRAST, OUT
from test_web_dst import _counter
from webhelp import Server

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


def test_today_and_this_month_with_an_hour_not_rolled_up(tmp_path: Path) -> None:
    """The month is its days before today (hour rollups) plus today (rollups and the raw tail)."""
    now_ms = to_ms(datetime(2026, 3, 2, 0, 40), BERLIN)
    start = to_ms(datetime(2026, 2, 27, 0, 0), BERLIN)
    clock = Clock(start)
    w = writer(tmp_path / "pyhm.db", clock, rollup_seconds=3600)  # as in the service
    for i in range((now_ms - start) // MINUTE_MS):
        clock.ms = start + i * MINUTE_MS
        w.add(SERVER, [reading("1-0:1.8.0*255", str(100_000 + 6 * i), 30)], clock.ms)
        w.commit()
    q = Query(tmp_path / "pyhm.db", tz=BERLIN)
    try:
        written = q.db.execute("SELECT MAX(ts_ms) FROM rollup_minute").fetchone()[0]
        (card,) = api.meters(q, now_ms)["meters"]
    finally:
        q.close()
        w.db.close()
    assert written < now_ms - 30 * MINUTE_MS
    assert card["today"]["import"] == Decimal(40 * 6)
    assert card["month"]["import"] == Decimal((24 * 60 + 40) * 6)


@pytest.mark.parametrize("rollup_seconds", [0, 3600])  # rollups written at each commit, or once an hour as in the service
def test_the_last_hour_as_minute_means(tmp_path: Path, rollup_seconds: int) -> None:
    minute = to_ms(datetime(2026, 6, 15, 12, 0), BERLIN)
    base = minute - 90 * MINUTE_MS
    now_ms = minute + 25_000  # the open minute has telegrams at :00, :10 and :20
    clock = Clock(base)
    w = writer(tmp_path / "pyhm.db", clock, rollup_seconds=rollup_seconds)
    # Power from -600 W (export) rising 10 W a minute, and 0, 2, .. 10 W more within each minute:
    # the mean of a whole minute is 5 W over its start value.
    for j in range((now_ms - base) // 10_000 + 1):
        clock.ms = base + j * 10_000
        m, k = divmod(j, 6)
        w.add(SERVER, [reading("1-0:16.7.0*255", str(10 * m + 2 * k - 600), 27)], clock.ms)
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
    first = minute - 59 * MINUTE_MS
    assert card["hour"] == {"from": first, "step_ms": MINUTE_MS,
                            "power": [10 * ((first - base) // MINUTE_MS + i) + 5 - 600 for i in range(59)] + [10 * 90 + 2 - 600]}
    assert min(card["hour"]["power"]) < 0 < max(card["hour"]["power"])
    if rollup_seconds:
        assert written < minute - 20 * MINUTE_MS  # half an hour came from the raw telegrams


# -- in a real browser ---------------------------------------------------------------------------

PASSWORD = "dashboard test password"
POWER, PHASES = "1-0:16.7.0*255", ("1-0:36.7.0*255", "1-0:56.7.0*255", "1-0:76.7.0*255")


class House:
    """A meter whose power is a function of time (positive: from the grid), per phase too; its
    import and export counters integrate it to 0.1 Wh."""

    def __init__(self, server: bytes, power: Callable[[int], float], split: Callable[[float], List[float]]) -> None:
        self.server, self.power, self.split = server, power, split
        self.counters = [Decimal("4321.0"), Decimal("876.0")]
        self.last_ms: Optional[int] = None

    def readings(self, ms: int) -> List[Reading]:
        p = self.power(ms)
        if self.last_ms is not None:
            wh = Decimal(p * (ms - self.last_ms) / 3_600_000).quantize(Decimal("0.1"))
            self.counters[wh < 0] += abs(wh)
        self.last_ms = ms
        return ([reading(POWER, f"{p:.1f}", 27, self.server)]
                + [reading(code, f"{v:.1f}", 27, self.server) for code, v in zip(PHASES, self.split(p))]
                + [reading("1-0:1.8.0*255", str(self.counters[0]), 30, self.server),
                   reading("1-0:2.8.0*255", str(self.counters[1]), 30, self.server)])


def _houses(start_ms: int) -> List[House]:
    """A household drawing from the grid (350 W more since 21:00 yesterday) and one
    whose PV feeds in, with a fridge on L1 drawing all the while."""
    def drawing(ms: int) -> float:
        return 750 + 450 * math.sin(ms / 420_000) + (350 if ms > start_ms + 22 * HOUR_MS else 0)

    def feeding(ms: int) -> float:
        return -1650 + 650 * math.sin(ms / 660_000) + 250 * math.sin(ms / 97_000)

    return [House(b"\x0a\x01PYH\x00\x00\x00\x00\x31", drawing, lambda p: [0.48 * p, 0.31 * p, 0.21 * p]),
            House(b"\x0a\x01PYH\x00\x00\x00\x00\x32", feeding, lambda p: [140.0, 0.55 * (p - 140), 0.45 * (p - 140)])]


class Feed(threading.Thread):
    """The acquisition: a telegram a second per meter through a real writer."""

    def __init__(self, db: Path, houses: List[House]) -> None:
        super().__init__(daemon=True)
        self.db, self.houses, self.stop = db, houses, threading.Event()

    def run(self) -> None:
        w = Writer(self.db)
        while not self.stop.is_set():
            now = int(time.time() * 1000)
            for h in self.houses:
                w.add(h.server, h.readings(now), now)
            w.commit()
            self.stop.wait(1)
        w.close()


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Browser, str]]:
    """Two meters (one drawing, one feeding in) from yesterday's midnight on, kept live, on
    the real HTTPS server, and a browser logged in to it."""
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    tmp = tmp_path_factory.mktemp("dashboard")
    now = int(time.time() * 1000)
    start = now - now % 86_400_000 - 25 * HOUR_MS  # an hour before yesterday's midnight (the server's zone: UTC)
    houses = _houses(start)
    clock = Clock(start)
    w = writer(tmp / "pyhm.db", clock)
    ms = start
    while ms < now:
        clock.ms = ms
        for h in houses:
            w.add(h.server, h.readings(ms), ms)
        if ms % HOUR_MS == 0:
            w.commit()
        ms += MINUTE_MS if ms < now - 40 * MINUTE_MS else 5_000
    w.set_meter(houses[0].server, "House")
    w.set_meter(houses[1].server, "Solar house")
    w.close()
    feed = Feed(tmp / "pyhm.db", houses)
    feed.start()
    server = Server(tmp, password=PASSWORD)
    browser = Browser()
    base = f"https://127.0.0.1:{server.port}"
    try:
        browser.log_in(base, PASSWORD)
        yield browser, base
    finally:
        browser.close()
        feed.stop.set()
        feed.join(timeout=10)
        server.stop()


CARD = "document.querySelector('[data-meter=\"{id}\"] {sel}')"


def _dashboard(browser: Browser, base: str) -> None:
    browser.goto(base + "/")
    browser.wait_for("[...document.querySelectorAll('[data-field=spark]')].every(s => Number(s.dataset.points) >= 30)"
                     " && document.querySelectorAll('[data-field=delta-import]')[1].textContent !== ''")


def _text(browser: Browser, meter: int, sel: str) -> str:
    return browser.evaluate(CARD.format(id=meter, sel=sel) + ".textContent.trim()")


def test_power_shows_its_direction_as_a_magnitude(dash) -> None:  # type: ignore[no-untyped-def]
    browser, base = dash
    browser.errors.clear()
    _dashboard(browser, base)
    api_power = browser.evaluate("(async () => { const r = await (await fetch('/api/meters', {headers: {'X-Requested-With': 'pyhm'}})).json();"
                                 " return r.meters.map(m => Number(m.power.value)); })()")
    assert api_power[0] > 0 > api_power[1]
    for meter, way, word, other in ((1, "in", "Importing from the grid", "out"), (2, "out", "Exporting to the grid", "in")):
        card = CARD.format(id=meter, sel="").replace(" ')", "')")
        assert browser.evaluate(f"{card}.classList.contains('flow-{way}') && !{card}.classList.contains('flow-{other}')")
        assert _text(browser, meter, "[data-field=direction]") == word
        power = _text(browser, meter, "[data-field=power]")
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", power), power  # the magnitude, no minus sign
        assert 100 < int(power.replace(",", "")) < 3000
        # Readable across a room: the figure at least 48 px on a 1280 px screen, in the direction's colour.
        assert float(browser.evaluate(f"getComputedStyle({CARD.format(id=meter, sel='.power .value')}).fontSize")[:-2]) >= 48
        assert browser.evaluate(f"getComputedStyle({CARD.format(id=meter, sel='.power .value')}).color") == \
            browser.evaluate(f"getComputedStyle({CARD.format(id=meter, sel='.direction')}).color")
        assert browser.evaluate(f"getComputedStyle({CARD.format(id=meter, sel='.direction .arrow')}).display") != "none"
        assert re.fullmatch(r"just now|\d{1,2} s ago", _text(browser, meter, "[data-field=ago]"))
    assert browser.evaluate(f"getComputedStyle({CARD.format(id=1, sel='.power .value')}).color") != \
        browser.evaluate(f"getComputedStyle({CARD.format(id=2, sel='.power .value')}).color")
    # The solar house: L1 draws (the fridge), L2 and L3 feed in; each a magnitude with its arrow.
    phases = browser.evaluate(CARD.format(id=2, sel="[data-field=phases]") + ".innerText")
    assert re.fullmatch(r"L1\s+↓\d+ W\s+L2\s+↑[\d,]+ W\s+L3\s+↑[\d,]+ W", phases.strip()), phases
    # Today against the same time yesterday: the house draws more since last night.
    assert re.fullmatch(r"▲ \d+\.\d\d kWh more than at this time yesterday", _text(browser, 1, "[data-field=delta-import]"))
    assert _text(browser, 2, "[data-field=delta-import]") in ("as much as at this time yesterday",) or \
        re.fullmatch(r"[▲▼] \d+\.\d\d kWh (more|less) than at this time yesterday", _text(browser, 2, "[data-field=delta-import]"))
    assert re.fullmatch(r"Yesterday until \d{1,2}:\d\d( [AP]M)?: [\d,]+\.\d\d kWh",
                        browser.evaluate(CARD.format(id=1, sel="[data-field=delta-import]") + ".title"))
    assert browser.errors == []


def test_the_last_hour_is_drawn(dash) -> None:  # type: ignore[no-untyped-def]
    browser, base = dash
    _dashboard(browser, base)
    spark = "document.querySelector('[data-meter=\"{id}\"] [data-field=spark]')"
    for meter, way in ((1, "in"), (2, "out")):
        svg = spark.format(id=meter)
        assert browser.evaluate(f"{svg}.dataset.points") in ("59", "60")  # a point a minute (the open one may have none yet)
        d = browser.evaluate(f"{svg}.querySelector('path.line.{way}').getAttribute('d')")
        coords = [tuple(map(float, p.split(","))) for p in re.findall(r"[\d.]+,[\d.]+", d)]
        assert len(coords) >= 59 and coords == sorted(coords)  # left to right, an hour wide
        assert coords[0][0] < 20 and coords[-1][0] > 580
        zero = float(browser.evaluate(f"{svg}.querySelector('line.zero').getAttribute('y1')"))
        # Drawing is above the zero line, feeding in below it; the line is visible in its colour.
        assert all((y < zero) if way == "in" else (y > zero) for _, y in coords)
        box = browser.evaluate(f"(() => {{ const r = {svg}.getBoundingClientRect(); return [r.width, r.height]; }})()")
        assert box[0] > 400 and box[1] >= 56
    peaks = browser.evaluate(spark.format(id=2) + ".parentElement.querySelector('[data-field=peaks]').textContent")
    assert re.fullmatch(r"peak export [\d,]+ W", peaks), peaks


@pytest.mark.parametrize("width", [360, 390])
def test_no_overflow_on_a_phone(dash, width: int) -> None:  # type: ignore[no-untyped-def]
    browser, base = dash
    browser.viewport(width, 800, mobile=True)
    try:
        _dashboard(browser, base)
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        # Nothing cut off either: no text wider than its box (the phases would end in "…").
        clipped = browser.evaluate("[...document.querySelectorAll('#dashboard .meter :not(svg, svg *)')]"
                                   ".filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0).map(e => e.textContent)")
        assert clipped == []
        browser.screenshot(OUT / f"dashboard-{width}-light-en-US.png")
        assert float(browser.evaluate(f"getComputedStyle({CARD.format(id=1, sel='.power .value')}).fontSize")[:-2]) >= 48
    finally:
        browser.viewport(1280, 1000)


def test_in_german(dash) -> None:  # type: ignore[no-untyped-def]
    browser, base = dash
    browser.language("de-DE")
    try:
        _dashboard(browser, base)
        assert _text(browser, 1, "[data-field=direction]") == "Bezug aus dem Netz"
        assert _text(browser, 2, "[data-field=direction]") == "Einspeisung ins Netz"
        assert _text(browser, 1, ".today .in h3") == "Bezug heute" and _text(browser, 1, ".today .out h3") == "Einspeisung heute"
        assert re.fullmatch(r"▲ \d+,\d\d kWh mehr als gestern um diese Zeit", _text(browser, 1, "[data-field=delta-import]"))
        assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d\d", _text(browser, 1, "[data-field=today-import]"))
        assert re.fullmatch(r"Diesen Monat: [\d.]+,\d kWh Bezug · [\d.]+,\d kWh Einspeisung", _text(browser, 1, ".month"))
        assert re.fullmatch(r"gerade eben|vor \d{1,2} s", _text(browser, 1, "[data-field=ago]"))
        assert _text(browser, 1, ".spark figcaption span") == "Letzte Stunde"
    finally:
        browser.language("en-US")


@pytest.mark.parametrize("dark", [False, True])
def test_contrast(dash, dark: bool) -> None:  # type: ignore[no-untyped-def]
    browser, base = dash
    browser.dark(dark)
    try:
        _dashboard(browser, base)
        assert browser.evaluate(CONTRAST) == []
    finally:
        browser.dark(False)


def test_dashboard_screenshots(dash) -> None:  # type: ignore[no-untyped-def]
    """Desktop and phone, light and dark, English and German; the wall tablet both ways."""
    browser, base = dash
    shots = []
    try:
        for lang, dark, width in itertools.product(("en-US", "de-DE"), (False, True), (1280, 390)):
            browser.language(lang)
            browser.dark(dark)
            browser.viewport(width, 1000 if width > 500 else 844, mobile=width < 500)
            _dashboard(browser, base)
            shots.append(OUT / f"dashboard-{width}-{'dark' if dark else 'light'}-{lang}.png")
            browser.screenshot(shots[-1])
        browser.language("en-US")
        browser.dark(False)
        for w, h in ((1280, 800), (800, 1280)):
            browser.viewport(w, h)
            _dashboard(browser, base)
            shots.append(OUT / f"dashboard-tablet-{w}x{h}.png")
            browser.screenshot(shots[-1])
    finally:
        browser.language("en-US")
        browser.dark(False)
        browser.viewport(1280, 1000)
    assert all(p.stat().st_size > 5000 for p in shots)
    assert browser.errors == []
