"""The SD card's write budget: MiB written per day, and how live the live values stay.

Run: .venv/bin/python bench/writes.py [--hours 2] [--live-seconds 30]

1. Bytes per day. The real writer (``store.Writer``, with the service's settings) stores
   simulated meters, one telegram a second each, on a simulated clock: a warm-up hour, then
   ``--hours`` measured. Counted is what SQLite writes: every WAL frame (page + header) at
   each commit, and at each checkpoint (SQLite's default policy, at 1000 WAL pages, done by
   the bench so that it can count) every distinct page copied into the database file. The
   file system's own journal comes on top. Measured at 1, 4 and 16 meters with the default
   window (60 s) and with 1 s; the peer is pyhm before the write budget (schema 2's
   meter-clustered telegrams, a commit a second, rollups at every commit).
2. Live age. ``pyhm acquire`` runs for real on 4 pty meters with the default window; a reader
   polls ``store.Query`` (what ``/api/meters`` answers from) and records, per telegram, the
   time from its reception stamp to the moment a reader sees it: p50 and p95.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import readings  # noqa: E402

from pyhm.acquire.service import ROLLUP_SECONDS  # noqa: E402
from pyhm.simulator import SimulatedMeter  # noqa: E402
from pyhm.store import Writer  # noqa: E402
from pyhm.store.writer import HeadStats  # noqa: E402

MIB = 1024 * 1024


CHECKPOINT_PAGES = 1000  # SQLite's default wal_autocheckpoint
FRAME_HEADER = 24


class WalCounter:
    """Counts the bytes a WAL receives and the pages its checkpoints copy to the database."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.wal = path.with_name(path.name + "-wal")
        self.page = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute("PRAGMA wal_autocheckpoint = 0")
        self.frames = 0  # frames in the WAL since its last reset
        self.bytes = 0

    def mx_frame(self) -> int:
        """Valid frames in the WAL now: ``mxFrame`` of the wal-index header in the -shm file."""
        with open(self.wal.with_name(self.wal.name[:-4] + "-shm"), "rb") as f:
            return struct.unpack("=I", f.read(20)[16:20])[0]

    def after_commit(self) -> None:
        frames = self.mx_frame()
        new = frames - self.frames if frames >= self.frames else frames  # restarted after a checkpoint
        self.bytes += new * (self.page + FRAME_HEADER)
        self.frames = frames
        if frames >= CHECKPOINT_PAGES:
            data = self.wal.read_bytes()
            pages = {struct.unpack(">I", data[off:off + 4])[0]
                     for off in (32 + i * (self.page + FRAME_HEADER) for i in range(frames))}
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.bytes += len(pages) * self.page

    def reset(self) -> None:
        self.bytes = 0


def schema2(path: Path) -> None:
    """The table layout of schema 2 (telegrams clustered by meter), for the peer."""
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript("""
        BEGIN;
        CREATE TABLE t2 (meter_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, layout_id INTEGER NOT NULL,
                         data BLOB NOT NULL, meter_time INTEGER, PRIMARY KEY (meter_id, ts_ms)) WITHOUT ROWID;
        DROP TABLE telegrams;
        ALTER TABLE t2 RENAME TO telegrams;
        CREATE TABLE s2 (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        DROP TABLE settings;
        ALTER TABLE s2 RENAME TO settings;
        COMMIT;
    """)
    con.close()


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def per_day(meters: int, window: float, rollup_s: float, hours: float, directory: Path, peer: bool = False) -> float:
    """MiB SQLite writes per day in steady state."""
    db = directory / f"w-{meters}-{window:g}-{rollup_s:g}.db"
    if peer:
        Writer(db).close()
        schema2(db)
    start = (int(time.time()) // 3600 - 48) * 3_600_000
    clock = Clock(start)
    w = Writer(db, clock=clock, commit_seconds=window, rollup_seconds=rollup_s)
    count = WalCounter(w.db, db)
    sims = [SimulatedMeter(100 + i) for i in range(meters)]
    heads = [HeadStats(f"H{i}", f"/dev/hm_H{i}", True, "reading", s.server_id, 0, 0, 0, None, None)
             for i, s in enumerate(sims)]
    warmup = 3600
    total = warmup + int(hours * 3600)
    for second in range(total):
        if second == warmup:
            count.reset()
        clock.ms = start + second * 1000
        for s in sims:
            w.add(s.server_id, readings(s), clock.ms)
        heads = [h._replace(frames_ok=second, last_frame_ms=clock.ms) for h in heads]
        before = w.last_commit_ms
        if w.due(clock.ms):
            w.report_heads(heads)
            w.commit()
        if w.last_commit_ms != before:
            count.after_commit()
    written = count.bytes
    w.db.close()
    return written / (total - warmup) * 86400 / MIB


def live_age(seconds: float, directory: Path) -> Tuple[float, float, int]:
    """p50, p95 (seconds) from a telegram's reception to a reader seeing it; telegrams seen."""
    from pyhm.acquire.simulate import Simulator
    from pyhm.store import Query

    cfg = directory / "pyhm.cfg"
    db = directory / "live.db"
    cfg.write_text(f"database:\n  path: {db}\nacquisition:\n  devices: ['{directory / 'heads' / 'hm_*'}']\n"
                   "  discovery: glob\n")
    sim = Simulator(directory / "heads", 4).start()
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "acquire"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: Dict[Tuple[int, int], float] = {}
    try:
        while not db.exists():
            time.sleep(0.1)
        time.sleep(3)
        q = Query(db)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = time.time()
            for m in q.meters():
                ts = q.last_seen_ms(m.id)
                if ts is not None and (m.id, ts) not in seen:
                    seen[(m.id, ts)] = now - ts / 1000
            time.sleep(0.02)
        q.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        sim.stop()
    lags: List[float] = sorted(seen.values())
    return statistics.median(lags), lags[int(0.95 * (len(lags) - 1))], len(lags)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=2, help="simulated hours measured after a warm-up hour")
    ap.add_argument("--live-seconds", type=float, default=30)
    ap.add_argument("--meters", type=int, nargs="*", default=[1, 4, 16])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", str(Path.home()))) as tmp:
        directory = Path(tmp)
        print(f"MiB SQLite writes per day (steady state, {args.hours:g} simulated hours each):")
        print(f"{'meters':>6} {'window 60 s':>12} {'window 1 s':>11} {'before':>9} {'ratio':>7}")
        for n in args.meters:
            budget = per_day(n, 60, ROLLUP_SECONDS, args.hours, directory)
            one = per_day(n, 1, ROLLUP_SECONDS, args.hours, directory)
            before = per_day(n, 1, 0, args.hours, directory, peer=True)
            print(f"{n:>6} {budget:>12.1f} {one:>11.1f} {before:>9.1f} {before / budget:>6.1f}×", flush=True)
        p50, p95, count = live_age(args.live_seconds, directory)
        print(f"live age (reception → visible to store.Query, the path of /api/meters), 4 meters, window 60 s: "
              f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms ({count} telegrams)")


if __name__ == "__main__":
    main()
