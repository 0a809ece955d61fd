"""Sessions end on the server: logout, a new password (``pyhm passwd``) and expiry each end one
for good, whatever the browser keeps; a restart of ``pyhm web`` keeps the live ones."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from pyhm.web.auth import Auth, sessions_file, set_password
from webhelp import build_db
from webproc import PASSWORD, WebProcess

FORM = "password=" + PASSWORD.replace(" ", "+")


@pytest.fixture()
def web(tmp_path: Path) -> Iterator[WebProcess]:
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    w = WebProcess(tmp_path, tmp_path / "pyhm.db")
    yield w
    w.stop()


def login(web: WebProcess) -> str:
    status, headers, _ = web.request("POST", "/login", body=FORM)
    assert status == 303
    return headers["set-cookie"].split(";")[0]


def works(web: WebProcess, cookie: str) -> bool:
    status = web.request("GET", "/api/meters", headers={"Cookie": cookie, "X-Requested-With": "pyhm"})[0]
    assert status in (200, 401)
    return status == 200


def test_logout_ends_the_session_on_the_server(web: WebProcess) -> None:
    kept, other = login(web), login(web)
    assert works(web, kept) and works(web, other)
    status, headers, _ = web.request("POST", "/logout", headers={"Cookie": kept})
    assert status == 303 and headers["location"] == "/login"
    assert not works(web, kept)  # the cookie a browser (or a thief) kept is dead
    assert web.request("GET", "/", headers={"Cookie": kept})[0] == 303
    assert works(web, other)  # another device stays logged in


def test_a_restart_keeps_live_sessions_and_not_ended_ones(web: WebProcess, tmp_path: Path) -> None:
    live, ended = login(web), login(web)
    web.request("POST", "/logout", headers={"Cookie": ended})
    web.stop()
    again = WebProcess(tmp_path, tmp_path / "pyhm.db", password=None)
    try:
        assert works(again, live) and not works(again, ended)
    finally:
        again.stop()
    store = sessions_file(web.credentials)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    text = store.read_text()
    assert live.split("=", 1)[1].split(".")[0] not in text  # only hashes of session ids are stored


def passwd(web: WebProcess, password: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pyhm", "--config", str(web.tmp / "pyhm.cfg"), "passwd", "--stdin"],
                            input=password + "\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_pyhm_passwd_ends_every_session(web: WebProcess, tmp_path: Path) -> None:
    before = login(web)
    passwd(web, PASSWORD)  # even the same password again: a new salt, a new hash
    assert not works(web, before)
    after = login(web)
    assert works(web, after)
    web.stop()
    passwd(web, "a new password")  # while pyhm web is stopped
    again = WebProcess(tmp_path, tmp_path / "pyhm.db", password=None)
    try:
        assert not works(again, after)
        assert again.request("POST", "/login", body="password=a+new+password")[0] == 303
    finally:
        again.stop()


def test_sessions_expire_on_the_server(tmp_path: Path) -> None:
    set_password(tmp_path / "c.json", "password123")
    now = [1000.0]
    auth = Auth(tmp_path / "c.json", session_seconds=60, clock=lambda: now[0])
    first = auth.new_session()
    now[0] += 30
    second = auth.new_session()
    now[0] += 31
    assert not auth.valid_session(first) and auth.valid_session(second)
    auth.new_session()  # expired sessions leave the file as new ones come
    assert len(json.loads(sessions_file(tmp_path / "c.json").read_text())["sessions"]) == 2
    now[0] += 60
    assert not auth.valid_session(second)


def test_a_forged_or_foreign_cookie_is_no_session(tmp_path: Path) -> None:
    set_password(tmp_path / "c.json", "password123")
    auth = Auth(tmp_path / "c.json")
    cookie = auth.new_session()
    sid, signature = cookie.rsplit(".", 1)
    assert auth.valid_session(cookie)
    assert not auth.valid_session(sid + "." + "0" * 64)  # a live id with a wrong signature
    other = tmp_path / "other"
    other.mkdir()
    set_password(other / "c.json", "password123")
    assert not Auth(other / "c.json").valid_session(cookie)  # another install's secret
    for junk in (None, "", "garbage", "a.b", ".", "é." + signature, sid + ".é", "x" * 600):
        assert not auth.valid_session(junk)
        auth.end_session(junk)  # logout with junk: nothing happens
    assert auth.valid_session(cookie)


def test_without_a_writable_sessions_file_sessions_live_in_memory(tmp_path: Path) -> None:
    build_db(tmp_path / "pyhm.db", int(time.time() * 1000), day=False)
    sessions_file(tmp_path / "credentials.json").mkdir()  # cannot be replaced by a file
    web = WebProcess(tmp_path, tmp_path / "pyhm.db")
    try:
        cookie = login(web)
        assert works(web, cookie)
        login(web)
        web.request("POST", "/logout", headers={"Cookie": cookie})
        assert not works(web, cookie)
    finally:
        err = web.stop()
    assert err.count("cannot write sessions file") == 1 and "Traceback" not in err, err
