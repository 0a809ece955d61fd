"""systemd notification over a real AF_UNIX datagram socket: READY, STATUS, the watchdog
cadence, pings withheld while a worker hangs, STOPPING on SIGTERM."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from acquirehelp import start, stop, wait_for, write_config
from pyhm.acquire.service import Notifier, Service
from pyhm.acquire.simulate import PtyMeter
from pyhm.config import AcquisitionConfig, Config, DatabaseConfig
from pyhm.simulator import SimulatedMeter


class NotifySocket:
    """What systemd listens on: collects (time, message) datagrams in a thread."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.path = path
        self.messages: List[Tuple[float, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def times(self, message: str) -> List[float]:
        return [t for t, m in self.messages if m == message]

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()


def test_daemon_notifies_systemd(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    notify = NotifySocket(tmp_path / "notify.sock")
    meter = PtyMeter(tmp_path / "heads", "NOTE", SimulatedMeter(3))
    proc = start(cfg, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        wait_for(lambda: notify.times("READY=1"), what="READY=1")
        assert (tmp_path / "pyhm.db").exists()  # ready means the database is open
        for _ in range(12):
            meter.send()
            time.sleep(0.25)
        pings = notify.times("WATCHDOG=1")
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert len(pings) >= 4 and all(0.3 < g < 0.8 for g in gaps), gaps  # half of WatchdogSec=1s
        status = [m for _, m in notify.messages if m.startswith("STATUS=")]
        assert status and "1 head(s)" in status[-1] and "1 meter(s)" in status[-1]
    finally:
        stop(proc)
        meter.unplug()
    wait_for(lambda: notify.times("STOPPING=1"), what="STOPPING=1")
    notify.close()


class Hanging(threading.Thread):
    """A worker that shows progress until told to hang, then hangs for real."""

    def __init__(self) -> None:
        super().__init__(name="hanging", daemon=True)
        self.beats = 0
        self.hang = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        while not self.release.is_set():
            if self.hang.is_set():
                self.release.wait()  # stuck, as on a dead lock or a hung write
            self.beats += 1
            time.sleep(0.02)


def test_pings_stop_while_a_worker_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s
    (tmp_path / "heads").mkdir()
    config = Config(database=DatabaseConfig(path=tmp_path / "pyhm.db"),
                    acquisition=AcquisitionConfig(devices=(str(tmp_path / "heads" / "hm_*"),), discovery="glob"))
    service = Service(config, Notifier())
    worker = Hanging()
    worker.start()
    service.workers.append(worker)
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    try:
        wait_for(lambda: len(notify.times("WATCHDOG=1")) >= 3, what="pings while all is well")
        worker.hang.set()
        time.sleep(0.5)
        hung_at = time.monotonic()
        time.sleep(1.5)
        assert [t for t in notify.times("WATCHDOG=1") if t > hung_at] == []  # no ping while it hangs
        worker.hang.clear()
        worker.release.set()
    finally:
        service.request_stop()
        runner.join(timeout=20)
    assert notify.times("STOPPING=1")
    notify.close()
