"""Helpers for the acquisition tests: a configured service in a subprocess, and waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional, TypeVar

from pyhm.store import Query, SchemaError

T = TypeVar("T")


def write_config(tmp: Path, discovery: str = "glob", stall: int = 5, extra: str = "", commit_seconds: float = 1) -> Path:
    """A configuration for a test; it commits every second unless told otherwise."""
    cfg = tmp / "pyhm.cfg"
    cfg.write_text(
        f"database:\n  path: {tmp / 'pyhm.db'}\n  commit_seconds: {commit_seconds}\n"
        f"acquisition:\n  devices: ['{tmp / 'heads' / 'hm_*'}']\n  discovery: {discovery}\n  stall_seconds: {stall}\n"
        f"{extra}"
    )
    (tmp / "heads").mkdir(exist_ok=True)
    return cfg


def start(cfg: Path, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pyhm", "--config", str(cfg), "acquire"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def stop(proc: subprocess.Popen, timeout: float = 20) -> str:
    """SIGTERM, then the exit status must be 0; returns what the service logged."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return err


def wait_for(check: Callable[[], Optional[T]], timeout: float = 10, what: str = "condition") -> T:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def telegram_count(db: Path, server_id: bytes) -> int:
    """Telegrams stored for a meter (0 while it is unknown)."""
    try:
        q = Query(db)
    except SchemaError:
        return 0
    try:
        row = q.db.execute("SELECT count(*) FROM telegrams t JOIN meters m ON m.id = t.meter_id WHERE m.server_id = ?",
                           (server_id,)).fetchone()
        return row[0]
    finally:
        q.close()


def head(db: Path, serial: str) -> Optional[dict]:
    try:
        q = Query(db)
    except SchemaError:
        return None
    try:
        return next((h for h in q.heads() if h["serial"] == serial), None)
    finally:
        q.close()
