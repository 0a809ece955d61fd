"""The live store: readings received but not yet committed, kept in RAM for other processes.

The writer commits once per window (a minute by default) to spare the SD card. So that the web
and MQTT services still see every telegram within a second or two, the acquisition service
rewrites one small JSON file on a RAM file system about twice a second: the telegrams since
the last commit, the heads' health now, and how much the service wrote to disk. Readers
(``store.Query``) lay it over the database. Why a file and not a socket: readers never depend
on the acquisition service answering (a dead or hung writer just leaves an ageing file), the
file is replaced atomically (``rename``), and it costs no disk write.

Where: ``$RUNTIME_DIRECTORY`` when systemd sets it (``/run/pyhm``), else ``/run/pyhm`` when
writable, else ``/dev/shm/pyhm-<uid>``; never the database's disk. The writer records the path
in the database's settings (``live.path``), so readers need no configuration. The writer holds
a lock on ``<file>.lock`` while it runs: a file left by a killed writer is known at once for
what it is (its readings may be lost) and is not shown.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from pyhm.sml.readings import Reading

log = logging.getLogger("pyhm.store")

FORMAT = 1
STALE_MS = 10_000  # a file not rewritten for this long: its writer is gone (its readings may be lost)

Sample = Tuple[int, int, int]  # (ts_ms, integer, exponent)


def runtime_dir(env: Optional[Dict[str, str]] = None) -> Path:
    """The RAM directory for the live store (see the module's docstring)."""
    env = dict(os.environ) if env is None else env
    given = env.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    run = Path("/run/pyhm")
    if run.is_dir() and os.access(run, os.W_OK):
        return run
    return Path(f"/dev/shm/pyhm-{os.getuid()}")


def live_path(database: Path, directory: Optional[Path] = None) -> Path:
    """The live file of one database: named after it, so that several never collide."""
    digest = hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:12]
    return (directory or runtime_dir()) / f"live-{digest}.json"


def _exact(value: Any) -> Optional[Tuple[int, int]]:
    if isinstance(value, bool) or not hasattr(value, "as_tuple"):
        return None
    exp = value.as_tuple().exponent
    if not isinstance(exp, int):
        return None
    return (int(value.scaleb(-exp)) if exp else int(value)), exp


class LiveWriter:
    """Kept by the acquisition's writer thread: what is pending, rewritten atomically."""

    def __init__(self, path: Path, database: Path, commit_seconds: float) -> None:
        self.path = path
        self.database = database
        self.commit_seconds = commit_seconds
        self.started_ms = int(time.time() * 1000)
        self._meters: Dict[str, List[Any]] = {}  # server id hex → [[ts, [[obis, unit, int, exp], ...]], ...]
        self._heads: List[Dict[str, Any]] = []
        self._extra: Dict[str, Any] = {}
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        self._lock = open(lock_path(path), "a")  # held until the process ends, however it ends
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise OSError(f"another pyhm acquisition writes {path} (its lock {lock_path(path)} is held)") from None

    def add(self, server_id: bytes, readings: Sequence[Reading], ts_ms: int) -> None:
        values = []
        for r in readings:
            v = _exact(r.value)
            if v is not None:
                values.append([r.obis, r.unit, v[0], v[1]])
        self._meters.setdefault(server_id.hex(), []).append([ts_ms, values])

    def committed(self, until_ms: int) -> None:
        """Forget the telegrams now in the database (received up to ``until_ms``)."""
        for key in list(self._meters):
            kept = [t for t in self._meters[key] if t[0] > until_ms]
            if kept:
                self._meters[key] = kept
            else:
                del self._meters[key]

    def heads(self, heads: Iterable[Dict[str, Any]]) -> None:
        self._heads = list(heads)

    def note(self, **facts: Any) -> None:
        """Small facts for the status page (last commit, bytes written, ...)."""
        self._extra.update(facts)

    def write(self, now_ms: Optional[int] = None) -> None:
        """Replace the file (write a temporary file, then rename: readers never see half)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        data = {"format": FORMAT, "written_ms": now_ms, "started_ms": self.started_ms, "pid": os.getpid(),
                "database": str(self.database), "commit_seconds": self.commit_seconds,
                "meters": self._meters, "heads": self._heads, **self._extra}
        fd, tmp = tempfile.mkstemp(prefix=".live-", dir=str(self.path.parent))
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def remove(self) -> None:
        """At a clean stop, everything is committed: readers go by the database alone."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self._lock.close()


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def writer_alive(path: Path) -> bool:
    """Does a running writer hold the live file's lock?"""
    try:
        with open(lock_path(path)) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            return False
    except OSError:
        return False


class Live(NamedTuple):
    """One reading of the live file, indexed once by series."""

    written_ms: int
    commit_seconds: float
    series: Dict[Tuple[bytes, str, Optional[int]], List[Sample]]  # (server id, OBIS, unit) → samples
    newest: Dict[bytes, int]  # server id → its newest telegram's time
    heads: List[Dict[str, Any]]
    facts: Dict[str, Any]

    @classmethod
    def parse(cls, data: Dict[str, Any]) -> "Live":
        series: Dict[Tuple[bytes, str, Optional[int]], List[Sample]] = {}
        newest: Dict[bytes, int] = {}
        for key, telegrams in data.pop("meters").items():
            sid = bytes.fromhex(key)
            for ts, values in telegrams:
                for obis, unit, v, exp in values:
                    series.setdefault((sid, obis, unit), []).append((int(ts), v, exp))
                newest[sid] = int(ts)
        return cls(int(data.pop("written_ms")), float(data.pop("commit_seconds")), series, newest,
                   list(data.pop("heads")), data)

    def fresh(self, now_ms: Optional[int] = None) -> bool:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return now_ms - self.written_ms < STALE_MS

    def samples(self, server_id: bytes, obis: str, unit: Optional[int]) -> List[Sample]:
        return self.series.get((server_id, obis, unit), [])

    def newest_ms(self, server_id: Optional[bytes] = None) -> Optional[int]:
        if server_id is not None:
            return self.newest.get(server_id)
        return max(self.newest.values(), default=None)


class LiveReader:
    """Reads the live file, again only when it was replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: Optional[Tuple[int, int]] = None
        self._live: Optional[Live] = None

    def read(self) -> Optional[Live]:
        """The live data, or None when there is no file or no writer (no acquisition, a clean
        stop, or a killed writer whose last readings may be lost)."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._key = self._live = None
            return None
        if not writer_alive(self.path):
            return None
        key = (st.st_ino, st.st_mtime_ns)
        if key == self._key:
            return self._live
        try:
            data = json.loads(self.path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')}")
            live = Live.parse(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring the live store %s: %s", self.path, exc)
            return None
        self._key, self._live = key, live
        return live
