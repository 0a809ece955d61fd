"""``pyhm demo``: the appliance on an embedded default, no hardware needed.

Two simulated meters on ptys (``<dir>/heads/hm_SIM0001``, ...), the acquisition service
reading them into ``<dir>/pyhm.db``, and every few seconds a line per meter read back from
the database: what the household would see.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional

from pyhm import logs
from pyhm.acquire.service import Service
from pyhm.acquire.simulate import Simulator
from pyhm.config import AcquisitionConfig, Config, DatabaseConfig
from pyhm.store import Query, SchemaError

log = logging.getLogger("pyhm.demo")


def demo_config(directory: Path) -> Config:
    return Config(
        database=DatabaseConfig(path=directory / "pyhm.db"),
        acquisition=AcquisitionConfig(devices=(str(directory / "heads" / "hm_*"),), discovery="glob"),
        source="pyhm demo",
    )


def report(path: Path) -> None:
    try:
        q = Query(path)
    except SchemaError:
        return
    try:
        for meter in q.meters():
            latest = q.latest(meter.id)
            power = latest.get("1-0:16.7.0*255", {}).get("value")
            energy = latest.get("1-0:1.8.0*255", {}).get("value")
            log.info("%s: power %s W, import %s Wh", meter.label, power, energy)
    finally:
        q.close()


def run(directory: str, seconds: Optional[float] = None) -> int:
    logs.setup("info")
    base = Path(directory).resolve()
    config = demo_config(base)
    sim = Simulator(base / "heads", 2).start()
    service = Service(config)
    log.info("demo: 2 simulated meters in %s, database %s (Ctrl-C stops)", base / "heads", config.database.path)

    def reporter() -> None:
        start = time.monotonic()
        while not service.stopping.wait(5):
            report(config.database.path)
            if seconds is not None and time.monotonic() - start >= seconds:
                service.request_stop()

    threading.Thread(target=reporter, name="demo-report", daemon=True).start()
    try:
        return service.run()
    finally:
        sim.stop()
