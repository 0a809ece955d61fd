"""The database schema, its migrations, and how connections are opened.

Layout, chosen for an SD card:

* ``telegrams``: one row per meter and telegram, its numeric values packed by a ``layouts``
  entry (which series, which integer width, which scaler). One small row per second instead
  of one row per value: about a quarter of the bytes, and one page written per commit.
* ``texts``: octet-string values (device ids, firmware), stored only when they change.
* ``rollup_minute|hour|day``: per series and bucket: count, min, max, sum (gauges) or first,
  last and the sum of increases (counters), as exact integers at a decimal exponent.
* ``heads``, ``head_minutes`` (since version 2): reception health per IR head (since version
  3 with the count of messages whose own CRC was wrong).
* ``settings``: small facts, such as when the acquisition service last committed.

Since version 3, ``telegrams`` is clustered by (time, meter): every commit appends at the end
of the table, where SQLite fills fresh pages, instead of inserting in the middle of each
meter's range, where every page split rewrites three pages and their parent. It halves the
pages written per commit (an SD card's lifetime); ``meters.last_ms`` answers "when did this
meter last send" without a scan.

Times are UTC milliseconds since the epoch. ``PRAGMA user_version`` is the schema version.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable, Dict, Union

SCHEMA_VERSION = 3

log = logging.getLogger("pyhm.store")


class SchemaError(Exception):
    """The database cannot be used by this pyhm (too new, or not a pyhm database)."""


_V1 = """
CREATE TABLE meters (
    id INTEGER PRIMARY KEY,
    server_id BLOB NOT NULL UNIQUE,
    name TEXT,
    note TEXT,
    first_seen_ms INTEGER NOT NULL
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    obis TEXT NOT NULL,
    unit INTEGER,
    kind TEXT NOT NULL CHECK (kind IN ('counter', 'gauge', 'text')),
    scaler INTEGER,
    wide INTEGER NOT NULL DEFAULT 0,
    UNIQUE (meter_id, obis, unit)
);
CREATE TABLE layouts (
    id INTEGER PRIMARY KEY,
    spec TEXT NOT NULL UNIQUE
);
CREATE TABLE telegrams (
    meter_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    layout_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    meter_time INTEGER,
    PRIMARY KEY (meter_id, ts_ms)
) WITHOUT ROWID;
CREATE TABLE texts (
    series_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (series_id, ts_ms)
) WITHOUT ROWID;
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_ROLLUP = """
CREATE TABLE rollup_{level} (
    series_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    exp INTEGER NOT NULL,
    vmin, vmax, vsum, vfirst, vlast, vinc,
    PRIMARY KEY (series_id, ts_ms)
) WITHOUT ROWID;
"""
LEVELS = ("minute", "hour", "day")


def _run(db: sqlite3.Connection, script: str) -> None:
    """Statement by statement: executescript() would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run(db, _V1 + "".join(_ROLLUP.format(level=level) for level in LEVELS))


_V2 = """
CREATE TABLE heads (
    serial TEXT PRIMARY KEY,
    device TEXT,
    present INTEGER NOT NULL DEFAULT 0,
    state TEXT,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    server_id BLOB,
    frames_ok INTEGER NOT NULL DEFAULT 0,
    frames_bad INTEGER NOT NULL DEFAULT 0,
    bytes_skipped INTEGER NOT NULL DEFAULT 0,
    last_frame_ms INTEGER,
    last_error TEXT
);
CREATE TABLE head_minutes (
    serial TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    frames_ok INTEGER NOT NULL,
    frames_bad INTEGER NOT NULL,
    bytes_skipped INTEGER NOT NULL,
    PRIMARY KEY (serial, ts_ms)
) WITHOUT ROWID;
"""


def _v2(db: sqlite3.Connection) -> None:
    """Reception health per IR head, for the status page."""
    _run(db, _V2)


_V3 = """
CREATE TABLE telegrams_v3 (
    meter_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    layout_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    meter_time INTEGER,
    PRIMARY KEY (ts_ms, meter_id)
) WITHOUT ROWID;
INSERT INTO telegrams_v3 SELECT meter_id, ts_ms, layout_id, data, meter_time FROM telegrams ORDER BY ts_ms, meter_id;
ALTER TABLE meters ADD COLUMN last_ms INTEGER;
ALTER TABLE heads ADD COLUMN messages_bad INTEGER NOT NULL DEFAULT 0;
UPDATE meters SET last_ms = (SELECT MAX(t.ts_ms) FROM telegrams t WHERE t.meter_id = meters.id);
DROP TABLE telegrams;
ALTER TABLE telegrams_v3 RENAME TO telegrams;
CREATE TABLE settings_v3 (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO settings_v3 SELECT key, value FROM settings;
DROP TABLE settings;
ALTER TABLE settings_v3 RENAME TO settings
"""


def _v3(db: sqlite3.Connection) -> None:
    """Telegrams by (time, meter), appended at the table's end; settings in one b-tree."""
    _run(db, _V3)


# version reached → the step that reaches it from the version before
MIGRATIONS: Dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1, 2: _v2, 3: _v3}


def check_version(db: sqlite3.Connection) -> int:
    """The schema version, after refusing a database this pyhm must not touch."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, this pyhm knows up to {SCHEMA_VERSION}: "
            "it was written by a newer pyhm; upgrade pyhm (the database was not changed)"
        )
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise SchemaError("the file is an SQLite database but not a pyhm database (the file was not changed)")
    return version


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION, one recorded step at a time."""
    version = check_version(db)
    if 0 < version < SCHEMA_VERSION:
        log.warning("updating the database from schema version %d to %d: once, and it may take minutes "
                    "on a large database", version, SCHEMA_VERSION)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with db:
            db.execute("BEGIN IMMEDIATE")
            MIGRATIONS[target](db)
            db.execute(f"PRAGMA user_version = {target}")
    return SCHEMA_VERSION


def connect(path: Union[str, Path], readonly: bool = False) -> sqlite3.Connection:
    """Open the database: the writer creates and migrates it, readers open it read-only.

    WAL lets readers in other processes read while the writer writes; synchronous=NORMAL
    keeps the database consistent through power loss (the last commits may be lost).
    """
    path = Path(path)
    if readonly:
        if not path.exists():
            raise SchemaError(f"no database at {path} (has the acquisition service run yet?)")
        if path.is_dir():
            raise SchemaError(f"cannot use {path}: it is a directory, not a database file")
        db = None
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise open_error(path, exc) from None
        if version != SCHEMA_VERSION:
            db.close()
            raise SchemaError(f"the database at {path} has schema version {version}, expected {SCHEMA_VERSION}")
        return db
    _create(path)
    # The writer's connection is made in one thread and handed to the writer thread, which
    # alone uses it from then on.
    db = None
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 5000")
        check_version(db)  # before anything is written
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise SchemaError(f"cannot switch {path} to WAL mode")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
        _check_small_tables(db)
    except (sqlite3.DatabaseError, SchemaError) as exc:
        if db is not None:
            db.close()
        raise open_error(path, exc) from None
    return db


SMALL_TABLES = ("meters", "series", "layouts", "settings", "heads")


def _check_small_tables(db: sqlite3.Connection) -> None:
    """Damaged pages in the tables the writer reads at start and rewrites all the time?

    Cheap (they hold a few rows); the big tables are not checked at start, that would take
    minutes on an SD card. SQLite before 3.33 cannot check one table: then nothing is checked.
    """
    if sqlite3.sqlite_version_info < (3, 33, 0):
        return
    for table in SMALL_TABLES:
        first = db.execute(f"PRAGMA quick_check({table})").fetchone()[0]
        if first != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {first}")


def _create(path: Path) -> None:
    """Make the file (and its directory) if it is missing, or open it for writing, so that a
    failure names its cause (SQLite would only say "unable to open database file")."""
    exists = path.exists()
    try:
        if not exists:
            path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as exc:
        doing = "write" if exists else "create"
        raise SchemaError(f"cannot {doing} the database {path}: {os_reason(exc, path)}") from None


def os_reason(exc: OSError, known: Union[str, Path, None] = None) -> str:
    """An OSError as a person reads it: "Not a directory (/srv/x)", not a Python repr.

    The file name is left out when it is ``known`` (already named by the message).
    """
    reason = exc.strerror or str(exc)
    if exc.filename is not None and str(exc.filename) != str(known):
        reason += f" ({os.fsdecode(exc.filename)})"
    return reason


def open_error(path: Path, exc: Exception) -> SchemaError:
    """Why a database cannot be used, in one line that says what to do: nothing was changed."""
    if isinstance(exc, SchemaError):
        return exc
    text = str(exc)
    if "not a database" in text:
        return SchemaError(f"cannot use {path}: it is not a database (not an SQLite file; the file was not changed)")
    if "malformed" in text or "corrupt" in text:
        return SchemaError(
            f"the database {path} is damaged ({text}); pyhm did not change it. Stop pyhm, keep a copy, "
            f"and rescue what is readable with: sqlite3 {path} .recover | sqlite3 rescued.db"
        )
    if ("unable to open" in text or "readonly database" in text) and not os.access(path.parent, os.W_OK):
        return SchemaError(f"cannot use {path}: its directory {path.parent} is not writable "
                           "(the database needs its -wal and -shm files beside it)")
    return SchemaError(f"cannot use {path}: {text}")
