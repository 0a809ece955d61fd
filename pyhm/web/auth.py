"""Who may look: one household password, sessions kept on the server, and a brake on guessing.

The credentials file holds the password's scrypt hash and the per-install secret that signs
cookies; it is written by ``pyhm passwd`` with mode 0600. A session is a random id in a
``Secure; HttpOnly; SameSite=Strict`` cookie, signed with the secret and the password hash, and
listed with its expiry in a sessions file next to the credentials (written by the web service,
so a restart keeps them): logout removes it, expiry ends it, a new password ends them all. API
clients may send the same password with HTTP Basic (over TLS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Deque, Dict, Optional

log = logging.getLogger("pyhm.web")

COOKIE = "pyhm_session"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB of memory per run
SCRYPT_AT_ONCE = 2  # parallel logins wait for one of these threads instead of taking 16 MiB each
MAX_FAILURES = 5  # per client address ...
FAILURE_WINDOW = 300.0  # ... within this many seconds
MAX_SESSIONS = 1000

# scrypt runs on these threads only: the allocator keeps a thread's 16 MiB for that thread after
# the run, so scrypt on every web worker would hold 16 MiB per worker for good.
_scrypt_threads = ThreadPoolExecutor(SCRYPT_AT_ONCE, thread_name_prefix="scrypt")


class NoPassword(Exception):
    """No usable password yet: ``pyhm passwd`` has not run, or its file is damaged."""


class Blocked(Exception):
    """Too many failed attempts from this client: it may try again in ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many attempts; try again in {int(seconds) + 1} s")
        self.seconds = seconds

    @property
    def retry_after(self) -> str:
        return str(int(self.seconds) + 1)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return _scrypt_threads.submit(hashlib.scrypt, password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen,
                                  maxmem=64 * 2**20).result()


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _write_private(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON with mode 0600, atomically (a crash leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    if os.geteuid() == 0:  # `sudo pyhm passwd`: the file belongs to the service, like its directory
        st = path.parent.stat()
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)


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
    _write_private(path, data)


def sessions_file(credentials: Path) -> Path:
    """Where the web service keeps its sessions: next to the credentials, in its state directory."""
    return credentials.with_name(credentials.stem + ".sessions.json")


class Auth:
    """Checks passwords and sessions; remembers failed attempts per client address."""

    def __init__(self, path: Path, session_seconds: float = 30 * 86400, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.path = path
        self.session_seconds = session_seconds
        self.clock = clock
        self._failures: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()
        self._decided = threading.Condition(self._lock)  # an attempt was decided
        self._pending: Dict[str, int] = {}  # attempts being checked now, per client
        self._loaded: Optional[tuple] = None
        self._verified: Dict[str, bool] = {}  # keyed HMACs of passwords that passed scrypt
        self._sessions_path = sessions_file(path)
        self._sessions: Optional[Dict[str, float]] = None  # sha256 of a session id → expiry
        self._unsaved_warned = False

    def _credentials(self) -> Dict[str, str]:
        """Re-read when the file changes: a new password takes effect without a restart."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise NoPassword(f"no password set: run `pyhm passwd` ({self.path})") from None
        key = (st.st_mtime_ns, st.st_size)
        if self._loaded is None or self._loaded[0] != key:
            try:
                data = json.loads(self.path.read_text())
                if not isinstance(data["password"], str):
                    raise ValueError("no password hash")
                bytes.fromhex(data["secret"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise NoPassword(f"the credentials file {self.path} cannot be used ({exc}): run `pyhm passwd`") from None
            with self._lock:
                if self._loaded is not None and self._loaded[1].get("password") != data.get("password"):
                    self._sessions = {}  # a new password: every session ends
                    self._save_sessions()
                self._loaded = (key, data)
                self._verified = {}
        return self._loaded[1]

    def require_password(self) -> None:
        """Raise NoPassword until ``pyhm passwd`` has been run."""
        self._credentials()

    # -- brake on guessing ------------------------------------------------------------------

    def _wait(self, client: str, now: float) -> float:
        """Seconds until this client may try again (0: now); call with the lock held."""
        tries = self._failures.get(client)
        while tries and now - tries[0] > FAILURE_WINDOW:
            tries.popleft()
        if tries is None or len(tries) < MAX_FAILURES:
            return 0.0
        return FAILURE_WINDOW - (now - tries[0])

    def login(self, client: str, password: str) -> bool:
        """Check a password; raise Blocked for a client with too many failures.

        An attempt is counted before scrypt runs (pending until it is decided), so parallel
        guesses cannot slip past the brake while the first ones are still being checked; an
        attempt beyond the limit waits until the pending ones are decided."""
        creds = self._credentials()
        # scrypt is slow on purpose; an API client sends its password with every request, so a
        # password that passed once is remembered as a keyed hash until the password changes.
        token = hmac.new(bytes.fromhex(creds["secret"]), password.encode(), hashlib.sha256).hexdigest()
        with self._decided:
            while True:
                wait = self._wait(client, self.clock())
                if wait:
                    raise Blocked(wait)
                if token in self._verified:
                    self._failures.pop(client, None)
                    return True
                if len(self._failures.get(client, ())) + self._pending.get(client, 0) < MAX_FAILURES:
                    break
                self._decided.wait(10)
            self._pending[client] = self._pending.get(client, 0) + 1
        ok = False
        try:
            ok = check_password(password, creds["password"])
        finally:
            with self._decided:
                self._pending[client] -= 1
                if not self._pending[client]:
                    del self._pending[client]
                if ok:
                    self._failures.pop(client, None)
                    if len(self._verified) < 16:
                        self._verified[token] = True
                else:
                    if len(self._failures) > 10_000:
                        self._failures.clear()
                    self._failures.setdefault(client, deque()).append(self.clock())
                self._decided.notify_all()
        return ok

    # -- sessions ---------------------------------------------------------------------------

    def _sign(self, sid: str) -> str:
        creds = self._credentials()
        key = bytes.fromhex(creds["secret"]) + creds["password"].encode()  # a new password ends sessions
        return hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()

    def _store(self) -> Dict[str, float]:
        """The live sessions (call with the lock held), read from the file at first use."""
        if self._sessions is None:
            try:
                data = json.loads(self._sessions_path.read_text())
                self._sessions = {str(k): float(v) for k, v in data["sessions"].items()}
            except FileNotFoundError:
                self._sessions = {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("sessions file %s unreadable (%s): everybody logs in again", self._sessions_path, exc)
                self._sessions = {}
        return self._sessions

    def _save_sessions(self) -> None:
        """Persist the sessions (call with the lock held); without a writable file they live in memory."""
        try:
            _write_private(self._sessions_path, {"sessions": self._sessions or {}})
        except OSError as exc:
            if not self._unsaved_warned:
                log.warning("cannot write sessions file %s (%s): sessions end when pyhm web stops",
                            self._sessions_path, exc)
                self._unsaved_warned = True

    def _key(self, cookie: Optional[str]) -> Optional[str]:
        """The store key of a cookie whose signature is right (None for anything else)."""
        if not cookie or len(cookie) > 512 or not cookie.isascii() or "." not in cookie:
            return None
        sid, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(sid).encode(), signature.encode()):
            return None
        return hashlib.sha256(sid.encode()).hexdigest()

    def new_session(self) -> str:
        sid = secrets.token_urlsafe(24)
        cookie = sid + "." + self._sign(sid)
        now = self.clock()
        with self._lock:
            store = self._store()
            for key in [k for k, exp in store.items() if exp <= now]:
                del store[key]
            while len(store) >= MAX_SESSIONS:
                del store[min(store, key=store.__getitem__)]
            store[hashlib.sha256(sid.encode()).hexdigest()] = now + self.session_seconds
            self._save_sessions()
        return cookie

    def valid_session(self, cookie: Optional[str]) -> bool:
        key = self._key(cookie)
        if key is None:
            return False
        with self._lock:
            expires = self._store().get(key)
        return expires is not None and expires > self.clock()

    def end_session(self, cookie: Optional[str]) -> None:
        """Logout: the session is gone on the server, whatever the browser keeps."""
        key = self._key(cookie)
        if key is None:
            return
        with self._lock:
            if self._store().pop(key, None) is not None:
                self._save_sessions()
