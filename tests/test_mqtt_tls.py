"""``mqtts://`` with a CA file and a user name with a password file, against a real Mosquitto
that requires both; a wrong password is refused, logged once, and retried without a crash.
Also: ``state_interval`` spaces the live state out."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from acquirehelp import wait_for
from mqtthelp import Broker, Collector, Site, mqtt_config, needs_mosquitto, start_pyhm_mqtt, stop_pyhm_mqtt

pytestmark = needs_mosquitto


def make_tls(home: Path) -> None:
    """A CA, and a server certificate for 127.0.0.1 signed by it."""
    home.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=home, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=pyhm test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (home / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "server.pem", "-days", "2", "-extfile", "san.ext")


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None or shutil.which("openssl") is None,
                    reason="needs mosquitto_passwd and openssl")
def test_mqtts_with_ca_file_and_password_file(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    make_tls(tls)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tls / "passwd"), "pyhm", "s3cret"], check=True)
    (tls / "passwd").chmod(0o600)
    secure = Broker(tmp_path / "broker", f"cafile {tls / 'ca.pem'}\ncertfile {tls / 'server.pem'}\n"
                                         f"keyfile {tls / 'server.key'}\npassword_file {tls / 'passwd'}\n")
    secure.start()
    site = Site(tmp_path)
    site.tick()
    password = tmp_path / "mqtt.pass"
    password.write_text("wrong\n")
    cfg = mqtt_config(tmp_path, f"mqtts://127.0.0.1:{secure.port}", "tls",
                      f"  username: pyhm\n  password_file: {password}\n  ca_file: {tls / 'ca.pem'}\n")
    # A password_file makes Mosquitto check every user (the helper's allow_anonymous aside).
    proc = start_pyhm_mqtt(cfg)
    try:
        time.sleep(4)
        assert proc.poll() is None, "a refused login must not crash the service"
    finally:
        err = stop_pyhm_mqtt(proc)
    assert err.count("refused the connection") == 1, err
    password.write_text("s3cret\n")
    proc = start_pyhm_mqtt(cfg)
    try:
        seen: list = []  # a subscriber over TLS (the same CA, the same user) sees pyhm online
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        c.tls_set(ca_certs=str(tls / "ca.pem"))
        c.username_pw_set("pyhm", "s3cret")
        c.on_message = lambda _c, _u, m: seen.append((m.topic, m.payload))
        c.connect("127.0.0.1", secure.port)
        c.subscribe("pyhm/v1/tls/#", qos=1)
        c.loop_start()
        wait_for(lambda: ("pyhm/v1/tls/status", b"online") in seen, 15, "online over TLS")
        site.tick()
        wait_for(lambda: any(t.endswith("/state") for t, _ in seen), 10, "state over TLS")
        c.disconnect()
        c.loop_stop()
    finally:
        err = stop_pyhm_mqtt(proc)
        site.writer.close()
        secure.stop()
    assert "connected to mqtts://127.0.0.1" in err


def test_state_interval_spaces_the_live_state(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    site = Site(tmp_path, meters=1)
    site.tick()
    proc = start_pyhm_mqtt(mqtt_config(tmp_path, broker.url, "home", "  state_interval: 3\n"))
    topic = f"pyhm/v1/home/{site.key(0)}/state"
    col = Collector(broker.port, ["pyhm/v1/home/#"])
    try:
        wait_for(lambda: col.on("pyhm/v1/home/status")[-1:] == [b"online"], 15, "online")
        first = len(col.on(topic))
        for _ in range(7):
            site.tick()
            time.sleep(1)
        states = len(col.on(topic)) - first
        assert 2 <= states <= 3, states  # 7 telegrams in 7 s, a state at most every 3 s
    finally:
        col.close()
        stop_pyhm_mqtt(proc)
        site.writer.close()
        broker.stop()
