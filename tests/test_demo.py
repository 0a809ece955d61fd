"""``pyhm demo``, the README's main command: simulated meters, acquisition and the web UI."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import urllib.request
from base64 import b64encode
from pathlib import Path

from acquirehelp import wait_for


def test_demo_runs_the_whole_appliance(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "demo", "--dir", str(tmp_path), "--seconds", "12",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    banner = "".join(proc.stdout.readline() for _ in range(3))
    m = re.search(r"open (https://localhost:(\d+)/) and log in with the one-time password\s+(\S+)", banner)
    assert m, banner
    url, password = m.group(1), m.group(3)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))

    def get(path: str) -> dict:
        req = urllib.request.Request(url + path,
                                     headers={"Authorization": "Basic " + b64encode(f"me:{password}".encode()).decode()})
        return json.load(urllib.request.urlopen(req, context=ctx, timeout=10))

    def meters() -> list:
        return [m for m in get("api/meters")["meters"] if m["power"]]

    try:
        found = wait_for(lambda: len(meters()) == 2 and meters(), timeout=10, what="two meters with power")
        assert all(m["power"]["unit"] == "W" for m in found)
        health = json.load(urllib.request.urlopen(url + "healthz", context=ctx, timeout=10))
        assert health["status"] == "ok"
        energy = get(f"api/energy?meter={found[0]['id']}&period=month")  # the Energy page shows what it costs
        assert energy["totals"]["import"] > 0 and energy["prices"]["price"] > 0 and energy["prices"]["feed_in"] > 0
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "head SIM0001 plugged in" in err and "Traceback" not in err
