"""A real browser for the UI tests: Debian's (or Fedora's) chromium, headless, driven over the
DevTools protocol. Console errors and uncaught exceptions are collected."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import websocket


def chromium() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self) -> None:
        exe = chromium()
        if exe is None:
            raise RuntimeError("chromium is not installed (scripts/dev installs it)")
        self.profile = tempfile.mkdtemp(prefix="pyhm-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--ignore-certificate-errors",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self.profile}",
             "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        port = None
        end = time.monotonic() + 30
        while port is None and time.monotonic() < end:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            self.close()
            raise RuntimeError("chromium did not start")
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._id = 0
        self.errors: List[str] = []
        self.requests: List[str] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)

    def _event(self, msg: Dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + json.dumps(params.get("args"))[:500])
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400 and "/api/" in params["response"]["url"]:
            self.errors.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append("log: " + params["entry"].get("text", "") + " " + params["entry"].get("url", ""))

    def call(self, method: str, **params: Any) -> Dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def log_in(self, base: str, password: str, path: str = "/") -> None:
        """Open ``path``, get sent to the login page, log in, and be back at ``path``."""
        self.goto(base + path)
        assert self.wait_for("location.pathname") == "/login"
        self.evaluate(f"document.getElementById('password').value = '{password}';"
                      "document.querySelector('form').submit(); true")
        self.wait_for(f"location.pathname === '{path}' && document.readyState === 'complete'")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {expression}")

    def viewport(self, width: int, height: int = 900, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def dark(self, on: bool) -> None:
        """prefers-color-scheme for the pages (the OS setting a person chooses)."""
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark" if on else "light"}])

    def language(self, lang: str) -> None:
        """The browser's language: navigator.language, Accept-Language and Intl's default."""
        ua = self.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
        self.call("Network.setUserAgentOverride", userAgent=ua, acceptLanguage=lang)
        self.call("Emulation.setLocaleOverride", locale=lang)

    def drag(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """A real mouse drag (press, moves, release), as a person zooms a chart."""
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x1, y=y1)
        self.call("Input.dispatchMouseEvent", type="mousePressed", x=x1, y=y1, button="left", clickCount=1)
        for i in range(1, 6):
            self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x1 + (x2 - x1) * i / 5, y=y1 + (y2 - y1) * i / 5,
                      button="left", buttons=1)
        self.call("Input.dispatchMouseEvent", type="mouseReleased", x=x2, y=y2, button="left", clickCount=1)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing down anyway
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
