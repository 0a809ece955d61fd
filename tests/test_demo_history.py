"""The demo's history: weeks of a house with PV and a heat pump, filled in through the store's
writer, read back through ``Query``, and the live meters going on from it without a jump."""

from __future__ import annotations

import logging
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from pyhm import demo
from pyhm.household import Household, clear_sky
from pyhm.localtime import local, midnight_ms, zone
from pyhm.simulator import ModelMeter
from pyhm.sml import decode_frame, read_frames
from pyhm.store.query import Query, Series

TZ = zone("Europe/Berlin")
NOW = datetime(2026, 12, 1, 13, 7, 30, tzinfo=TZ).timestamp()  # a Tuesday, early afternoon
WEEKS = 5
IMPORT, EXPORT, POWER = "1-0:1.8.0*255", "1-0:2.8.0*255", "1-0:16.7.0*255"
PHASES = ("1-0:36.7.0*255", "1-0:56.7.0*255", "1-0:76.7.0*255")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, List[ModelMeter]]:
    path = tmp_path_factory.mktemp("demo") / "pyhm.db"
    return path, demo.prepare(path, TZ, WEEKS, clock=lambda: NOW)


def samples(q: Query, meter_id: int, obis: str) -> Dict[int, Decimal]:
    return {ts: Decimal(v).scaleb(exp) for ts, v, exp in q.raw(q.find_series(meter_id, obis), 0, 1 << 62)}


def readings(q: Query, series: Series) -> Dict[int, Decimal]:
    """Every reading of a series since the history began: the raw telegrams of its first day
    are older than the 35 days they are kept, but each minute of the 15-minute and 1-minute
    steps holds one reading, which its minute rollup keeps exactly (the last of a counter, the
    sum of a gauge); then the raw ones."""
    out = {agg.start: Decimal(agg.last if agg.counter else agg.vsum).scaleb(agg.exp)
           for agg in q.rollups(series, "minute", 0, 1 << 62) if agg.n == 1}
    out.update(samples(q, series.meter_id, series.obis))
    return out


def test_weeks_of_history_with_day_totals_that_are_the_counters_differences(history: Tuple[Path, List[ModelMeter]]) -> None:
    path, meters = history
    q = Query(path, TZ)
    first = local(int(NOW * 1000), TZ).date() - timedelta(days=7 * WEEKS)
    assert [m.name for m in q.meters()] == ["House (PV)", "Heat pump"]
    for m, sim in zip(q.meters(), meters):
        assert m.server_id == sim.server_id and m.first_seen_ms == midnight_ms(first, TZ)
        for obis, now_dwh in ((IMPORT, sim.import_dwh), (EXPORT, sim.export_dwh)):
            counter = readings(q, q.find_series(m.id, obis))
            days = q.consumption(q.find_series(m.id, obis), "day", 0, int(NOW * 1000) + 1)
            # Every local day from the first one to today, each the difference of the counter's
            # last readings of that day and of the day before (exact, to the 0.1 Wh).
            assert [d for d, _ in days] == [first + timedelta(days=i) for i in range(7 * WEEKS + 1)]
            last_of: Dict[date, Decimal] = {}
            for ts in sorted(counter):
                last_of[local(ts, TZ).date()] = counter[ts]
            before = Decimal(demo.START_WH[sim.serial][obis == EXPORT])
            assert counter[min(counter)] == before
            for day, total in days:
                assert total == last_of[day] - before, (m.name, obis, day)
                before = last_of[day]
            # ... and all of them together what the meter counted since the history began.
            assert sum(t for _, t in days) == Decimal(now_dwh).scaleb(-1) - demo.START_WH[sim.serial][obis == EXPORT]
        assert max(samples(q, m.id, POWER)) == int(NOW * 1000)  # up to now
    q.close()


def test_the_counters_integrate_the_stored_power_exactly(history: Tuple[Path, List[ModelMeter]]) -> None:
    path, meters = history
    q = Query(path, TZ)
    for m, sim in zip(q.meters(), meters):
        power = sorted(readings(q, q.find_series(m.id, POWER)).items())
        imp, exp = (readings(q, q.find_series(m.id, obis)) for obis in (IMPORT, EXPORT))
        start_imp, start_exp = (Decimal(wh) for wh in demo.START_WH[sim.serial])
        assert power[0][0] == m.first_seen_ms and len(power) > 5 * 7 * 96
        cwms_in = cwms_out = 0
        for (ts, p), (nxt, _) in zip(power, power[1:]):
            held = int(p * 100) * (nxt - ts)  # centiwatts held until the next telegram
            if held >= 0:
                cwms_in += held
            else:
                cwms_out -= held
            if nxt in imp:  # an unchanged counter is stored once a minute
                assert imp[nxt] == start_imp + Decimal(cwms_in // 36_000_000).scaleb(-1)
            if nxt in exp:
                assert exp[nxt] == start_exp + Decimal(cwms_out // 36_000_000).scaleb(-1)
    q.close()


def test_the_house_draws_a_base_load_at_night_and_exports_at_noon_on_sunny_days(history: Tuple[Path, List[ModelMeter]]) -> None:
    path, _ = history
    q = Query(path, TZ)
    house = q.meters()[0]
    night: Dict[date, List[Decimal]] = {}
    noon: Dict[date, List[Decimal]] = {}
    evening: Dict[date, List[Decimal]] = {}
    for ts, p in samples(q, house.id, POWER).items():
        t = local(ts, TZ)
        slot = night if 1 <= t.hour < 5 else noon if 11 <= t.hour < 14 else evening if 17 <= t.hour < 21 else None
        if slot is not None:
            slot.setdefault(t.date(), []).append(p)
    # Nights: the fridge, the freezer and standby, ~150-250 W, and never an export.
    nights = [p for ps in night.values() for p in ps]
    assert 100 < min(nights) and max(nights) < 300
    assert 150 < sum(nights) / len(nights) < 250
    # Middays: exports on sunny days (over a kilowatt, even in November), hardly at all on
    # overcast ones: it varies from day to day.
    lowest = sorted(min(ps) for ps in noon.values())
    assert sum(1 for p in lowest if p < -1000) >= 3
    assert sum(1 for p in lowest if p > -300) >= 3
    # Evenings: the cooktop, the oven, the dishwasher.
    assert all(max(ps) > 1000 for d, ps in evening.items() if len(ps) > 4)
    # Counting what it fed in: sunny days export kilowatt-hours, overcast ones next to nothing.
    exported = [t for _, t in q.consumption(q.find_series(house.id, EXPORT), "day", 0, int(NOW * 1000))]
    assert max(exported) > 5000 and min(exported) < 500
    q.close()


def test_three_unequal_phases_that_sum_to_the_total(history: Tuple[Path, List[ModelMeter]]) -> None:
    path, _ = history
    q = Query(path, TZ)
    for m in q.meters():
        total = samples(q, m.id, POWER)
        phases = [samples(q, m.id, obis) for obis in PHASES]
        assert all(sum(ph[ts] for ph in phases) == p for ts, p in total.items())
    house = q.meters()[0]
    phases = [samples(q, house.id, obis) for obis in PHASES]
    spreads = sorted(max(ph[ts] for ph in phases) - min(ph[ts] for ph in phases) for ts in phases[0])
    assert spreads[len(spreads) // 10] > 25  # nine telegrams in ten: phases 25 W apart or more
    assert spreads[len(spreads) // 2] > 40
    q.close()


def test_the_sun_follows_local_time_and_the_season() -> None:
    def clear(d: date) -> List[float]:
        return [clear_sky(midnight_ms(d, TZ) + i * 60_000, 1.0) for i in range(1440)]

    december, june = clear(date(2026, 12, 1)), clear(date(2026, 6, 21))
    assert sum(1 for w in december if w > 0) < 9 * 60 and sum(1 for w in june if w > 0) > 12 * 60
    assert max(december) < 0.6 * max(june)
    # Highest at noon local standard time: 12:00 in winter, 13:00 in summer time.
    assert abs(december.index(max(december)) - 12 * 60) <= 20
    assert abs(june.index(max(june)) - 13 * 60) <= 20
    house = Household(1, TZ)
    start = midnight_ms(date(2026, 12, 1), TZ)
    pv = [house.pv_w(start + i * 60_000, house.day(start), 1.0) for i in range(1440)]
    assert max(pv[:7 * 60]) == max(pv[17 * 60:]) == 0 < max(pv[11 * 60:13 * 60])


def test_the_household_keeps_its_wall_clock_when_the_clocks_change() -> None:
    house = Household(1, TZ)
    for day, hours in ((date(2026, 10, 25), 25), (date(2026, 3, 29), 23), (date(2026, 11, 1), 24)):
        start = midnight_ms(day, TZ)
        assert house.day(start).seconds == hours * 3600
        # Ten hours after midnight: 9, 11 or 10 o'clock on the wall, and the plan's loads follow it.
        assert house.wall(start + 10 * 3_600_000)[0] == (10 + 24 - hours) * 3600
        assert house.wall(start + 10 * 3_600_000)[1] == 1.0  # CET, summer time or not


def test_history_readings_are_what_the_decoder_makes_of_the_telegram(history: Tuple[Path, List[ModelMeter]]) -> None:
    _, meters = history
    for sim in meters:
        copy = ModelMeter(sim.serial, sim.model, sim.ms)
        for _ in range(20):
            copy.advance(copy.ms + 3_599_000)
            assert copy.readings() == decode_frame(read_frames(copy.encode())[0]).readings


def test_a_second_start_goes_on_without_filling_in_again(history: Tuple[Path, List[ModelMeter]],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    path, meters = history
    before = sqlite3.connect(str(path)).execute("SELECT count(*), max(ts_ms) FROM telegrams").fetchone()
    later = NOW + 3 * 3600
    with caplog.at_level(logging.INFO, "pyhm.demo"):
        again = demo.prepare(path, TZ, WEEKS, clock=lambda: later)
    assert sqlite3.connect(str(path)).execute("SELECT count(*), max(ts_ms) FROM telegrams").fetchone() == before
    assert "already holds the demo meters' data" in caplog.text and "no history filled in" in caplog.text
    for old, new in zip(meters, again):  # the live meters go on from the stored counters
        assert (new.import_dwh, new.export_dwh, new.ms) == (old.import_dwh, old.export_dwh, int(later * 1000))


def run_demo(directory: Path, seconds: int) -> str:
    proc = subprocess.run([sys.executable, "-m", "pyhm", "demo", "--dir", str(directory), "--seconds", str(seconds),
                           "--port", "0", "--weeks", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_the_live_meters_go_on_from_the_history_without_a_gap_or_a_jump(tmp_path: Path) -> None:
    stderr = run_demo(tmp_path, 8)
    assert re.search(r"filled in 1 weeks of history from \S+: \d+ telegrams in [\d.]+ s", stderr), stderr
    db = sqlite3.connect(str(tmp_path / "pyhm.db"))
    live = dict(db.execute("SELECT serial, frames_ok FROM heads"))
    assert live.get("SIM0001", 0) >= 3 and live.get("SIM0002", 0) >= 3, live
    q = Query(tmp_path / "pyhm.db")
    for m in q.meters():
        power = sorted(samples(q, m.id, POWER).items())
        newest = power[-1][0]
        recent = [(ts, p) for ts, p in power if ts > newest - 600_000]  # history's last minutes, then live
        gaps = [b[0] - a[0] for a, b in zip(recent, recent[1:])]
        assert max(gaps) <= 4_000, gaps  # a second apart, across the junction too (no gap the 1 h chart, 4 s a point, could show)
        imp = samples(q, m.id, IMPORT)
        # No jump: from one telegram to the next the register grows by what the power held
        # over the gap gives, never more (0.1 Wh of rounding, and a second of clock jitter).
        for (ts, p), (nxt, _) in zip(recent, recent[1:]):
            if ts in imp and nxt in imp:
                assert Decimal(0) <= imp[nxt] - imp[ts] <= max(p, Decimal(0)) * (nxt - ts + 1000) / 3_600_000 + Decimal("0.1")
        assert len(q.series_of(m.id)) == 11  # maker, id and 9 numbers: live telegrams went into the same series

    # Started again on its directory, the demo fills in nothing and goes on from the counters.
    before = {m.id: (samples(q, m.id, IMPORT), samples(q, m.id, EXPORT), samples(q, m.id, POWER)) for m in q.meters()}
    q.close()
    stderr = run_demo(tmp_path, 4)
    assert "already holds the demo meters' data" in stderr and "filled in 1 weeks" not in stderr, stderr
    q = Query(tmp_path / "pyhm.db")
    for m in q.meters():
        assert max(samples(q, m.id, POWER)) > max(before[m.id][2])  # it went on live
        for obis, old in zip((IMPORT, EXPORT), before[m.id][:2]):
            now = samples(q, m.id, obis)  # an unchanged counter (export at night) is not stored again
            assert 0 <= now[max(now)] - old[max(old)] <= Decimal(5), (m.name, obis)  # a few seconds' energy
    q.close()


def demo_process(directory: Path, *args: str) -> "subprocess.Popen[str]":
    """``pyhm demo`` as from a terminal (Ctrl-C is SIGINT, whatever the test runner ignores)."""
    return subprocess.Popen([sys.executable, "-m", "pyhm", "demo", "--dir", str(directory), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_telegrams(db: Path, n: int) -> None:
    """Until the back-fill has committed ``n`` telegrams (a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    if con.execute("SELECT count(*) FROM telegrams").fetchone()[0] > n:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.02)


def test_a_fill_in_killed_midway_is_finished_by_the_next_start(tmp_path: Path) -> None:
    """SIGKILL in the middle of the back-fill, then start again: the history reaches now, with no
    day missing, and the start says what it does (not "already holds the data" over a gap)."""
    proc = demo_process(tmp_path, "--weeks", "30")
    db = tmp_path / "pyhm.db"
    try:
        wait_for_telegrams(db, 2000)
    finally:
        proc.kill()
        proc.communicate()
    q = Query(db, zone())
    newest = max(q.last_seen_ms(m.id) or 0 for m in q.meters())
    q.close()
    assert newest < time.time() * 1000 - 7 * 86_400_000, "the kill came too late to interrupt the fill-in"
    proc = subprocess.run([sys.executable, "-m", "pyhm", "demo", "--dir", str(tmp_path), "--seconds", "3", "--port", "0",
                           "--weeks", "30"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "fill-in was interrupted" in proc.stderr and "filled in the rest of the history" in proc.stderr, proc.stderr
    assert not (tmp_path / "pyhm.db.filling").exists()
    q = Query(db, zone())
    for m in q.meters():
        s = q.find_series(m.id, IMPORT)
        days = [d for d, _ in q.consumption(s, "day", m.first_seen_ms, int(time.time() * 1000))]
        first = local(m.first_seen_ms, q.tz).date()
        assert days == [first + timedelta(days=n) for n in range(len(days))] and len(days) >= 30 * 7, m.name
        assert time.time() * 1000 - (q.last_seen_ms(m.id) or 0) < 60_000  # up to now, then live
    q.close()


def test_a_second_demo_on_the_same_directory_says_so_and_stops(tmp_path: Path) -> None:
    first = demo_process(tmp_path, "--weeks", "0", "--seconds", "30")
    try:
        assert "pyhm demo: open" in first.stdout.readline() + first.stdout.readline() + first.stdout.readline()
        second = subprocess.run([sys.executable, "-m", "pyhm", "demo", "--dir", str(tmp_path), "--port", "0",
                                 "--weeks", "1", "--seconds", "2"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "another pyhm demo is running on" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr and "filled in" not in second.stderr
    finally:
        first.terminate()
        _, err = first.communicate(timeout=30)
    assert "Traceback" not in err and "cannot store" not in err, err


def test_a_full_disk_stops_the_fill_in_with_one_clear_line(tmp_path: Path) -> None:
    """On a small filesystem the back-fill stops at the first refused commit (it used to retry
    its growing buffer for every telegram of the history: minutes), says so, and the demo runs."""
    disk = tmp_path / "small"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        began = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pyhm", "demo", "--dir", str(disk / "d"), "--port", "0",
                               "--weeks", "20", "--seconds", "2"], capture_output=True, text=True, timeout=120)
        took = time.monotonic() - began
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(re.findall(r"ERROR +pyhm.demo: .*cannot fill in 20 weeks of history .*disk full", proc.stderr)) == 1, proc.stderr
    assert "pyhm demo: open" in proc.stdout and took < 60, (took, proc.stderr)


def test_a_clock_before_2020_still_fills_in(tmp_path: Path) -> None:
    """A Raspberry Pi without a real-time clock may start in the past: the meters' seconds
    index (seconds since September 2020) wraps as a meter's 32-bit one does, no OverflowError."""
    then = datetime(2012, 1, 3, 12, tzinfo=zone("Pacific/Apia")).timestamp()  # also across the day Samoa skipped
    meters = demo.prepare(tmp_path / "pyhm.db", zone("Pacific/Apia"), 2, clock=lambda: then)
    assert all(m.ms == int(then) * 1000 for m in meters)
    assert decode_frame(read_frames(meters[0].encode())[0]).server_id == meters[0].server_id
    q = Query(tmp_path / "pyhm.db", zone("Pacific/Apia"))
    assert [q.last_seen_ms(m.id) for m in q.meters()] == [int(then) * 1000] * 2
    q.close()


def test_ctrl_c_during_the_fill_in_stops_the_demo(tmp_path: Path) -> None:
    """Ctrl-C while the history is filled in ends the demo at once with a line that says what
    happens next (the web server's threads, started to check the port, used to keep it alive)."""
    proc = demo_process(tmp_path, "--weeks", "60")
    wait_for_telegrams(tmp_path / "pyhm.db", 2000)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "stopped while filling in the history: the next start fills in the rest" in err
    assert (tmp_path / "pyhm.db.filling").exists()
