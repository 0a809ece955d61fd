"""The HTTPS server: cheroot's workers, but no worker (and not the accept loop) ever waits for a client.

Stock cheroot does the TLS handshake in its accept loop (one idle socket stalls every user) and
lets a worker read a request with a timeout per read (16 slow clients hold all 16 workers). Here
one thread, cheroot's connection manager subclassed, accepts, does the TLS handshakes without
blocking and collects each request's head and body; a worker gets a connection only once a whole
request is waiting, and hands it back after the answer (keep-alive). A connection whose next
request is not complete within ``REQUEST_S`` of its connect or of its previous answer is closed
(an idle keep-alive connection too); a request with a chunked body or ``Expect: 100-continue``
is read by its worker under the same deadline.
"""

from __future__ import annotations

import _pyio
import errno
import logging
import re
import selectors
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Optional, Tuple

from cheroot import wsgi
from cheroot.connections import ConnectionManager
from cheroot.makefile import StreamReader, StreamWriter
from cheroot.server import HTTPConnection
from cheroot.ssl.builtin import BuiltinSSLAdapter

from pyhm.config import Config
from pyhm.web.app import Web
from pyhm.web.tls import ensure_certificate, fingerprint, server_context

log = logging.getLogger("pyhm.web.server")

WORKERS = 16
REQUEST_S = 10.0  # from connect (or the previous answer) to a complete request: handshake, head, body
IO_TIMEOUT_S = 20.0  # one write by a worker
MAX_WAITING = 512  # connections waiting for their next request; beyond this the oldest is closed
MAX_HEAD = 16 * 1024  # cheroot answers 413 beyond these
MAX_BODY = 64 * 1024
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r?\n", re.IGNORECASE)
_WORKER_READS = re.compile(rb"\n(transfer-encoding|expect)[ \t]*:", re.IGNORECASE)
_PLAIN_HTTP = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
               b"This server speaks HTTPS only.\n")
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def backlog() -> int:
    """The listen backlog: the kernel's limit (somaxconn), at most 1024."""
    try:
        return max(128, min(1024, int(Path("/proc/sys/net/core/somaxconn").read_text())))
    except (OSError, ValueError):
        return 128


def request_end(data: bytes) -> Optional[int]:
    """How many bytes of ``data`` make its first request (head and Content-Length body), or None
    while it is incomplete. A head too large, or a body a worker reads itself (chunked, 100-continue),
    ends where it stands: the worker answers or reads on."""
    head = _HEAD_END.search(data)
    if head is None:
        return len(data) if len(data) > MAX_HEAD else None
    head_bytes = data[:head.end()]
    if _WORKER_READS.search(head_bytes):
        return head.end()
    length = _LENGTH.search(head_bytes)
    body = int(length.group(1)) if length else 0
    if body > MAX_BODY:
        return head.end()
    end = head.end() + body
    return end if len(data) >= end else None


class _Raw(_pyio.RawIOBase):
    """A worker's reads: first the bytes collected for it, then the socket, never past a deadline."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.prefix = b""
        self.deadline = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.prefix:
            n = min(len(buffer), len(self.prefix))
            buffer[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(min(left, IO_TIMEOUT_S))
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(IO_TIMEOUT_S)


class _Reader(StreamReader):
    """cheroot's reader over `_Raw`; what it has not consumed goes back to the selector thread."""

    def __init__(self, sock: ssl.SSLSocket, mode: str = "rb", bufsize: int = 16384) -> None:
        _pyio.BufferedReader.__init__(self, _Raw(sock), bufsize)
        self.bytes_read = 0

    def feed(self, data: bytes, deadline: float) -> None:
        self.raw.prefix = data
        self.raw.deadline = deadline

    def take_unread(self) -> bytes:
        """The bytes read from the socket but not consumed (a pipelined request), removed."""
        unread = bytes(self._read_buf[self._read_pos:]) + self.raw.prefix
        self._reset_read_buf()
        self.raw.prefix = b""
        return unread


def _makefile(sock: ssl.SSLSocket, mode: str = "r", bufsize: int = 16384) -> Any:
    return _Reader(sock) if "r" in mode else StreamWriter(sock, mode, bufsize)


class _Waiting:
    """A connection in the selector thread: its TLS state and its next request's bytes so far."""

    __slots__ = ("sock", "addr", "conn", "data", "deadline", "events")

    def __init__(self, sock: ssl.SSLSocket, addr: Any, conn: Optional[HTTPConnection] = None, data: bytes = b"") -> None:
        self.sock = sock
        self.addr = addr
        self.conn = conn
        self.data = data
        self.deadline = time.monotonic() + REQUEST_S
        self.events = 0  # what the selector waits for on it (0: not registered)

    def close(self) -> None:
        try:
            if self.conn is not None:
                self.conn.close()
            else:
                self.sock.close()
        except OSError as exc:
            log.debug("closing the connection from %s: %s", self.addr, exc)


class _Manager(ConnectionManager):
    """Accepts, shakes hands and collects requests without blocking; workers get whole requests."""

    def __init__(self, server: "Server") -> None:
        super().__init__(server)
        server.socket.setblocking(False)

    def _run(self, expiration_interval: float) -> None:
        last_expiry = time.monotonic()
        while not self._stop_requested:
            try:
                ready = list(self._selector.select(timeout=expiration_interval))
            except OSError:
                self._remove_invalid_sockets()
                continue
            for _, item in ready:
                if item is self.server:
                    self._accept()
                else:
                    self._advance(item)
            now = time.monotonic()
            if now - last_expiry >= expiration_interval:
                self._expire(now)
                last_expiry = now

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self.server.socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("cannot accept a connection: %s; closing the oldest waiting one", exc)
                    self._close_oldest()
                    return
                raise
            sock.setblocking(False)
            try:
                tls = self.server.ssl_adapter.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.debug("dropped a connection from %s: %s", addr, exc)
                sock.close()
                continue
            if self._num_connections >= MAX_WAITING:
                self._close_oldest()
            self._register(_Waiting(tls, addr))

    def put(self, conn: HTTPConnection) -> None:
        """After an answer (in the worker): wait for the connection's next request."""
        try:
            waiting = _Waiting(conn.socket, (conn.remote_addr, conn.remote_port), conn, conn.rfile.take_unread())
            conn.socket.setblocking(False)
            self._advance(waiting)
        except Exception:  # noqa: BLE001 - an exception here would stop cheroot's worker, and the server
            log.exception("cannot keep the connection from %s open", conn.remote_addr)
            conn.close()

    def _advance(self, w: _Waiting) -> None:
        """Take what the connection has for us; hand it to a worker once a request is complete."""
        sock = w.sock
        try:
            if w.conn is None:
                sock.do_handshake()
                w.conn = self._connection(w)
            end = request_end(w.data)
            while end is None:
                chunk = sock.recv(65536)
                if not chunk:
                    self._drop(w)
                    return
                w.data += chunk
                end = request_end(w.data)
        except ssl.SSLWantReadError:
            self._register(w)
            return
        except ssl.SSLWantWriteError:
            self._register(w, write=True)
            return
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                _send_raw(sock, _PLAIN_HTTP)
            log.debug("TLS with %s failed: %s", w.addr, exc)
            self._drop(w)
            return
        except OSError as exc:
            log.debug("connection from %s lost: %s", w.addr, exc)
            self._drop(w)
            return
        self._dispatch(w)

    def _connection(self, w: _Waiting) -> HTTPConnection:
        server = self.server
        conn = server.ConnectionClass(server, w.sock, _makefile)
        conn.remote_addr, conn.remote_port = w.addr[0], w.addr[1]
        conn.ssl_env = server.ssl_adapter.get_environ(w.sock)
        return conn

    def _dispatch(self, w: _Waiting) -> None:
        self._unregister(w)
        assert w.conn is not None
        w.sock.settimeout(IO_TIMEOUT_S)
        w.conn.rfile.feed(w.data, w.deadline)
        w.conn.last_used = time.time()
        self.server.process_conn(w.conn)

    def _register(self, w: _Waiting, write: bool = False) -> None:
        events = selectors.EVENT_WRITE if write else selectors.EVENT_READ
        if w.events == events:
            return
        self._unregister(w)
        w.events = events  # before: the selector thread may take it over as soon as it is registered
        self._selector.register(w.sock.fileno(), events, data=w)

    def _unregister(self, w: _Waiting) -> None:
        if w.events:
            self._selector.unregister(w.sock.fileno())
            w.events = 0

    def _drop(self, w: _Waiting) -> None:
        self._unregister(w)
        w.close()

    def _expire(self, now: float) -> None:  # type: ignore[override]
        """Close the connections whose request did not arrive in time (a 408 if one had begun)."""
        late = [w for _, w in self._selector.connections if w is not self.server and w.deadline < now]
        for w in late:
            if w.data:
                log.warning("request from %s not complete after %.0f s: closed", w.addr[0], REQUEST_S)
                _send_tls(w.sock, _TIMED_OUT)
            self._drop(w)

    def _close_oldest(self) -> None:
        waiting = [w for _, w in self._selector.connections if w is not self.server]
        if waiting:
            self._drop(min(waiting, key=lambda w: w.deadline))


def _send_raw(sock: ssl.SSLSocket, data: bytes) -> None:
    """Best effort, past TLS: the answer to a client that speaks plain HTTP to this port."""
    try:
        socket.socket.send(sock, data)
    except OSError:
        pass


def _send_tls(sock: ssl.SSLSocket, data: bytes) -> None:
    try:
        sock.send(data)
    except (OSError, ValueError):
        pass


class Server(wsgi.Server):
    """cheroot's WSGI server with `_Manager` doing all the waiting, and a real listen backlog."""

    def prepare(self) -> None:
        self.request_queue_size = backlog()
        super().prepare()
        stock = self._connections
        self._connections = _Manager(self)
        stock._selector.close()


def serve(config: Config) -> Tuple[Server, Web]:
    """Make the HTTPS server (certificate made at first start); ``prepare()`` then ``serve()`` run it."""
    web = Web(config)
    cert, key = Path(config.web.certificate), Path(config.web.key)
    ensure_certificate(cert, key)
    log.info("TLS certificate %s, SHA-256 fingerprint %s", cert, fingerprint(cert))
    server = Server((config.web.listen, config.web.port), web.wsgi(), numthreads=WORKERS, server_name="pyhm",
                    shutdown_timeout=2, timeout=IO_TIMEOUT_S)
    server.max_request_header_size = MAX_HEAD
    server.max_request_body_size = MAX_BODY
    server.keep_alive_conn_limit = None  # idle connections cost no worker; MAX_WAITING bounds them
    adapter = BuiltinSSLAdapter(str(cert), str(key))
    adapter.context = server_context(cert, key)
    server.ssl_adapter = adapter
    return server, web

