"""Security over real TLS: login, cookies, rate limiting, headers, HTTPS only, no files by path."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pyhm.web.auth import MAX_FAILURES, SCRYPT_AT_ONCE, Auth, check_password, hash_password, set_password
from webhelp import PASSWORD, Server, build_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    s = Server(tmp_path)
    yield s
    s.stop()


def login(server: Server, password: str) -> tuple:
    return server.request("POST", "/login?next=/status", body=f"password={password}")


def test_pages_need_a_login_and_the_cookie_is_strict(server: Server) -> None:
    status, headers, _ = server.request("GET", "/")
    assert status == 303 and headers["location"] == "/login?next=/"
    status, _, body = server.request("GET", "/login")
    assert status == 200 and b'type="password"' in body
    status, _, body = login(server, "wrong")
    assert status == 401 and b"Wrong password" in body
    status, headers, _ = login(server, PASSWORD.replace(" ", "+"))
    assert status == 303 and headers["location"] == "/status"
    cookie = headers["set-cookie"]
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Max-Age=2592000", "Path=/"):
        assert flag.lower() in cookie.lower(), cookie
    session = cookie.split(";")[0]
    status, _, body = server.request("GET", "/", headers={"Cookie": session})
    assert status == 200 and b"House" in body
    tampered = session[:-2] + ("00" if not session.endswith("00") else "11")
    assert server.request("GET", "/", headers={"Cookie": tampered})[0] == 303
    status, headers, _ = server.request("POST", "/logout", headers={"Cookie": session})
    assert status == 303 and "expires=thu, 01 jan 1970" in headers["set-cookie"].lower()  # deleted


def test_a_new_password_ends_every_session(server: Server) -> None:
    session = login(server, PASSWORD.replace(" ", "+"))[1]["set-cookie"].split(";")[0]
    assert server.request("GET", "/api/meters", headers={"Cookie": session})[0] == 200
    set_password(server.config.web.credentials, "a different password")
    assert server.request("GET", "/api/meters", headers={"Cookie": session, "X-Requested-With": "pyhm"})[0] == 401


def test_sessions_expire(tmp_path: Path) -> None:
    set_password(tmp_path / "c.json", "password123")
    now = [1000.0]
    auth = Auth(tmp_path / "c.json", session_seconds=60, clock=lambda: now[0])
    cookie = auth.new_session()
    assert auth.valid_session(cookie)
    now[0] += 61
    assert not auth.valid_session(cookie)
    assert not auth.valid_session("garbage") and not auth.valid_session("a.b") and not auth.valid_session(None)


def test_failed_logins_are_rate_limited(server: Server) -> None:
    for _ in range(5):
        assert login(server, "guess")[0] == 401
    status, headers, body = login(server, PASSWORD.replace(" ", "+"))  # even the right one now
    assert status == 429 and int(headers["retry-after"]) > 0 and b"Too many attempts" in body
    status, headers, _ = server.request("GET", "/api/meters", auth=PASSWORD)  # HTTP Basic is braked too ...
    assert status == 429 and int(headers["retry-after"]) > 0  # ... and says for how long


def parallel(n: int, attempt) -> list:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: attempt(), range(n)))


def test_parallel_guesses_are_all_counted(server: Server) -> None:
    statuses = parallel(48, lambda: login(server, "guess")[0])
    assert statuses.count(401) == MAX_FAILURES and statuses.count(429) == 48 - MAX_FAILURES, statuses
    assert login(server, PASSWORD.replace(" ", "+"))[0] == 429


def test_parallel_basic_guesses_cannot_sneak_the_password_in(server: Server) -> None:
    statuses = parallel(19, lambda: server.request("GET", "/api/meters", auth="guess")[0])
    assert statuses.count(401) == MAX_FAILURES and statuses.count(429) == 19 - MAX_FAILURES, statuses
    status, headers, body = server.request("GET", "/api/meters", auth=PASSWORD)  # guess #20 is right
    assert status == 429 and int(headers["retry-after"]) > 0 and b"meters" not in body


def test_parallel_right_basic_requests_are_not_braked(server: Server) -> None:
    statuses = parallel(32, lambda: server.request("GET", "/api/meters", auth=PASSWORD)[0])
    assert statuses == [200] * 32


def test_scrypt_runs_at_most_two_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running, most, lock, real = [0], [0], threading.Lock(), hashlib.scrypt

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.02)
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(hashlib, "scrypt", counted)
    stored = hash_password("password123")
    assert parallel(12, lambda: check_password("password123", stored)) == [True] * 12
    assert most[0] == SCRYPT_AT_ONCE == 2


def test_http_basic_for_api_clients(server: Server) -> None:
    assert server.request("GET", "/api/meters", auth=PASSWORD)[0] == 200
    status, headers, _ = server.request("GET", "/api/meters", auth="nope")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="pyhm"'
    status, headers, _ = server.request("GET", "/api/meters", headers={"X-Requested-With": "pyhm"})
    assert status == 401 and "www-authenticate" not in headers  # no browser pop-up for the UI's own calls
    status, _, _ = server.request("GET", "/api/meters", headers={"Authorization": "Basic !!!not-base64"})
    assert status == 401


@pytest.mark.parametrize("path", ["/", "/login", "/static/app.js", "/api/meters", "/healthz", "/nothing", "/api/nothing"])
def test_security_headers_everywhere(server: Server, path: str) -> None:
    _, headers, _ = server.request("GET", path, auth=PASSWORD)
    csp = headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "http" not in csp and "script-src 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_plain_http_is_not_served(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: pyhm\r\n\r\n")
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert b'"status"' not in answer and b"200 OK" not in answer


def test_old_tls_is_refused(server: Server) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(sock).do_handshake()


def test_certificate_made_at_first_start(server: Server) -> None:
    key = server.config.web.key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = ssl._ssl._test_decode_cert(str(server.config.web.certificate))  # type: ignore[attr-defined]
    names = {v for _, v in cert["subjectAltName"]}
    assert {"localhost", "127.0.0.1"} <= names


def test_assets_are_shipped_and_served_by_name_only(server: Server) -> None:
    status, headers, body = server.request("GET", "/static/uPlot.iife.min.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and len(body) > 40_000
    assert server.request("GET", "/static/pyhm.cfg")[0] == 404
    assert server.request("GET", "/static/vendor/uPlot.min.css")[0] == 404
    for tpl in (ROOT / "pyhm" / "web" / "templates").glob("*.tpl"):
        text = tpl.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), tpl
        assert "<script>" not in text and " on" not in re.sub(r"\bon\b", "", text).replace(" one", ""), tpl


def test_no_password_yet(tmp_path: Path) -> None:
    s = Server(tmp_path, password=None)
    try:
        status, _, body = s.request("GET", "/")
        assert status == 503 and b"pyhm passwd" in body
        status, _, body = s.request("GET", "/api/meters", auth="anything")
        assert status == 503 and b"pyhm passwd" in body
    finally:
        s.stop()
