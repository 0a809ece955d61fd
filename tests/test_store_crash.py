"""A writer killed with SIGKILL in the middle of ingest: the database is intact and holds
every reading that was committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from pyhm.simulator import SimulatedMeter
from pyhm.store import Query
from storehelp import T0, Clock, telegram, writer

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from pyhm.simulator import SimulatedMeter
    from storehelp import Clock, T0, telegram, writer
    clock = Clock()
    w = writer({db!r}, clock)
    meter = SimulatedMeter(1)
    i = 0
    while True:
        clock.ms = T0 + i * 1000
        server, readings = telegram(meter)
        w.add(server, readings, clock.ms)
        if w.commit():
            print(w.committed_ms, flush=True)
        i += 1
    """
)


def test_sigkill_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    code = CHILD.format(tests=str(Path(__file__).parent), db=str(db))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    committed = [int(child.stdout.readline()) for _ in range(300)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    last = committed[-1]

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

    q = Query(db)
    meter = SimulatedMeter(1)
    series = q.find_series(q.meters()[0].id, "1-0:16.7.0*255")
    stored = {ts: (v, exp) for ts, v, exp in q.raw(series, T0, last + 1)}
    for i in range((last - T0) // 1000 + 1):
        meter.telegram()
        assert stored[T0 + i * 1000] == (meter.power_cw, -2)
    q.close()

    # The writer starts again on the killed database and goes on where it was.
    clock = Clock(last + 60_000)
    w = writer(db, clock)
    server, readings = telegram(SimulatedMeter(2))
    w.add(server, readings, clock.ms)
    assert w.commit()
    w.close()
