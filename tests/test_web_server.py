"""The HTTPS server stays reachable: idle and slow clients, bursts of connects, the summary memo.

Real server on loopback, real sockets and TLS. The request deadline is shortened to 2 s here so
that the slow clients' fate is seen quickly; the mechanism is the same at the real 10 s.
"""

from __future__ import annotations

import http.client
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Iterator, List

import pytest

from pyhm.simulator import SimulatedMeter
from acquirehelp import wait_for
from pyhm.web import api, server as web_server, summary
from pyhm.web.auth import set_password
from storehelp import Clock, feed, writer
from webhelp import PASSWORD, Server, build_db

DEADLINE = 2.0


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setattr(web_server, "REQUEST_S", DEADLINE)
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    s = Server(tmp_path)
    yield s
    s.stop()


def timed_get(server: Server, path: str = "/api/meters") -> float:
    t0 = time.monotonic()
    status, _, _ = server.request("GET", path, auth=PASSWORD)
    assert status == 200
    return time.monotonic() - t0


def read_until_closed(sock: socket.socket, within: float = 30) -> bytes:
    """All the server sends until it closes ``sock``; fails if it is still open after ``within`` s."""
    sock.settimeout(max(0.01, within))
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    except socket.timeout:
        pytest.fail(f"still open after {within:.1f} s")
    return answer


def test_idle_sockets_do_not_delay_anyone(server: Server) -> None:
    """Port scanners and half-open connections: TCP connected, no ClientHello (stock cheroot: 18 s)."""
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
    try:
        assert timed_get(server) < 2
        assert timed_get(server, "/") < 2
        started = time.monotonic()
        for sock in idle:  # closed at the deadline, not left to pile up
            read_until_closed(sock, DEADLINE + 3 - (time.monotonic() - started))
    finally:
        for sock in idle:
            sock.close()


def test_idle_keep_alive_connections_hold_no_worker(server: Server) -> None:
    """20 browsers that asked once and keep their connection open (more than the 16 workers)."""
    kept = []
    for _ in range(20):
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=10)
        conn.request("GET", "/static/favicon.svg")
        assert conn.getresponse().read().startswith(b"<svg")
        kept.append(conn)
    try:
        started = time.monotonic()
        assert timed_get(server) < 2
        kept[0].request("GET", "/healthz")  # a kept connection still works
        kept[0].getresponse().read()
        for conn in kept[1:]:  # the others are closed once idle for the deadline
            assert conn.sock is not None
            assert read_until_closed(conn.sock, DEADLINE + 3 - (time.monotonic() - started)) == b""
    finally:
        for conn in kept:
            conn.close()


def test_slowloris_clients_neither_block_nor_stay(server: Server) -> None:
    """20 clients finish TLS, then send their request head a byte every 0.3 s: more than the
    16 workers, and each read on time, so a timeout per read would never end them."""
    slow: List[ssl.SSLSocket] = []
    for _ in range(20):
        sock = server.context.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        sock.sendall(b"GET /api/meters HTTP/1.1\r\n")
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.3):
            for sock in slow:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass

    dripper = threading.Thread(target=trickle, daemon=True)
    dripper.start()
    started = time.monotonic()
    try:
        for _ in range(5):
            assert timed_get(server) < 2
        answers = [read_until_closed(sock, DEADLINE + 3 - (time.monotonic() - started)) for sock in slow]
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        dripper.join()
        for sock in slow:
            sock.close()
    assert DEADLINE - 0.5 < elapsed < DEADLINE + 3
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:3]
    assert timed_get(server) < 2


def test_a_burst_of_connects_waits_in_the_backlog(tmp_path: Path) -> None:
    """200 clients connect while the server is not accepting yet: the kernel queues all of them
    (a backlog of 5 queued 6), and every one is answered once it runs."""
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    s = Server(tmp_path, start=False)
    socks = []
    try:
        for _ in range(200):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", s.port))
            socks.append(sock)
        deadline = time.monotonic() + 2
        for sock in socks:  # writable: connected (a dropped SYN leaves it waiting for a retry)
            _, writable, _ = select.select([], [sock], [], max(0.0, deadline - time.monotonic()))
            assert writable and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        s.start()

        def ask(sock: socket.socket) -> bytes:
            sock.settimeout(30)
            tls = s.context.wrap_socket(sock)
            tls.sendall(b"GET /static/favicon.svg HTTP/1.1\r\nHost: pyhm\r\nConnection: close\r\n\r\n")
            return read_until_closed(tls)

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(ask, socks))
        assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
    finally:
        for sock in socks:
            sock.close()
        s.stop()


def test_pipelined_requests_are_all_answered(server: Server) -> None:
    """Two requests in one write, the second left over from the first's read: both answered."""
    with server.context.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=10)) as sock:
        sock.sendall(b"GET /static/favicon.svg HTTP/1.1\r\nHost: pyhm\r\n\r\n"
                     b"GET /healthz HTTP/1.1\r\nHost: pyhm\r\nConnection: close\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.count(b"HTTP/1.1 ") == 2 and b'"status"' in answer


def test_summary_is_made_once_per_new_data(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    real = api.meters

    def counting(q: object) -> dict:
        made.append(1)
        return real(q)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "meters", counting)
    first = [server.get_json("/api/meters")[1] for _ in range(10)]
    for _ in range(5):
        assert server.request("GET", "/", auth=PASSWORD)[0] == 200
    assert len(made) == 1
    time.sleep(0.3)
    aged = server.get_json("/api/meters")[1]
    assert aged["meters"][0]["age_s"] >= first[0]["meters"][0]["age_s"] + Decimal("0.2")  # ages still move on
    assert len(made) == 1

    clock = Clock(int(time.time() * 1000))
    w = writer(tmp_path / "pyhm.db", clock)
    feed(w, clock, [SimulatedMeter(21), SimulatedMeter(22)], 2)
    w.close()
    newer = server.get_json("/api/meters")[1]
    assert len(made) == 2
    assert newer["meters"][0]["last_seen"] != first[0]["meters"][0]["last_seen"]
    assert newer["meters"][0]["age_s"] < first[0]["meters"][0]["age_s"]


def test_the_summary_is_encoded_once_per_tenth_of_a_second(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy dashboard's /api/meters costs one JSON encoding per tenth of a second, not one per request,
    and what is sent is still the summary of that moment (its ages in tenths)."""
    encoded = []
    real = summary.exactjson.dumps

    def counting(value: object) -> str:
        encoded.append(1)
        return real(value)

    monkeypatch.setattr(summary.exactjson, "dumps", counting)
    started = time.monotonic()
    answers = [server.get_json("/api/meters")[1] for _ in range(20)]
    tenths = (time.monotonic() - started) / 0.1
    assert len(encoded) <= tenths + 2
    assert all(a["meters"][0]["age_s"] >= answers[0]["meters"][0]["age_s"] for a in answers)
    time.sleep(0.25)
    later = server.get_json("/api/meters")[1]
    assert later["meters"][0]["age_s"] >= answers[-1]["meters"][0]["age_s"] + Decimal("0.1")


@pytest.mark.parametrize("data,end", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n", None),
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x", 27),
    (b"POST /login HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", None),
    (b"POST /login HTTP/1.1\r\ncontent-length:5\r\n\r\nabcdeGET", 47),
    (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 48),
    (b"POST /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 46),
])
def test_request_end(data: bytes, end: object) -> None:
    assert web_server.request_end(data) == end


def test_an_oversized_head_goes_to_a_worker_for_its_413() -> None:
    assert web_server.request_end(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000) == 20019


def test_pyhm_web_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The service as systemd runs it: answers, then SIGTERM with connections open ends it with 0."""
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_password(tmp_path / "credentials.json", PASSWORD)
    cfg = tmp_path / "pyhm.cfg"
    cfg.write_text(f"database: {{path: {tmp_path / 'pyhm.db'}}}\n"
                   f"web: {{listen: 127.0.0.1, port: {port}, certificate: {tmp_path / 'cert.pem'}, "
                   f"key: {tmp_path / 'key.pem'}, credentials: {tmp_path / 'credentials.json'}}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "web"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    idle = None
    try:
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_for(listening, timeout=30, what="pyhm web listening")
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        ctx.check_hostname = False
        idle = socket.create_connection(("127.0.0.1", port))
        kept = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        kept.request("GET", "/healthz")
        assert kept.getresponse().read()  # and the connection stays open (keep-alive)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert time.monotonic() - t0 < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if idle is not None:
            idle.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
