"""The UI in a real browser (headless chromium over DevTools), against the real HTTPS server and
a database that a real writer keeps feeding: one meter live, one that stopped. Charts obey the
chosen range and zoom, gaps stay gaps, old values say their age, no page is wider than a phone,
one locale per page, WCAG AA contrast in light and dark. Screenshots go to out/screenshots/."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from browser import Browser, chromium
from pyhm.store import Writer
from pyhm.store.writer import HeadStats
from storehelp import telegram
from webhelp import Server, build_db

OUT = Path(os.environ.get("PYHM_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "out")) / "screenshots"
PASSWORD = "browser test password"
PAGES = ["/", "/meter/1", "/status", "/login", "/nothing"]


class Feed(threading.Thread):
    """The acquisition, for the first meter only: a telegram a second through a real writer,
    after a pause of more than a few telegrams (a gap the charts must show)."""

    def __init__(self, db: Path, meter: Any) -> None:
        super().__init__(daemon=True)
        self.db, self.meter, self.stop = db, meter, threading.Event()
        self.gap_ms = (0, 0)

    def run(self) -> None:
        w = Writer(self.db)
        last = w.db.execute("SELECT MAX(ts_ms) FROM telegrams").fetchone()[0]
        self.stop.wait(max(0.0, (last + 30_000) / 1000 - time.time()))
        self.gap_ms = (last, int(time.time() * 1000))
        frames = 0
        while not self.stop.is_set():
            server, readings = telegram(self.meter)
            now = int(time.time() * 1000)
            w.add(server, readings, now)
            frames += 1
            w.report_heads([
                HeadStats("A10K3F2D", "/dev/ttyUSB0", True, "reading", server, frames, 2, 117, now, None),
                HeadStats("B20X9Q7Z", "/dev/ttyUSB1", False, "gone", self.meter.server_id[::-1], 86_400, 31, 4_096,
                          last - 1000, "serial port vanished: [Errno 19] No such device: '/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_B20X9Q7Z-if00-port0'"),
            ])
            w.commit()
            self.stop.wait(1)
        w.close()


@pytest.fixture(scope="module")
def _site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Browser, str, Feed]]:
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    tmp = tmp_path_factory.mktemp("browser")
    meters = build_db(tmp / "pyhm.db", int(time.time() * 1000))
    feed = Feed(tmp / "pyhm.db", meters[0])
    feed.start()
    server = Server(tmp, password=PASSWORD)
    browser = Browser()
    base = f"https://127.0.0.1:{server.port}"
    browser.log_in(base, PASSWORD)
    yield browser, base, feed
    browser.close()
    feed.stop.set()
    feed.join(timeout=10)
    server.stop()


@pytest.fixture
def site(_site: Tuple[Browser, str, Feed]) -> Tuple[Browser, str, Feed]:
    """The module's browser, its error list cleared for this test."""
    _site[0].errors.clear()
    _site[0].requests.clear()
    return _site


def _meter_page(browser: Browser, base: str) -> None:
    browser.goto(base + "/meter/1")
    browser.wait_for("document.getElementById('chart').dataset.xmin && Number(document.getElementById('bars').dataset.bars) >= 1")


def _status_with_heads(browser: Browser, base: str) -> None:
    """The status page once the feed has reported its two heads (it starts after its pause)."""
    end = time.monotonic() + 60
    browser.goto(base + "/status")
    while browser.evaluate("document.querySelectorAll('table.heads tr').length") < 3:
        assert time.monotonic() < end, "the feed reported no heads"
        time.sleep(1)
        browser.goto(base + "/status")


def _chart(browser: Browser) -> dict:
    return browser.evaluate("Object.assign({}, document.getElementById('chart').dataset,"
                            " {xticks: document.querySelector('#chart .uplot').dataset.xticks})")


def test_dashboard_live_and_stale(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    browser.errors.clear()
    browser.goto(base + "/")
    assert browser.wait_for("document.querySelectorAll('article.meter').length") == 2
    power = browser.evaluate("document.querySelector('[data-meter=\"1\"] [data-field=power]').textContent")
    assert re.fullmatch(r"-?[\d,.\u202f ]+", power)
    # The meter that stopped says since when and is greyed within a few telegrams' time.
    browser.wait_for("document.querySelector('[data-meter=\"2\"]').classList.contains('stale')", timeout=30)
    note = browser.evaluate("document.querySelector('[data-meter=\"2\"] [data-field=stale]').textContent")
    assert re.fullmatch(r"no data since \d{1,2}:\d{2}( [AP]M)?", note), note
    # The fed meter comes back after its pause: live again at the next refresh.
    browser.wait_for("!document.querySelector('[data-meter=\"1\"]').classList.contains('stale')", timeout=40)
    colour = "getComputedStyle(document.querySelector('[data-meter=\"%s\"] .power .value')).color"
    assert browser.evaluate(colour % 2) != browser.evaluate(colour % 1)  # greyed
    assert browser.evaluate("document.querySelector('[data-meter=\"1\"] [data-field=stale]').hidden")
    assert not browser.evaluate("document.getElementById('acq-banner').classList.contains('show')")
    assert browser.errors == []


def test_meter_page_says_when_data_stopped(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    browser.goto(base + "/meter/2")
    browser.wait_for("document.getElementById('meter').classList.contains('stale')", timeout=30)
    assert browser.evaluate("document.querySelector('#meter [data-field=stale]').textContent").startswith("no data since ")
    browser.goto(base + "/meter/1")
    browser.wait_for("!document.getElementById('meter').classList.contains('stale')", timeout=40)


def test_means_have_the_meters_decimals(site) -> None:  # type: ignore[no-untyped-def]
    """Over 7 days the chart shows minute means; its table and legend give them with the
    decimals the meter sends (2,840.64 W), not the mean's (2,840.6417 W)."""
    browser, base, _ = site
    _meter_page(browser, base)
    raw = browser.evaluate("document.querySelector('[data-latest=\"1-0:16.7.0*255\"]').dataset.num")
    digits = len(raw.split(".")[1]) if "." in raw else 0
    browser.evaluate("document.getElementById('chart').dataset.xmin = ''; document.querySelector('[data-range=\"604800\"]').click();"
                     " document.getElementById('chart-data').open = true; true")
    browser.wait_for("document.getElementById('chart').dataset.xmin && document.getElementById('chart').dataset.resolution === 'minute'")
    cells = browser.wait_for("document.querySelectorAll('#chart-table tbody td').length > 10 &&"
                             " [...document.querySelectorAll('#chart-table tbody td')].map(td => td.textContent)")
    shown = {len(c.split(".")[1]) if "." in c else 0 for c in cells if c not in ("", "–")}
    assert shown == {digits}, (raw, cells[:5])
    assert browser.errors == []


def test_status_headers_keep_their_hour_together(site) -> None:  # type: ignore[no-untyped-def]
    """'Bytes skipped (1 h)' must not wrap as 'Bytes skipped (1' / 'h)'."""
    browser, base, _ = site
    _status_with_heads(browser, base)
    heads = browser.evaluate("[...document.querySelectorAll('table.heads th')].map(th => th.textContent)")
    hourly = [h for h in heads if "(1" in h]
    assert len(hourly) == 3 and all(h.endswith("\u00a0(1\u00a0h)") for h in hourly), heads
    lines = browser.evaluate("[...document.querySelectorAll('table.heads th')].filter(th => th.textContent.includes('(1'))"
                             ".map(th => { const s = document.createRange();"
                             " s.setStart(th.firstChild, th.textContent.indexOf('(1')); s.setEnd(th.firstChild, th.textContent.length);"
                             " return s.getClientRects().length; })")
    assert lines == [1, 1, 1], lines


def test_latest_values_keep_their_decimals(site) -> None:  # type: ignore[no-untyped-def]
    """A voltage of 230.0 V arrives in JSON as 230; the live table still says 230.0 like its neighbours."""
    browser, base, _ = site
    _meter_page(browser, base)
    cell = "document.querySelector('[data-latest=\"1-0:32.7.0*255\"]')"
    assert re.fullmatch(r"\d+\.\d", browser.evaluate(cell + ".textContent")), "the voltage has one decimal"
    browser.evaluate("""const real = window.fetch; window.fetch = async (...a) => {
      const r = await real(...a);
      if (!String(a[0]).startsWith('/api/meters/')) return r;
      const j = await r.json();
      j.series.forEach((s) => { if (s.obis === '1-0:32.7.0*255' && s.latest) s.latest.value = 230; });
      return new Response(JSON.stringify(j), { status: r.status, headers: { 'Content-Type': 'application/json' } });
    }; true""")
    assert browser.wait_for(cell + ".dataset.num === '230' && " + cell + ".textContent") == "230.0"
    assert browser.errors == []


@pytest.mark.parametrize("preset, days", [("604800", 7), ("2592000", 30), ("31536000", 365)])
def test_the_x_axis_is_the_chosen_range(site, preset: str, days: int) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    _meter_page(browser, base)
    browser.evaluate(f"document.getElementById('chart').dataset.xmin = ''; document.querySelector('[data-range=\"{preset}\"]').click(); true")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    c = _chart(browser)
    xmin, xmax = float(c["xmin"]), float(c["xmax"])
    assert abs((xmax - xmin) - days * 86_400_000) < 1000  # one day of data, yet the whole range
    assert abs(xmax - time.time() * 1000) < 30_000
    assert browser.evaluate(f"document.querySelector('[data-range=\"{preset}\"]').getAttribute('aria-pressed')") == "true"
    browser.screenshot(OUT / f"meter-{days}d.png")
    bars = browser.evaluate("Object.assign({}, document.getElementById('bars').dataset)")
    assert abs(float(bars["xmax"]) - float(bars["xmin"]) - 31 * 86_400_000) < 1000
    assert browser.errors == []


@pytest.mark.parametrize("splits, labels", [([0, 2.5, 5, 7.5, 10], "0.0|2.5|5.0|7.5|10.0"),
                                             ([0, 0.25, 0.5], "0.00|0.25|0.50"), ([0, 500, 1000], "0|500|1,000")])
def test_axis_labels_keep_the_steps_decimals(site, splits: list, labels: str) -> None:  # type: ignore[no-untyped-def]
    """A 2.5 kWh step is labelled 7.5, not 8: the labels must not round away the step."""
    browser, base, _ = site
    browser.goto(base + "/meter/1")
    browser.wait_for("document.readyState === 'complete'")
    out = browser.evaluate(f"numberValues({{root: document.createElement('div')}}, {splits}, 1).join('|')")
    assert out == labels


@pytest.mark.parametrize("seconds, resolution", [(3600, "raw"), (86400, "raw"), (604800, "minute"), (2592000, "hour")])
def test_export_links_pick_a_resolution_for_the_range(site, seconds: int, resolution: str) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    _meter_page(browser, base)
    browser.evaluate(f"document.querySelector('[data-range=\"{seconds}\"]').click(); true")
    hrefs = browser.wait_for("(() => { const links = [...document.querySelectorAll('#downloads a')].map(a => new URL(a.href));"
                             f" return links.length && links.every(u => u.searchParams.get('to') - u.searchParams.get('from') === {seconds * 1000})"
                             " && links.map(u => u.href); })()")
    assert {h.split("format=")[1].split("&")[0] for h in hrefs} == {"csv", "json"}
    assert all(f"resolution={resolution}" in h for h in hrefs)


def test_a_gap_is_drawn_as_a_gap(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, feed = site
    while not feed.gap_ms[1] or time.time() * 1000 < feed.gap_ms[1] + 20_000:  # the pause, then data again
        time.sleep(0.5)
    _meter_page(browser, base)
    browser.evaluate("document.getElementById('chart').dataset.xmin = ''; document.querySelector('[data-range=\"3600\"]').click(); true")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    c = _chart(browser)
    browser.screenshot(OUT / "meter-1h-gap.png")
    assert c["resolution"] == "raw" and int(c["gaps"]) >= 1
    # The null sits inside the pause of the feed, nowhere else.
    times = browser.evaluate("""(async () => {
        const r = await (await fetch('/api/series?meter=1&obis=1-0:16.7.0*255&from=' + Math.round(Number(document.getElementById('chart').dataset.xmin))
                  + '&to=' + Math.round(Number(document.getElementById('chart').dataset.xmax)) + '&points=1000', {headers: {'X-Requested-With': 'pyhm'}})).json();
        return r.points.map(p => p.t); })()""")
    usual = sorted(b - a for a, b in zip(times, times[1:]))[len(times) // 2]
    ((a, b),) = [(a, b) for a, b in zip(times, times[1:]) if b - a > 3.5 * usual]
    assert abs(a - feed.gap_ms[0]) <= usual and abs(b - feed.gap_ms[1]) <= 2 * usual


def test_zoom_and_step(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    _meter_page(browser, base)
    assert _chart(browser)["resolution"] == "minute"
    box = browser.evaluate("(() => { const r = document.querySelector('#chart .u-over').getBoundingClientRect();"
                           " return [r.left, r.top, r.width, r.height]; })()")
    left, top, width, height = box
    browser.requests.clear()
    browser.errors.clear()
    browser.evaluate("document.getElementById('chart').dataset.xmin = ''; true")
    x1 = left + width * 0.975
    browser.drag(x1, top + height / 2, x1 + width * 0.02, top + height / 2)  # about half an hour
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    c = _chart(browser)
    browser.screenshot(OUT / "meter-zoomed.png")
    span = float(c["xmax"]) - float(c["xmin"])
    assert 10 * 60_000 < span < 60 * 60_000
    assert c["resolution"] == "raw"  # the finer resolution for the smaller range
    assert browser.evaluate("document.querySelectorAll('[aria-pressed=true]').length") == 0
    series = [u for u in browser.requests if "/api/series" in u]
    assert series and all(re.search(r"&from=\d+&to=\d+&", u) for u in series), series
    browser.evaluate("document.getElementById('chart').dataset.xmin = ''; document.getElementById('back').click(); true")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    back = _chart(browser)
    assert abs((float(back["xmax"]) - float(back["xmin"])) - span) < 2
    assert abs(float(back["xmax"]) - (float(c["xmax"]) - span / 2)) < 2
    # The range inputs follow zoom and step, in the page's format (en-US: 12-hour clock).
    shown = browser.evaluate("[document.getElementById('from').value, document.getElementById('to').value]")
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d [AP]M", v) for v in shown), shown
    # A range typed in: wall times of the household's zone (UTC on this test server), in the
    # page's order or as ISO.
    browser.evaluate("document.getElementById('chart').dataset.xmin = '';"
                     "document.getElementById('from').value = '01/02/2026 03:04 AM'; document.getElementById('to').value = '2026-01-03 05:06';"
                     "document.getElementById('apply').click(); true")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    typed = _chart(browser)
    assert (int(typed["xmin"]), int(typed["xmax"])) == (1_767_323_040_000, 1_767_416_760_000)
    assert browser.evaluate("[document.getElementById('from').value, document.getElementById('to').value]") == \
        ["01/02/2026 03:04 AM", "01/03/2026 05:06 AM"]
    # An afternoon time in 12-hour form, and a range that runs backwards: an inline error, no request.
    browser.evaluate("document.getElementById('chart').dataset.xmin = '';"
                     "document.getElementById('from').value = '01/02/2026 2:30 pm'; document.getElementById('apply').click(); true")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    assert int(_chart(browser)["xmin"]) == 1_767_364_200_000
    browser.requests.clear()
    browser.evaluate("document.getElementById('from').value = '01/04/2026 00:00'; document.getElementById('apply').click(); true")
    assert browser.wait_for("!document.getElementById('range-error').hidden && document.getElementById('range-error').textContent") == \
        "The start of the range must be before its end."
    assert browser.evaluate("document.getElementById('from').getAttribute('aria-invalid')") == "true"
    assert not [u for u in browser.requests if "/api/series" in u]
    assert browser.errors == []


def test_several_series_one_axis_per_unit(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    _meter_page(browser, base)
    power_colour = browser.evaluate("getComputedStyle(document.querySelector('#series input[value=\"1-0:16.7.0*255\"]')"
                                    ".parentElement.querySelector('.swatch')).backgroundColor")
    for code in ("1-0:32.7.0*255", "1-0:52.7.0*255", "1-0:36.7.0*255"):  # two voltages, one phase power
        browser.evaluate(f"document.getElementById('chart').dataset.xmin = ''; document.querySelector('#series input[value=\"{code}\"]').click(); true")
        browser.wait_for("document.getElementById('chart').dataset.xmin")
    assert browser.evaluate("document.querySelectorAll('#chart .u-axis').length") == 3  # time, W, V
    assert browser.evaluate("getComputedStyle(document.querySelector('#series input[value=\"1-0:16.7.0*255\"]')"
                            ".parentElement.querySelector('.swatch')).backgroundColor") == power_colour
    assert browser.evaluate("document.querySelectorAll('#downloads a').length") == 8
    # Import and export have the colours they have on the dashboard and the Energy page.
    swatch = "getComputedStyle(document.querySelector('#series input[value=\"%s\"]').parentElement.querySelector('.swatch')).backgroundColor"
    page_colour = "(() => { const e = document.createElement('i'); e.style.background = 'var(%s)'; document.body.append(e);" \
                  " const c = getComputedStyle(e).backgroundColor; e.remove(); return c; })()"
    assert browser.evaluate(swatch % "1-0:1.8.0*255") == browser.evaluate(page_colour % "--in")
    assert browser.evaluate(swatch % "1-0:2.8.0*255") == browser.evaluate(page_colour % "--out")
    assert power_colour not in (browser.evaluate(page_colour % "--in"), browser.evaluate(page_colour % "--out"))
    browser.evaluate("document.querySelectorAll('#series input:checked').forEach(b => b.click()); true")
    browser.wait_for("document.getElementById('downloads').hidden")
    assert browser.evaluate("document.querySelectorAll('a[href=\"#\"]').length") == 0
    # Each chart has its data as a text table.
    browser.evaluate("document.querySelector('#series input[value=\"1-0:16.7.0*255\"]').click(); document.getElementById('chart-data').open = true; true")
    assert browser.wait_for("document.querySelectorAll('#chart-table tbody tr').length") > 100
    browser.evaluate("document.getElementById('bars-data').open = true; true")
    assert browser.wait_for("document.querySelectorAll('#bars-table tbody tr').length") >= 1
    assert browser.evaluate("[...document.querySelectorAll('select')].every(s => s.labels.length > 0)")
    assert browser.errors == []


@pytest.mark.parametrize("width", [360, 390])
def test_no_page_is_wider_than_a_phone(site, width: int) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    browser.viewport(width, 800, mobile=True)
    try:
        for page in PAGES:
            browser.goto(base + page)
            time.sleep(0.5)
            assert browser.evaluate("document.documentElement.scrollWidth") <= width, page
        _status_with_heads(browser, base)  # two heads, one with a long error
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        # One head per block, each "name: value" line in the same type size.
        sizes = browser.evaluate("[...document.querySelectorAll('table.heads td:not(:first-child)')]"
                                 ".filter(td => td.offsetHeight).map(td => getComputedStyle(td).fontSize)")
        assert len(sizes) > 10 and len(set(sizes)) == 1, sizes
    finally:
        browser.viewport(1280, 1000)


def test_one_locale_per_page(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    try:
        browser.language("de-DE")
        browser.goto(base + "/")
        assert browser.evaluate("navigator.language") == "de-DE"
        today = browser.evaluate("document.querySelector('[data-meter=\"1\"] [data-field=\"today-import\"]').textContent")
        assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d\d", today), today
        browser.goto(base + "/status")
        times = browser.evaluate("[...document.querySelectorAll('time')].map(t => t.textContent)")
        assert times and all(re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d", t) for t in times), times
        text = browser.evaluate("document.body.innerText")
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)  # no raw ISO left
        _meter_page(browser, base)
        ticks = _chart(browser)["xticks"]
        assert re.search(r"\b([01]\d|2[0-3]):\d\d\b", ticks) and not re.search(r"AM|PM|am|pm", ticks), ticks
        browser.language("en-US")
        _meter_page(browser, base)
        assert re.search(r"AM|PM", _chart(browser)["xticks"])
    finally:
        browser.language("en-US")
    assert browser.errors == []


CONTRAST = """(() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([\\d.]+),\\s*([\\d.]+),\\s*([\\d.]+)(?:,\\s*([\\d.]+))?/); return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0.5) return c; } return [255, 255, 255, 1]; };
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || !visible(e) || e.closest(':disabled') || e.closest('.uplot canvas')) continue;
    const s = getComputedStyle(e);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.6 && +s.fontWeight >= 700);
    const r = ratio(parse(s.color), bg(e));
    if (r < (large ? 3 : 4.5)) bad.push(`text ${e.tagName}.${e.className} "${n.textContent.trim().slice(0, 20)}" ${r.toFixed(2)}`);
  }
  for (const e of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]), select, button:not(.link)')) {
    if (!visible(e) || e.disabled) continue;
    const s = getComputedStyle(e);
    const own = parse(s.backgroundColor), around = bg(e.parentElement);
    const edge = Math.max(ratio(parse(s.borderTopColor), around), own && own[3] > 0.5 ? ratio(own, around) : 0);
    if (edge < 3) bad.push(`control ${e.tagName}#${e.id} ${edge.toFixed(2)}`);
  }
  return bad;
})()"""


@pytest.mark.parametrize("dark", [False, True])
def test_contrast_wcag_aa(site, dark: bool) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    browser.dark(dark)
    try:
        for page in PAGES:
            browser.goto(base + page)
            if page == "/meter/1":
                browser.wait_for("document.getElementById('chart').dataset.xmin")
                browser.evaluate("document.getElementById('chart-data').open = true; true")
                grid = browser.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--grid').trim()")
                assert _chart(browser)["grid"] == grid  # the chart's grid follows the colour scheme
            time.sleep(0.3)
            assert browser.evaluate(CONTRAST) == [], page
    finally:
        browser.dark(False)


def test_the_chart_follows_a_switch_to_dark(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    _meter_page(browser, base)
    light = _chart(browser)["grid"]
    browser.evaluate("document.getElementById('chart').dataset.xmin = ''; true")
    browser.dark(True)
    try:
        browser.wait_for("document.getElementById('chart').dataset.xmin")
        assert _chart(browser)["grid"] != light
    finally:
        browser.dark(False)


def test_login_lockout_counts_down(tmp_path: Path) -> None:
    server = Server(tmp_path, password=PASSWORD)
    browser = Browser()
    try:
        for _ in range(5):
            server.request("POST", "/login", body="password=wrong")
        browser.goto(f"https://127.0.0.1:{server.port}/login")
        browser.evaluate("document.getElementById('password').value = 'wrong'; document.querySelector('form').submit(); true")
        browser.wait_for("!!document.getElementById('countdown')")
        first = int(browser.evaluate("document.getElementById('countdown').textContent"))
        browser.wait_for("document.querySelector('button[type=submit]').disabled")
        time.sleep(2.2)
        assert int(browser.evaluate("document.getElementById('countdown').textContent")) <= first - 2
        assert "sudo pyhm passwd" in browser.evaluate("document.body.innerText")
        browser.screenshot(OUT / "login-locked.png")
        assert [e for e in browser.errors if "status of 429" not in e] == []
    finally:
        browser.close()
        server.stop()


def test_screenshots(site) -> None:  # type: ignore[no-untyped-def]
    """Every page at desktop and phone width, light and dark, English and German."""
    browser, base, _ = site
    shots: List[Path] = []
    try:
        for lang in ("en-US", "de-DE"):
            browser.language(lang)
            for dark in (False, True):
                browser.dark(dark)
                for width in (1280, 390):
                    browser.viewport(width, 1000 if width > 500 else 844, mobile=width < 500)
                    for page in PAGES:
                        browser.goto(base + page)
                        if page.startswith("/meter"):
                            browser.wait_for("document.getElementById('chart').dataset.xmin")
                        time.sleep(0.4)
                        name = (page.strip("/").replace("/", "-") or "dashboard")
                        path = OUT / f"{name}-{width}-{'dark' if dark else 'light'}-{lang}.png"
                        browser.screenshot(path)
                        shots.append(path)
    finally:
        browser.language("en-US")
        browser.dark(False)
        browser.viewport(1280, 1000)
    assert all(p.stat().st_size > 5000 for p in shots)
    assert [e for e in browser.errors if not e.endswith("/nothing")] == []
