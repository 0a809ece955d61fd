"""A network read head (a WiFi head or ser2net): ``socket://`` and ``rfc2217://`` in
``acquisition.devices``, read through the same reader, framing and health path as a tty, from
a local server replaying a capture of the corpus; a dropped connection is reopened."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import List

import pytest
import serial
from serial import rfc2217

import corpus
from acquirehelp import head, start, stop, telegram_count, wait_for, write_config
from pyhm.config import ConfigError, parse
from pyhm.sml import decode_frame, read_frames

CAPTURE = "raw/libsml-testing__DZG_DVS-7420.2V.G2_mtr1__1.hex"


def capture() -> List[bytes]:
    try:
        entry = next(e for e in corpus.entries() if e["file"] == CAPTURE)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return [f.raw for f in read_frames(corpus.data(entry))]


class ReplayServer(threading.Thread):
    """A TCP server on loopback that sends the capture's frames, one every 0.1 s, in a loop."""

    def __init__(self, frames: List[bytes]) -> None:
        super().__init__(daemon=True)
        self.frames = frames
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.drop = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.connections += 1
            self.drop.clear()
            with client:
                i = 0
                while not (self.done.is_set() or self.drop.is_set()):
                    try:
                        client.sendall(self.frames[i % len(self.frames)])
                    except OSError:
                        break
                    i += 1
                    time.sleep(0.1)

    def stop(self) -> None:
        self.done.set()
        self.join(5)
        self.sock.close()


def test_socket_head_reads_a_replayed_capture_and_reconnects(tmp_path: Path) -> None:
    frames = capture()
    server_id = decode_frame(read_frames(frames[0])[0]).server_id
    assert server_id
    replay = ReplayServer(frames)
    replay.start()
    url = f"socket://127.0.0.1:{replay.port}"
    cfg = write_config(tmp_path)
    text = cfg.read_text().replace("  devices: [", f"  devices: ['{url}', ")
    cfg.write_text(text)
    proc = start(cfg)
    try:
        wait_for(lambda: telegram_count(tmp_path / "pyhm.db", server_id) >= 3, 20, "telegrams over TCP")
        h = wait_for(lambda: head(tmp_path / "pyhm.db", f"127.0.0.1:{replay.port}"), 10, "the head's health")
        assert h["device"] == url and h["server_id"] == server_id and h["frames_ok"] >= 1
        before = telegram_count(tmp_path / "pyhm.db", server_id)
        replay.drop.set()  # the WiFi head reboots
        wait_for(lambda: replay.connections >= 2, 20, "a new connection")
        wait_for(lambda: telegram_count(tmp_path / "pyhm.db", server_id) > before + 2, 20, "telegrams again")
    finally:
        err = stop(proc)
        replay.stop()
    assert f"reading {url}" in err


@pytest.mark.parametrize("url", ["tcp://head:8888", "socket://head", "socket://:8888", "rfc2217://head:port"])
def test_a_bad_network_head_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"<t>:3: acquisition.devices: expected a device path or socket://host:port"):
        parse(f"acquisition:\n  devices:\n    - {url}\n", "<t>")


def test_rfc2217_head(tmp_path: Path) -> None:
    """ser2net in telnet mode: pyserial's own RFC 2217 server over a loopback port."""
    frames = capture()
    server_id = decode_frame(read_frames(frames[0])[0]).server_id
    port = serial.serial_for_url("loop://", timeout=0.1)
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        client, _ = listener.accept()

        class Connection:  # what PortManager writes its telnet answers to
            def write(self, data: bytes) -> None:
                client.sendall(data)

        manager = rfc2217.PortManager(port, Connection())
        client.settimeout(0.05)
        i = 0
        next_frame = time.monotonic()
        while not done.is_set():
            try:
                data = client.recv(1024)
                if not data:
                    break
                port.write(b"".join(manager.filter(data)))  # the telnet negotiation, answered
            except socket.timeout:
                pass
            if time.monotonic() >= next_frame:
                client.sendall(b"".join(manager.escape(frames[i % len(frames)])))
                i += 1
                next_frame += 0.1
        client.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"rfc2217://127.0.0.1:{address}"
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("  devices: [", f"  devices: ['{url}', "))
    proc = start(cfg)
    try:
        wait_for(lambda: telegram_count(tmp_path / "pyhm.db", server_id) >= 3, 30, "telegrams over RFC 2217")
    finally:
        done.set()
        stop(proc)
        listener.close()
