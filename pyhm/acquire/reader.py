"""Reading one IR head: a thread that opens the port, cuts frames, decodes them and hands the
readings on. It never dies of a bad byte or a lost port: errors are counted, logged (rate
limited) and retried with a growing pause, until the supervisor stops it.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import termios
import threading
import time
from typing import Callable, Optional

import serial
from serial import rfc2217

from pyhm.acquire.discovery import Head, is_network
from pyhm.config import Config, SerialSettings
from pyhm.sml import Frame, FrameReader, decode_frame
from pyhm.store import HeadStats

log = logging.getLogger("pyhm.head")

Deliver = Callable[[bytes, list, int, "HeadReader"], None]
READ_TIMEOUT = 0.5
CHUNK = 4096
MAX_BACKOFF = 30.0
STALL_PAUSE = 0.5  # seconds a stalled head stays closed before it is reopened


def open_exclusive(device: str, settings: SerialSettings) -> serial.Serial:
    """The port, opened for pyhm alone: pyserial's ``exclusive`` takes the advisory lock other
    serial programs honour, and TIOCEXCL makes the kernel refuse every further open (but
    root's) until pyhm closes it. A port another program holds is not opened (EBUSY). A
    device that knows no TIOCEXCL (ENOTTY; emulated ttys) keeps the lock alone."""
    port = serial.Serial(device, baudrate=settings.baudrate, bytesize=settings.bytesize, parity=settings.parity,
                         stopbits=settings.stopbits, timeout=READ_TIMEOUT, exclusive=True)
    try:
        fcntl.ioctl(port.fileno(), termios.TIOCEXCL)
    except OSError as exc:
        if exc.errno != errno.ENOTTY:
            port.close()
            raise
    return port


def open_port(device: str, settings: SerialSettings) -> serial.SerialBase:
    """A tty by path (opened exclusively), or a network head by pyserial URL (socket://, rfc2217://)."""
    if is_network(device):
        return serial.serial_for_url(device, baudrate=settings.baudrate, bytesize=settings.bytesize,
                                     parity=settings.parity, stopbits=settings.stopbits, timeout=READ_TIMEOUT)
    return open_exclusive(device, settings)


def read_available(port: serial.SerialBase) -> bytes:
    """What has arrived, as soon as it arrives (b"" after READ_TIMEOUT without a byte).

    pyserial opens and configures the port; reading goes straight to its descriptor, so a
    frame is stamped when it arrives (pyserial's read waits for its timeout or a full buffer,
    and asking the driver how much is waiting, TIOCINQ, is not supported by every tty).
    """
    if isinstance(port, rfc2217.Serial):  # pyserial speaks telnet on that socket: read through it
        data = port.read(1)
        return data + port.read(port.in_waiting) if data and port.in_waiting else data
    fd = port.fileno()
    ready, _, _ = select.select([fd], [], [], READ_TIMEOUT)
    if not ready:
        return b""
    try:
        data = os.read(fd, CHUNK)
    except BlockingIOError:
        return b""
    if not data:
        raise serial.SerialException("the device is gone (end of file)")
    return data


class HeadReader(threading.Thread):
    """Reads one head until ``stop()``; ``deliver(server_id, readings, ts_ms, reader)`` gets
    every intact telegram's (filtered) readings, stamped with the host's UTC clock."""

    def __init__(self, head: Head, settings: SerialSettings, config: Config, deliver: Deliver,
                 stall_seconds: float = 10.0) -> None:
        super().__init__(name=f"head-{head.serial}", daemon=True)
        self.head = head
        self.settings = settings
        self.config = config
        self.deliver = deliver
        self.stall_seconds = stall_seconds
        self.log = logging.getLogger(f"pyhm.head.{head.serial}")
        self.beats = 0
        self.frames_ok = 0
        self.frames_bad = 0
        self.message_crc_bad = 0  # messages decoded although their own CRC is wrong
        self.last_frame_ms: Optional[int] = None
        self.server_id: Optional[bytes] = None
        self.state = "starting"
        self.last_error: Optional[str] = None
        self._frames = FrameReader()
        self._stopping = threading.Event()

    @property
    def bytes_skipped(self) -> int:
        return self._frames.skipped

    def stats(self, present: bool = True) -> HeadStats:
        return HeadStats(self.head.serial, self.head.device, present, self.state if present else "gone",
                         self.server_id, self.frames_ok, self.frames_bad, self.bytes_skipped,
                         self.last_frame_ms, self.last_error, self.message_crc_bad)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a bug must not pass silently; the supervisor restarts us
            self.state = "failed"
            self.log.exception("reader failed")

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            self.beats += 1
            try:
                port = open_port(self.head.device, self.settings)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._trouble("retrying", f"cannot open {self.head.device}: {exc}")
                self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.log.info("reading %s (%d %d%s%g)", self.head.device, self.settings.baudrate,
                          self.settings.bytesize, self.settings.parity, self.settings.stopbits)
            self.state = "reading"
            try:
                outcome = self._read(port)
            finally:
                port.close()
                self._frames.reset()  # a half-received telegram is never stored
            if outcome == "frames":
                backoff = 1.0
            if outcome == "stalled":
                # A quiet head is reopened at once (it may have hung), never left closed for
                # long: the port stays pyhm's, and a meter that speaks again is heard.
                self._pause(STALL_PAUSE)
            elif not self._stopping.is_set():
                self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self.state = "stopped"

    def _pause(self, seconds: float) -> None:
        """Wait before the next try, beating: a reader that waits on purpose is not hung (the
        supervisor withholds systemd's watchdog ping from a worker that stops beating)."""
        end = time.monotonic() + seconds
        while not self._stopping.is_set() and (left := end - time.monotonic()) > 0:
            self.beats += 1
            self._stopping.wait(min(left, 1.0))

    def _read(self, port: serial.SerialBase) -> str:
        """Read until stopped, the port fails or stalls: "frames" if any frame came through,
        else "stalled" or "failed"."""
        last_byte = time.monotonic()
        got_frames = False
        while not self._stopping.is_set():
            self.beats += 1
            try:
                data = read_available(port)
            except (serial.SerialException, OSError) as exc:
                self._trouble("retrying", f"{self.head.device}: {exc}")
                return "frames" if got_frames else "failed"
            now = time.monotonic()
            if not data:
                if now - last_byte > self.stall_seconds:
                    self._trouble("stalled", f"no data from {self.head.device} for {self.stall_seconds:g} s; reopening")
                    return "frames" if got_frames else "stalled"
                continue
            last_byte = now
            for frame in self._frames.feed(data):
                got_frames |= self._frame(frame)
        return "frames" if got_frames else "failed"

    def _frame(self, frame: Frame) -> bool:
        ts_ms = int(time.time() * 1000)
        telegram = decode_frame(frame)
        if not telegram.ok:
            self.frames_bad += 1
            self.log.warning("damaged frame (%d bytes): %s", len(frame.raw), telegram.error)
            return False
        self.frames_ok += 1
        self.message_crc_bad += telegram.bad_message_crcs
        self.last_frame_ms = ts_ms
        self.state = "reading"
        self.last_error = None
        server_id = telegram.server_id or f"head:{self.head.serial}".encode()
        if server_id != self.server_id:
            self.log.info("meter %s on this head", server_id.hex())
            logging.getLogger(f"pyhm.meter.{server_id.hex()}").info("read through head %s", self.head.serial)
            self.server_id = server_id
        meter = self.config.meter_for(server_id, self.head.serial)
        readings = telegram.readings
        if meter is not None and (meter.include or meter.exclude):
            readings = [r for r in readings if meter.wants(r.obis)]
        if readings:
            self.deliver(server_id, readings, ts_ms, self)
        return True

    def _trouble(self, state: str, message: str) -> None:
        self.state = state
        self.last_error = message
        self.log.warning("%s", message)
