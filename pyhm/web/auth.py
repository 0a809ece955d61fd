"""Who may look: one household password, sessions in HMAC-signed cookies, and a brake on
guessing.

The credentials file holds the password's scrypt hash and the per-install secret that signs
cookies; it is written by ``pyhm passwd`` with mode 0600. Changing the password ends every
session. Cookies are ``Secure; HttpOnly; SameSite=Strict`` and expire. API clients may send
the same password with HTTP Basic (over TLS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Deque, Dict, Optional

COOKIE = "pyhm_session"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_FAILURES = 5  # per client address ...
FAILURE_WINDOW = 300.0  # ... within this many seconds


class NoPassword(Exception):
    """No password has been set yet (``pyhm passwd``)."""


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 * 2**20, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2, maxmem=64 * 2**20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def set_password(path: Path, password: str) -> None:
    """Store a new password (and keep, or make, the cookie secret)."""
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    data: Dict[str, str] = {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    data["password"] = hash_password(password)
    data.setdefault("secret", secrets.token_hex(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    if os.geteuid() == 0:  # `sudo pyhm passwd`: the file belongs to the service, like its directory
        st = path.parent.stat()
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)


class Auth:
    """Checks passwords and cookies; remembers failed attempts per client address."""

    def __init__(self, path: Path, session_seconds: float = 30 * 86400, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.path = path
        self.session_seconds = session_seconds
        self.clock = clock
        self._failures: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()
        self._loaded: Optional[tuple] = None
        self._verified: Dict[str, bool] = {}  # keyed HMACs of passwords that passed scrypt

    def _credentials(self) -> Dict[str, str]:
        """Re-read when the file changes: a new password takes effect without a restart."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise NoPassword(f"no password set: run `pyhm passwd` ({self.path})") from None
        key = (st.st_mtime_ns, st.st_size)
        if self._loaded is None or self._loaded[0] != key:
            data = json.loads(self.path.read_text())
            self._loaded = (key, data)
            self._verified = {}
        return self._loaded[1]

    def require_password(self) -> None:
        """Raise NoPassword until ``pyhm passwd`` has been run."""
        self._credentials()

    # -- brake on guessing ------------------------------------------------------------------

    def blocked_for(self, client: str) -> float:
        """Seconds until this client may try again (0: now)."""
        now = self.clock()
        with self._lock:
            tries = self._failures.get(client)
            while tries and now - tries[0] > FAILURE_WINDOW:
                tries.popleft()
            if tries is None or len(tries) < MAX_FAILURES:
                return 0.0
            return FAILURE_WINDOW - (now - tries[0])

    def login(self, client: str, password: str) -> bool:
        """Check a password from a client that is not blocked; failures are counted."""
        if self.blocked_for(client):
            return False
        creds = self._credentials()
        # scrypt is slow on purpose; an API client sends its password with every request, so a
        # password that passed once is remembered as a keyed hash until the password changes.
        token = hmac.new(bytes.fromhex(creds["secret"]), password.encode(), hashlib.sha256).hexdigest()
        if token in self._verified or check_password(password, creds["password"]):
            with self._lock:
                self._failures.pop(client, None)
                if len(self._verified) < 16:
                    self._verified[token] = True
            return True
        with self._lock:
            self._failures.setdefault(client, deque()).append(self.clock())
            if len(self._failures) > 10_000:
                self._failures.clear()
        return False

    # -- sessions ---------------------------------------------------------------------------

    def _sign(self, payload: bytes) -> str:
        creds = self._credentials()
        key = bytes.fromhex(creds["secret"]) + creds["password"].encode()  # a new password ends sessions
        return hmac.new(key, payload, hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        payload = base64.urlsafe_b64encode(json.dumps({"exp": int(self.clock() + self.session_seconds)}).encode())
        return payload.decode() + "." + self._sign(payload)

    def valid_session(self, cookie: Optional[str]) -> bool:
        if not cookie or "." not in cookie or len(cookie) > 512:
            return False
        payload, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(payload.encode()), signature):
            return False
        try:
            expires = json.loads(base64.urlsafe_b64decode(payload.encode()))["exp"]
        except (ValueError, KeyError, TypeError):
            return False
        return isinstance(expires, int) and expires > self.clock()
