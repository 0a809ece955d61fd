"""Faults a user meets get one clear line on stderr and a non-zero exit, never a traceback.

Real processes on real files: a directory the service cannot write (a read-only mount in a
private mount namespace, since the tests run as root), a path under a file, a file that is not
a database, a database with damaged pages.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from pyhm.simulator import SimulatedMeter
from pyhm.store import SchemaError
from storehelp import Clock, T0, feed, writer

ISO_FROM = "2026-01-01T00:00:00+00:00"
ISO_TO = "2026-01-01T01:00:00+00:00"
DAMAGED = "is damaged (database disk image is malformed)"


def pyhm(*args: str, env: Dict[str, str] = {}) -> subprocess.CompletedProcess:  # noqa: B006 - never mutated
    import os

    return subprocess.run([sys.executable, "-m", "pyhm", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def one_clear_line(result: subprocess.CompletedProcess, *parts: str) -> str:
    """The one line the user gets; it must say each of ``parts``."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    for python in ("PosixPath(", "b'", "Decimal(", "Errno"):
        assert python not in lines[0]
    return lines[0]


def config(tmp_path: Path, db: Path) -> Path:
    cfg = tmp_path / "pyhm.cfg"
    cfg.write_text(f"database: {{path: {db}}}\nacquisition: {{discovery: glob, devices: [{tmp_path}/no-head-*]}}\n")
    return cfg


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- a database the service cannot create ---------------------------------------------------

def read_only_mount(path: Path, *command: str) -> subprocess.CompletedProcess:
    """Run ``command`` with ``path`` bound read-only onto itself, in a private mount namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private read-only mount")
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
    result = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(path), *command],
                            capture_output=True, text=True, timeout=60)
    if "mount:" in result.stderr:
        pytest.skip(f"cannot make a private read-only mount here: {result.stderr.strip()}")
    return result


def test_acquire_in_a_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    db = ro / "pyhm.db"
    result = read_only_mount(ro, sys.executable, "-m", "pyhm", "--config", str(config(tmp_path, db)), "acquire")
    one_clear_line(result, f"cannot create the database {db}: Read-only file system")
    assert not db.exists()


def test_acquire_on_a_database_in_a_read_only_mount(tmp_path: Path, good_db: Path) -> None:
    (tmp_path / "ro").mkdir()
    db = tmp_path / "ro" / "pyhm.db"
    shutil.copy(good_db, db)
    before = digest(db)
    result = read_only_mount(db.parent, sys.executable, "-m", "pyhm", "--config", str(config(tmp_path, db)), "acquire")
    one_clear_line(result, f"cannot write the database {db}: Read-only file system")
    assert digest(db) == before


def test_acquire_where_the_wal_files_cannot_be_made(good_db: Path) -> None:
    """The database file is writable, its directory is not (a common mistake with permissions)."""
    import tempfile

    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run as nobody")
    base = Path(tempfile.mkdtemp(prefix="pyhm-perm-"))
    try:
        (base / "state").mkdir()
        db = base / "state" / "pyhm.db"
        shutil.copy(good_db, db)
        db.chmod(0o666)
        for d in (base, base / "state"):
            d.chmod(0o755)
        cfg = config(base, db)
        cfg.chmod(0o644)
        result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                 sys.executable, "-m", "pyhm", "--config", str(cfg), "acquire"],
                                capture_output=True, text=True, timeout=60, cwd="/")
        one_clear_line(result, f"cannot use {db}: its directory {db.parent} is not writable")
    finally:
        shutil.rmtree(base)


def test_acquire_with_a_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    db = tmp_path / "file" / "sub" / "pyhm.db"
    result = pyhm("--config", str(config(tmp_path, db)), "acquire")
    one_clear_line(result, f"cannot create the database {db}: Not a directory ({tmp_path}/file/sub)")


# -- not a database ------------------------------------------------------------------------

@pytest.fixture()
def not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("shopping list: milk, bread\n" * 100)
    return path


def test_export_and_backup_refuse_a_file_that_is_no_database(tmp_path: Path, not_a_database: Path) -> None:
    before = digest(not_a_database)
    said = f"cannot use {not_a_database}: it is not a database"
    one_clear_line(pyhm("export", "--db", str(not_a_database), "--meter", "x", "--obis", "1-0:1.8.0"), said)
    copy = tmp_path / "copy.db"
    one_clear_line(pyhm("--config", str(config(tmp_path, not_a_database)), "backup", str(copy)), said)
    one_clear_line(pyhm("--config", str(config(tmp_path, not_a_database)), "acquire"), said)
    assert digest(not_a_database) == before and not copy.exists()


# -- damaged pages -------------------------------------------------------------------------

def damaged_copy(good: Path, dest: Path, table: str) -> Path:
    """A copy of ``good`` whose ``table`` has its root page overwritten, as a failing SD card does."""
    shutil.copy(good, dest)
    con = sqlite3.connect(good)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    con.close()
    with open(dest, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xde\xad\xbe\xef" * (page_size // 4))
    return dest


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.db"
    clock = Clock()
    w = writer(path, clock)
    feed(w, clock, [SimulatedMeter(3), SimulatedMeter(4)], 900)
    w.close()
    assert not Path(f"{path}-wal").exists()  # everything in the main file
    return path


@pytest.mark.parametrize("table", ["telegrams", "rollup_minute", "meters", "series", "layouts"])
def test_acquire_refuses_a_damaged_database_and_changes_nothing(tmp_path: Path, good_db: Path, table: str) -> None:
    db = damaged_copy(good_db, tmp_path / "pyhm.db", table)
    before = digest(db)
    result = pyhm("--config", str(config(tmp_path, db)), "acquire")
    line = one_clear_line(result, f"the database {db} {DAMAGED}", "pyhm did not change it", ".recover")
    assert line.split(" CRITICAL ")[-1].startswith("pyhm.acquire: cannot start: ")
    assert digest(db) == before
    with pytest.raises(SchemaError, match="is damaged"):
        writer(db)  # the writer's own check, as the service and the demo open it
    assert digest(db) == before


def test_export_stops_with_a_message_at_damaged_pages(tmp_path: Path, good_db: Path) -> None:
    db = damaged_copy(good_db, tmp_path / "pyhm.db", "telegrams")
    result = pyhm("export", "--db", str(db), "--meter", "1", "--obis", "1-0:16.7.0", "--from", ISO_FROM, "--to", ISO_TO)
    one_clear_line(result, f"pyhm export: stopped: the database {db} {DAMAGED}")
    assert result.stdout.splitlines() in ([], ["time,value,unit"])  # streamed in pieces: nothing past the damage
    ok = pyhm("export", "--db", str(db), "--meter", "1", "--obis", "1-0:16.7.0", "--from", ISO_FROM, "--to", ISO_TO,
              "--resolution", "minute")
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 1 + 15  # the minutes are intact and still served


def test_backup_of_a_damaged_database_says_so(tmp_path: Path, good_db: Path) -> None:
    db = damaged_copy(good_db, tmp_path / "pyhm.db", "telegrams")
    copy = tmp_path / "copy.db"
    result = pyhm("--config", str(config(tmp_path, db)), "backup", str(copy))
    one_clear_line(result, f"copied {db} to {copy}, but the copy shows that the database is damaged", ".recover")
    assert copy.stat().st_size == db.stat().st_size  # what could be copied is kept: the user rescues from it
    good_copy = tmp_path / "good-copy.db"
    ok = pyhm("--config", str(config(tmp_path, good_db)), "backup", str(good_copy))
    assert ok.returncode == 0 and ok.stderr == "" and f"backed up {good_db} to {good_copy}" in ok.stdout


def test_backup_to_a_directory_that_does_not_exist(tmp_path: Path, good_db: Path) -> None:
    dest = tmp_path / "nowhere" / "copy.db"
    one_clear_line(pyhm("--config", str(config(tmp_path, good_db)), "backup", str(dest)),
                   f"cannot copy {good_db} to {dest}: unable to open database file")
    assert not dest.parent.exists()


# -- export finds its database through the configuration -----------------------------------

def test_export_reads_the_database_named_by_the_configuration(tmp_path: Path, good_db: Path) -> None:
    cfg = config(tmp_path, good_db)
    args: List[str] = ["export", "--meter", "1", "--obis", "1-0:1.8.0", "--from", ISO_FROM, "--to", ISO_TO,
                       "--resolution", "minute"]
    by_option = pyhm("--config", str(cfg), *args)
    by_env = pyhm(*args, env={"PYHM_CONFIG": str(cfg)})
    for result in (by_option, by_env):
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 1 + 15
    assert by_option.stdout == by_env.stdout
    missing = pyhm(*args, env={"PYHM_CONFIG": str(config(tmp_path, tmp_path / "none.db"))})
    one_clear_line(missing, f"no database at {tmp_path / 'none.db'}")
    assert T0 == 1_767_225_600_000  # ISO_FROM is the clock's start


# -- messages show what the user wrote, not Python reprs ------------------------------------

@pytest.mark.parametrize("args, says", [
    (["--meter", "nobody", "--obis", "1-0:1.8.0"], 'no meter "nobody"'),
    (["--meter", "1", "--obis", "banana"], 'not an OBIS code: "banana"'),
    (["--meter", "1", "--obis", "1-0:1.8.0", "--from", "yesterday"], 'not a date or time: "yesterday"'),
])
def test_export_messages_quote_what_was_typed(good_db: Path, args: List[str], says: str) -> None:
    one_clear_line(pyhm("export", "--db", str(good_db), *args), says)


def test_other_commands_name_files_without_reprs(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    under_a_file = tmp_path / "file" / "sub"
    one_clear_line(pyhm("simulate", "--dir", str(tmp_path), "--replay", str(tmp_path / "none.bin")),
                   f"pyhm simulate: cannot read {tmp_path / 'none.bin'}: No such file or directory")
    bad_hex = tmp_path / "bad.hex"
    bad_hex.write_text("1b1b zz")
    one_clear_line(pyhm("simulate", "--dir", str(tmp_path), "--replay", str(bad_hex), "--hex"), "is not hex text")
    cfg = tmp_path / "web.cfg"
    cfg.write_text(f"web: {{credentials: {under_a_file / 'credentials.json'}}}\n")
    result = subprocess.run([sys.executable, "-m", "pyhm", "--config", str(cfg), "passwd", "--stdin"],
                            input="correct horse battery\n", capture_output=True, text=True, timeout=60)
    one_clear_line(result, f"cannot write {under_a_file / 'credentials.json'}: Not a directory ({under_a_file})")
    one_clear_line(pyhm("simulate", "--dir", str(under_a_file)),
                   f"pyhm simulate: cannot make the meters in {under_a_file}: Not a directory")
    one_clear_line(pyhm("demo", "--dir", str(under_a_file), "--seconds", "1"),
                   f"pyhm demo: cannot start: Not a directory ({under_a_file})")
    cfg.write_text(f"web: {{listen: 127.0.0.1, port: 1, certificate: {under_a_file / 'c.pem'}, "
                   f"key: {under_a_file / 'k.pem'}}}\n")
    one_clear_line(pyhm("--config", str(cfg), "web"), f"pyhm web: cannot start: Not a directory ({under_a_file})")
    one_clear_line(pyhm("export", "--db", str(tmp_path), "--meter", "1", "--obis", "1-0:1.8.0"),
                   f"cannot use {tmp_path}: it is a directory, not a database file")
    unreadable = tmp_path / "dir.cfg"
    unreadable.mkdir()
    one_clear_line(pyhm("check-config", str(unreadable)), f"{unreadable}: cannot read: Is a directory")


def test_no_repr_in_messages_of_the_source() -> None:
    """``!r`` and ``%r`` put Python reprs (quotes, b'..', PosixPath(..)) in front of users."""
    import re

    root = Path(__file__).resolve().parents[1] / "pyhm"
    allowed = {("sml/encode.py", "cannot encode")}  # a programming error, raised to the programmer
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        in_repr = False
        for line in path.read_text().splitlines():
            if re.match(r"\s*def ", line):
                in_repr = "def __repr__" in line
            if not in_repr and re.search(r"!r\}|%r|\brepr\(", line) and not any(
                    rel == f and text in line for f, text in allowed):
                found.append(f"{rel}: {line.strip()}")
    assert found == []
