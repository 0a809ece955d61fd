"""Hostile and broken input against ``pyhm web`` as a real process: every answer is a clear 4xx
(never a 5xx), and the service's stderr never shows a traceback."""

from __future__ import annotations

import io
import json
import logging
import socket
import sqlite3
import ssl
import threading
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from pyhm import logs
from pyhm.web import api
from webhelp import Server, build_db
from webproc import PASSWORD, WebProcess

SERIES = "/api/series?meter=House&obis=1-0:16.7.0"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    tmp = tmp_path_factory.mktemp("hostile")
    build_db(tmp / "pyhm.db", int(time.time() * 1000), day=False)
    w = WebProcess(tmp, tmp / "pyhm.db")
    yield w
    err = w.stop()
    assert "Traceback" not in err, err


def raw(web: WebProcess, request: bytes) -> Tuple[int, bytes]:
    """Send bytes as they are (no client library tidies them); the status and the answer."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=30) as sock:
        with web.context.wrap_socket(sock) as tls:
            tls.sendall(request)
            answer = b""
            try:
                while chunk := tls.recv(65536):
                    answer += chunk
            except (ConnectionResetError, ssl.SSLError, socket.timeout):
                pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def get(path: bytes, *headers: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: pyhm\r\nConnection: close\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


def post(path: bytes, body: bytes, *headers: bytes) -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: pyhm\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
            + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


BASIC = b"Authorization: Basic " + __import__("base64").b64encode(b"pyhm:" + PASSWORD.encode())

HOSTILE = {
    "cookie with an octal escape": get(b"/", b'Cookie: pyhm_session="abc.\\351"'),
    "cookie with a raw non-ASCII byte": get(b"/api/meters", b"Cookie: pyhm_session=abc.\xe9"),
    "cookie with a non-ASCII signature of the right length": get(b"/", b"Cookie: pyhm_session=eyJ9." + b"\xe9" * 64),
    "cookie soup": get(b"/", b'Cookie: ;;;=;"";pyhm_session;pyhm_session==.;a="\\"\\\\'),
    "form field with byte 0xff": post(b"/login", b"password=\xff&next=\xff"),
    "form next with byte 0xff": post(b"/login?next=%ff", b"password=x%ff"),
    "query next with byte 0xff": get(b"/login?next=%ff%fe"),
    "next with a NUL": get(b"/login?next=/%00"),
    "next with a newline": post(b"/login?next=/%0d%0aSet-Cookie:x=1", b"password=x"),
    "year 10000": get(SERIES.encode() + b"&from=253402200000000&to=253402300799000", BASIC),
    "year 10000 as ISO": get(SERIES.encode() + b"&from=9999-12-31T23:00&to=9999-12-31T23:59", BASIC),
    "consumption at the end of time": get(b"/api/consumption?meter=House&period=month&from=253402200000000", BASIC),
    "export at the end of time": get(b"/api/export?meter=House&obis=1-0:16.7.0&to=253402300799000", BASIC),
    "negative time": get(SERIES.encode() + b"&from=-5&to=-1", BASIC),
    "bad Content-Length": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
    "negative Content-Length": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Length: -1\r\nConnection: close\r\n\r\n",
    "huge Content-Length": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Length: 99999999999999999999999\r\n"
                           b"Connection: close\r\n\r\n",
    "bad Basic base64": get(b"/api/meters", b"Authorization: Basic !!!=="),
    "Basic without a colon": get(b"/api/meters", b"Authorization: Basic " + __import__("base64").b64encode(b"nocolon")),
    "Basic with non-UTF-8": get(b"/api/meters", b"Authorization: Basic " + __import__("base64").b64encode(b"pyhm:\xff\xfe")),
    "Basic with a raw byte": get(b"/api/meters", b"Authorization: Basic \xff\xff"),
    "bad percent-encoding in the path": get(b"/api/meters/%zz%", BASIC),
    "bad percent-encoding in the query": get(SERIES.encode() + b"&from=%zz&to=%", BASIC),
    "non-UTF-8 in the path": get(b"/meter/%ff%fe", BASIC),
    "raw byte in the path": get(b"/meter/\xff", BASIC),
    "huge query string": get(b"/api/meters?" + b"a=b&" * 30_000, BASIC),
    "long query string": get(SERIES.encode() + b"&x=" + b"%41" * 4000, BASIC),
    "many parameters": get(SERIES.encode() + b"&meter=x" * 2000, BASIC),
    "overlong header": get(b"/", b"X-Junk: " + b"y" * 100_000),
    "many headers": get(b"/", *[b"X-%d: y" % i for i in range(2000)]),
    "multipart without a boundary": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Type: multipart/form-data\r\n"
                                    b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    "multipart garbage": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                         b"Content-Length: 15\r\nConnection: close\r\n\r\n--x\r\n\xff\xff\xff\r\n--x--",
    "JSON body to the login": b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 6\r\nConnection: close\r\n\r\n{\"a\":1",
    "unknown method": b"BREW / HTTP/1.1\r\nHost: pyhm\r\nConnection: close\r\n\r\n",
    "absolute URI": get(b"https://evil.example/api/meters", BASIC),
    "Accept-Language with raw bytes": get(b"/", BASIC, b"Accept-Language: de\xff-DE;q=0.9, \xe9n"),
    "Accept-Language with nan and inf": get(b"/meter/1", BASIC, b"Accept-Language: de;q=nan, en;q=inf, de;q=-1"),
    "Accept-Language of 3000 tags": get(b"/status", BASIC, b"Accept-Language: " + b"x-y;q=0.1," * 3000 + b"de"),
    "energy at the end of time": get(b"/api/energy?meter=House&period=year&date=9999-12-31", BASIC),
    "energy in year 1": get(b"/api/energy?meter=House&period=week&date=0001-01-01", BASIC),
    "energy with a date of junk": get(b"/api/energy?meter=House&period=day&date=2026-02-30%00", BASIC),
    "energy page for an unknown meter": get(b"/energy/%ff%fe", BASIC),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_gets_a_clear_4xx(web: WebProcess, name: str) -> None:
    before = len(web.stderr())
    status, answer = raw(web, HOSTILE[name])
    assert 0 < status < 500, answer[:300]
    assert b"Traceback" not in answer
    time.sleep(0.05)
    assert "Traceback" not in web.stderr()[before:], web.stderr()[before:]


def test_year_10000_names_the_parameter(web: WebProcess) -> None:
    status, _, body = web.request("GET", SERIES + "&from=253402200000000&to=253402300799000", auth=PASSWORD)
    assert status == 400 and json.loads(body)["parameter"] in ("from", "to")


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%00/evil.example",
                                    "/%5c/evil.example", "/\\/evil.example", "//evil.example", "/%20/evil.example",
                                    "https://evil.example/", "/%c3%a9/x"])
def test_next_never_leaves_the_site(web: WebProcess, target: str) -> None:
    status, headers, body = web.request("POST", "/login?next=" + target, body="password=" + PASSWORD.replace(" ", "+"))
    assert status == 303 and headers["location"] == "/", headers
    status, _, body = web.request("GET", "/login?next=" + target)
    assert status == 200 and b"evil" not in body


def test_next_keeps_a_path_on_the_site(web: WebProcess) -> None:
    status, headers, _ = web.request("POST", "/login?next=/meter/1%3Fx%3D1", body="password=" + PASSWORD.replace(" ", "+"))
    assert status == 303 and headers["location"] == "/meter/1?x=1"


def corrupt(path: Path) -> None:
    """Overwrite the pages after the first two with garbage: a damaged database file."""
    data = bytearray(path.read_bytes())
    data[8192:] = b"\xde\xad" * ((len(data) - 8192) // 2)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not a database", "damaged pages"])
def test_a_broken_database_gets_a_clear_503_and_one_log_line(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "pyhm.db"
    if damage == "not a database":
        db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    else:
        build_db(db, int(time.time() * 1000), day=False)
        corrupt(db)
    web = WebProcess(tmp_path, db)
    try:
        for path in ("/", "/status", "/meter/1", "/api/meters", "/api/status", SERIES,
                     "/api/export?meter=House&obis=1-0:16.7.0") * 3:
            status, headers, body = web.request("GET", path, auth=PASSWORD)
            assert status == 503, (path, status, body[:300])
            if path.startswith("/api/"):
                assert "database" in json.loads(body)["error"]
            else:
                assert b"database" in body and headers["content-type"].startswith("text/html")
        status, _, body = web.request("GET", "/healthz")
        assert status == 503 and json.loads(body)["status"] == "database-error"
    finally:
        err = web.stop()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and str(db) in lines[0], err


def test_a_body_that_never_arrives_is_a_408(web: WebProcess) -> None:
    before = len(web.stderr())
    status, answer = raw(web, b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                              b"Content-Length: 100\r\nConnection: close\r\n\r\npassword=x")
    assert status == 408, answer[:300]
    assert "Traceback" not in web.stderr()[before:]


def test_a_500_is_logged_once_through_the_rate_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture) -> None:
    """A bug answers 500 "internal error"; the traceback goes to pyhm's log once, not to stderr
    on every request."""
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    server = Server(tmp_path)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    log = io.StringIO()
    logs.setup("info", stream=log)

    def bug(q: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "meters", bug)
    try:
        answers = [server.request("GET", "/api/meters", auth=PASSWORD) for _ in range(30)]
        page = server.request("GET", "/", auth=PASSWORD)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        server.stop()
    assert all(a[0] == 500 and json.loads(a[2]) == {"error": "internal error"} for a in answers)
    assert page[0] == 500 and b"internal error" in page[2] and b"a bug" not in page[2]
    text = log.getvalue()
    assert text.count("Traceback") == 1 and text.count("RuntimeError: a bug") == 1, text
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("content", ["", "{", "[]", '{"password": 1, "secret": "ab"}', '{"password": "x", "secret": "zz"}'])
def test_a_damaged_credentials_file_says_run_pyhm_passwd(tmp_path: Path, content: str) -> None:
    server = Server(tmp_path)
    server.config.web.credentials.write_text(content)
    try:
        for path, auth in (("/", None), ("/api/meters", PASSWORD)):
            status, _, body = server.request("GET", path, auth=auth)
            assert status == 503 and b"pyhm passwd" in body, body
    finally:
        server.stop()


def test_a_database_still_being_made_is_no_database_yet(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "pyhm.db").close()  # the acquisition has created the file, no schema yet
    server = Server(tmp_path)
    try:
        status, _, body = server.request("GET", "/", auth=PASSWORD)
        assert status == 200 and b"No meters yet" in body
        status, _, body = server.request("GET", "/healthz")
        assert status == 503 and json.loads(body)["status"] == "no-database"
    finally:
        server.stop()


def test_many_energy_years_at_once_leave_the_service_answering(tmp_path: Path) -> None:
    """Forty clients asking for a year of energy at once (each ~0.1 s of CPU over a year of
    history): a few are computed, the others get a quick 429 with Retry-After (never a 5xx),
    and /healthz and / still answer within 1.5 s (they waited 4-5 s); the memory stays bounded."""
    from datetime import timezone as utc_zone
    from pyhm import demo

    demo.prepare(tmp_path / "pyhm.db", utc_zone.utc, 52)
    web = WebProcess(tmp_path, tmp_path / "pyhm.db")
    try:
        _, headers, _ = web.request("POST", "/login", body="password=" + PASSWORD.replace(" ", "+"))
        cookie = {"Cookie": headers["set-cookie"].split(";")[0]}
        year = f"/api/energy?meter=1&period=year&date={time.gmtime().tm_year}-01-01"
        assert web.request("GET", year, headers=cookie)[0] == 200
        answers: list = []
        probes: list = []
        done = threading.Event()

        def client(n: int) -> None:
            for _ in range(2):
                status, h, body = web.request("GET", year, headers=cookie, source=f"127.0.1.{n + 1}")
                answers.append((status, h.get("retry-after"), body))

        def probe() -> None:
            while not done.is_set():
                for path in ("/healthz", "/"):
                    began = time.monotonic()
                    status = web.request("GET", path, headers=cookie, source="127.0.0.9")[0]
                    probes.append((path, status, time.monotonic() - began))
                time.sleep(0.05)

        watcher = threading.Thread(target=probe)
        watcher.start()
        clients = [threading.Thread(target=client, args=(n,)) for n in range(40)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        done.set()
        watcher.join()
        statuses = [a[0] for a in answers]
        assert set(statuses) <= {200, 429} and statuses.count(200) >= 4, statuses
        assert all(ra == "1" and b"busy" in body for status, ra, body in answers if status == 429)
        slowest = max(p[2] for p in probes)
        assert slowest < 1.5 and {p[1] for p in probes if p[0] == "/"} == {200}, probes
        assert web.memory_kib("VmHWM") < 200_000
    finally:
        err = web.stop()
    assert "Traceback" not in err, err
