"""The JSON API over real TLS on loopback: answers, every error path, hostile input."""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest

from webhelp import Server, build_db

NOW = int(time.time() * 1000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    global NOW
    NOW = int(time.time() * 1000)
    tmp = tmp_path_factory.mktemp("web")
    build_db(tmp / "pyhm.db", NOW - 20_000)  # the acquisition stopped 20 s ago
    s = Server(tmp)
    yield s
    s.stop()


def test_meters(server: Server) -> None:
    status, data = server.get_json("/api/meters")
    assert status == 200 and len(data["meters"]) == 2
    house = next(m for m in data["meters"] if m["name"] == "House")
    assert house["power"]["unit"] == "W" and isinstance(house["power"]["value"], Decimal)
    assert len(house["phases"]) == 3
    assert house["today"]["import"] is not None and house["month"]["import"] >= house["today"]["import"] >= 0
    assert house["last_seen"].endswith(time.strftime("%z")[:3] + ":" + time.strftime("%z")[3:]) or "+" in house["last_seen"]
    assert data["acquisition"]["running"] is False  # no acquisition service writes this database now
    # The card's curve: minute means of the last hour (telegrams each second), oldest first.
    hour = house["hour"]
    assert hour["step_ms"] == 60_000 and hour["from"] % 60_000 == 0 and NOW - 3_700_000 < hour["from"] <= time.time() * 1000 - 3_540_000
    assert len(hour["power"]) == 60 and sum(isinstance(v, int) for v in hour["power"]) >= 55
    assert [p["phase"] for p in house["phases"]] == ["L1", "L2", "L3"]
    assert house["yesterday"]["import"] >= 0 and house["yesterday"]["until"][:10] < house["last_seen"][:10]


def test_meter_detail_by_id_name_and_server_id(server: Server) -> None:
    _, meters = server.get_json("/api/meters")
    house = next(m for m in meters["meters"] if m["name"] == "House")
    for ref in (str(house["id"]), "House", house["server_id"]):
        status, data = server.get_json(f"/api/meters/{ref}")
        assert status == 200 and data["id"] == house["id"]
    obis = {s["obis"]: s for s in data["series"]}
    assert obis["1-0:1.8.0*255"]["kind"] == "counter" and obis["129-129:199.130.3*255"]["latest"]["value"] == "PYH"


@pytest.mark.parametrize("span, resolution", [(3_600_000, "raw"), (86_400_000, "minute"), (30 * 86_400_000, "hour")])
def test_series(server: Server, span: int, resolution: str) -> None:
    status, data = server.get_json(f"/api/series?meter=House&obis=1-0:16.7.0&from={NOW - span}&to={NOW}&points=1000")
    assert status == 200 and data["resolution"] == resolution
    assert 0 < len(data["points"]) <= 1000
    p = data["points"][-1]
    assert p["min"] <= p["value"] <= p["max"] and "T" in p["time"]


def test_series_with_iso_times(server: Server) -> None:
    start = time.strftime("%Y-%m-%dT%H:%M", time.localtime(NOW / 1000 - 1800))
    status, data = server.get_json(f"/api/series?meter=House&obis=1-0:1.8.0*255&from={quote(start)}")
    assert status == 200 and data["kind"] == "counter" and data["points"]


def test_consumption(server: Server) -> None:
    status, data = server.get_json(f"/api/consumption?meter=House&period=day&from={NOW - 3 * 86_400_000}&to={NOW}")
    assert status == 200 and data["unit"] == "Wh" and 1 <= len(data["values"]) <= 3
    assert all(v["value"] >= 0 for v in data["values"])
    status, month = server.get_json("/api/consumption?meter=House&period=month")
    assert status == 200 and sum(v["value"] for v in month["values"]) == sum(v["value"] for v in data["values"])


def test_status_and_healthz(server: Server) -> None:
    status, data = server.get_json("/api/status")
    assert status == 200 and data["database"]["meters_rows"] == 2 and data["versions"]["bottle"].startswith("0.13")
    status, health = server.get_json("/healthz", auth=None)  # no login needed
    assert status == 503 and health["status"] == "stale" and 20 <= health["age_s"] < 60  # stopped 20 s ago


def test_export(server: Server) -> None:
    status, headers, body = server.request(
        "GET", f"/api/export?meter=House&obis=1-0:16.7.0&from={NOW - 120_000}&to={NOW}&format=csv",
        auth="correct horse battery")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert 'filename="House-1-0_16.7.0_255.csv"' in headers["content-disposition"]
    lines = body.decode().splitlines()
    assert lines[0] == "time,value,unit" and len(lines) > 50


@pytest.mark.parametrize(
    "path, status, parameter",
    [
        ("/api/series?obis=1-0:16.7.0", 400, "meter"),
        ("/api/series?meter=House", 400, "obis"),
        ("/api/series?meter=House&obis=banana", 400, "obis"),
        ("/api/series?meter=House&obis=1-0:16.7.0&points=0", 400, "points"),
        ("/api/series?meter=House&obis=1-0:16.7.0&points=1e9", 400, "points"),
        ("/api/series?meter=House&obis=1-0:16.7.0&from=yesterday", 400, "from"),
        ("/api/series?meter=House&obis=1-0:16.7.0&from=99999999999999999999", 400, "from"),
        ("/api/series?meter=House&obis=1-0:16.7.0&from=2030-01-01&to=2020-01-01", 400, "to"),
        ("/api/series?meter=House&obis=129-129:199.130.3", 400, "obis"),
        ("/api/consumption?meter=House&period=fortnight", 400, "period"),
        ("/api/consumption?meter=House&obis=1-0:16.7.0", 400, "obis"),
        ("/api/export?meter=House&obis=1-0:16.7.0&format=xml", 400, "format"),
        ("/api/series?meter=nobody&obis=1-0:16.7.0", 404, None),
        ("/api/series?meter=House&obis=1-0:99.99.0", 404, None),
        ("/api/meters/nobody", 404, None),
        ("/api/nothing", 404, None),
    ],
)
def test_bad_input_gets_a_json_error(server: Server, path: str, status: int, parameter: str) -> None:
    got, data = server.get_json(path)
    assert got == status and data["error"]
    if parameter:
        assert data["parameter"] == parameter


HOSTILE = [
    "/api/meters/1%27%20OR%20%271%27=%271",
    "/api/meters/1;DROP%20TABLE%20meters",
    "/api/series?meter=House%27--&obis=1-0:16.7.0",
    "/api/series?meter=House&obis=1-0:16.7.0%27);DELETE%20FROM%20telegrams;--",
    "/api/series?meter=" + "A" * 5000 + "&obis=1-0:16.7.0",
    "/api/series?meter=House&obis=1-0:16.7.0&from=" + "9" * 300,
    "/api/series?meter=%00%ff%fe&obis=%c0%ae%c0%ae",
    "/static/..%2f..%2fpyhm.cfg",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/store/schema.py",
    "/meter/..%2F..%2Fetc%2Fpasswd",
    "/api/export?meter=House&obis=1-0:16.7.0&format=csv&resolution=../../etc",
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_input_gets_4xx_and_changes_nothing(server: Server, path: str) -> None:
    before = server.get_json("/api/status")[1]["database"]
    status, _, body = server.request("GET", path, auth="correct horse battery")
    assert 400 <= status < 500, (status, body[:200])
    assert b"root:" not in body and b"CREATE TABLE" not in body and b"database:" not in body
    after = server.get_json("/api/status")[1]["database"]
    assert {k: after[k] for k in after if k.endswith("_rows")} == {k: before[k] for k in before if k.endswith("_rows")}


def test_huge_bodies_and_headers_are_refused(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:  # only the headers: the
        with server.context.wrap_socket(sock) as tls:  # answer must come before the body is read
            tls.sendall(b"POST /login HTTP/1.1\r\nHost: pyhm\r\nContent-Length: 100000\r\n"
                        b"Content-Type: application/x-www-form-urlencoded\r\n\r\npassword=x")
            assert tls.recv(4096).startswith(b"HTTP/1.1 413 ")
    status, _, _ = server.request("GET", "/api/meters", headers={"X-Junk": "y" * 100_000}, auth="correct horse battery")
    assert 400 <= status < 500


def test_no_database_yet(tmp_path: Path) -> None:
    s = Server(tmp_path)
    try:
        status, data = s.get_json("/api/meters")
        assert status == 503 and "acquisition" in data["error"]
        status, health = s.get_json("/healthz", auth=None)
        assert status == 503 and health["status"] == "no-database"
        status, _, body = s.request("GET", "/", auth="correct horse battery")
        assert status == 200 and b"No meters yet" in body
    finally:
        s.stop()
