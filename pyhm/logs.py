"""Logging for the services: colours on a terminal, syslog priorities under journald.

Under systemd (``JOURNAL_STREAM`` names our stderr) each line starts with ``<N>``, the syslog
priority, which journald strips and records, so ``journalctl -p warning`` works. Repeated
messages are rate-limited: a head that sends garbage all day must not fill the disk with logs.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import IO, Dict, Optional, Tuple

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``; journald adds the time and the unit."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        text = super().format(record).replace("\n", "\n" + f"<{prio}>")
        return f"<{prio}>{text}"


class RateLimit(logging.Filter):
    """Let the first of a kind of message through, then at most one per ``interval`` seconds,
    saying how many were held back. A kind is the logger and the unformatted message."""

    def __init__(self, interval: float = 60.0, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: Dict[Tuple[str, str], Tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last, held = self._seen.get(key, (None, 0))
            if last is not None and now - last < self.interval:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:
                self._seen.clear()
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.interval:.0f} s)"
        return True


def under_journald(stream: IO[str]) -> bool:
    """Is ``stream`` the journal stream systemd gave us?"""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup(level: str = "info", stream: Optional[IO[str]] = None) -> None:
    """Configure the root logger for a service or a command."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if under_journald(stream):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    elif hasattr(stream, "isatty") and stream.isatty():
        import colorlog

        handler.setFormatter(colorlog.ColoredFormatter(
            "%(log_color)s%(asctime)s %(levelname)-7s%(reset)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RateLimit())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
