"""Readers in other processes read while the writer writes: never 'database is locked'."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pyhm.simulator import SimulatedMeter
from storehelp import T0, Clock, feed, telegram, writer

READER = textwrap.dedent(
    """
    import json, sys, time
    from pyhm.store import Query
    q = Query({db!r})
    errors, queries, seen = [], 0, []
    end = time.time() + {seconds}
    while time.time() < end:
        try:
            meter = q.meters()[0]
            series = q.find_series(meter.id, "1-0:16.7.0*255")
            level, points = q.chart(series, {t0}, {t0} + 7200_000, 500)
            q.latest(meter.id)
            q.consumption(q.find_series(meter.id, "1-0:1.8.0*255"), "day", {t0}, {t0} + 86400_000)
            q.stats()
            seen.append(q.last_seen_ms(meter.id))
            queries += 1
        except Exception as exc:
            errors.append(repr(exc))
    print(json.dumps({{"errors": errors, "queries": queries, "first": seen[0], "last": seen[-1]}}))
    """
)


def test_reader_process_while_writing(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    clock = Clock()
    w = writer(db, clock)
    meters = [SimulatedMeter(1), SimulatedMeter(2)]
    feed(w, clock, meters, 60)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER.format(db=str(db), seconds=4, t0=T0)], stdout=subprocess.PIPE, text=True
    )
    end = time.time() + 5
    while time.time() < end and reader.poll() is None:
        clock.ms += 1000
        for m in meters:
            server, readings = telegram(m)
            w.add(server, readings, clock.ms)
        assert w.commit()
    out, _ = reader.communicate(timeout=30)
    w.close()
    result = json.loads(out)
    assert result["errors"] == []
    assert result["queries"] > 20
    assert result["last"] > result["first"]  # it saw the writer's commits as they came
