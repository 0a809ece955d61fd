"""The UI in a real browser (headless chromium): the dashboard and the meter page render demo
data, the charts draw points, the console stays clean. Screenshots go to out/screenshots/."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from browser import Browser, chromium
from webhelp import Server, build_db

OUT = Path(os.environ.get("PYHM_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "out")) / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if chromium() is None:
        pytest.fail("chromium is missing (scripts/dev installs it)")
    tmp = tmp_path_factory.mktemp("browser")
    build_db(tmp / "pyhm.db", int(time.time() * 1000))
    server = Server(tmp, password="browser test password")
    browser = Browser()
    base = f"https://127.0.0.1:{server.port}"
    browser.goto(base + "/")
    assert browser.wait_for("location.pathname") == "/login"
    browser.evaluate("document.getElementById('password').value = 'browser test password';"
                     "document.querySelector('form').submit(); true")
    browser.wait_for("location.pathname === '/' && document.readyState === 'complete'")
    yield browser, base
    browser.close()
    server.stop()


def test_dashboard(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.goto(base + "/")
    assert browser.wait_for("document.querySelectorAll('article.meter').length") == 2
    power = browser.evaluate("document.querySelector('[data-field=power]').textContent")
    assert power and power != "–"
    running = browser.evaluate("fetch('/api/meters').then(r => r.json()).then(d => d.acquisition.running)")
    shown = browser.evaluate("document.getElementById('acq-banner').classList.contains('show')")
    assert shown is (not running)  # the banner says whether the acquisition is running
    time.sleep(6)  # one live refresh
    browser.screenshot(OUT / "dashboard.png")
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
    browser.goto(base + "/")
    width = browser.evaluate("document.querySelector('article.meter').getBoundingClientRect().width")
    assert 300 <= width <= 390  # a phone: the cards fill the screen, nothing wider than it
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    browser.screenshot(OUT / "dashboard-phone.png")
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)
    assert browser.errors == []


def test_meter_page_draws_charts(site) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.goto(base + "/meter/1")
    points = browser.wait_for("Number(document.getElementById('chart').dataset.points)")
    assert points > 100
    assert browser.wait_for("Number(document.getElementById('bars').dataset.bars)") >= 1
    assert browser.evaluate("document.querySelectorAll('#chart canvas').length") == 1
    browser.evaluate("document.querySelector('[data-range=\"3600\"]').click(); true")
    browser.wait_for("document.getElementById('chart-info').textContent.includes('raw')")
    browser.screenshot(OUT / "meter.png")
    browser.goto(base + "/status")
    browser.screenshot(OUT / "status.png")
    assert browser.errors == []


@pytest.mark.parametrize("seconds, resolution", [(3600, "raw"), (86400, "raw"), (604800, "minute"), (2592000, "hour")])
def test_export_links_pick_a_resolution_for_the_range(site, seconds: int, resolution: str) -> None:  # type: ignore[no-untyped-def]
    browser, base = site
    browser.goto(base + "/meter/1")
    browser.wait_for("Number(document.getElementById('chart').dataset.points)")
    browser.evaluate(f"document.querySelector('[data-range=\"{seconds}\"]').click(); true")
    href = browser.wait_for("(() => { const u = new URL(document.getElementById('csv').href);"
                            f" return u.searchParams.get('to') - u.searchParams.get('from') === {seconds * 1000} && u.href; }})()")
    assert f"resolution={resolution}" in href and "format=csv" in href
    assert browser.evaluate("document.getElementById('json').href").endswith(f"resolution={resolution}")
