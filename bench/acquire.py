"""Acquisition daemon cost: CPU share of one core and peak RSS while it reads 4 meters.

Run: .venv/bin/python bench/acquire.py [--meters 4] [--seconds 60]

Four simulated meters on ptys send one telegram a second each; ``pyhm acquire`` runs as its
own process (glob discovery, a fresh database) and is measured from /proc after a 5 s
warm-up. A bare Python interpreter is measured the same way, for scale.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhm.acquire.simulate import Simulator  # noqa: E402
from pyhm.store import Query  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def measure(proc: subprocess.Popen, seconds: float) -> Tuple[float, float]:
    time.sleep(5)
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(proc.pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), peak_rss_mib(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyhm-acq-"))
    cfg = work / "pyhm.cfg"
    cfg.write_text(f"database:\n  path: {work / 'pyhm.db'}\n"
                   f"acquisition:\n  devices: ['{work / 'heads' / 'hm_*'}']\n  discovery: glob\n"
                   "logging:\n  level: warning\n")
    sim = Simulator(work / "heads", args.meters).start()
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "acquire"])
    try:
        cpu, rss = measure(proc, args.seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        sim.stop()
    q = Query(work / "pyhm.db")
    stored = q.db.execute("SELECT count(*) FROM telegrams").fetchone()[0]
    q.close()
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(1)
        bare_rss = peak_rss_mib(bare.pid)
    finally:
        bare.kill()
        bare.wait()
    print(f"pyhm acquire, {args.meters} meters at 1 telegram/s, measured over {args.seconds:g} s:")
    print(f"  CPU: {cpu:.2f} % of one core (goal < 1 %)")
    print(f"  peak RSS: {rss:.1f} MiB (goal < 40 MiB); a bare Python interpreter: {bare_rss:.1f} MiB")
    print(f"  telegrams stored: {stored} (exit status {proc.returncode})")
    print(f"Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
