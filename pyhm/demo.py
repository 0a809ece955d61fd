"""``pyhm demo``: the whole appliance on an embedded default, no hardware needed.

Two simulated meters on ptys (``<dir>/heads/hm_SIM0001``, ...): a house with a PV system and
its heat pump (``pyhm.household``). Before they go live, the demo fills in some weeks of
their history through the store's writer, so the charts, day totals and bars look like a
house from the first second; then the acquisition service reads the ptys into
``<dir>/pyhm.db``, and the web UI runs on https://localhost:8443 with a one-time password
printed at start.
"""

from __future__ import annotations

import fcntl
import logging
import secrets
import threading
import time
from datetime import timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from pyhm import logs
from pyhm.acquire.service import Service
from pyhm.acquire.simulate import Simulator
from pyhm.config import AcquisitionConfig, Config, DatabaseConfig, EnergyConfig, MeterConfig, WebConfig
from pyhm.household import HeatPump, Household
from pyhm.localtime import local, midnight_ms, zone
from pyhm.obis import obis_str
from pyhm.simulator import OBIS_EXPORT, OBIS_IMPORT, ModelMeter, server_id_for
from pyhm.store import Writer
from pyhm.store.query import Query
from pyhm.store.schema import SchemaError, connect
from pyhm.web.auth import set_password
from pyhm.web.server import serve

log = logging.getLogger("pyhm.demo")

HOUSE, HEAT_PUMP = 1000, 1001  # the meters' serials (their server ids), SIM0001 and SIM0002
METERS = (
    MeterConfig(name="House (PV)", server_id=server_id_for(HOUSE), note="demo: a family home with 7.5 kWp on the roof"),
    MeterConfig(name="Heat pump", server_id=server_id_for(HEAT_PUMP), note="demo: air-to-water, its own meter"),
)
START_WH = {HOUSE: (16_480_000, 9_210_000), HEAT_PUMP: (21_370_000, 0)}  # import, export when the history begins

# The back-fill's resolution. A telegram a second for weeks would be 3 million rows per
# meter and minutes of work on a Raspberry Pi; the store does not need it either: charts of
# more than a day are drawn from hourly rollups, a day's chart from minute rollups, only an
# hour's from the raw telegrams (``Query.choose_level``), and every total is a difference
# of the counters, exact at any step. So the last hour has a telegram a second (the 1 h
# chart draws raw telegrams and shows a wider spacing as gaps), the last day one a minute (the 24 h chart is complete), and
# older days one every 15 minutes (4 points an hour for the week and month charts; each
# meter's power is held over its step, and its counters integrate exactly what it shows, so
# totals are right, merely coarser in time). That is about 16,500 telegrams for two meters
# and five weeks: seconds on a Raspberry Pi, ~5 MB. Steps divide 15 minutes, so every
# zone's local midnight is an instant of the history.
RECENT_MS, RECENT_STEP_MS = 3_600_000, 1_000
DAY_MS, DAY_STEP_MS = 86_400_000, 60_000
OLD_STEP_MS = 900_000

# Typical German household prices (2026), so the Energy page shows what energy and base load cost.
DEMO_PRICES = EnergyConfig(price=Decimal("0.32"), feed_in=Decimal("0.08"))


def demo_config(directory: Path, port: int) -> Config:
    return Config(
        database=DatabaseConfig(path=directory / "pyhm.db"),
        acquisition=AcquisitionConfig(devices=(str(directory / "heads" / "hm_*"),), discovery="glob"),
        meters=METERS,
        energy=DEMO_PRICES,
        web=WebConfig(listen="127.0.0.1", port=port, certificate=directory / "tls" / "cert.pem",
                      key=directory / "tls" / "key.pem", credentials=directory / "web-credentials.json"),
        source="pyhm demo",
    )


def demo_meters(tz: tzinfo, at_ms: int, counters_of: Optional[List[ModelMeter]] = None) -> List[ModelMeter]:
    """The demo's two meters as they stand at ``at_ms``, with the counters the history begins
    with, or those ``counters_of`` (the same meters at another time) reached."""
    meters = [ModelMeter(HOUSE, Household(HOUSE, tz), at_ms, *START_WH[HOUSE]),
              ModelMeter(HEAT_PUMP, HeatPump(HEAT_PUMP, tz), at_ms, *START_WH[HEAT_PUMP])]
    for new, old in zip(meters, counters_of or ()):
        new.set_counters(old.import_dwh, old.export_dwh)
    return meters


def history_times(start_ms: int, end_ms: int) -> Iterator[int]:
    """The instants of the history in [start, end]: 15 minutes apart, a minute apart in the
    last day, a second apart in the last hour; each on a multiple of its step."""
    t = start_ms
    while t < end_ms:
        yield t
        left = end_ms - t
        step = RECENT_STEP_MS if left <= RECENT_MS else DAY_STEP_MS if left <= DAY_MS else OLD_STEP_MS
        t += step - t % step
    yield end_ms


class HistoryFailed(Exception):
    """The store refused the history (a full disk, say); the message says why."""


def backfill(path: Path, meters: List[ModelMeter], start_ms: int, end_ms: int) -> int:
    """Store the meters' history from ``start_ms`` up to ``end_ms`` through the store's
    writer (its rollups, thinning and layouts, as for live telegrams), on the history's own
    clock. Returns how many telegrams it stored; HistoryFailed at the first commit the store
    refuses (retrying on the history's clock would retry a growing buffer for every telegram)."""
    now = [start_ms]
    writer = Writer(path, clock=lambda: now[0] / 1000, commit_seconds=86_400, buffer_limit=1_000_000)
    count = 0
    try:
        for m, cfg in zip(meters, METERS):
            writer.set_meter(m.server_id, cfg.name, cfg.note)
        for t in history_times(start_ms, end_ms):
            now[0] = t
            for m in meters:
                m.advance(t)
                writer.add(m.server_id, m.readings(), t)
            count += len(meters)
            if writer.failing:
                raise HistoryFailed(writer.failing)
    finally:
        writer.close()
    return count


def prepare(path: Path, tz: tzinfo, weeks: float, clock: Callable[[], float] = time.time) -> List[ModelMeter]:
    """The demo's meters, standing at now: with ``weeks`` of history filled in, or (if the
    database already holds their data) going on from the counters stored last."""
    now_ms = int(clock()) * 1000  # whole seconds, as the history's last hour
    meters = demo_meters(tz, now_ms)
    filling = path.with_name(path.name + ".filling")  # there while a fill-in runs: a start after a kill finishes it
    if path.exists():
        try:
            connect(path).close()  # brings an older demo's database to the current schema
            q = Query(path, tz)
        except SchemaError as exc:
            log.error("no history filled in: %s", exc)  # the acquisition service says it again and stops
            return meters
        try:
            stored = {m.server_id: m for m in q.meters()}
            found = [(meter, stored[meter.server_id]) for meter in meters if meter.server_id in stored]
            for meter, row in found:
                latest = q.latest(row.id)
                meter.set_counters(*(int(latest[obis_str(code)]["value"] * 10) if obis_str(code) in latest else 0
                                     for code in (OBIS_IMPORT, OBIS_EXPORT)))
            newest = max((q.last_seen_ms(row.id) or 0 for _, row in found), default=0)
        finally:
            q.close()
        if found and not filling.exists():
            log.info("%s already holds the demo meters' data (up to %s): going on from there, no history filled in",
                     path, local(newest, tz).isoformat(timespec="seconds") if newest else "?")
            return meters
        if found and newest:
            log.warning("%s: the history's fill-in was interrupted at %s; filling in the rest up to now",
                        path, local(newest, tz).isoformat(timespec="seconds"))
            resumed = demo_meters(tz, newest, counters_of=meters)
            return _fill(path, filling, resumed, newest + RECENT_STEP_MS, now_ms, tz, clock, "the rest of the history")
    if weeks <= 0:
        return meters
    first_day = local(now_ms, tz).date() - timedelta(days=round(weeks * 7))
    start_ms = midnight_ms(first_day, tz)
    return _fill(path, filling, demo_meters(tz, start_ms), start_ms, now_ms, tz, clock,
                 f"{weeks:g} weeks of history from {first_day}")


def _fill(path: Path, filling: Path, meters: List[ModelMeter], start_ms: int, now_ms: int, tz: tzinfo,
          clock: Callable[[], float], what: str) -> List[ModelMeter]:
    """Fill in [start, now] and whatever time that took, the file ``filling`` there meanwhile;
    the meters standing at the end. If the store refuses (a full disk), say so once and go on
    live from the counters reached: the next start fills in the rest."""
    filling.touch()
    began = time.monotonic()
    try:
        count = backfill(path, meters, start_ms, now_ms)
        # That took a moment: fill in up to now again, so that the live telegrams follow on.
        caught_up = int(clock()) * 1000
        if caught_up >= now_ms + RECENT_STEP_MS:
            count += backfill(path, meters, now_ms + RECENT_STEP_MS, caught_up)
    except HistoryFailed as exc:
        log.error("%s: cannot fill in %s: %s; the demo goes on live without it (a start after that "
                  "is fixed fills in the rest)", path, what, exc)
        return demo_meters(tz, max(int(clock()) * 1000, max(m.ms for m in meters)), counters_of=meters)
    filling.unlink()
    log.info("filled in %s: %d telegrams in %.1f s", what, count, time.monotonic() - began)
    return meters


def run(directory: str, seconds: Optional[float] = None, port: int = 8443, weeks: float = 5) -> int:
    logs.setup("info")
    base = Path(directory).resolve()
    base.mkdir(parents=True, exist_ok=True)
    lock = (base / "demo.lock").open("a")  # held while this demo runs (closed, and so let go, when it ends)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.error("another pyhm demo is running on %s (two would write one database and one set of heads): "
                  "stop it, or give this one another --dir", base)
        lock.close()
        return 1
    config = demo_config(base, port)
    password = secrets.token_urlsafe(9)
    set_password(config.web.credentials, password)
    try:
        server, _ = serve(config)
        server.prepare()
    except OSError as exc:
        log.error("cannot serve the web UI on 127.0.0.1:%d: %s (try --port)", port, exc)
        return 1
    try:
        meters = prepare(config.database.path, zone(config.timezone), weeks)
    except BaseException as exc:
        server.stop()  # its worker threads (started by prepare) would keep the process alive
        if isinstance(exc, KeyboardInterrupt):
            log.warning("stopped while filling in the history: the next start fills in the rest")
        raise
    web = threading.Thread(target=server.serve, name="web", daemon=True)
    web.start()
    sim = Simulator(base / "heads", meters=meters).start()
    service = Service(config)
    url = f"https://localhost:{server.bind_addr[1]}/"
    print(f"\npyhm demo: open {url} and log in with the one-time password  {password}\n"
          f"(the certificate is self-signed: accept it once). Data: {base}. Ctrl-C stops.\n", flush=True)
    if seconds is not None:
        threading.Timer(seconds, service.request_stop).start()
    try:
        return service.run()
    finally:
        sim.stop()
        server.stop()
        time.sleep(0.1)
        lock.close()
