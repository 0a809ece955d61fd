"""``pyhm demo``, the README's main command: simulated meters read into a local database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pyhm.store import Query


def test_demo_reads_simulated_meters_into_a_database(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pyhm", "demo", "--dir", str(tmp_path), "--seconds", "6"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "head SIM0001 plugged in" in result.stderr and "head SIM0002 plugged in" in result.stderr
    assert "power" in result.stderr and "Traceback" not in result.stderr
    q = Query(tmp_path / "pyhm.db")
    meters = q.meters()
    assert len(meters) == 2
    for meter in meters:
        assert q.latest(meter.id)["1-0:16.7.0*255"]["unit"] == "W"
    q.close()
