"""A head's reception health as the household sees it: messages whose own CRC is wrong
(eBZ sends them inside intact frames) are stored and counted, and the status page says how
much pyhm writes to disk a day, with advice for an SD card."""

from __future__ import annotations

import time
from pathlib import Path

import corpus
from acquirehelp import head, start, stop, wait_for, write_config
from pyhm.acquire.simulate import PtyMeter
from pyhm.simulator import SimulatedMeter
from pyhm.sml import decode_frame, read_frames
from pyhm.store import Query
from pyhm.store.live import LiveWriter, live_path
from pyhm.web import api
from storehelp import writer


def test_wrong_message_crcs_are_counted_in_the_heads_health(tmp_path: Path) -> None:
    entry = next(e for e in corpus.entries() if e["file"].endswith("smllib__EBZ_eBZ__1.hex"))
    frame = corpus.data(entry)
    (telegram,) = [decode_frame(f) for f in read_frames(frame)]
    per_frame = telegram.bad_message_crcs
    assert telegram.ok and per_frame >= 1
    cfg = write_config(tmp_path, stall=60)
    db = tmp_path / "pyhm.db"
    meter = PtyMeter(tmp_path / "heads", "EBZ")
    proc = start(cfg)
    try:
        wait_for(lambda: head(db, "EBZ"), what="head found")
        for _ in range(3):
            assert meter.send(frame)
            time.sleep(0.3)
        row = wait_for(lambda: (h := head(db, "EBZ")) and h["messages_bad"] >= 3 * per_frame and h, what="counted")
        assert row["frames_ok"] == 3 and row["frames_bad"] == 0  # decoded and stored all the same
        q = Query(db)
        status, meters = api.status(q), q.meters()
        q.close()
        (shown,) = [h for h in status["heads"] if h["serial"] == "EBZ"]
        assert shown["messages_bad"] == 3 * per_frame
        (m,) = [m for m in meters if m.server_id.hex() == shown["meter"]]  # named as on the other pages
        assert shown["meter_id"] == m.id and shown["meter_label"] == m.label
    finally:
        stop(proc)
        meter.unplug()


def test_status_says_what_pyhm_writes_a_day(tmp_path: Path) -> None:
    db = tmp_path / "pyhm.db"
    w = writer(db)
    live = LiveWriter(live_path(db, tmp_path / "run"), db, 1)
    w.set_setting("live.path", str(live.path))
    now = int(time.time() * 1000)
    q = Query(db)

    def advice(written: int, since_minutes: float) -> dict:
        live.note(io={"write_bytes": written, "since_ms": now - int(since_minutes * 60_000)})
        live.write(now)
        disk = api.disk_writes(q)
        assert disk is not None
        return disk

    assert advice(4096, 2)["mib_per_day"] is None  # too early for a figure per day
    good = advice(40 * 1048576 // 24, 60)  # 40 MiB a day
    assert good["mib_per_day"] == 40.0 and "Within the budget" in good["advice"]
    bad = advice(3 * 1024 * 1048576 // 24, 60)  # 3 GiB a day, committing every second
    assert bad["mib_per_day"] == 3072.0 and "database.commit_seconds" in bad["advice"] and "(now 1 s)" in bad["advice"]
    live.remove()
    assert api.disk_writes(q) is None  # no acquisition running: nothing measured
    q.close()
    w.close()


def test_the_last_hours_counts_are_live_within_the_commit_window(tmp_path: Path) -> None:
    """With the SD card's 60 s window, the status page's "Frames ok (1 h)" counts the frames
    received since the last commit too: a head that reads shows its frames, not 0."""
    cfg = write_config(tmp_path, commit_seconds=60)
    db = tmp_path / "pyhm.db"
    meter = PtyMeter(tmp_path / "heads", "LIVE1", meter=SimulatedMeter(31))
    proc = start(cfg)
    try:
        wait_for(lambda: head(db, "LIVE1"), what="head found")
        for _ in range(6):
            assert meter.send()
            time.sleep(0.3)

        def shown() -> dict:
            q = Query(db)
            try:
                return next(h for h in api.status(q)["heads"] if h["serial"] == "LIVE1")
            finally:
                q.close()

        counted = wait_for(lambda: (h := shown())["last_hour"]["frames_ok"] >= 6 and h, what="live counts")
        assert counted["last_hour"]["frames_ok"] == 6 and counted["last_hour"]["frames_bad"] == 0
        q = Query(db)
        try:  # the database itself has not been told yet: the counts came from the live store
            assert q.db.execute("SELECT COALESCE(SUM(frames_ok), 0) FROM head_minutes").fetchone()[0] == 0
        finally:
            q.close()
    finally:
        stop(proc)
        meter.unplug()
