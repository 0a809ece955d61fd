"""Helpers for the MQTT tests: a real Mosquitto on a free loopback port, a subscriber that
records what arrives, and ``pyhm mqtt`` in a subprocess."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import paho.mqtt.client as mqtt
import pytest

from storehelp import Clock, telegram, writer
from pyhm.simulator import SimulatedMeter
from pyhm.store import Query, Writer

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)

needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (scripts/dev installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One Mosquitto with its own configuration, persistence and log in ``home``."""

    def __init__(self, home: Path, extra: str = "", port: Optional[int] = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.extra = extra
        self.proc: Optional[subprocess.Popen] = None
        home.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        conf = self.home / "mosquitto.conf"
        conf.write_text(
            # As root Mosquitto would switch to its own user, which may not write here.
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.home}/\nautosave_interval 1\n"
            f"log_dest file {self.home / 'mosquitto.log'}\nlog_type all\n{self.extra}"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Collector:
    """A subscriber that keeps every message (topic, payload, retained) in arrival order.

    ``session`` names a persistent session: messages published while it is away are kept
    for it by the broker (QoS 1)."""

    def __init__(self, port: int, topics: List[str], session: Optional[str] = None) -> None:
        self.messages: List[Tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.topics = topics
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=session or "",
                                  clean_session=session is None)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port, 10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        for t in self.topics:
            client.subscribe(t, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def on(self, topic: str) -> List[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def json(self, topic: str) -> List[dict]:
        return [json.loads(p) for p in self.on(topic) if p]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Site:
    """A pyhm database fed by simulated meters through the real writer, on a clock near now."""

    def __init__(self, tmp: Path, meters: int = 2) -> None:
        self.tmp = tmp
        self.clock = Clock(int(time.time() * 1000) // 1000 * 1000)
        self.writer: Writer = writer(tmp / "pyhm.db", self.clock)
        self.meters = [SimulatedMeter(i + 1) for i in range(meters)]

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.clock.ms += 1000
            for m in self.meters:
                server, rs = telegram(m)
                self.writer.add(server, rs, self.clock.ms)
            self.writer.commit()

    def key(self, i: int) -> str:
        return self.meters[i].server_id.hex()

    def stored(self, i: int, after_ms: int = -1) -> List[int]:
        q = Query(self.tmp / "pyhm.db")
        try:
            m = q.meter(self.key(i))
            return [ts for ts, _ in q.telegrams(m.id, after_ms, 1_000_000)]
        finally:
            q.close()


def mqtt_config(tmp: Path, url: str, site: str = "home", extra: str = "") -> Path:
    cfg = tmp / "pyhm.cfg"
    cfg.write_text(f"database:\n  path: {tmp / 'pyhm.db'}\nmqtt:\n  url: {url}\n  site: {site}\n{extra}")
    return cfg


def start_pyhm_mqtt(cfg: Path, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "mqtt"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def stop_pyhm_mqtt(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def readings(collector: Collector, topic: str) -> List[int]:
    return [m["ts_ms"] for m in collector.json(topic)]


__all__ = ["Broker", "Collector", "Dict", "Site", "mqtt_config", "needs_mosquitto", "readings", "start_pyhm_mqtt",
           "stop_pyhm_mqtt"]
