"""Logs: syslog priorities under journald, colours on a terminal, repeats rate-limited."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from pyhm import logs


@pytest.fixture(autouse=True)
def restore_root():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_journald_lines_carry_priorities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open(tmp_path / "journal", "w+") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        logs.setup("debug", stream)
        log = logging.getLogger("pyhm.head.ABC")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        stream.seek(0)
        assert stream.read().splitlines() == ["<7>pyhm.head.ABC: d", "<6>pyhm.head.ABC: i", "<4>pyhm.head.ABC: w",
                                              "<3>pyhm.head.ABC: e"]


def test_other_streams_are_not_journald(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    with open(tmp_path / "plain", "w+") as stream:
        assert not logs.under_journald(stream)
        logs.setup("info", stream)
        logging.getLogger("pyhm").warning("careful")
        stream.seek(0)
        line = stream.read()
        assert "WARNING pyhm: careful" in line and not line.startswith("<")


def test_colours_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as stream:
        logs.setup("info", stream)
        logging.getLogger("pyhm").error("red")
        stream.flush()
        out = os.read(master, 4096)
    os.close(master)
    assert b"\x1b[" in out and b"red" in out


def test_repeats_are_rate_limited() -> None:
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RateLimit(60, clock=lambda: now[0]))
    log = logging.getLogger("pyhm.test.ratelimit")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        for i in range(100):
            log.warning("damaged frame (%d bytes): %s", 300, "CRC mismatch")
            now[0] += 0.1
        log.warning("another kind of message")
        now[0] += 60
        log.warning("damaged frame (%d bytes): %s", 300, "CRC mismatch")
        log.info("info is never held back")
        log.info("info is never held back")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "damaged frame (300 bytes): CRC mismatch",
        "another kind of message",
        "damaged frame (300 bytes): CRC mismatch (99 more like this in the last 60 s)",
        "info is never held back",
        "info is never held back",
    ]
