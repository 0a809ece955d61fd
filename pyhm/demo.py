"""``pyhm demo``: the whole appliance on an embedded default, no hardware needed.

Two simulated meters on ptys (``<dir>/heads/hm_SIM0001``, ...), the acquisition service
reading them into ``<dir>/pyhm.db``, and the web UI on https://localhost:8443 with a
one-time password printed at start.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Optional

from pyhm import logs
from pyhm.acquire.service import Service
from pyhm.acquire.simulate import Simulator
from pyhm.config import AcquisitionConfig, Config, DatabaseConfig, WebConfig
from pyhm.web.server import serve
from pyhm.web.auth import set_password

log = logging.getLogger("pyhm.demo")


def demo_config(directory: Path, port: int) -> Config:
    return Config(
        database=DatabaseConfig(path=directory / "pyhm.db"),
        acquisition=AcquisitionConfig(devices=(str(directory / "heads" / "hm_*"),), discovery="glob"),
        web=WebConfig(listen="127.0.0.1", port=port, certificate=directory / "tls" / "cert.pem",
                      key=directory / "tls" / "key.pem", credentials=directory / "web-credentials.json"),
        source="pyhm demo",
    )


def run(directory: str, seconds: Optional[float] = None, port: int = 8443) -> int:
    logs.setup("info")
    base = Path(directory).resolve()
    base.mkdir(parents=True, exist_ok=True)
    config = demo_config(base, port)
    password = secrets.token_urlsafe(9)
    set_password(config.web.credentials, password)
    try:
        server, _ = serve(config)
        server.prepare()
    except OSError as exc:
        log.error("cannot serve the web UI on 127.0.0.1:%d: %s (try --port)", port, exc)
        return 1
    web = threading.Thread(target=server.serve, name="web", daemon=True)
    web.start()
    sim = Simulator(base / "heads", 2).start()
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
