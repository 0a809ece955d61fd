"""``pyhm acquire``: the daemon. Supervises discovery, one reader per head and the single
store writer; tells systemd it is ready, what it is doing, and that it is alive.

The main thread is the supervisor. It alone sends ``WATCHDOG=1``, and only while every
worker (the writer, each reader, the udev monitor) has shown progress since the last ping: a
hung thread stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from typing import Dict, List, Optional, Protocol, Sequence, Tuple

from pyhm.acquire.discovery import Head, HeadEvent, discovery
from pyhm.acquire.reader import HeadReader
from pyhm.config import Config
from pyhm.sml import Reading
from pyhm.store import HeadStats, Retention, SchemaError, Writer
from pyhm.store.live import LiveWriter, live_path

log = logging.getLogger("pyhm.acquire")

QUEUE_LIMIT = 10_000  # telegrams waiting for the writer
LIVE_EVERY = 0.5  # seconds between rewrites of the live store (its time says the acquisition is alive)
ROLLUP_SECONDS = 3600.0  # rollup rows and head minutes are written once an hour


class Worker(Protocol):
    name: str
    beats: int

    def is_alive(self) -> bool: ...


class Notifier:
    """sd_notify through sdnotify; a no-op without ``NOTIFY_SOCKET``."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._sd = None
        if self.enabled:
            import sdnotify

            self._sd = sdnotify.SystemdNotifier()

    def __call__(self, message: str) -> None:
        if self._sd is not None:
            self._sd.notify(message)


def watchdog_interval() -> Optional[float]:
    """Half of systemd's WatchdogSec, if it asks this process for pings."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


def write_bytes() -> Optional[int]:
    """What this process has written to storage so far (/proc/self/io), if the kernel says."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class WriterThread(threading.Thread):
    """The one thread that writes the database: telegrams from a queue into the live store at
    once, into the database once per commit window."""

    def __init__(self, writer: Writer, heads: "HeadRegistry", config: Config, live: LiveWriter) -> None:
        super().__init__(name="writer", daemon=True)
        self.writer = writer
        self.heads = heads
        self.config = config
        self.live = live
        self._committed_ms = writer.committed_ms
        self.queue: "queue.Queue[Tuple[bytes, Sequence[Reading], int, str]]" = queue.Queue(QUEUE_LIMIT)
        self.beats = 0
        self.dropped = 0
        self.telegrams = 0
        self.last_telegram_ms: Optional[int] = None
        self._stopping = threading.Event()
        self._named: Dict[bytes, Optional[str]] = {}

    def deliver(self, server_id: bytes, readings: list, ts_ms: int, reader: HeadReader) -> None:
        """Called by readers: hand over a telegram without ever blocking the reader."""
        try:
            self.queue.put_nowait((server_id, readings, ts_ms, reader.head.serial))
        except queue.Full:
            self.dropped += 1
            log.error("the writer is not keeping up: telegram dropped (%d so far)", self.dropped)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        next_live = 0.0
        io_base = write_bytes()
        while True:
            self.beats += 1
            try:
                server_id, readings, ts_ms, head = self.queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    break
            else:
                self._name_meter(server_id, head)
                self.live.add(server_id, readings, ts_ms)
                self.writer.add(server_id, readings, ts_ms)  # commits by itself when a window is full
                self.telegrams += 1
                self.last_telegram_ms = ts_ms
            if self.writer.due(int(time.time() * 1000)):
                self.writer.report_heads(self.heads.stats())
                self.writer.commit()
            self._forget_committed()
            if time.monotonic() >= next_live:
                self._write_live(io_base)
                next_live = time.monotonic() + LIVE_EVERY
        self.writer.report_heads(self.heads.stats())
        self.writer.close()
        self._forget_committed()
        if not self.writer.pending:
            self.live.remove()  # all is in the database
        else:
            self._write_live(io_base)

    def _forget_committed(self) -> None:
        """Forget in the live store what the database now holds."""
        if self.writer.committed_ms != self._committed_ms:
            self._committed_ms = self.writer.committed_ms
            self.live.committed(self._committed_ms)

    def _write_live(self, io_base: Optional[int]) -> None:
        """The live file anew, with the heads and the writer's state as they are now."""
        written = write_bytes()
        heads = self.heads.current()
        self.live.heads(dict(h._asdict(), server_id=h.server_id.hex() if h.server_id else None) for h in heads)
        self.live.note(last_commit_ms=self.writer.last_commit_ms, storage_error=self.writer.failing,
                       head_minutes=self.writer.unwritten_head_minutes(int(time.time() * 1000), heads),
                       io={"write_bytes": None if written is None or io_base is None else written - io_base,
                           "since_ms": self.live.started_ms})
        try:
            self.live.write()
        except OSError as exc:
            log.error("cannot write the live store %s: %s", self.live.path, exc)

    def _name_meter(self, server_id: bytes, head: str) -> None:
        """A meter's name: from the configuration, else (if it has none yet) its head's serial."""
        if server_id in self._named:
            return
        meter = self.config.meter_for(server_id, head)
        name = self.writer.meter_name(server_id)
        if meter is not None:
            self.writer.set_meter(server_id, meter.name, meter.note)
            name = meter.name
        elif name is None:
            name = f"Meter on head {head}"
            self.writer.set_meter(server_id, name)
            log.info('unknown meter %s on head %s: named "%s" (name it in pyhm.cfg)', server_id.hex(), head, name)
        self._named[server_id] = name


class HeadRegistry:
    """The heads present now, their readers, and the last stats of heads that went away."""

    def __init__(self) -> None:
        self.readers: Dict[str, HeadReader] = {}
        self.gone: Dict[str, HeadStats] = {}
        self._lock = threading.Lock()

    def current(self) -> List[HeadStats]:
        """The heads present now (for the live store; stats() is for the database)."""
        with self._lock:
            return [r.stats() for r in self.readers.values()]

    def stats(self) -> List[HeadStats]:
        with self._lock:
            out = [r.stats() for r in self.readers.values()] + list(self.gone.values())
            self.gone.clear()
        return out

    def add(self, reader: HeadReader) -> None:
        with self._lock:
            self.readers[reader.head.serial] = reader

    def remove(self, serial: str) -> Optional[HeadReader]:
        with self._lock:
            reader = self.readers.pop(serial, None)
            if reader is not None:
                self.gone[serial] = reader.stats(present=False)
        return reader

    def find_device(self, device: str) -> Optional[str]:
        with self._lock:
            for serial, reader in self.readers.items():
                if reader.head.device == device:
                    return serial
        return None


class Service:
    """The acquisition service: ``run()`` returns the exit status."""

    def __init__(self, config: Config, notify: Optional[Notifier] = None) -> None:
        self.config = config
        self.notify = notify or Notifier()
        self.heads = HeadRegistry()
        self.events: "queue.Queue[HeadEvent]" = queue.Queue()
        self.workers: List[Worker] = []  # supervised besides the readers
        self.stopping = threading.Event()
        self.writer_thread: Optional[WriterThread] = None
        self.pings = 0

    def request_stop(self, *_: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        cfg = self.config
        db = cfg.database
        try:
            writer = Writer(db.path, Retention(db.raw_days, db.minute_days), commit_seconds=db.commit_seconds,
                            rollup_seconds=ROLLUP_SECONDS)
            live = LiveWriter(live_path(db.path), db.path, db.commit_seconds)
            live.write()
            writer.set_setting("live.path", str(live.path))
        except (SchemaError, OSError, sqlite3.Error) as exc:
            log.critical("cannot start: %s", exc)
            return 1
        if writer.last_commit_ms is not None:
            ago = time.time() - writer.last_commit_ms / 1000
            log.info("the last commit before this start was at %s (%.0f s ago)",
                     time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(writer.last_commit_ms / 1000)), ago)
        log.info("committing every %g s; live readings in %s", db.commit_seconds, live.path)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        self.writer_thread = WriterThread(writer, self.heads, cfg, live)
        self.writer_thread.start()
        finder = discovery(cfg.acquisition.discovery, cfg.acquisition.devices, self.events)
        try:
            finder.start()
        except Exception as exc:  # noqa: BLE001 - no udev (a container): say so, read by path
            log.error("udev discovery failed (%s); looking for %s by path instead", exc,
                      ", ".join(cfg.acquisition.devices))
            finder = discovery("glob", cfg.acquisition.devices, self.events)
            finder.start()
        log.info("pyhm acquisition started: database %s, watching %s", cfg.database.path,
                 ", ".join(cfg.acquisition.devices))
        self.notify("READY=1")
        interval = watchdog_interval()
        tick = min(1.0, interval / 2) if interval else 1.0
        beats: Dict[str, int] = {}
        last_ping = 0.0
        last_status = 0.0
        last_text = ""
        status = 0
        while not self.stopping.is_set():
            self._handle_events(timeout=tick / 2)
            finder.poll()
            if not self.writer_thread.is_alive():
                log.critical("the writer thread died; exiting so that the service is restarted")
                status = 1
                break
            self._restart_failed_readers()
            now = time.monotonic()
            if interval and now - last_ping >= interval:
                stuck = self._stuck(beats)
                if not stuck:
                    self.notify("WATCHDOG=1")
                    self.pings += 1
                else:
                    log.error("not alive: %s; withholding the watchdog ping", ", ".join(stuck))
                last_ping = now
            text = self.status()
            if text != last_text or now - last_status >= 30:  # news at once, and a heartbeat
                self.notify("STATUS=" + text)
                last_status, last_text = now, text
        self.notify("STOPPING=1")
        log.info("stopping")
        finder.stop()
        for serial in list(self.heads.readers):
            reader = self.heads.remove(serial)
            if reader is not None:
                reader.stop()
                reader.join(timeout=5)
        self.writer_thread.stop()
        self.writer_thread.join(timeout=30)
        log.info("stopped: %d telegrams stored", self.writer_thread.telegrams)
        return status

    def _handle_events(self, timeout: float) -> None:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if event.action == "add":
                self._add(event.head)
            else:
                self._remove(event.head)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return

    def _add(self, head: Head) -> None:
        current = self.heads.readers.get(head.serial)
        if current is not None and current.head.device == head.device and current.state != "failed":
            return  # seen twice (monitor and enumeration): one reader is enough
        if current is not None:
            self._remove(current.head)
        assert self.writer_thread is not None
        acq = self.config.acquisition
        reader = HeadReader(head, acq.serial_for(head.serial), self.config, self.writer_thread.deliver, acq.stall_seconds)
        self.heads.add(reader)
        reader.start()
        where = head.device if head.link in ("", head.device) else f"{head.device} ({head.link})"
        log.info("head %s plugged in at %s", head.serial, where)

    def _restart_failed_readers(self) -> None:
        for reader in list(self.heads.readers.values()):
            if reader.state == "failed" and not reader.is_alive():
                log.warning("restarting the reader of head %s", reader.head.serial)
                self._add(reader.head)

    def _remove(self, head: Head) -> None:
        serial = head.serial if head.serial in self.heads.readers else self.heads.find_device(head.device)
        if serial is None:
            return
        reader = self.heads.remove(serial)
        if reader is not None:
            reader.stop()
            log.warning("head %s removed (%s)", serial, head.device)

    def _stuck(self, beats: Dict[str, int]) -> List[str]:
        """Workers that made no progress since the last check (beats is updated in place)."""
        workers: List[Worker] = [self.writer_thread] if self.writer_thread else []  # type: ignore[list-item]
        workers += list(self.heads.readers.values()) + self.workers
        stuck = []
        seen = {}
        for w in workers:
            if not w.is_alive() or beats.get(w.name) == w.beats:
                stuck.append(w.name)
            seen[w.name] = w.beats
        beats.clear()
        beats.update(seen)
        return stuck

    def status(self) -> str:
        readers = list(self.heads.readers.values())
        meters = {r.server_id for r in readers if r.server_id}
        wt = self.writer_thread
        parts = [f"{len(readers)} head(s), {len(meters)} meter(s)"]
        if wt is not None and wt.last_telegram_ms:
            age = time.time() - wt.last_telegram_ms / 1000
            parts.append(f"last telegram {age:.0f} s ago")
        if wt is not None and wt.writer.failing:
            parts.append(f"storage: {wt.writer.failing}")
        troubled = [f"{r.head.serial}: {r.last_error}" for r in readers if r.state != "reading" and r.last_error]
        if troubled:
            parts.append("; ".join(troubled))
        return ", ".join(parts)
