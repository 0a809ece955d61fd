"""The acquisition service with a commit window, on real ptys: a telegram is live within
2 s (store and HTTPS API) while it waits in RAM; SIGTERM commits everything; kill -9 loses at
most one window and the next start says when the last commit was."""

from __future__ import annotations

import signal
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

from acquirehelp import head, start, stop, telegram_count, wait_for, write_config
from pyhm.acquire.simulate import PtyMeter
from pyhm.simulator import SimulatedMeter
from pyhm.store import Query
from browser import Browser, chromium
from webhelp import PASSWORD, Server

POWER = "1-0:16.7.0*255"


def live_count(db: Path, server_id: bytes) -> int:
    """Telegrams a reader sees (committed or live) for a meter, by its power series."""
    q = Query(db)
    try:
        m = q.meter(server_id.hex())
        return sum(1 for _ in q.raw(q.find_series(m.id, POWER), 0, 2**62))
    except LookupError:
        return 0
    finally:
        q.close()


def live_head(db: Path, serial: str) -> bool:
    """Is the head read now, by a running acquisition (its live store)?"""
    q = Query(db)
    try:
        live = q.live()
        return live is not None and any(h["serial"] == serial and h["state"] == "reading" for h in live.heads)
    finally:
        q.close()


def test_live_within_two_seconds_and_sigterm_commits_all(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, stall=60, commit_seconds=60)
    db = tmp_path / "pyhm.db"
    sim = SimulatedMeter(7)
    meter = PtyMeter(tmp_path / "heads", "LIVE", sim)
    proc = start(cfg)
    web = None
    sent = 0
    try:
        wait_for(lambda: head(db, "LIVE"), what="head found")
        assert meter.send()
        wait_for(lambda: telegram_count(db, sim.server_id) == 1, what="a new meter committed at once")
        web = Server(tmp_path, db)
        lags = []
        for n in range(2, 12):
            assert meter.send()
            sent = time.monotonic()
            wait_for(lambda: live_count(db, sim.server_id) == n, timeout=2, what=f"telegram {n} live")
            status, data = web.get_json("/api/meters", auth=PASSWORD)
            assert status == 200
            (card,) = data["meters"]
            assert card["power"]["value"] == Decimal(sim.power_cw).scaleb(-2)  # the newest, over HTTPS
            assert card["head"] == {"serial": "LIVE", "state": "reading", "present": True}  # before any commit of it
            lags.append(time.monotonic() - sent)
            time.sleep(0.2)
        assert max(lags) < 2
        end = time.monotonic() + 17  # longer than /healthz's 15 s, shorter than the window
        while time.monotonic() < end:
            assert meter.send()
            time.sleep(1)
        status, health = web.get_json("/healthz", auth=None)
        assert status == 200 and health["status"] == "ok" and health["age_s"] < 2
        sent = 11 + 17
        assert telegram_count(db, sim.server_id) == 1  # the rest waits in RAM: not one disk commit
    finally:
        if web is not None:
            web.stop()
        err = stop(proc)
        meter.unplug()
    assert telegram_count(db, sim.server_id) == sent  # SIGTERM: everything committed
    assert "committing every 60 s" in err and "Traceback" not in err


def test_kill9_loses_at_most_one_window(tmp_path: Path) -> None:
    window = 3
    cfg = write_config(tmp_path, stall=60, commit_seconds=window)
    db = tmp_path / "pyhm.db"
    sim = SimulatedMeter(8)
    meter = PtyMeter(tmp_path / "heads", "KILL", sim)
    proc = start(cfg)
    sent = 0
    try:
        wait_for(lambda: head(db, "KILL"), what="head found")
        end = time.monotonic() + 3 * window + 0.5
        while time.monotonic() < end:
            assert meter.send()
            sent += 1
            time.sleep(0.25)
        wait_for(lambda: live_count(db, sim.server_id) == sent, what="all live")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = telegram_count(db, sim.server_id)
    assert live_count(db, sim.server_id) == stored  # the killed writer's RAM is not shown as data
    per_window = window / 0.25
    assert sent - per_window - 2 <= stored < sent, (sent, stored)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # The next start says when the last commit was, and goes on.
    proc = start(cfg)
    try:
        wait_for(lambda: live_head(db, "KILL"), what="head read again")
        assert meter.send()
        wait_for(lambda: live_count(db, sim.server_id) == stored + 1, what="reading again")
    finally:
        err = stop(proc)
        meter.unplug()
    assert "the last commit before this start was at" in err
    assert telegram_count(db, sim.server_id) == stored + 1


def test_the_dashboard_shows_a_new_telegram_within_two_seconds(tmp_path: Path) -> None:
    """In a real browser, with the 60 s window: the card's power is the telegram just sent."""
    assert chromium() is not None, "chromium is missing (scripts/dev installs it)"
    cfg = write_config(tmp_path, stall=60, commit_seconds=60)
    db = tmp_path / "pyhm.db"
    sim = SimulatedMeter(9)
    meter = PtyMeter(tmp_path / "heads", "DASH", sim)
    proc = start(cfg)
    web = browser = None
    try:
        wait_for(lambda: head(db, "DASH"), what="head found")
        assert meter.send()
        wait_for(lambda: telegram_count(db, sim.server_id) == 1, what="a new meter committed at once")
        web = Server(tmp_path, db)
        browser = Browser()
        base = f"https://127.0.0.1:{web.port}"
        browser.log_in(base, PASSWORD)
        lags = []
        for _ in range(5):
            assert meter.send()
            sent = time.monotonic()
            watts = abs(sim.power_cw) / 100  # the card shows the size; "import"/"export" beside it
            shown = browser.wait_for("Math.abs(Number(document.querySelector('[data-field=\"power\"]').textContent"
                                     f".replace(/[^0-9]/g, '')) - {watts}) <= 0.5", timeout=5)
            assert shown
            lags.append(time.monotonic() - sent)
            time.sleep(1.2)
        assert max(lags) < 2, lags
        assert telegram_count(db, sim.server_id) == 1  # all of them still waiting in RAM
    finally:
        if browser is not None:
            browser.close()
        if web is not None:
            web.stop()
        stop(proc)
        meter.unplug()
