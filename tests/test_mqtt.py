"""``pyhm mqtt`` against a real Mosquitto: Home Assistant discovery, retained state, last will,
HA's birth message, and the history stream across a broker outage and a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import paho.mqtt.client as mqtt
import pytest

from acquirehelp import wait_for
from mqtthelp import Broker, Collector, Site, mqtt_config, needs_mosquitto, readings, start_pyhm_mqtt, stop_pyhm_mqtt
from storehelp import Clock, reading, writer
from test_acquire_notify import NotifySocket
from pyhm.store import HeadStats, Query

pytestmark = needs_mosquitto

SITE = "home"
BASE = f"pyhm/v1/{SITE}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    s.tick()
    yield s
    s.writer.close()


def test_discovery_payloads_name_the_right_classes_units_device_and_availability(broker: Broker, site: Site) -> None:
    site.writer.set_meter(site.meters[0].server_id, "Haus")
    now = int(time.time() * 1000)
    site.writer.report_heads([HeadStats("H1", "/dev/hm_H1", True, "reading", site.meters[0].server_id,
                                        100, 3, 0, now - 2500, None)])
    site.writer.commit(now_ms=now - now % 60_000 - 30_000)  # three CRC errors in the last closed minute
    site.tick()
    proc = start_pyhm_mqtt(mqtt_config(site.tmp, broker.url, SITE))
    try:
        key = site.key(0)
        topic = f"homeassistant/device/pyhm_{SITE}_{key}/config"
        col = Collector(broker.port, ["homeassistant/#", f"{BASE}/#"])
        wait_for(lambda: col.on(topic) and col.json(f"{BASE}/{key}/state"), 15, "discovery and state")
        cfg = col.json(topic)[0]
        late = Collector(broker.port, [topic])
        wait_for(lambda: late.messages, 10, "retained discovery")
        assert late.messages[0][2] is True and json.loads(late.messages[0][1]) == cfg
        late.close()
        assert cfg["dev"]["name"] == "Haus" and cfg["dev"]["ids"] == [f"pyhm_{key}"]
        assert cfg["avty_t"] == f"{BASE}/status" and cfg["stat_t"] == f"{BASE}/{key}/state"
        cmps = cfg["cmps"]
        energy = cmps["1_0_1_8_0_255"]
        assert (energy["p"], energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == \
            ("sensor", "energy", "total_increasing", "kWh")
        assert cmps["1_0_2_8_0_255"]["device_class"] == "energy"
        power = cmps["power"]
        assert (power["device_class"], power["state_class"], power["unit_of_measurement"]) == ("power", "measurement", "W")
        assert "1_0_16_7_0_255" not in cmps, "16.7.0 is the signed power, not a second sensor"
        assert cmps["1_0_36_7_0_255"]["name"] == "Power L1" and cmps["1_0_36_7_0_255"]["unit_of_measurement"] == "W"
        volts = cmps["1_0_32_7_0_255"]
        assert (volts["device_class"], volts["unit_of_measurement"], volts["name"]) == ("voltage", "V", "Voltage L1")
        for diag in ("crc_errors_per_min", "seconds_since_frame"):
            assert cmps[diag]["entity_category"] == "diagnostic"
        assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)
        # Every template's key is in the state; energy in exact kWh, power signed W.
        state = col.json(f"{BASE}/{key}/state")[-1]
        for c in cmps.values():
            assert json.loads(c["value_template"].split("[", 1)[1].split("]", 1)[0]) in state, c
        q = Query(site.tmp / "pyhm.db")
        latest = q.latest(q.meter(key).id)
        q.close()
        assert Decimal(str(state["1-0:1.8.0*255"])) == latest["1-0:1.8.0*255"]["value"] / 1000
        assert Decimal(str(state["power"])) == latest["1-0:16.7.0*255"]["value"]
        assert state["crc_errors_per_min"] == 3
        assert 2 <= state["seconds_since_frame"] < 60
        col.close()
    finally:
        stop_pyhm_mqtt(proc)


def test_state_is_retained_and_a_killed_publisher_is_marked_offline_by_its_last_will(broker: Broker, site: Site) -> None:
    proc = start_pyhm_mqtt(mqtt_config(site.tmp, broker.url, SITE))
    try:
        key = site.key(1)
        first = Collector(broker.port, [f"{BASE}/status", f"{BASE}/{key}/state"])
        wait_for(lambda: first.on(f"{BASE}/status") == [b"online"], 15, "online")
        site.tick(3)
        newest = site.clock.ms
        wait_for(lambda: any(_ms(m["time"]) == newest for m in first.json(f"{BASE}/{key}/state")), 10, "newest state")
        late = Collector(broker.port, [f"{BASE}/+/state"])  # subscribes after the fact: gets the retained state
        wait_for(lambda: late.on(f"{BASE}/{key}/state"), 10, "retained state")
        topic, payload, retained = late.messages[[t for t, _, _ in late.messages].index(f"{BASE}/{key}/state")]
        assert retained is True and _ms(json.loads(payload)["time"]) == newest
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: first.on(f"{BASE}/status")[-1:] == [b"offline"], 15, "the last will")
        again = Collector(broker.port, [f"{BASE}/status"])
        wait_for(lambda: again.on(f"{BASE}/status") == [b"offline"], 5, "offline retained")
        for c in (first, late, again):
            c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _ms(iso_time: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp() * 1000)


def test_home_assistant_birth_brings_discovery_and_state_again(broker: Broker, site: Site) -> None:
    proc = start_pyhm_mqtt(mqtt_config(site.tmp, broker.url, SITE))
    try:
        key = site.key(0)
        topic = f"homeassistant/device/pyhm_{SITE}_{key}/config"
        col = Collector(broker.port, [topic, f"{BASE}/{key}/state"])
        wait_for(lambda: col.on(topic), 15, "discovery")
        time.sleep(1.5)
        before = len(col.on(topic))
        states = len(col.on(f"{BASE}/{key}/state"))
        ha = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        ha.connect("127.0.0.1", broker.port)
        ha.loop_start()
        ha.publish("homeassistant/status", "online", qos=1).wait_for_publish(5)
        wait_for(lambda: len(col.on(topic)) > before, 10, "discovery again")
        wait_for(lambda: len(col.on(f"{BASE}/{key}/state")) > states, 10, "state again")
        ha.publish("homeassistant/status", "offline", qos=1).wait_for_publish(5)
        time.sleep(1)
        assert len(col.on(topic)) == before + 1, "only HA's online re-announces"
        ha.disconnect()
        ha.loop_stop()
        col.close()
    finally:
        stop_pyhm_mqtt(proc)


OUTAGE_S = 8


def test_every_telegram_of_a_broker_outage_arrives_once_in_order(broker: Broker, site: Site) -> None:
    """The broker is stopped for OUTAGE_S seconds (the issue says 30; paho's backoff is the same
    code path) while telegrams keep being stored; afterwards each arrives exactly once, in order."""
    start = site.clock.ms  # history starts after the newest telegram when pyhm mqtt first starts
    proc = start_pyhm_mqtt(mqtt_config(site.tmp, broker.url, SITE))
    col = Collector(broker.port, [f"{BASE}/+/readings", f"{BASE}/status"], session="collector")
    try:
        topics = [f"{BASE}/{site.key(i)}/readings" for i in range(2)]
        wait_for(lambda: col.on(f"{BASE}/status") == [b"online"], 15, "pyhm online")
        site.tick(3)
        wait_for(lambda: all(len(readings(col, t)) == 3 for t in topics), 15, "live history")
        time.sleep(0.5)  # the collector's own PUBACKs reach the broker (else it re-delivers them, by QoS 1)
        broker.stop()
        for _ in range(OUTAGE_S):
            site.tick()
            time.sleep(1)
        broker.start()
        site.tick(2)
        expected = [site.stored(i, start) for i in range(2)]
        assert len(expected[0]) == 3 + OUTAGE_S + 2
        wait_for(lambda: all(len(readings(col, t)) >= len(e) for t, e in zip(topics, expected)), 60,
                 "the outage's telegrams")
        time.sleep(1.5)  # anything extra (a duplicate) would arrive by now
        for t, e in zip(topics, expected):
            assert readings(col, t) == e
        messages = col.json(topics[0])
        assert messages[-1]["schema"] == "pyhm/v1" and messages[-1]["meter"] == site.key(0)
        assert messages[-1]["values"]["1-0:1.8.0*255"]["unit"] == "Wh"
        q = Query(site.tmp / "pyhm.db")
        stored = q.latest(q.meter(site.key(0)).id)["1-0:1.8.0*255"]["value"]
        q.close()
        assert Decimal(str(messages[-1]["values"]["1-0:1.8.0*255"]["value"])) == stored
    finally:
        col.close()
        err = stop_pyhm_mqtt(proc)
    assert err.count("WARNING") == 1 and "connection lost" in err, err  # once per change of state, not per attempt
    assert err.count("connected to") == 2, err
    cursor = json.loads((site.tmp / "mqtt-cursor.json").read_text())
    assert cursor["meters"][site.key(0)]["ts_ms"] == expected[0][-1]


def test_a_restart_resumes_after_the_last_acknowledged_telegram(broker: Broker, site: Site) -> None:
    start = site.clock.ms
    cfg = mqtt_config(site.tmp, broker.url, SITE)
    col = Collector(broker.port, [f"{BASE}/+/readings", f"{BASE}/status"])
    topic = f"{BASE}/{site.key(0)}/readings"
    proc = start_pyhm_mqtt(cfg)
    try:
        wait_for(lambda: col.on(f"{BASE}/status") == [b"online"], 15, "pyhm online")
        site.tick(2)
        wait_for(lambda: len(readings(col, topic)) == 2, 15, "history")
    finally:
        stop_pyhm_mqtt(proc)
    site.tick(5)  # stored while pyhm mqtt is down
    proc = start_pyhm_mqtt(cfg)
    try:
        wait_for(lambda: col.on(f"{BASE}/status")[-1:] == [b"online"] and len(col.on(f"{BASE}/status")) == 3, 15,
                 "online again")  # online, offline (the clean stop), online
        site.tick(1)
        expected = site.stored(0, start)
        wait_for(lambda: len(readings(col, topic)) >= len(expected), 15, "the missed telegrams")
        time.sleep(1)
        assert readings(col, topic) == expected
    finally:
        stop_pyhm_mqtt(proc)
        col.close()


def test_a_counter_never_goes_down_in_what_is_published(broker: Broker, tmp_path: Path) -> None:
    server = b"\x0a\x01TST\x00\x00\x00\x00\x01"
    clock = Clock(int(time.time() * 1000) // 1000 * 1000)
    w = writer(tmp_path / "pyhm.db", clock)

    def store(wh: str, watts: str = "100") -> None:
        clock.ms += 1000
        w.add(server, [reading("1-0:1.8.0*255", wh), reading("1-0:16.7.0*255", watts, unit=27)], clock.ms)
        w.commit()

    store("1000.0")
    proc = start_pyhm_mqtt(mqtt_config(tmp_path, broker.url, SITE))
    col = Collector(broker.port, [f"{BASE}/#"])
    try:
        wait_for(lambda: col.on(f"{BASE}/status") == [b"online"], 15, "online")
        for wh in ("1000.5", "900.0", "1001.0", "9000000.0", "1002.0"):  # a drop, and a leap of ~9 MWh in 1 s
            store(wh)
            time.sleep(0.6)
        hist = f"{BASE}/{server.hex()}/readings"
        wait_for(lambda: len(col.json(hist)) == 5, 15, "history")
        published = [m["values"].get("1-0:1.8.0*255", {}).get("value") for m in col.json(hist)]
        assert published == [1000.5, None, 1001.0, None, 1002.0]
        assert [m.get("held") for m in col.json(hist)] == [None, ["1-0:1.8.0*255"], None, ["1-0:1.8.0*255"], None]
        energies = [m["1-0:1.8.0*255"] for m in col.json(f"{BASE}/{server.hex()}/state")]
        assert energies == sorted(energies) and max(energies) == 1.002
    finally:
        col.close()
        err = stop_pyhm_mqtt(proc)
        w.close()
    assert "went down from 1000.5 to 900.0: held back" in err
    assert "leapt from 1001.0 to 9000000.0" in err


def test_systemd_hears_ready_watchdog_and_every_change_of_the_broker_state(broker: Broker, site: Site) -> None:
    notify = NotifySocket(site.tmp / "notify.sock")
    proc = start_pyhm_mqtt(mqtt_config(site.tmp, broker.url, SITE),
                           env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    statuses = lambda: [m for _, m in notify.messages if m.startswith("STATUS=")]  # noqa: E731
    try:
        wait_for(lambda: notify.times("READY=1"), 15, "READY=1")
        wait_for(lambda: any("connected to" in m for m in statuses()), 10, "STATUS connected")
        broker.stop()
        wait_for(lambda: "connection lost" in statuses()[-1], 10, "STATUS connection lost")
        pings = len(notify.times("WATCHDOG=1"))
        time.sleep(2)
        assert len(notify.times("WATCHDOG=1")) >= pings + 2, "alive and pinging while the broker is down"
        assert proc.poll() is None
        broker.start()
        wait_for(lambda: "connected to" in statuses()[-1], 40, "STATUS connected again")
    finally:
        stop_pyhm_mqtt(proc)
        notify.close()
    assert notify.times("STOPPING=1")


def test_waits_for_the_database_ready_and_alive_meanwhile(broker: Broker, tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    proc = start_pyhm_mqtt(mqtt_config(tmp_path, broker.url, SITE), env={"NOTIFY_SOCKET": str(notify.path)})
    col = Collector(broker.port, [f"{BASE}/#"])
    try:
        wait_for(lambda: notify.times("READY=1"), 15, "READY=1")
        wait_for(lambda: any(m.startswith("STATUS=waiting for the database") for _, m in notify.messages), 5, "waiting")
        assert proc.poll() is None and not col.messages
        site = Site(tmp_path, meters=1)  # the acquisition starts: the database appears
        site.tick()
        wait_for(lambda: col.on(f"{BASE}/{site.key(0)}/state"), 15, "state once the database is there")
        site.writer.close()
    finally:
        col.close()
        stop_pyhm_mqtt(proc)
        notify.close()


def test_not_configured_is_a_clear_message_and_a_skip_for_systemd(tmp_path: Path) -> None:
    cfg = tmp_path / "pyhm.cfg"
    cfg.write_text(f"database:\n  path: {tmp_path / 'pyhm.db'}\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "pyhm", "--config", str(cfg), "mqtt", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=30)
    r = run()
    assert r.returncode == 1 and "not configured" in r.stderr and str(cfg) in r.stderr
    assert run("--configured").returncode == 1  # ExecCondition=: 1 skips the unit, no failure
    cfg.write_text("mqtt:\n  url: mqtt://broker.lan\n")
    assert run("--configured").returncode == 0
    cfg.write_text("mqtt:\n  url: mqtt://broker.lan\n  topic_prefix: a/b\n")
    r = run("--configured")
    assert r.returncode == 255 and "mqtt.topic_prefix" in r.stderr  # an invalid file fails the unit
    cfg.write_text("mqtt:\n  url: mqtt://broker.lan\n  password_file: /etc/pyhm/mqtt.pass\n")
    r = run()
    assert r.returncode == 2 and "mqtt.password_file: a password needs a username" in r.stderr
