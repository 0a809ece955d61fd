"""German and English in a real browser: a German page shows no word that only the English
catalogue has, an English page none that only the German one has; numbers, dates and the typed
range follow the page's language even when Chromium's own locale is another one, and a range
typed on a daylight-saving day is exactly the hours typed (Europe/Berlin)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Set, Tuple
from zoneinfo import ZoneInfo

import pytest

from browser import Browser, chromium
from pyhm.web import api, i18n
from test_i18n import _po_entries
from test_web_browser import OUT, PASSWORD, _chart, _meter_page, _site, site  # noqa: F401 - fixtures
from webhelp import Server, build_db

WORD = re.compile(r"[^\W\d_]{2,}")

# Every text a person reads or hears: visible text nodes (not in <code> or translate="no", which
# hold commands, names and identifiers) and the aria-label, title and placeholder of visible elements.
VISIBLE_TEXT = """(() => {
  const out = [];
  const shown = (e) => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const skip = (e) => e.closest('code, [translate=no], script, style');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && shown(n.parentElement) && !skip(n.parentElement)) out.push(n.textContent);
  }
  for (const e of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    if (!shown(e) || skip(e)) continue;
    for (const a of ['aria-label', 'title', 'placeholder']) if (e.getAttribute(a)) out.push(e.getAttribute(a));
  }
  // AM/PM are the locale's own words (Intl), not the catalogue's.
  const periods = new Intl.DateTimeFormat(document.documentElement.lang, { hour: 'numeric', hour12: true })
    .formatToParts(Date.UTC(2026, 0, 1, 14)).concat(new Intl.DateTimeFormat(document.documentElement.lang, { hour: 'numeric', hour12: true })
    .formatToParts(Date.UTC(2026, 0, 1, 2))).filter((p) => p.type === 'dayPeriod').map((p) => p.value);
  return out.map((s) => periods.reduce((t, p) => t.split(p).join(' '), s));
})()"""


def _words(text: str) -> Set[str]:
    return {w.lower() for w in WORD.findall(re.sub(r"\{\w+\}", " ", text))}


def _only() -> Tuple[Set[str], Set[str]]:
    """Words of the English msgids that no German msgstr has, and the other way round."""
    english: Set[str] = set()
    german: Set[str] = set()
    for (singular, plural), entry in _po_entries().items():
        english |= _words(singular) | _words(plural)
        german |= set().union(*(_words(v) for k, v in entry.items() if k.startswith("msgstr")))
    return english - german, german - english


ENGLISH_ONLY, GERMAN_ONLY = _only()


def test_the_word_lists_are_meaningful() -> None:
    """The check below can fail: the lists hold the UI's everyday words."""
    assert i18n.all_marked()
    assert {"consumption", "series", "power", "time", "since", "download"} <= ENGLISH_ONLY
    assert {"verbrauch", "leistung", "zeit", "seit", "bezug", "herunterladen"} <= GERMAN_ONLY


def _page_words(browser: Browser, base: str, page: str) -> Set[str]:
    browser.goto(base + page)
    if page in ("/meter/1", "/meter/2"):
        browser.wait_for("!!(document.getElementById('chart').dataset.xmin && document.querySelector('#downloads a'))")
        browser.evaluate("document.getElementById('chart-data').open = true; document.getElementById('bars-data').open = true;"
                         "document.getElementById('from').value = 'x'; document.getElementById('apply').click(); true")
        browser.wait_for("!!document.querySelector('#chart-table th') && !!document.querySelector('#bars-table th')"
                         " && !document.getElementById('range-error').hidden")
    end = time.monotonic() + 60
    while page == "/status" and browser.evaluate("document.querySelectorAll('table.heads tr').length") < 3:
        assert time.monotonic() < end, "the feed reported no heads"  # it starts after its pause
        time.sleep(1)
        browser.goto(base + page)
    time.sleep(0.3)
    return set().union(*(_words(t) for t in browser.evaluate(VISIBLE_TEXT)))


@pytest.mark.parametrize("page", ["/meter/1", "/meter/2", "/status", "/login", "/nothing", "/meter/99"])
def test_each_page_speaks_one_language(site, page: str) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    try:
        browser.language("de-DE")
        german = _page_words(browser, base, page)
        browser.language("en-US")
        english = _page_words(browser, base, page)
    finally:
        browser.language("en-US")
    assert len(german) > 3 and len(english) > 3
    assert not german & ENGLISH_ONLY, f"English words in the German page {page}: {sorted(german & ENGLISH_ONLY)}"
    assert not english & GERMAN_ONLY, f"German words in the English page {page}: {sorted(english & GERMAN_ONLY)}"
    assert [e for e in browser.errors if "/login" not in e and not e.endswith(page)] == []


def test_german_pages_fit_a_phone(site) -> None:  # type: ignore[no-untyped-def]
    """German words are longer: still no page wider than a 360 px phone."""
    browser, base, _ = site
    browser.viewport(360, 800, mobile=True)
    try:
        browser.language("de-DE")
        for page in ("/meter/1", "/status", "/login", "/nothing"):
            browser.goto(base + page)
            if page == "/meter/1":
                browser.wait_for("document.getElementById('chart').dataset.xmin")
                browser.evaluate("document.getElementById('from').value = 'x'; document.getElementById('apply').click(); true")
                browser.wait_for("!document.getElementById('range-error').hidden")
                browser.screenshot(OUT / "meter-custom-range-error-360-light-de-DE.png")
            time.sleep(0.3)
            assert browser.evaluate("document.documentElement.scrollWidth") <= 360, page
    finally:
        browser.language("en-US")
        browser.viewport(1280, 1000)


def test_message_pages_are_translated_and_the_api_stays_english(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    try:
        browser.language("de-DE")
        browser.goto(base + "/meter/99")
        assert browser.evaluate("[document.querySelector('h1').textContent, document.querySelector('main p').textContent]") == \
            ["Nicht gefunden", "Diesen Zähler gibt es nicht."]
        browser.goto(base + "/nothing")
        assert browser.evaluate("document.querySelector('main p').textContent") == "Unter dieser Adresse gibt es keine Seite."
        error = browser.evaluate("fetch('/api/series?meter=99&obis=1-0:1.8.0', {headers: {'X-Requested-With': 'pyhm'}}).then(r => r.json())")
        assert error == {"error": 'no meter "99"'}
    finally:
        browser.language("en-US")


def test_series_names_are_translated_as_pyhm_obis_writes_them() -> None:
    """Every name pyhm.obis gives is in the catalogue; a tariff register's name is built alike."""
    from pyhm import obis
    names = set(obis._ELECTRICITY.values()) | set(obis._EXACT.values()) | set(obis._ENERGY_KIND.values())
    assert names <= set(api.SERIES_NAMES)
    german = i18n.translations("de").gettext
    assert api.series_name(obis.obis_name("1-0:2.8.1*255"), german) == "Einspeisung Tarif 1"
    assert api.series_name(obis.obis_name("1-0:16.7.0*255"), german) == "Leistung"
    assert api.series_name("Something new", german) == "Something new"


def _mixed(browser: Browser) -> None:
    """A German page in a Chromium whose own locale is American English."""
    ua = browser.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
    browser.call("Network.setUserAgentOverride", userAgent=ua, acceptLanguage="de-DE,de;q=0.9")
    browser.call("Emulation.setLocaleOverride", locale="en-US")


def test_formats_follow_the_page_not_chromium(site) -> None:  # type: ignore[no-untyped-def]
    browser, base, _ = site
    try:
        _mixed(browser)
        _meter_page(browser, base)
        assert browser.evaluate("document.documentElement.lang") == "de-DE"
        assert browser.evaluate("new Intl.NumberFormat().resolvedOptions().locale") == "en-US"  # Chromium's own
        values = browser.evaluate("[...document.querySelectorAll('td.value')].map(e => [e.dataset.num, e.textContent])")
        decimals = [shown for raw, shown in values if "." in raw]
        assert decimals and all(re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d+", v) for v in decimals), values
        ticks = _chart(browser)["xticks"]
        assert re.search(r"\b([01]\d|2[0-3]):\d\d\b", ticks) and not re.search(r"AM|PM", ticks), ticks
        shown = browser.evaluate("[document.getElementById('from').value, document.getElementById('to').value]")
        assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", v) for v in shown), shown
        assert browser.evaluate("document.getElementById('from').placeholder") == "TT.MM.JJJJ\u00a0hh:mm"
        browser.goto(base + "/status")
        times = browser.evaluate("[...document.querySelectorAll('time')].map(t => t.textContent)")
        assert times and all(re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d", t) for t in times), times
        assert "Leseköpfe" in browser.evaluate("document.body.innerText")
    finally:
        browser.language("en-US")
    assert browser.errors == []


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Browser, str]]:
    """A household in Europe/Berlin, seen from a German page in an American Chromium."""
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    tmp = tmp_path_factory.mktemp("berlin")
    build_db(tmp / "pyhm.db", int(time.time() * 1000), day=False)
    server = Server(tmp, password=PASSWORD, timezone="Europe/Berlin")
    browser = Browser()
    base = f"https://127.0.0.1:{server.port}"
    _mixed(browser)
    browser.goto(base + "/login")
    browser.evaluate(f"document.getElementById('password').value = '{PASSWORD}'; document.querySelector('form').submit(); true")
    browser.wait_for("location.pathname === '/' && document.readyState === 'complete'")
    yield browser, base
    browser.close()
    server.stop()


def _ms(*wall: int) -> int:
    return int(datetime(*wall, tzinfo=timezone.utc).timestamp() * 1000)


def _apply(browser: Browser, start: str, end: str) -> None:
    browser.evaluate("document.getElementById('chart').dataset.xmin = '';"
                     f"document.getElementById('from').value = '{start}'; document.getElementById('to').value = '{end}';"
                     "document.getElementById('apply').click(); true")


def test_a_typed_range_on_the_dst_day_is_exactly_that_range(berlin) -> None:  # type: ignore[no-untyped-def]
    browser, base = berlin
    browser.errors.clear()
    browser.goto(base + "/meter/1")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    # The inputs show the drawn range as the household's wall time, in the German format.
    xmax = int(_chart(browser)["xmax"])
    expected = datetime.fromtimestamp(xmax / 1000, tz=ZoneInfo("Europe/Berlin")).strftime("%d.%m.%Y %H:%M")
    assert browser.evaluate("document.getElementById('to').value") == expected
    # 29 March 2026: 01:00 CET to 04:00 CEST are two real hours (02:00-03:00 does not exist).
    _apply(browser, "29.03.2026 01:00", "29.03.2026 04:00")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    c = _chart(browser)
    assert (int(c["xmin"]), int(c["xmax"])) == (_ms(2026, 3, 29, 0, 0), _ms(2026, 3, 29, 2, 0))
    assert browser.evaluate("[document.getElementById('from').value, document.getElementById('to').value]") == \
        ["29.03.2026 01:00", "29.03.2026 04:00"]
    assert "01:00" in c["xticks"] and "04:00" in c["xticks"] and "02:" not in c["xticks"], c["xticks"]
    assert browser.evaluate("document.getElementById('range-error').hidden")
    browser.evaluate("window.scrollTo(0, 0); true")
    browser.screenshot(OUT / "meter-custom-range-1280-light-de-DE.png")
    # ISO, and digits alone in the page's order (a phone's number pad), work too.
    _apply(browser, "2026-10-25 00:00", "260120270000")
    browser.wait_for("document.getElementById('chart').dataset.xmin")
    c = _chart(browser)
    assert (int(c["xmin"]), int(c["xmax"])) == (_ms(2026, 10, 24, 22, 0), _ms(2027, 1, 25, 23, 0))
    # A date that does not exist, then a range backwards: an inline error on the input, in German.
    browser.requests.clear()
    _apply(browser, "31.02.2026 10:00", "01.03.2026 10:00")
    error = browser.wait_for("!document.getElementById('range-error').hidden && document.getElementById('range-error').textContent")
    assert error.startswith("Geben Sie eine Zeit als TT.MM.JJJJ\u00a0hh:mm ein, zum Beispiel ") and re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d\.$", error)
    assert browser.evaluate("['from', 'to'].map(i => document.getElementById(i).getAttribute('aria-invalid'))") == ["true", "false"]
    browser.screenshot(OUT / "meter-custom-range-error-1280-light-de-DE.png")
    _apply(browser, "02.03.2026 10:00", "01.03.2026 10:00")
    assert browser.wait_for("document.getElementById('range-error').textContent.startsWith('Der Beginn')")
    assert browser.evaluate("['from', 'to'].map(i => document.getElementById(i).getAttribute('aria-invalid'))") == ["true", "true"]
    assert not [u for u in browser.requests if "/api/series" in u]
    # A range that is fine again clears the error.
    _apply(browser, "01.03.2026 10:00", "02.03.2026 10:00")
    browser.wait_for("document.getElementById('chart').dataset.xmin && document.getElementById('range-error').hidden")
    assert browser.evaluate("document.getElementById('from').getAttribute('aria-invalid')") == "false"
    assert browser.errors == []


def test_typed_times_in_a_zone_whose_clocks_move_half_an_hour() -> None:
    """Lord Howe Island (UTC+10:30, +11 in summer): a wall time that comes twice is its first
    occurrence and one in the skipped half hour takes the offset before, as the server's
    localtime.to_ms; what the inputs show reads back to the same instant; a time past the
    year 9999 is "not a time", never a script error."""
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        build_db(Path(tmp) / "pyhm.db", int(time.time() * 1000), day=False)
        server = Server(Path(tmp), password=PASSWORD, timezone="Australia/Lord_Howe")
        browser = Browser()
        try:
            base = f"https://127.0.0.1:{server.port}"
            browser.goto(base + "/login")
            browser.evaluate(f"document.getElementById('password').value = '{PASSWORD}'; document.querySelector('form').submit(); true")
            browser.wait_for("location.pathname === '/' && document.readyState === 'complete'")
            browser.goto(base + "/meter/1")
            browser.wait_for("document.getElementById('chart').dataset.xmin")
            tz = ZoneInfo("Australia/Lord_Howe")
            from pyhm.localtime import to_ms
            for wall in ((2026, 4, 5, 1, 45), (2026, 4, 5, 1, 30), (2026, 10, 4, 2, 15), (2026, 10, 4, 2, 0), (2026, 6, 1, 12, 0)):
                typed = "%04d-%02d-%02d %02d:%02d" % wall
                assert browser.evaluate(f"parseTyped('{typed}')") == to_ms(datetime(*wall), tz), typed
            first = to_ms(datetime(2026, 4, 5, 1, 45), tz)  # 14:45 UTC; at 15:15 UTC it is 01:45 again
            assert browser.evaluate(f"parseTyped(typedTime({first})) === {first} && parseTyped(typedTime({first + 1_800_000})) === {first}")
            assert browser.evaluate("parseTyped('9999-12-31 23:59') > 0 && parseTyped('10000-01-01 00:00') === null")
            assert browser.errors == []
        finally:
            browser.close()
            server.stop()
