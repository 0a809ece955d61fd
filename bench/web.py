"""Web service under load and under attack, on the data set of bench/store.py.

Run: .venv/bin/python bench/store.py --dir /tmp/pyhm-bench   (once, keeps the data set)
     .venv/bin/python bench/web.py --db /tmp/pyhm-bench/pyhm.db [--peer DIR]

The real HTTPS server (``pyhm web``) on 127.0.0.1 in its own process; with ``--peer`` the same
run also measures the ``pyhm web`` of another source tree (e.g. ``git archive`` of an older
commit), for ratios that do not depend on the load of the machine. For each server:

1. latency of every API query, one client (p50/p95);
2. ``--clients`` concurrent clients (threads in ``--procs`` processes, keep-alive, no pause) on
   ``/``, ``/api/series`` (24 h) and ``/api/meters`` in turn, ``--seconds`` each: requests/s,
   p50/p95/p99, errors;
3. 64 attackers connected (half idle TCP without a ClientHello, half slowloris: TLS done, then a
   header byte every 2 s), then legitimate requests, each on a new connection: their latency
   (goal: answered within 2 s).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from base64 import b64encode
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhm.store import Query  # noqa: E402
from pyhm.web.auth import set_password  # noqa: E402

PASSWORD = "benchmark password"
AUTH = {"Authorization": "Basic " + b64encode(f"bench:{PASSWORD}".encode()).decode()}
ROOT = Path(__file__).resolve().parents[1]


def connect(port: int, cafile: str, timeout: float = 30) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)


def get(conn: http.client.HTTPSConnection, path: str) -> Tuple[int, float]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers=AUTH)
    res = conn.getresponse()
    res.read()
    return res.status, (time.perf_counter() - t0) * 1000


def pct(times: List[float], p: int) -> float:
    return statistics.quantiles(times, n=100)[p - 1] if len(times) > 1 else (times or [0.0])[0]


class WebServer:
    """``pyhm web`` of a source tree, on a free port, in its own process."""

    def __init__(self, tree: Path, db: Path) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="pyhm-webbench-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        set_password(tmp / "credentials.json", PASSWORD)
        self.cafile = str(tmp / "cert.pem")
        cfg = tmp / "pyhm.cfg"
        cfg.write_text(f"database: {{path: {db}}}\nlogging: {{level: error}}\n"
                       f"web: {{listen: 127.0.0.1, port: {self.port}, certificate: {tmp / 'cert.pem'}, "
                       f"key: {tmp / 'key.pem'}, credentials: {tmp / 'credentials.json'}}}\n")
        env = dict(os.environ, PYTHONPATH=str(tree))
        self.proc = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "web"], env=env, cwd=tree)
        end = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def latency_table(srv: WebServer, cases: List[Tuple[str, str]], repeat: int) -> None:
    conn = connect(srv.port, srv.cafile)
    print(f"  one client, {repeat} requests each: {'p50 ms':>9}{'p95 ms':>9}")
    for name, path in cases:
        if get(conn, path)[0] == 404:  # a peer from before this query existed
            print(f"    {name:<30}{'–':>9}{'–':>9}")
            continue
        times = []
        for _ in range(repeat):
            status, ms = get(conn, path)
            assert status == 200, (path, status)
            times.append(ms)
        print(f"    {name:<30}{statistics.median(times):>9.1f}{pct(times, 95):>9.1f}")
    conn.close()


def _load_proc(port: int, cafile: str, path: str, threads: int, stop_at: float, out: "multiprocessing.Queue") -> None:
    times: List[float] = []
    errors = [0]
    lock = threading.Lock()

    def client() -> None:
        c: Optional[http.client.HTTPSConnection] = None
        mine: List[float] = []
        bad = 0
        while time.time() < stop_at:
            try:
                c = c or connect(port, cafile, timeout=10)
                status, ms = get(c, path)
                if status == 200:
                    mine.append(ms)
                else:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                c = None
        with lock:
            times.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((times, errors[0]))


def load(srv: WebServer, path: str, clients: int, procs: int, seconds: float) -> Dict[str, float]:
    ctx = multiprocessing.get_context("fork")
    out: "multiprocessing.Queue" = ctx.Queue()
    stop_at = time.time() + seconds
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_load_proc, args=(srv.port, srv.cafile, path, n, stop_at, out)) for n in per]
    t0 = time.time()
    for w in workers:
        w.start()
    times: List[float] = []
    errors = 0
    for _ in workers:
        t, e = out.get()
        times += t
        errors += e
    for w in workers:
        w.join()
    elapsed = time.time() - t0
    return {"rps": len(times) / elapsed, "n": len(times), "errors": errors,
            "p50": pct(times, 50), "p95": pct(times, 95), "p99": pct(times, 99)}


def attacked(srv: WebServer, attackers: int, tries: int) -> List[Optional[float]]:
    """Latency (s) of ``tries`` legitimate requests, each on a new connection, while ``attackers``
    sockets sit idle or trickle a request head; None: not answered within 20 s."""
    ctx = ssl.create_default_context(cafile=srv.cafile)
    ctx.check_hostname = False
    idle: List[socket.socket] = []
    for _ in range(attackers // 2):
        try:
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        except OSError:  # the listen backlog is full
            pass
    slow: List[socket.socket] = []
    stop = threading.Event()

    def slowloris() -> None:
        for _ in range(attackers - len(idle)):
            try:
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=20))
                s.sendall(b"GET / HTTP/1.1\r\n")
                slow.append(s)
            except OSError:
                pass
        while not stop.wait(2):
            for s in slow:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    pass

    trickler = threading.Thread(target=slowloris, daemon=True)
    trickler.start()
    time.sleep(1)
    print(f"  {len(idle)} idle attackers connected, {len(slow)} slowloris so far")
    results: List[Optional[float]] = []
    for _ in range(tries):
        t0 = time.monotonic()
        try:
            conn = connect(srv.port, srv.cafile, timeout=20)
            status, _ = get(conn, "/api/meters")
            conn.close()
            results.append(time.monotonic() - t0 if status == 200 else None)
        except (OSError, http.client.HTTPException):
            results.append(None)
        time.sleep(0.5)
    stop.set()
    for s in idle + slow:
        s.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--peer", type=Path, help="another pyhm source tree, measured in the same run")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attackers", type=int, default=64)
    args = parser.parse_args()
    q = Query(args.db)
    meter = q.meters()[0]
    end = q.last_seen_ms(meter.id) + 1000
    q.close()
    day = 86_400_000
    series = f"/api/series?meter={meter.id}&obis=1-0:16.7.0&from={end - day}&to={end}&points=1000"
    cases = [(f"series {name}", f"/api/series?meter={meter.id}&obis=1-0:16.7.0&from={end - span}&to={end}&points=1000")
             for name, span in (("1 h", 3_600_000), ("24 h", day), ("7 d", 7 * day), ("30 d", 30 * day))]
    cases += [(f"consumption {p}", f"/api/consumption?meter={meter.id}&period={p}&from={end - 365 * day}&to={end}")
              for p in ("day", "month")]
    cases += [(f"energy {p}", f"/api/energy?meter={meter.id}&period={p}") for p in ("day", "week", "month", "year")]
    cases += [("meters (dashboard)", "/api/meters"), ("/ (dashboard page)", "/")]
    trees = [("this tree", ROOT)] + ([("peer " + str(args.peer), args.peer)] if args.peer else [])
    for name, tree in trees:
        print(f"\n== {name}: pyhm web from {tree}")
        srv = WebServer(tree, args.db)
        try:
            latency_table(srv, cases, args.repeat)
            print(f"  {args.clients} concurrent clients, {args.seconds:.0f} s each:"
                  f"{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
            for label, path in (("/", "/"), ("/api/series (24 h)", series), ("/api/meters", "/api/meters")):
                r = load(srv, path, args.clients, args.procs, args.seconds)
                print(f"    {label:<30}{r['rps']:>9.1f}{r['p50']:>9.0f}{r['p95']:>9.0f}{r['p99']:>9.0f}{r['errors']:>8}")
            res = attacked(srv, args.attackers, 3)
            shown = ", ".join("no answer in 20 s" if r is None else f"{r * 1000:.0f} ms" for r in res)
            print(f"  with {args.attackers} idle/slow attackers connected, a new client's request: {shown}")
        finally:
            srv.stop()
    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
