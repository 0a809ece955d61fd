"""GET /metrics over real TLS: login like the API, the store's numbers in Prometheus text or
OpenMetrics as the scraper asks, written by prometheus_client."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storehelp import Clock, feed, writer
from webhelp import PASSWORD, Server
from pyhm.simulator import SimulatedMeter
from pyhm.store import HeadStats, Query


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("metrics")
    now = int(time.time() * 1000)
    clock = Clock(now - 30_000)
    w = writer(tmp / "pyhm.db", clock)
    meter = SimulatedMeter(31)
    feed(w, clock, [meter], 20)
    w.set_meter(meter.server_id, "House")
    w.report_heads([HeadStats("HEAD1", "/dev/hm_HEAD1", True, "reading", meter.server_id, 20, 2, 7, clock.ms, None)])
    w.commit()
    w.close()
    s = Server(tmp)
    yield s
    s.stop()


def samples(body: bytes) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_need_a_login_like_the_api(server: Server) -> None:
    status, headers, _ = server.request("GET", "/metrics")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    assert server.request("GET", "/metrics", auth="wrong password")[0] == 401


def test_metrics_are_the_stores_numbers(server: Server) -> None:
    status, headers, body = server.request("GET", "/metrics", auth=PASSWORD)
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(body)
    q = Query(server.config.database.path)
    m = q.meter("House")
    latest = q.latest(m.id)
    size = q.path.stat().st_size
    q.close()
    key = m.server_id.hex()
    labels = lambda obis: (("meter", key), ("name", "House"), ("obis", obis))  # noqa: E731
    assert got[("pyhm_energy_watt_hours_total", labels("1-0:1.8.0*255"))] == float(latest["1-0:1.8.0*255"]["value"])
    assert got[("pyhm_power_watts", labels("1-0:16.7.0*255"))] == float(latest["1-0:16.7.0*255"]["value"])
    assert got[("pyhm_voltage_volts", labels("1-0:32.7.0*255"))] == float(latest["1-0:32.7.0*255"]["value"])
    assert got[("pyhm_head_frames_total", (("head", "HEAD1"), ("result", "crc_error")))] == 2
    assert got[("pyhm_head_frames_total", (("head", "HEAD1"), ("result", "ok")))] == 20
    assert got[("pyhm_head_skipped_bytes_total", (("head", "HEAD1"),))] == 7
    assert got[("pyhm_database_size_bytes", ())] == size and got[("pyhm_database_up", ())] == 1
    assert 5 < got[("pyhm_writer_last_commit_age_seconds", ())] < 120
    assert 5 < got[("pyhm_meter_last_telegram_age_seconds", (("meter", key), ("name", "House")))] < 120


def test_openmetrics_when_the_scraper_asks_for_it(server: Server) -> None:
    status, headers, body = server.request("GET", "/metrics", auth=PASSWORD,
                                           headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF") and b"pyhm_energy_watt_hours_total{" in body


def test_metrics_without_a_database_say_so(tmp_path: Path) -> None:
    s = Server(tmp_path)
    try:
        status, _, body = s.request("GET", "/metrics", auth=PASSWORD)
        assert status == 200 and samples(body)[("pyhm_database_up", ())] == 0
    finally:
        s.stop()
