"""Scale-out: two pyhm sites, each behind its own Mosquitto bridged by the shipped stanza to a
central Mosquitto, both arrive there complete, also across an outage of the central broker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List

from acquirehelp import wait_for
from mqtthelp import Broker, Collector, Site, mqtt_config, needs_mosquitto, readings, start_pyhm_mqtt, stop_pyhm_mqtt

pytestmark = needs_mosquitto

STANZA = Path(__file__).resolve().parents[1] / "packaging" / "mosquitto" / "pyhm-bridge.conf"


def bridged(home: Path, central: Broker, site: str) -> Broker:
    """A site broker with the shipped bridge stanza, pointed at ``central``."""
    lines = []
    for line in STANZA.read_text().splitlines():
        if line.startswith("address "):
            line = f"address 127.0.0.1:{central.port}"
        elif line.startswith("remote_clientid "):
            line = f"remote_clientid pyhm-bridge-{site}"
        lines.append(line)
    return Broker(home, "\n".join(lines) + "\n").start()


def test_two_sites_arrive_complete_at_the_central_broker_across_its_outage(tmp_path: Path) -> None:
    central = Broker(tmp_path / "central").start()
    names = ("north", "south")
    brokers = [bridged(tmp_path / f"broker-{n}", central, n) for n in names]
    sites = []
    for n in names:
        (tmp_path / n).mkdir()
        s = Site(tmp_path / n, meters=1)
        s.tick()
        sites.append(s)
    starts = [s.clock.ms for s in sites]
    procs = [start_pyhm_mqtt(mqtt_config(s.tmp, b.url, n)) for s, b, n in zip(sites, brokers, names)]
    col = Collector(central.port, ["pyhm/v1/#"], session="central-collector")
    topics = [f"pyhm/v1/{n}/{s.key(0)}/readings" for n, s in zip(names, sites)]
    try:
        wait_for(lambda: all(col.on(f"pyhm/v1/{n}/status")[-1:] == [b"online"] for n in names), 30, "both sites online")
        for s in sites:
            s.tick(3)
        wait_for(lambda: all(len(readings(col, t)) == 3 for t in topics), 30, "both histories")
        time.sleep(0.5)  # the collector's own PUBACKs reach the broker (else it re-delivers them, by QoS 1)
        central.stop()
        for _ in range(6):
            for s in sites:
                s.tick()
            time.sleep(1)
        central.start()
        for s in sites:
            s.tick()
        expected: List[List[int]] = [s.stored(0, start) for s, start in zip(sites, starts)]
        assert all(len(e) == 3 + 6 + 1 for e in expected)
        wait_for(lambda: all(len(readings(col, t)) >= len(e) for t, e in zip(topics, expected)), 60,
                 "both sites' outage at the central broker")
        time.sleep(1.5)
        for t, e in zip(topics, expected):
            assert readings(col, t) == e  # complete, once, in order
        for n, s in zip(names, sites):
            assert col.json(f"pyhm/v1/{n}/{s.key(0)}/state"), "the live state crosses the bridge too"
    finally:
        col.close()
        for p in procs:
            stop_pyhm_mqtt(p)
        for s in sites:
            s.writer.close()
        for b in brokers + [central]:
            b.stop()
