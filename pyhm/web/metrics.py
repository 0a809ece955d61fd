"""``GET /metrics``: the readings, head health and database as Prometheus/OpenMetrics, written by
prometheus_client from a custom collector that reads the store at scrape time (no state is
kept between scrapes; the numbers are the database's)."""

from __future__ import annotations

import time
from typing import Callable, Dict, Iterator, Optional, Tuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from pyhm.store import Query

# unit symbol of a gauge → (metric name, help)
GAUGES: Dict[str, Tuple[str, str]] = {
    "W": ("pyhm_power_watts", "Active power the meter reports (16.7.0 signed: export negative)"),
    "V": ("pyhm_voltage_volts", "Voltage per phase"),
    "A": ("pyhm_current_amperes", "Current per phase"),
    "Hz": ("pyhm_frequency_hertz", "Grid frequency"),
}


class StoreCollector(Collector):
    """Reads this thread's ``Query`` on every scrape."""

    def __init__(self, query: Callable[[], Optional[Query]]) -> None:
        self.query = query

    def collect(self) -> Iterator[Metric]:
        q = self.query()
        up = GaugeMetricFamily("pyhm_database_up", "1 if the database can be read")
        up.add_metric([], 0 if q is None else 1)
        yield up
        if q is None:
            return
        now = time.time()
        yield from self._readings(q, now)
        yield from self._heads(q, now)
        size = GaugeMetricFamily("pyhm_database_size_bytes", "Size of the database file")
        size.add_metric([], q.path.stat().st_size)
        yield size
        alive = q.writer_alive_ms()
        if alive is not None:
            lag = GaugeMetricFamily("pyhm_writer_last_commit_age_seconds",
                                    "Seconds since the acquisition service last committed (it commits every second)")
            lag.add_metric([], max(0.0, now - alive / 1000))
            yield lag

    @staticmethod
    def _readings(q: Query, now: float) -> Iterator[Metric]:
        labels = ["meter", "name", "obis"]
        energy = CounterMetricFamily("pyhm_energy_watt_hours", "Energy register of the meter (C.8.E), in Wh", labels=labels)
        gauges = {unit: GaugeMetricFamily(name, text, labels=labels) for unit, (name, text) in GAUGES.items()}
        seen = GaugeMetricFamily("pyhm_meter_last_telegram_age_seconds", "Seconds since the meter's newest stored telegram",
                                 labels=["meter", "name"])
        for m in q.meters():
            newest = 0
            for obis, e in q.latest(m.id).items():
                key = [m.server_id.hex(), m.label, obis]
                newest = max(newest, e["ts_ms"])
                if e["kind"] == "counter" and e["unit"] == "Wh":
                    energy.add_metric(key, float(e["value"]))
                elif e["kind"] == "gauge" and e["unit"] in gauges:
                    gauges[e["unit"]].add_metric(key, float(e["value"]))
            if newest:
                seen.add_metric([m.server_id.hex(), m.label], max(0.0, now - newest / 1000))
        yield energy
        yield from gauges.values()
        yield seen

    @staticmethod
    def _heads(q: Query, now: float) -> Iterator[Metric]:
        frames = CounterMetricFamily("pyhm_head_frames", "SML frames a head delivered, by CRC result",
                                     labels=["head", "result"])
        skipped = CounterMetricFamily("pyhm_head_skipped_bytes", "Bytes a head delivered outside any frame", labels=["head"])
        present = GaugeMetricFamily("pyhm_head_present", "1 while the head is plugged in", labels=["head"])
        silence = GaugeMetricFamily("pyhm_head_last_frame_age_seconds", "Seconds since the head's last frame",
                                    labels=["head"])
        for h in q.heads():
            frames.add_metric([h["serial"], "ok"], h["frames_ok"])
            frames.add_metric([h["serial"], "crc_error"], h["frames_bad"])
            skipped.add_metric([h["serial"]], h["bytes_skipped"])
            present.add_metric([h["serial"]], 1 if h["present"] else 0)
            if h["last_frame_ms"] is not None:
                silence.add_metric([h["serial"]], max(0.0, now - h["last_frame_ms"] / 1000))
        yield from (frames, skipped, present, silence)


def registry(query: Callable[[], Optional[Query]]) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector(query))
    return reg


def exposition(reg: CollectorRegistry, accept: str) -> Tuple[bytes, str]:
    """The body and its content type: OpenMetrics if the scraper asks for it, else Prometheus text."""
    encoder, content_type = choose_encoder(accept)
    return encoder(reg), content_type
