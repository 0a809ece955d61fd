"""``pyhm mqtt`` cost and speed: publish lag p50/p95 and CPU/RSS at 4 meters.

Run: .venv/bin/python bench/mqtt.py [--meters 4] [--seconds 60] [--acquire]

A real Mosquitto on a loopback port and ``pyhm mqtt`` as its own process. The telegrams come
from the real store writer, which commits one per meter each second stamped with the time of
its commit (lag = commit → broker), or with ``--acquire`` from ``pyhm acquire`` reading
simulated meters on ptys, stamped when the frame arrived (lag = received → broker, which
includes the acquisition's commit once a second). A subscriber on the broker notes when each
history message and each live state arrives. CPU and peak RSS of ``pyhm mqtt`` are read from
/proc after a 5 s warm-up, with Mosquitto's CPU in the same run and a bare interpreter for scale.
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
from datetime import datetime
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

from acquire import cpu_seconds, peak_rss_mib  # noqa: E402
from mqtthelp import Broker, Collector, Site, mqtt_config, start_pyhm_mqtt, stop_pyhm_mqtt  # noqa: E402
from pyhm.acquire.simulate import Simulator  # noqa: E402


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
    parser.add_argument("--acquire", action="store_true", help="telegrams from pyhm acquire on simulated meters")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyhm-mqtt-"))
    broker = Broker(work / "broker").start()
    stop = threading.Event()
    extra = "logging:\n  level: warning\n"
    if args.acquire:
        sim = Simulator(work / "heads", args.meters).start()
        cfg = mqtt_config(work, broker.url, extra=extra + f"acquisition:\n  devices: ['{work / 'heads' / 'hm_*'}']\n"
                                                      "  discovery: glob\n")
        acquire = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "acquire"])
        feeder = threading.Thread(target=stop.wait, daemon=True)
        time.sleep(3)  # the database exists
    else:
        site = Site(work, meters=args.meters)
        site.tick()

        def feed() -> None:
            while not stop.is_set():
                site.clock.ms = int(time.time() * 1000) - 1000
                site.tick()  # stamped now, committed now
                stop.wait(1 - time.time() % 1)

        cfg = mqtt_config(work, broker.url, extra=extra)
        feeder = threading.Thread(target=feed, daemon=True)
    proc = start_pyhm_mqtt(cfg)
    col = TimedCollector(broker.port, ["pyhm/v1/+/+/readings", "pyhm/v1/+/+/state"])
    time.sleep(2)
    feeder.start()
    try:
        time.sleep(5)
        assert broker.proc is not None
        peers = [broker.proc.pid] + ([acquire.pid] if args.acquire else [])
        c0, p0, t0 = cpu_seconds(proc.pid), [cpu_seconds(p) for p in peers], time.monotonic()
        time.sleep(args.seconds)
        c1, p1, t1 = cpu_seconds(proc.pid), [cpu_seconds(p) for p in peers], time.monotonic()
        rss = peak_rss_mib(proc.pid)
        stop.set()
        feeder.join()
        time.sleep(2)
    finally:
        stop.set()
        stop_pyhm_mqtt(proc)
        col.close()
        broker.stop()
        if args.acquire:
            acquire.send_signal(signal.SIGTERM)
            acquire.wait(30)
            sim.stop()
        else:
            site.writer.close()
    history, state = [], []
    for (topic, payload, _), arrived in zip(col.messages, col.arrived):
        message = json.loads(payload)
        if topic.endswith("/readings"):
            history.append(arrived - message["ts_ms"] / 1000)
        elif topic.endswith("/state"):
            stamped = datetime.fromisoformat(message["time"].replace("Z", "+00:00")).timestamp()
            if arrived - stamped < 5:  # not the 10 s health refresh of an unchanged telegram
                state.append(arrived - stamped)
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(1)
        bare_rss = peak_rss_mib(bare.pid)
    finally:
        bare.send_signal(signal.SIGKILL)
        bare.wait()
    cpu = 100 * (c1 - c0) / (t1 - t0)
    broker_cpu, *acquire_cpu = (100 * (b - a) / (t1 - t0) for a, b in zip(p0, p1))
    lag = "received → broker" if args.acquire else "commit → broker"
    print(f"pyhm mqtt, {args.meters} meters at 1 telegram/s from {'pyhm acquire' if args.acquire else 'the writer'},"
          f" measured over {args.seconds:g} s:")
    print(f"  history lag ({lag}): {percentiles(history)}")
    print(f"  live state lag ({lag}): {percentiles(state)}")
    print(f"  CPU: {cpu:.2f} % of one core; Mosquitto in the same run: {broker_cpu:.2f} %"
          f" ({cpu / broker_cpu if broker_cpu else float('inf'):.1f}×)"
          + "".join(f"; pyhm acquire: {a:.2f} % ({cpu / a if a else float('inf'):.1f}×)" for a in acquire_cpu))
    print(f"  peak RSS: {rss:.1f} MiB; a bare Python interpreter: {bare_rss:.1f} MiB")
    print(f"Python {sys.version.split()[0]}, paho-mqtt {paho.mqtt.__version__}")


if __name__ == "__main__":
    main()
