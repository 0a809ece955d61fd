"""The topic names pyhm publishes under; one place, so that the README, the discovery payloads
and the tests agree."""

from __future__ import annotations

from pyhm.config import MqttConfig

SCHEMA = "v1"  # the history stream's schema version, part of every topic


class Topics:
    """``<prefix>/v1/<site>/...`` for pyhm's own topics, ``<discovery_prefix>/...`` for Home Assistant."""

    def __init__(self, cfg: MqttConfig) -> None:
        self.base = f"{cfg.topic_prefix}/{SCHEMA}/{cfg.site}"
        self.site = cfg.site
        self.discovery_prefix = cfg.discovery_prefix

    @property
    def status(self) -> str:
        """``online`` while the service is connected, ``offline`` (its last will) otherwise."""
        return f"{self.base}/status"

    @property
    def ha_status(self) -> str:
        """Where Home Assistant announces itself (its birth message)."""
        return f"{self.discovery_prefix}/status"

    def state(self, meter: str) -> str:
        return f"{self.base}/{meter}/state"

    def readings(self, meter: str) -> str:
        return f"{self.base}/{meter}/readings"

    def discovery(self, meter: str) -> str:
        return f"{self.discovery_prefix}/device/pyhm_{self.site}_{meter}/config"
