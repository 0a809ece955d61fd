"""The Energy page in a real browser (headless chromium over DevTools) against the real HTTPS
server: a house with a PV system (a year of hourly readings up to now, written by the real
writer) and a heat pump meter. Bars for the chosen period, ◀ and "Now", German text, no
horizontal overflow on a phone, WCAG AA contrast; screenshots to out/screenshots/."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import re
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from zoneinfo import ZoneInfo

from browser import Browser, chromium
from pyhm.config import EnergyConfig
from storehelp import Clock, reading, writer
from test_web_browser import CONTRAST, OUT, PASSWORD
from webhelp import Server

BERLIN = ZoneInfo("Europe/Berlin")
HOUSE, HEAT_PUMP = b"\x0a\x01EBZ\x00\x00\x00\x00\x01", b"\x0a\x01ISK\x00\x00\x00\x00\x02"
HOUR = 3_600_000


def house_hour(at: datetime, rnd: random.Random) -> Tuple[int, int]:
    """Wh bought and sold in one hour: a base load of about 180 W, cooking and evenings, and a
    PV system whose noon peak follows the season."""
    h = at.hour + 0.5
    use = 180 + rnd.randint(0, 40) + (600 if 11 <= at.hour < 13 else 0) + (500 if 18 <= at.hour < 22 else 0)
    season = 0.25 + 0.75 * math.sin(math.pi * (at.timetuple().tm_yday - 80) / 365) ** 2 if 80 <= at.timetuple().tm_yday <= 265 else 0.25
    sun = max(0.0, math.sin(math.pi * (h - 6) / 12)) * 4500 * season * rnd.uniform(0.4, 1.0)
    net = use - sun
    return (int(net), 0) if net > 0 else (0, int(-net))


@pytest.fixture(scope="module")
def energy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Browser, str]]:
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    tmp = tmp_path_factory.mktemp("energy-browser")
    db = tmp / "pyhm.db"
    now = int(time.time() * 1000)
    start = now - now % HOUR - 400 * 24 * HOUR
    clock = Clock(start)
    w = writer(db, clock)
    rnd = random.Random(9)
    imp = exp = heat = 0
    for n, h in enumerate(range(start, now - HOUR, HOUR)):
        bought, sold = house_hour(datetime.fromtimestamp(h / 1000, BERLIN), rnd)
        imp, exp, heat = imp + bought, exp + sold, heat + 300 + rnd.randint(0, 900)
        clock.ms = h + 59 * 60_000
        w.add(HOUSE, [reading("1-0:1.8.0*255", str(4_200_000 + imp), 30, HOUSE),
                      reading("1-0:2.8.0*255", str(900_000 + exp), 30, HOUSE)], clock.ms)
        w.add(HEAT_PUMP, [reading("1-0:1.8.0*255", str(heat), 30, HEAT_PUMP)], clock.ms)
        if n % 24 == 23:
            w.commit()
    w.commit(now)
    w.set_meter(HOUSE, "House", "cellar")
    w.set_meter(HEAT_PUMP, "Heat pump")
    w.close()
    server = Server(tmp, db=db, password=PASSWORD, timezone="Europe/Berlin", start=False)
    server.web.config = dataclasses.replace(server.config, energy=EnergyConfig(Decimal("0.32"), "EUR", Decimal("0.082")))
    server.start()
    browser = Browser()
    base = f"https://127.0.0.1:{server.port}"
    browser.log_in(base, PASSWORD, "/energy")
    yield browser, base
    browser.close()
    server.stop()


@pytest.fixture
def site(energy_site: Tuple[Browser, str]) -> Tuple[Browser, str]:
    energy_site[0].errors.clear()
    return energy_site


def drawn(browser: Browser, start: str = "") -> dict:
    """Wait until the chart shows a period (starting on ``start``), then its dataset."""
    cond = f"document.getElementById('energy-chart').dataset.start === '{start}'" if start else \
        "document.getElementById('energy-chart').dataset.start"
    try:
        browser.wait_for(f"{cond} && !!document.querySelector('#energy-chart .uplot')")
    except AssertionError as exc:
        info = browser.evaluate("document.getElementById('energy-info').textContent")
        raise AssertionError(f"{exc}; page errors: {browser.errors}; info: {info}") from None
    return browser.evaluate("Object.assign({}, document.getElementById('energy-chart').dataset)")


def reset(browser: Browser) -> None:
    browser.evaluate("document.getElementById('energy-chart').dataset.start = ''; true")


def today() -> date:
    return datetime.now(BERLIN).date()


def test_bars_for_the_chosen_period_and_stepping_back(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.goto(base + "/energy")
    chart = drawn(browser, today().isoformat())
    local_day = today()
    hours = (datetime(local_day.year, local_day.month, local_day.day, tzinfo=BERLIN) + timedelta(days=1)).timestamp() - \
        datetime(local_day.year, local_day.month, local_day.day, tzinfo=BERLIN).timestamp()
    assert chart["period"] == "day" and int(chart["slots"]) == round(hours / 3600)
    assert 1 <= int(chart["bars"]) <= int(chart["slots"])  # today so far
    assert browser.evaluate("document.getElementById('energy-now').disabled")
    assert browser.evaluate("document.getElementById('energy-fwd').disabled")
    # Week: Monday to Sunday.
    monday = today() - timedelta(days=today().weekday())
    reset(browser)
    browser.evaluate("document.querySelector('button[data-period=week]').click(); true")
    chart = drawn(browser, monday.isoformat())
    assert int(chart["slots"]) == 7
    assert browser.evaluate("document.querySelector('button[data-period=week]').getAttribute('aria-pressed')") == "true"
    # Month, then ◀: the month before, all its days with bars; ▶ and "Now" come back.
    first = today().replace(day=1)
    before = (first - timedelta(days=1)).replace(day=1)
    reset(browser)
    browser.evaluate("document.querySelector('button[data-period=month]').click(); true")
    drawn(browser, first.isoformat())
    reset(browser)
    browser.evaluate("document.getElementById('energy-back').click(); true")
    chart = drawn(browser, before.isoformat())
    days = (first - before).days
    assert int(chart["slots"]) == int(chart["bars"]) == days
    assert browser.evaluate("location.search") == f"?period=month&date={before.isoformat()}"
    assert not browser.evaluate("document.getElementById('energy-fwd').disabled")
    totals = browser.evaluate("[...document.querySelectorAll('[data-total]')].map(e => e.textContent)")
    assert all(t not in ("", "–") for t in totals), totals
    api = browser.evaluate(f"""(async () => (await (await fetch('/api/energy?meter=1&period=month&date={before.isoformat()}',
        {{headers: {{'X-Requested-With': 'pyhm'}}}})).json()))()""")
    shown = float(totals[0].replace(",", ""))  # what the page says is what the store says
    assert abs(shown - float(api["totals"]["import"])) < 0.05 and shown > 0
    browser.evaluate("document.getElementById('energy-data').open = true; true")
    assert browser.wait_for("document.querySelectorAll('#energy-table tbody tr').length") == days
    reset(browser)
    browser.evaluate("document.getElementById('energy-now').click(); true")
    drawn(browser, first.isoformat())
    # Year: twelve months; the "same period last year" card is the previous year already.
    reset(browser)
    browser.evaluate("document.querySelector('button[data-period=year]').click(); true")
    chart = drawn(browser, today().replace(month=1, day=1).isoformat())
    assert int(chart["slots"]) == 12 and browser.evaluate("document.getElementById('energy-last-year').hidden")
    base_load = browser.evaluate("document.querySelector('#energy-base [data-field=watts]').textContent")
    assert 170 <= int(base_load.replace(",", "")) <= 230, base_load  # the constructed base load: 180–220 W
    assert "€" in browser.evaluate("document.querySelector('#energy-base [data-field=year]').textContent")
    assert browser.errors == []


def test_a_period_before_the_meter_came_says_no_data(site) -> None:  # type: ignore[no-untyped-def]
    """Two years back there is no reading: no '0.000 kWh' and no cost, but "No data", and an
    axis whose labels differ (not 0.001, 0.001, 0.001, 0.000 …)."""
    browser, base = site
    year = today().year - 2
    browser.goto(base + f"/energy?period=year&date={year}-06-01")
    chart = drawn(browser, f"{year}-01-01")
    assert chart["bars"] == "0"
    assert browser.evaluate("[...document.querySelectorAll('[data-total]')].map(e => e.textContent)") == ["–"] * 3
    assert browser.evaluate("[...document.querySelectorAll('[data-cost]')].map(e => e.textContent)") == ["", ""]
    assert browser.evaluate("document.getElementById('energy-info').textContent") == "No data for this period."
    ticks = browser.evaluate("document.querySelector('#energy-chart .uplot').dataset.yticks").split("|")
    assert len(ticks) >= 2 and len(set(ticks)) == len(ticks), ticks
    assert browser.errors == []


def test_the_whole_previous_period_has_its_own_digits(site) -> None:  # type: ignore[no-untyped-def]
    """While a month runs, its first days are compared with the same days of the month before;
    the note's whole month (about 150 kWh) reads 150.4, not 150.381 like a day's 0.381."""
    browser, base = site
    browser.goto(base + "/energy?period=month")
    drawn(browser, today().replace(day=1).isoformat())
    note = browser.wait_for("document.querySelector('#energy-previous [data-field=note]').textContent")
    whole = re.findall(r"([\d,]+(?:\.(\d+))?) kWh", note.split("The whole period:")[1])
    assert len(whole) == 2, note
    biggest = max(float(v.replace(",", "")) for v, _ in whole)
    digits = 3 if biggest < 1 else 2 if biggest < 100 else 1 if biggest < 10_000 else 0
    assert [len(d) for _, d in whole] == [digits, digits], note
    assert browser.errors == []


def test_no_per_cent_against_what_reads_zero(site) -> None:  # type: ignore[no-untyped-def]
    """Yesterday's export until now was 0.002 kWh (shown as 0.00 or 0.002 beside 2.62): today's
    0.31 kWh is "+16,126.3 %" of it, which nobody can use; the card shows no per cent then."""
    browser, base = site
    browser.goto(base + "/energy?period=day")
    drawn(browser)
    browser.evaluate("""const real = window.fetch; window.fetch = async (...a) => {
      const r = await real(...a);
      if (!String(a[0]).startsWith('/api/energy')) return r;
      const j = await r.json();
      j.previous.same_time = Object.assign({to: j.to}, j.previous.same_time, {import: 2.62, export: 0.0019, net: 2.6181});
      j.previous.change = {import: -36.1, export: 16126.3, net: -47.8};
      return new Response(JSON.stringify(j), { status: r.status, headers: { 'Content-Type': 'application/json' } });
    }; true""")
    reset(browser)
    browser.evaluate("document.querySelector('button[data-period=day]').click(); true")
    drawn(browser)
    browser.wait_for("!!document.querySelector('#energy-previous [data-change=import]')")
    changes = browser.evaluate("[...document.querySelectorAll('#energy-previous [data-change]')].map(e => e.dataset.change)")
    assert changes == ["import", "net"], changes
    assert browser.errors == []


def test_the_meter_picker(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.goto(base + "/energy?period=week")
    drawn(browser)
    assert browser.evaluate("document.getElementById('energy-meter').labels.length") == 1
    browser.evaluate("const s = document.getElementById('energy-meter'); s.value = '2'; s.dispatchEvent(new Event('change')); true")
    for _ in range(50):  # the page is replaced: an evaluation may meet the old one going away
        try:
            browser.wait_for("location.pathname === '/energy/2' && document.getElementById('energy-chart').dataset.start")
            break
        except RuntimeError:
            time.sleep(0.2)
    chart = drawn(browser)
    assert chart["period"] == "week"
    assert browser.evaluate("document.querySelector('[data-total=export]').textContent") == "–"  # a heat pump sells nothing
    assert browser.errors == []


def test_german(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    try:
        browser.language("de-DE")
        browser.goto(base + f"/energy?period=day&date={(today() - timedelta(days=3)).isoformat()}")
        drawn(browser, (today() - timedelta(days=3)).isoformat())
        text = browser.evaluate("document.body.innerText")
        for word in ("Energie", "Bezug", "Einspeisung", "Saldo", "Vortag", "Gleicher Tag im Vorjahr", "Grundlast", "Jetzt"):
            assert word in text, word
        # A negative net is read right: the card says what it is.
        assert browser.evaluate("document.querySelector('.energy-totals .net').innerText").endswith("Bezug minus Einspeisung")
        title = browser.evaluate("document.getElementById('energy-title').textContent")
        assert any(d in title for d in ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")), title
        ticks = browser.evaluate("document.querySelector('#energy-chart .uplot').dataset.xticks")
        assert ticks.startswith("00:00") and "AM" not in ticks, ticks
        browser.evaluate("document.getElementById('energy-data').open = true; true")
        head = browser.wait_for("document.querySelector('#energy-table thead') && document.querySelector('#energy-table thead').textContent")
        assert head == "StundeBezug (kWh)Einspeisung (kWh)", head
    finally:
        browser.language("en-US")
    assert browser.errors == []


def test_the_hours_follow_the_pages_clock(site) -> None:  # type: ignore[no-untyped-def]
    """One clock per page: an en-US page labels the day's hours as its other times, with AM/PM."""
    browser, base = site
    browser.goto(base + f"/energy?period=day&date={(today() - timedelta(days=3)).isoformat()}")
    drawn(browser, (today() - timedelta(days=3)).isoformat())
    ticks = browser.evaluate("document.querySelector('#energy-chart .uplot').dataset.xticks").split("|")
    assert ticks[0] == "12 AM" and all(t.endswith(("AM", "PM")) for t in ticks), ticks


@pytest.mark.parametrize("width", [360, 390])
def test_no_overflow_on_a_phone(site, width: int) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.viewport(width, 800, mobile=True)
    try:
        for lang in ("en-US", "de-DE"):
            browser.language(lang)
            for period in ("day", "week", "month", "year"):
                browser.goto(base + f"/energy?period={period}")
                drawn(browser)
                browser.evaluate("document.getElementById('energy-data').open = true; true")
                time.sleep(0.2)
                assert browser.evaluate("document.documentElement.scrollWidth") <= width, (lang, period)
                # The table of bars fits too: no column to scroll sideways to.
                browser.wait_for("document.querySelectorAll('#energy-table tr').length > 1")
                box = browser.evaluate("(() => { const b = document.getElementById('energy-table').parentElement;"
                                       " return [b.scrollWidth, b.clientWidth]; })()")
                assert box[0] <= box[1], (lang, period, box)
    finally:
        browser.language("en-US")
        browser.viewport(1280, 1000)


@pytest.mark.parametrize("dark", [False, True])
def test_contrast(site, dark: bool) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.dark(dark)
    try:
        browser.goto(base + "/energy?period=month")
        drawn(browser)
        time.sleep(0.3)
        assert browser.evaluate(CONTRAST) == []
    finally:
        browser.dark(False)


def test_energy_screenshots(site) -> None:  # type: ignore[no-untyped-def]
    """energy-{1280,390}-{light,dark}-{en-US,de-DE}.png, a week with its comparisons."""
    browser, base = site
    shots: List[Path] = []
    try:
        for lang, dark, width in itertools.product(("en-US", "de-DE"), (False, True), (1280, 390)):
            browser.language(lang)
            browser.dark(dark)
            browser.viewport(width, 1100 if width > 500 else 844, mobile=width < 500)
            browser.goto(base + "/energy?period=week")
            drawn(browser)
            time.sleep(0.4)
            shots.append(OUT / f"energy-{width}-{'dark' if dark else 'light'}-{lang}.png")
            browser.screenshot(shots[-1])
    finally:
        browser.language("en-US")
        browser.dark(False)
        browser.viewport(1280, 1000)
    assert len(shots) == 8 and all(p.stat().st_size > 5000 for p in shots)
    assert browser.errors == []


BUSY = """(() => {{ const real = window.fetch; let left = {n};
  window.fetch = (url, opts) => (String(url).startsWith('/api/energy') && left-- > 0)
    ? Promise.resolve(new Response('{{"error": "busy"}}', {{status: 429, headers: {{'Retry-After': '0.2'}}}}))
    : real(url, opts); return true; }})()"""


def test_a_busy_server_is_asked_again(site) -> None:  # type: ignore[no-untyped-def]
    """Two 429s (the server's limit on energy answers) are waited out as Retry-After says; the chart comes."""
    browser, base = site
    browser.goto(base + "/energy")
    drawn(browser, today().isoformat())
    browser.evaluate(BUSY.format(n=2))
    reset(browser)
    browser.evaluate("document.querySelector('button[data-period=week]').click(); true")
    assert int(drawn(browser, (today() - timedelta(days=today().weekday())).isoformat())["slots"]) == 7


def test_a_server_that_stays_busy_is_said_in_words(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.language("de-DE")
    try:
        browser.goto(base + "/energy")
        drawn(browser, today().isoformat())
        browser.evaluate(BUSY.format(n=99))
        browser.evaluate("document.querySelector('button[data-period=month]').click(); true")
        info = browser.wait_for("document.getElementById('energy-info').textContent.includes('ausgelastet')"
                                " && document.getElementById('energy-info').textContent")
        assert "busy" not in info
    finally:
        browser.language("en-US")
