"""pyhm web's memory stays flat under what users and attackers do: a large raw export streams
(from ``pyhm web`` as a process, and from ``pyhm export``), and parallel logins wait for scrypt."""

from __future__ import annotations

import http.client
import sqlite3
from base64 import b64encode
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from webhelp import build_db
from webproc import PASSWORD, WebProcess

DOUBLINGS = 12  # ~300 telegrams of one meter, doubled 12 times: ~1.2 million samples
LIMIT_KIB = 32 * 1024  # what the export may add to the process's peak memory


def bulk_db(path: Path, doublings: int = DOUBLINGS) -> Tuple[int, int, int]:
    """A database written by the real writer, then its telegrams copied forward in time by SQL
    (doubling each time), fast: the first and last sample time and the number of samples."""
    build_db(path, int(time.time() * 1000), day=False)
    db = sqlite3.connect(path)
    with db:
        meter = db.execute("SELECT id FROM meters WHERE name = 'House'").fetchone()[0]
        for _ in range(doublings):
            lo, hi = db.execute("SELECT MIN(ts_ms), MAX(ts_ms) FROM telegrams WHERE meter_id = ?", (meter,)).fetchone()
            db.execute("INSERT INTO telegrams SELECT meter_id, ts_ms + ?, layout_id, data, meter_time FROM telegrams"
                       " WHERE meter_id = ?", (hi - lo + 1000, meter))
        lo, hi, n = db.execute("SELECT MIN(ts_ms), MAX(ts_ms), COUNT(*) FROM telegrams WHERE meter_id = ?",
                               (meter,)).fetchone()
    db.close()
    return lo, hi, n


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Path, int, int, int]]:
    tmp = tmp_path_factory.mktemp("bigexport")
    lo, hi, n = bulk_db(tmp / "pyhm.db")
    yield tmp, lo, hi, n


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_large_export_streams_in_constant_memory(big: Tuple[Path, int, int, int], fmt: str) -> None:
    tmp, lo, hi, n = big
    (tmp / fmt).mkdir()
    web = WebProcess(tmp / fmt, tmp / "pyhm.db")
    try:
        path = f"/api/export?meter=House&obis=1-0:16.7.0&from={lo}&to={hi + 1}&format={fmt}&resolution=raw"
        web.request("GET", path.replace(f"to={hi + 1}", f"to={lo + 60_000}"), auth=PASSWORD)  # warm up
        peak_before = web.memory_kib("VmHWM")
        conn = web.connection()
        conn.request("GET", path, headers={"Authorization": "Basic " + b64encode(f"pyhm:{PASSWORD}".encode()).decode()})
        res = conn.getresponse()
        assert res.status == 200 and res.getheader("Content-Disposition").endswith(f'.{fmt}"')
        lines, size, tail = 0, 0, b""
        while chunk := res.read(1 << 16):
            lines += chunk.count(b"\n")
            size += len(chunk)
            tail = (tail + chunk)[-16:]
        conn.close()
        grown = web.memory_kib("VmHWM") - peak_before
    finally:
        err = web.stop()
    assert "Traceback" not in err, err
    assert lines == n + (1 if fmt == "csv" else 2), (lines, n)  # a header line; or "[" and "]"
    assert tail.endswith(b"W\n" if fmt == "csv" else b"}\n]\n")
    print(f"{fmt}: {n} samples, {size / 2**20:.0f} MiB sent, server peak grew {grown / 1024:.1f} MiB")
    assert size > 40 * 2**20 and grown < LIMIT_KIB, (size, grown)


def test_pyhm_export_streams_in_constant_memory(big: Tuple[Path, int, int, int]) -> None:
    tmp, lo, hi, n = big
    code = ("import resource, sys; from pyhm.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")

    def run(to_ms: int) -> Tuple[int, int]:
        iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ms / 1000))  # noqa: E731
        p = subprocess.Popen([sys.executable, "-c", code, "export", "--db", str(tmp / "pyhm.db"), "--meter", "House",
                              "--obis", "1-0:16.7.0", "--from", iso(lo - 1000), "--to", iso(to_ms), "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = 0
        assert p.stdout is not None and p.stderr is not None
        for chunk in iter(lambda: p.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            lines += chunk.count(b"\n")
        err = p.stderr.read().decode()
        assert p.wait() == 0, err
        return lines, int(err.split()[-1])

    small_lines, small_kib = run(lo + 60_000)
    lines, kib = run(hi + 1000)
    assert small_lines < 100 and lines == n + 2
    assert kib - small_kib < LIMIT_KIB, (small_kib, kib)


def test_parallel_logins_do_not_balloon_the_server(tmp_path: Path) -> None:
    """48 logins at once, from 48 addresses (so the brake does not stop them): scrypt takes 16 MiB
    a run, and runs at most two at once."""
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    web = WebProcess(tmp_path, tmp_path / "pyhm.db")
    try:
        with ThreadPoolExecutor(2) as pool:  # warm up the whole scrypt pool: both runs at once
            warm = list(pool.map(lambda i: web.request("POST", "/login", body="password=warm+up",
                                                      source=f"127.0.2.{i + 1}")[0], range(2)))
        assert warm == [401, 401]
        peak_before = web.memory_kib("VmHWM")
        with ThreadPoolExecutor(48) as pool:
            statuses = list(pool.map(lambda i: web.request("POST", "/login", body=f"password=guess{i}",
                                                           source=f"127.0.1.{i + 1}")[0], range(48)))
        grown = web.memory_kib("VmHWM") - peak_before
    finally:
        err = web.stop()
    assert statuses == [401] * 48 and "Traceback" not in err
    print(f"48 parallel logins: server peak grew {grown / 1024:.1f} MiB")
    assert grown < 3 * 16 * 1024, grown


def test_an_export_that_fails_halfway_is_cut_off_not_ended(tmp_path: Path) -> None:
    """Once the first bytes are out the status cannot change: a damaged page met halfway drops
    the connection (the client sees an incomplete answer, not a short file that looks whole),
    and the service logs one line."""
    lo, hi, _ = bulk_db(tmp_path / "pyhm.db", 9)
    con = sqlite3.connect(tmp_path / "pyhm.db")
    leaves = [p for (p,) in con.execute("SELECT pageno FROM dbstat WHERE name = 'telegrams' AND pagetype = 'leaf' "
                                        "ORDER BY path")]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray((tmp_path / "pyhm.db").read_bytes())
    for page in leaves[len(leaves) * 6 // 10:len(leaves) * 6 // 10 + 5]:  # rows 60 % into the export
        at = (page - 1) * page_size
        data[at:at + page_size] = b"\xde\xad" * (page_size // 2)
    (tmp_path / "pyhm.db").write_bytes(bytes(data))
    web = WebProcess(tmp_path, tmp_path / "pyhm.db")
    try:
        conn = web.connection()
        conn.request("GET", f"/api/export?meter=House&obis=1-0:16.7.0&from={lo}&to={hi + 1}&format=csv",
                     headers={"Authorization": "Basic " + b64encode(f"pyhm:{PASSWORD}".encode()).decode()})
        res = conn.getresponse()
        assert res.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            res.read()
        assert len(cut.value.partial) > 64 * 1024
        conn.close()
        assert web.request("GET", "/api/openapi.json", auth=PASSWORD)[0] == 200  # the service goes on
    finally:
        err = web.stop()
    assert "Traceback" not in err and err.count("ERROR") == 1 and "export from" in err, err
