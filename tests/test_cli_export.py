"""``pyhm export`` as a user runs it: CSV and JSON, exact values, local times, clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pyhm.simulator import SimulatedMeter
from storehelp import T0, Clock, feed, writer


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "e.db"
    clock = Clock()
    w = writer(path, clock)
    meter = SimulatedMeter(3)
    feed(w, clock, [meter], 600)
    clock.ms += 5 * 60_000
    w.commit()
    w.set_meter(meter.server_id, "Garage")
    w.close()
    return path


def export(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhm", "export", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=60)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat()


def test_csv_raw(db: Path) -> None:
    result = export(db, "--meter", "Garage", "--obis", "1-0:16.7.0", "--from", iso(T0), "--to", iso(T0 + 120_000))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["time", "value", "unit"] and len(rows) == 1 + 119  # T0+1s .. T0+119s
    assert rows[1][0] == datetime.fromtimestamp((T0 + 1000) / 1000).astimezone().isoformat(timespec="seconds")
    assert all(row[2] == "W" and Decimal(row[1]) == Decimal(row[1]).quantize(Decimal("0.01")) for row in rows[1:])


def test_json_minutes_of_a_counter(db: Path) -> None:
    result = export(db, "--meter", "Garage", "--obis", "1-0:1.8.0*255", "--from", iso(T0), "--to", iso(T0 + 600_000),
                    "--format", "json", "--resolution", "minute")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout, parse_float=Decimal)
    assert len(items) == 10 and set(items[0]) == {"time", "last", "increase", "unit"}
    assert all(i["increase"] >= 0 and i["unit"] == "Wh" for i in items)
    lasts = [i["last"] for i in items]
    assert lasts == sorted(lasts)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--meter", "nobody", "--obis", "1-0:1.8.0"], "no meter"),
        (["--meter", "Garage", "--obis", "1-0:99.99.99"], "has no series"),
        (["--meter", "Garage", "--obis", "banana"], "not an OBIS code"),
        (["--meter", "Garage", "--obis", "1-0:1.8.0", "--from", "yesterday"], "not a date"),
        (["--meter", "Garage", "--obis", "1-0:1.8.0", "--from", "2026-02-01", "--to", "2026-01-01"], "after"),
    ],
)
def test_errors(db: Path, args: list, message: str) -> None:
    result = export(db, *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_missing_database(tmp_path: Path) -> None:
    result = export(tmp_path / "none.db", "--meter", "x", "--obis", "1-0:1.8.0")
    assert result.returncode == 2 and "no database" in result.stderr


def test_backup_while_writing(tmp_path: Path) -> None:
    from pyhm.store import Query

    clock = Clock()
    w = writer(tmp_path / "live.db", clock)
    feed(w, clock, [SimulatedMeter(8)], 120)
    cfg = tmp_path / "pyhm.cfg"
    cfg.write_text(f"database: {{path: {tmp_path / 'live.db'}}}\n")
    result = subprocess.run([sys.executable, "-m", "pyhm", "--config", str(cfg), "backup", str(tmp_path / "copy.db")],
                            capture_output=True, text=True, timeout=60)
    feed(w, clock, [SimulatedMeter(8)], 10)  # the writer goes on
    w.close()
    assert result.returncode == 0, result.stderr
    q = Query(tmp_path / "copy.db")
    assert q.stats()["telegrams_rows"] == 120
    q.close()
    again = subprocess.run([sys.executable, "-m", "pyhm", "--config", str(cfg), "backup", str(tmp_path / "copy.db")],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "not overwriting" in again.stderr


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "list.db"
    bad.write_text("eggs, milk, bread\n" * 500)
    result = export(bad, "--meter", "x", "--obis", "1-0:1.8.0")
    assert result.returncode != 0 and "it is not a database" in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
