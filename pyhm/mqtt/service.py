"""``pyhm mqtt``: the service loop. Reads the database read-only, publishes discovery, live
state and the history stream, and keeps systemd informed.

The main thread polls ``Query.data_version`` 20 times a second (a new telegram in the live
store, or a commit; it does real work only then, or once a second) and publishes; paho's network thread connects and reconnects with a growing pause
(1 s to 30 s); the main thread reads the acknowledgements off paho's message handles. A broker that is down blocks nothing: the
history waits at its cursor, the live state is simply not sent, and the loop keeps going.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from typing import Any, Dict, Optional, Tuple

import paho.mqtt.client as mqtt

from pyhm import exactjson
from pyhm.acquire.service import Notifier, watchdog_interval
from pyhm.config import Config, MqttConfig
from pyhm.store import Query, SchemaError

from pyhm.mqtt.client import INFLIGHT, KEEPALIVE, make_client
from pyhm.mqtt.discovery import config_message
from pyhm.mqtt.guard import CounterGuard
from pyhm.mqtt.history import Cursor, History
from pyhm.mqtt.live import MeterNow, health, keys_of, latest, sensors, state
from pyhm.mqtt.topics import Topics

log = logging.getLogger("pyhm.mqtt")

TICK = 0.05  # seconds between looks at whether the writer committed (one cheap PRAGMA)
IDLE_EVERY = 1.0  # seconds between rounds of work when nothing was committed
HEALTH_EVERY = 10.0  # the state is re-sent this often without new telegrams (head health moves)
DB_RETRY = 2.0
CURSOR_EVERY = 5.0  # seconds between writes of the cursor file (an SD card counts writes); at stop, always


class Link:
    """The broker connection as the main thread sees it; logs each change of state once."""

    def __init__(self, cfg: MqttConfig) -> None:
        self.where = f"{'mqtts' if cfg.tls else 'mqtt'}://{cfg.host}:{cfg.port}"
        self.connected = threading.Event()
        self.announce = threading.Event()  # (re)send discovery and state: after connecting, HA's birth
        self.problem: Optional[str] = "not connected yet"
        self._logged: Optional[str] = None

    def up(self) -> None:
        self.problem = None
        self.connected.set()
        self.announce.set()
        self._say(logging.INFO, f"connected to {self.where}")

    def down(self, why: str) -> None:
        self.connected.clear()
        self.problem = why
        self._say(logging.WARNING, f"broker {self.where}: {why}; retrying with a growing pause")

    def _say(self, level: int, text: str) -> None:
        if text != self._logged:
            log.log(level, "%s", text)
            self._logged = text


class MqttService:
    """``run()`` returns the exit status."""

    def __init__(self, config: Config, notify: Optional[Notifier] = None) -> None:
        assert config.mqtt is not None
        self.config = config
        self.cfg = config.mqtt
        self.notify = notify or Notifier()
        self.topics = Topics(self.cfg)
        self.link = Link(self.cfg)
        cursor_path = self.cfg.cursor_file or config.database.path.with_name("mqtt-cursor.json")
        self.history = History(Cursor(cursor_path), self.topics, INFLIGHT)
        self.guard = CounterGuard("state")
        self.stopping = threading.Event()
        self.client = make_client(self.cfg, self.topics.status)
        self._announced: Dict[str, Tuple[str, Tuple[str, ...]]] = {}
        self._state_at: Dict[str, Tuple[int, float]] = {}  # meter → (telegram time, when sent)
        self._wire()

    def request_stop(self, *_: object) -> None:
        self.stopping.set()

    # -- paho callbacks (network thread) --------------------------------------------------

    def _wire(self) -> None:
        c = self.client

        def on_connect(client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                self.link.down(f"refused the connection ({reason})")
                return
            client.publish(self.topics.status, "online", qos=1, retain=True)
            if self.cfg.discovery:
                client.subscribe(self.topics.ha_status, qos=1)
            self.link.up()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not self.stopping.is_set():
                self.link.down(f"connection lost ({reason})")

        def on_connect_fail(_c: mqtt.Client, _u: Any) -> None:
            self.link.down("unreachable")

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            if msg.topic == self.topics.ha_status and msg.payload.strip().lower() == b"online":
                log.info("Home Assistant announced itself: sending discovery and state again")
                self.link.announce.set()

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_connect_fail = on_connect_fail
        c.on_message = on_message

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        self.notify("READY=1")
        interval = watchdog_interval()
        query = self._open_database()
        if query is None:
            self.notify("STOPPING=1")
            return 0
        self.history.start(query)  # before connecting: "online" means the cursor is set
        self.client.connect_async(self.cfg.host, self.cfg.port, KEEPALIVE)
        self.client.loop_start()
        log.info("pyhm mqtt started: database %s, broker %s, topics %s/...", self.config.database.path,
                 self.link.where, self.topics.base)
        last_ping = last_status = last_sent = last_work = last_save = 0.0
        last_text, last_problem = "", ""
        version = None
        try:
            while not self.stopping.wait(TICK):
                now = time.monotonic()
                try:
                    seen, version = version, query.data_version()
                    if seen != version or now - last_work >= IDLE_EVERY or self.link.announce.is_set() \
                            or self.history.backlog:
                        last_work = now
                        self._tick(query)
                except (SchemaError, sqlite3.Error) as exc:
                    log.error("cannot read the database: %s", exc)
                self.history.collect()
                if now - last_save >= CURSOR_EVERY:
                    self.history.save()
                    last_save = now
                if interval and now - last_ping >= interval:
                    self.notify("WATCHDOG=1")
                    last_ping = now
                problem = self.link.problem or ""
                # a change of the connection at once; counts at most once a second; a heartbeat
                if problem != last_problem or now - last_status >= 1:
                    text = self.status()
                    if problem != last_problem or text != last_text or now - last_sent >= 30:
                        self.notify("STATUS=" + text)
                        last_text, last_problem, last_sent = text, problem, now
                    last_status = now
        finally:
            self._shutdown(query)
        return 0

    def _open_database(self) -> Optional[Query]:
        """The database, waiting for the acquisition to create it (alive for the watchdog
        meanwhile); None if stopped first."""
        said = False
        while not self.stopping.is_set():
            try:
                return Query(self.config.database.path)
            except (SchemaError, OSError, sqlite3.Error) as exc:
                if not said:
                    log.warning("waiting for the database: %s", exc)
                    self.notify(f"STATUS=waiting for the database ({exc})")
                    said = True
            self.notify("WATCHDOG=1")
            self.stopping.wait(DB_RETRY)
        return None

    def _tick(self, query: Query) -> None:
        if not self.link.connected.is_set():
            return
        meters = latest(query)
        announce = self.link.announce.is_set()
        self.link.announce.clear()
        if self.cfg.discovery:
            for now in meters.values():
                self._discover(now, announce)
        self._states(query, meters, announce)
        self.history.pump(query, self._publish_qos1)

    def _publish_qos1(self, topic: str, payload: str) -> Optional[mqtt.MQTTMessageInfo]:
        """Hand a history message to paho; it keeps (and re-sends) it unless its queue is full."""
        if not self.link.connected.is_set():
            return None
        info = self.client.publish(topic, payload, qos=1)
        return None if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE else info

    def _discover(self, now: MeterNow, announce: bool) -> None:
        keys = (now.name, keys_of(now))
        if not announce and self._announced.get(now.key) == keys:
            return
        topic, payload = config_message(self.topics, now.key, now.name, sensors(now))
        self.client.publish(topic, payload, qos=1, retain=True)
        self._announced[now.key] = keys

    def _states(self, query: Query, meters: Dict[bytes, MeterNow], announce: bool) -> None:
        clock = time.monotonic()
        heads: Optional[Dict[bytes, Dict[str, Any]]] = None
        for now in meters.values():
            ts, sent_at = self._state_at.get(now.key, (None, 0.0))
            due = announce or clock - sent_at >= max(HEALTH_EVERY, self.cfg.state_interval) or (
                ts != now.ts_ms and clock - sent_at >= self.cfg.state_interval)
            if not due:
                continue
            if heads is None:
                heads = health(query, int(time.time() * 1000))
            payload = exactjson.dumps(state(now, self.guard, heads.get(now.server_id)))
            self.client.publish(self.topics.state(now.key), payload, qos=0, retain=True)
            self._state_at[now.key] = (now.ts_ms, clock)

    def status(self) -> str:
        h = self.history
        if self.link.problem:
            return f"broker {self.link.where} {self.link.problem}; history waiting ({h.acknowledged} acknowledged)"
        return (f"connected to {self.link.where}; {len(h.sent_ms)} meters; history {h.published} published, "
                f"{h.acknowledged} acknowledged, {h.inflight} in flight")

    def _shutdown(self, query: Query) -> None:
        self.notify("STOPPING=1")
        log.info("stopping")
        if self.link.connected.is_set():
            info = self.client.publish(self.topics.status, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=3)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        self.history.collect()
        self.history.save()
        query.close()
