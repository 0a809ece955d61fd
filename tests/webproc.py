"""``pyhm web`` as the service runs it: a real process on loopback, its stderr and its memory."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import sys
import time
from base64 import b64encode
from pathlib import Path
from typing import Dict, Optional, Tuple

from pyhm.web.auth import set_password

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def https_request(conn: http.client.HTTPSConnection, method: str, path: str, body: Optional[str] = None,
                  headers: Optional[Dict[str, str]] = None,
                  auth: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
    """One request (a form body, HTTP Basic for the user pyhm if ``auth``); status, headers, body."""
    h = dict(headers or {})
    if auth is not None:
        h["Authorization"] = "Basic " + b64encode(f"pyhm:{auth}".encode()).decode()
    if body is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    conn.request(method, path, body=body, headers=h)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, {k.lower(): v for k, v in res.getheaders()}, data


class WebProcess:
    """``python -m pyhm web`` with its own configuration; stderr goes to a file the test reads."""

    def __init__(self, tmp: Path, db: Path, password: Optional[str] = PASSWORD) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.credentials = tmp / "credentials.json"
        self.cert = tmp / "tls" / "cert.pem"
        cfg = tmp / "pyhm.cfg"
        cfg.write_text(f"database: {{path: '{db}'}}\n"
                       f"web: {{listen: 127.0.0.1, port: {self.port}, certificate: '{self.cert}',"
                       f" key: '{tmp / 'tls' / 'key.pem'}', credentials: '{self.credentials}'}}\n")
        if password:
            set_password(self.credentials, password)
        self.stderr_path = tmp / "web.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "pyhm", "--config", str(cfg), "web"],
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        end = time.monotonic() + 30
        while b"serving https://" not in self.stderr_path.read_bytes():
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < end, self.stderr()
            time.sleep(0.05)
        self.context = ssl.create_default_context(cafile=str(self.cert))
        self.context.check_hostname = False

    def stderr(self) -> str:
        return self.stderr_path.read_bytes().decode(errors="replace")

    def memory_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the process from /proc (VmRSS now, VmHWM the peak so far)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise LookupError(field)

    def connection(self, source: str = "127.0.0.1", timeout: float = 60) -> http.client.HTTPSConnection:
        """A connection from ``source`` (any 127.x.y.z: the brake counts per client address)."""
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=timeout,
                                           source_address=(source, 0))

    def request(self, method: str, path: str, body: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
                auth: Optional[str] = None, source: str = "127.0.0.1") -> Tuple[int, Dict[str, str], bytes]:
        return https_request(self.connection(source), method, path, body, headers, auth)

    def stop(self) -> str:
        """SIGTERM; returns what the service wrote to stderr."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
        return self.stderr()
