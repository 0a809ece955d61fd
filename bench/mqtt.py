"""``pyhm mqtt`` cost and speed: publish lag p50/p95 and CPU/RSS at 4 meters.

Run: .venv/bin/python bench/mqtt.py [--meters 4] [--seconds 60]

A real Mosquitto on a loopback port; the real store writer commits one telegram per meter
each second, stamped with the time of its commit; ``pyhm mqtt`` runs as its own process. A
subscriber on the broker records when each history message and each live state arrives:
the lag is commit → arrival at the broker's subscriber. (In ``pyhm acquire`` a telegram waits
up to one more second for its commit.) CPU and peak RSS of ``pyhm mqtt`` are read from /proc
after a 5 s warm-up, with Mosquitto's CPU in the same run and a bare interpreter for scale.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

from acquire import cpu_seconds, peak_rss_mib  # noqa: E402
from mqtthelp import Broker, Collector, Site, mqtt_config, start_pyhm_mqtt, stop_pyhm_mqtt  # noqa: E402
from pyhm.mqtt.live import iso  # noqa: E402


class TimedCollector(Collector):
    """Also notes when each message arrived."""

    def __init__(self, port: int, topics: List[str]) -> None:
        self.arrived: List[float] = []
        super().__init__(port, topics)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.arrived.append(time.time())
        super()._on_message(client, userdata, msg)


def percentiles(values: List[float]) -> str:
    if len(values) < 2:
        return "no data"
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {max(values) * 1000:.0f} ms ({len(values)} messages)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyhm-mqtt-"))
    broker = Broker(work / "broker").start()
    site = Site(work, meters=args.meters)
    site.tick()
    committed: Dict[int, float] = {}
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            site.clock.ms = int(time.time() * 1000) - 1000
            site.tick()
            committed[site.clock.ms] = time.time()
            stop.wait(1 - time.time() % 1)

    proc = start_pyhm_mqtt(mqtt_config(work, broker.url, extra="logging:\n  level: warning\n"))
    col = TimedCollector(broker.port, ["pyhm/v1/+/+/readings", "pyhm/v1/+/+/state"])
    time.sleep(2)
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        time.sleep(5)
        assert broker.proc is not None
        c0, b0, t0 = cpu_seconds(proc.pid), cpu_seconds(broker.proc.pid), time.monotonic()
        time.sleep(args.seconds)
        c1, b1, t1 = cpu_seconds(proc.pid), cpu_seconds(broker.proc.pid), time.monotonic()
        rss = peak_rss_mib(proc.pid)
        stop.set()
        feeder.join()
        time.sleep(2)
    finally:
        stop.set()
        stop_pyhm_mqtt(proc)
        col.close()
        broker.stop()
        site.writer.close()
    at_commit = {iso(ts): t for ts, t in committed.items()}
    history, state = [], []
    for (topic, payload, _), arrived in zip(col.messages, col.arrived):
        message = json.loads(payload)
        if topic.endswith("/readings") and message["ts_ms"] in committed:
            history.append(arrived - committed[message["ts_ms"]])
        elif topic.endswith("/state") and message["time"] in at_commit:
            state.append(arrived - at_commit[message["time"]])
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(1)
        bare_rss = peak_rss_mib(bare.pid)
    finally:
        bare.send_signal(signal.SIGKILL)
        bare.wait()
    cpu, broker_cpu = 100 * (c1 - c0) / (t1 - t0), 100 * (b1 - b0) / (t1 - t0)
    print(f"pyhm mqtt, {args.meters} meters at 1 telegram/s, measured over {args.seconds:g} s:")
    print(f"  history lag (commit → subscriber): {percentiles(history)}")
    print(f"  live state lag (commit → subscriber): {percentiles(state)}")
    print(f"  CPU: {cpu:.2f} % of one core; Mosquitto in the same run: {broker_cpu:.2f} %"
          f" ({cpu / broker_cpu if broker_cpu else float('inf'):.1f}×)")
    print(f"  peak RSS: {rss:.1f} MiB; a bare Python interpreter: {bare_rss:.1f} MiB")
    print(f"Python {sys.version.split()[0]}, paho-mqtt {paho.mqtt.__version__}")


if __name__ == "__main__":
    main()
