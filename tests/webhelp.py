"""Helpers for the web tests: a database with data, the real HTTPS server on loopback."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from pyhm.config import Config, DatabaseConfig, WebConfig
from pyhm.simulator import SimulatedMeter
from pyhm.web.server import serve
from pyhm.web.auth import set_password
from storehelp import Clock, feed, writer
from webproc import https_request

PASSWORD = "correct horse battery"


def build_db(path: Path, now_ms: int, day: bool = True) -> List[SimulatedMeter]:
    """Two meters: a day at one telegram a minute, then the last hour at one a second
    (without ``day``: only the last five minutes). Returns the meters, to go on with them."""
    seconds = 3_600 if day else 300
    clock = Clock(now_ms - (86_400_000 if day else 0) - seconds * 1000)
    w = writer(path, clock)
    meters = [SimulatedMeter(21), SimulatedMeter(22)]
    if day:
        feed(w, clock, meters, 86_400, step_ms=60_000)
    feed(w, clock, meters, seconds - 5)
    w.set_meter(meters[0].server_id, "House", "cellar")
    w.close()
    return meters


class Server:
    """pyhm's web service on 127.0.0.1 (a free port), over real TLS, in a thread."""

    def __init__(self, tmp: Path, db: Optional[Path] = None, password: Optional[str] = PASSWORD,
                 start: bool = True, timezone: Optional[str] = None) -> None:
        self.config = Config(
            timezone=timezone,
            database=DatabaseConfig(path=db or tmp / "pyhm.db"),
            web=WebConfig(listen="127.0.0.1", port=0, certificate=tmp / "tls" / "cert.pem", key=tmp / "tls" / "key.pem",
                          credentials=tmp / "credentials.json"),
        )
        if password:
            set_password(self.config.web.credentials, password)
        self.server, self.web = serve(self.config)
        self.server.prepare()
        self.port = self.server.bind_addr[1]
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        if start:
            self.start()
        self.context = ssl.create_default_context(cafile=str(self.config.web.certificate))
        self.context.check_hostname = False

    def start(self) -> None:
        """Begin accepting (connections made before wait in the listen backlog)."""
        self.thread.start()

    def request(self, method: str, path: str, body: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
                auth: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=30)
        return https_request(conn, method, path, body, headers, auth)

    def get_json(self, path: str, auth: Optional[str] = PASSWORD) -> Tuple[int, Any]:
        status, _, body = self.request("GET", path, auth=auth)
        return status, json.loads(body, parse_float=Decimal)

    def stop(self) -> None:
        self.server.stop()
        if self.thread.ident is not None:
            self.thread.join(timeout=10)
