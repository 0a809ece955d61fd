"""Web API latency and throughput on the 1-year data set of bench/store.py.

Run: .venv/bin/python bench/store.py --dir /tmp/pyhm-bench   (once, keeps the data set)
     .venv/bin/python bench/web.py --db /tmp/pyhm-bench/pyhm.db

The real HTTPS server (``pyhm web``: cheroot, TLS) on 127.0.0.1 in its own process; the
clients are threads of this process with keep-alive connections. Prints p50/p95 per endpoint and range, then requests/s with 20 concurrent
clients for a bounded time, and the error rate (must be 0).
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import ssl
import statistics
import sys
import tempfile
import threading
import time
from base64 import b64encode
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhm.config import Config, DatabaseConfig, WebConfig  # noqa: E402
from pyhm.store import Query  # noqa: E402
from pyhm.web.auth import set_password  # noqa: E402

PASSWORD = "benchmark password"
AUTH = {"Authorization": "Basic " + b64encode(f"bench:{PASSWORD}".encode()).decode()}


def connect(port: int, cafile: Path) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = False
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)


def get(conn: http.client.HTTPSConnection, path: str) -> Tuple[int, float]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers=AUTH)
    res = conn.getresponse()
    res.read()
    return res.status, (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pyhm-webbench-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config(database=DatabaseConfig(path=args.db),
                    web=WebConfig(listen="127.0.0.1", port=port, certificate=tmp / "cert.pem", key=tmp / "key.pem",
                                  credentials=tmp / "credentials.json"))
    set_password(config.web.credentials, PASSWORD)
    cfg = tmp / "pyhm.cfg"
    cfg.write_text(f"database: {{path: {args.db}}}\nlogging: {{level: warning}}\n"
                   f"web: {{listen: 127.0.0.1, port: {port}, certificate: {tmp / 'cert.pem'}, key: {tmp / 'key.pem'}, "
                   f"credentials: {config.web.credentials}}}\n")
    server = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "web"])
    end_wait = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > end_wait:
                raise
            time.sleep(0.2)
    q = Query(args.db)
    meter = q.meters()[0]
    end = q.last_seen_ms(meter.id) + 1000
    q.close()
    day = 86_400_000
    cases = [(f"series {name}", f"/api/series?meter={meter.id}&obis=1-0:16.7.0&from={end - span}&to={end}&points=1000")
             for name, span in (("1 h", 3_600_000), ("24 h", day), ("7 d", 7 * day), ("30 d", 30 * day), ("1 y", 365 * day))]
    cases += [(f"consumption {p}", f"/api/consumption?meter={meter.id}&period={p}&from={end - 365 * day}&to={end}")
              for p in ("day", "week", "month", "year")]
    cases += [("meters (dashboard)", "/api/meters")]
    conn = connect(port, config.web.certificate)
    print(f"Latency over HTTPS on loopback, {args.repeat} requests each (after one warm-up)")
    print(f"  {'request':<22}{'p50 ms':>9}{'p95 ms':>9}")
    worst = 0.0
    for name, path in cases:
        get(conn, path)
        times = []
        for _ in range(args.repeat):
            status, ms = get(conn, path)
            assert status == 200, (path, status)
            times.append(ms)
        p95 = statistics.quantiles(times, n=20)[18]
        worst = max(worst, p95)
        print(f"  {name:<22}{statistics.median(times):>9.1f}{p95:>9.1f}")
    conn.close()

    counts: List[Tuple[int, int]] = []
    stop_at = time.monotonic() + args.seconds
    mix = [path for _, path in cases]

    def client(i: int) -> None:
        c = connect(port, config.web.certificate)
        ok = bad = 0
        n = i
        while time.monotonic() < stop_at:
            try:
                status, _ = get(c, mix[n % len(mix)])
                ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
            except (OSError, http.client.HTTPException):
                bad += 1
                c = connect(port, config.web.certificate)
            n += 1
        c.close()
        counts.append((ok, bad))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    ok, bad = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(f"\n{args.clients} concurrent clients for {elapsed:.0f} s, the requests above in turn:")
    print(f"  {ok / elapsed:.1f} requests/s, {ok + bad} requests, error rate {bad / max(1, ok + bad):.2%}")
    print(f"\nworst p95: {worst:.1f} ms (goal < 100 ms); Python {sys.version.split()[0]}")
    server.terminate()
    server.wait(timeout=30)


if __name__ == "__main__":
    main()
