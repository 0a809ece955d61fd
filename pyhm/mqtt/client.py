"""The ``mqtt:`` configuration made into a paho-mqtt client: address, TLS, credentials, last will.

Only configuration happens here; connecting and reconnecting is the service's job.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from pyhm.config import ConfigError, MqttConfig

KEEPALIVE = 30
RECONNECT_MIN, RECONNECT_MAX = 1, 30  # seconds, doubling in between
INFLIGHT = 100  # QoS 1 messages sent and not yet acknowledged


def read_password(cfg: MqttConfig) -> str:
    """The password from ``password_file`` (one line; kept out of the configuration file)."""
    assert cfg.password_file is not None
    try:
        return cfg.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {cfg.password_file}: {exc}") from None


def make_client(cfg: MqttConfig, will_topic: str) -> mqtt.Client:
    """A client for the configured broker, whose last will marks pyhm ``offline``."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id or f"pyhm-{cfg.site}",
                         protocol=mqtt.MQTTv311, clean_session=True)
    if cfg.username is not None:
        client.username_pw_set(cfg.username, read_password(cfg) if cfg.password_file else None)
    if cfg.tls:
        if cfg.ca_file is not None and not cfg.ca_file.is_file():
            raise ConfigError(f"mqtt.ca_file: no such file: {cfg.ca_file}")
        client.tls_set(ca_certs=str(cfg.ca_file) if cfg.ca_file else None, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.will_set(will_topic, "offline", qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
    client.max_inflight_messages_set(INFLIGHT)
    return client
