"""Schema versions: new databases, migrations step by step, refusals that change nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from pyhm.simulator import SimulatedMeter
from pyhm.store import SCHEMA_VERSION, Query, SchemaError, schema
from storehelp import Clock, feed, writer


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_database_is_current_and_in_wal_mode(tmp_path: Path) -> None:
    w = writer(tmp_path / "new.db")
    assert w.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert w.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert w.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    w.close()


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meters (x)")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = digest(path)
    with pytest.raises(SchemaError, match="newer pyhm"):
        writer(path)
    with pytest.raises(SchemaError):
        Query(path)
    assert digest(path) == before
    assert not Path(str(path) + "-wal").exists()


def test_foreign_files_are_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (text)")
    con.close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    for path, message in ((other, "not a pyhm database"), (garbage, "cannot use")):
        before = digest(path)
        with pytest.raises(SchemaError, match=message):
            writer(path)
        assert digest(path) == before


def test_reader_without_database_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no database"):
        Query(tmp_path / "missing.db")


def test_migration_from_the_first_schema_keeps_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    clock = Clock()
    w = writer(path, clock)
    feed(w, clock, [SimulatedMeter(1)], 90)
    w.close()
    q = Query(path)
    series = q.find_series(q.meters()[0].id, "1-0:16.7.0*255")
    before = list(q.raw(series, 0, 2**62))
    q.close()

    # A next version that adds a column: the writer of that version migrates this database.
    def v2(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE meters ADD COLUMN location TEXT")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, v2)
    w = writer(path, clock)
    assert w.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert "location" in [r[1] for r in w.db.execute("PRAGMA table_info(meters)")]
    w.close()
    q = Query(path)
    assert list(q.raw(series, 0, 2**62)) == before
    q.close()


def test_a_version_1_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN")
    schema.MIGRATIONS[1](con)
    con.execute("INSERT INTO meters (server_id, name, first_seen_ms) VALUES (x'0a01', 'Old', 5)")
    con.execute("PRAGMA user_version = 1")
    con.execute("COMMIT")
    con.close()
    w = writer(path)
    assert w.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert w.db.execute("SELECT name FROM meters").fetchall() == [("Old",)]
    assert w.db.execute("SELECT count(*) FROM heads").fetchone()[0] == 0
    assert w.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    w.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fail.db"
    writer(path).close()

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, broken)
    with pytest.raises(SchemaError):
        writer(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "half_done" not in [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()


def test_a_version_2_database_keeps_every_telegram_in_time_order(tmp_path: Path) -> None:
    """Version 3 re-clusters the telegrams by time (fewer pages written per commit); the
    readings, the settings and when each meter last sent all come through."""
    path = tmp_path / "v2.db"
    clock = Clock()
    w = writer(path, clock)
    feed(w, clock, [SimulatedMeter(1), SimulatedMeter(2)], 120)
    w.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript("""
        BEGIN;
        CREATE TABLE t2 (meter_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, layout_id INTEGER NOT NULL,
                         data BLOB NOT NULL, meter_time INTEGER, PRIMARY KEY (meter_id, ts_ms)) WITHOUT ROWID;
        INSERT INTO t2 SELECT * FROM telegrams;
        DROP TABLE telegrams;
        ALTER TABLE t2 RENAME TO telegrams;
        ALTER TABLE meters DROP COLUMN last_ms;
        ALTER TABLE heads DROP COLUMN messages_bad;
        CREATE TABLE s2 (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO s2 SELECT * FROM settings;
        DROP TABLE settings;
        ALTER TABLE s2 RENAME TO settings;
        PRAGMA user_version = 2;
        COMMIT;
    """)  # the layout version 2 had
    before = con.execute("SELECT * FROM telegrams ORDER BY meter_id, ts_ms").fetchall()
    settings = con.execute("SELECT * FROM settings ORDER BY key").fetchall()
    con.close()
    assert len(before) >= 240
    w = writer(path, clock)
    assert w.db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert w.db.execute("SELECT * FROM telegrams ORDER BY meter_id, ts_ms").fetchall() == before
    assert w.db.execute("SELECT * FROM settings ORDER BY key").fetchall() == settings
    last = dict(w.db.execute("SELECT id, last_ms FROM meters"))
    assert last == {m: max(ts for mid, ts, *_ in before if mid == m) for m in last}
    pk = [r[1] for r in sorted(w.db.execute("PRAGMA table_info(telegrams)"), key=lambda r: r[5]) if r[5]]
    assert pk == ["ts_ms", "meter_id"]
    assert w.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    w.close()
    q = Query(path)
    assert q.last_seen_ms(q.meters()[0].id) == last[q.meters()[0].id]
    q.close()
