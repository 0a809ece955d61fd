"""The acquisition service on real ptys: readings stored, bad input counted and survived,
heads pulled mid-telegram and plugged back, meters known by their server id."""

from __future__ import annotations

import time
from pathlib import Path

from acquirehelp import head, start, stop, telegram_count, wait_for, write_config
from pyhm.acquire.simulate import PtyMeter
from pyhm.simulator import SimulatedMeter
from pyhm.store import Query


def send(meter: PtyMeter, n: int = 1, pause: float = 0.1) -> None:
    for _ in range(n):
        assert meter.send()
        time.sleep(pause)


def test_garbage_unplug_and_replug(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, stall=60)  # the test pauses heads; stalls are tested below
    db = tmp_path / "pyhm.db"
    heads = tmp_path / "heads"
    sim_a, sim_b = SimulatedMeter(1), SimulatedMeter(2)
    a, b = PtyMeter(heads, "AAA", sim_a), PtyMeter(heads, "BBB", sim_b)
    proc = start(cfg)
    try:
        wait_for(lambda: head(db, "AAA") and head(db, "BBB"), what="both heads found")
        before = time.time()
        send(a, 3)
        send(b, 3)
        wait_for(lambda: telegram_count(db, sim_a.server_id) == 3, what="meter A stored")
        wait_for(lambda: telegram_count(db, sim_b.server_id) == 3, what="meter B stored")
        q = Query(db)
        stamps = [ts for (ts,) in q.db.execute("SELECT ts_ms FROM telegrams")]
        q.close()
        assert all(int(before * 1000) <= ts <= time.time() * 1000 for ts in stamps)  # the host's UTC clock

        # Garbage, a frame with a bad CRC, a truncated frame, then a good one.
        good = sim_a.telegram()
        bad = bytearray(sim_a.telegram())
        bad[60] ^= 0xFF
        garbage = bytes(range(0x20, 0x7F)) * 4
        a.send(garbage + bytes(bad) + sim_a.telegram()[:100])
        time.sleep(0.2)
        a.send(good)
        wait_for(lambda: telegram_count(db, sim_a.server_id) == 4, what="the good frame after the bad ones")
        health = wait_for(lambda: (h := head(db, "AAA")) and h["frames_bad"] >= 2 and h, what="bad frames counted")
        assert health["frames_ok"] == 4 and health["bytes_skipped"] >= len(garbage)

        # Pull A in the middle of a telegram: B goes on, nothing of the half telegram is stored.
        half = sim_a.telegram()
        a.send(half[: len(half) // 2])
        time.sleep(0.1)
        a.unplug()
        wait_for(lambda: (h := head(db, "AAA")) and not h["present"], what="head A gone")
        send(b, 5)
        wait_for(lambda: telegram_count(db, sim_b.server_id) == 8, what="B going on")
        assert telegram_count(db, sim_a.server_id) == 4

        # Plug A back, on another head: same meter, same history.
        a2 = PtyMeter(heads, "CCC", sim_a)
        wait_for(lambda: head(db, "CCC"), what="new head found")
        time.sleep(0.3)
        send(a2, 3)
        wait_for(lambda: telegram_count(db, sim_a.server_id) == 7, what="A resumed")
        q = Query(db)
        assert len(q.meters()) == 2
        power = q.find_series(q.meter(sim_a.server_id.hex()).id, "1-0:16.7.0*255")
        values = [v for _, v, _ in q.raw(power, 0, 2**62)]
        assert values[-1] == sim_a.power_cw
        q.close()
    finally:
        err = stop(proc)
        for m in (a, b):
            m.unplug()
    assert err.count("damaged frame") == 1, err  # counted every time, logged once
    assert "head AAA removed" in err and "Traceback" not in err


def test_a_silent_head_is_reopened_and_reported(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, stall=1)
    db = tmp_path / "pyhm.db"
    sim = SimulatedMeter(5)
    meter = PtyMeter(tmp_path / "heads", "QUIET", sim)
    proc = start(cfg)
    try:
        wait_for(lambda: head(db, "QUIET"), what="head found")
        health = wait_for(lambda: (h := head(db, "QUIET")) and h["last_error"] and h, what="the stall reported")
        assert "no data" in health["last_error"]
        time.sleep(1.5)
        for _ in range(12):  # the meter speaks again: read after the reopen
            meter.send()
            time.sleep(0.25)
        wait_for(lambda: telegram_count(db, sim.server_id) >= 1, what="reading again")
        wait_for(lambda: (h := head(db, "QUIET")) and h["state"] == "reading", what="state back to reading")
    finally:
        err = stop(proc)
        meter.unplug()
    assert "no data from" in err and "reopening" in err


def test_simulator_replays_a_capture(tmp_path: Path) -> None:
    import corpus
    import serial

    from pyhm.acquire.simulate import Simulator
    from pyhm.sml import FrameReader, decode_frame

    entry = next(e for e in corpus.entries() if e["file"].endswith("HOLLEY_DTZ541-ZDBA__1.hex"))
    sim = Simulator(tmp_path, 1, interval=0.05, replay=corpus.data(entry))
    (meter,) = sim.meters
    port = serial.Serial(str(meter.link), 9600, timeout=0.2)
    sim.start()
    try:
        reader = FrameReader()
        telegrams = []
        end = time.monotonic() + 10
        while len(telegrams) < 10 and time.monotonic() < end:
            telegrams += [decode_frame(f) for f in reader.feed(port.read(4096))]
    finally:
        port.close()
        sim.stop()
    ok = [t for t in telegrams if t.ok]
    assert len(ok) >= 8 and {t.server_id.hex() for t in ok} == {"0a01484c59020003a910"}
    assert not meter.link.exists()  # stopping unplugs
