"""TLS for the web service: a self-signed certificate at first start, TLS 1.2 at least.

The certificate is made with the ``openssl`` command (present on every Fedora and Debian
system) for the host's names and addresses, so pyhm needs no crypto library of its own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import List, Set

log = logging.getLogger("pyhm.web.tls")


def host_names() -> List[str]:
    """subjectAltName entries: this host's names and addresses, and loopback."""
    names: Set[str] = {"localhost", socket.gethostname(), socket.getfqdn()}
    addresses: Set[str] = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addresses.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    entries = [f"DNS:{n}" for n in sorted(names) if n and not _is_ip(n)]
    entries += [f"IP:{a}" for a in sorted(addresses) if _is_ip(a)]
    return entries


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def fingerprint(cert: Path) -> str:
    """SHA-256 fingerprint, as browsers show it."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ensure_certificate(cert: Path, key: Path) -> bool:
    """Make a self-signed certificate if neither file exists; True if one was made."""
    if cert.exists() and key.exists():
        return False
    if cert.exists() or key.exists():
        missing = key if cert.exists() else cert
        raise FileNotFoundError(f"{missing} is missing (its pair exists: not replacing it)")
    cert.parent.mkdir(parents=True, exist_ok=True)
    key.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=key.parent) as tmp:
        tmp_key, tmp_cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "3650", "-subj", f"/CN={socket.gethostname()}/O=pyhm", "-keyout", str(tmp_key),
             "-out", str(tmp_cert), "-addext", "subjectAltName=" + ",".join(host_names())],
            check=True, capture_output=True,
        )
        os.chmod(tmp_key, 0o600)  # readable by the service user only
        os.replace(tmp_key, key)
        os.replace(tmp_cert, cert)
    log.warning("made a self-signed TLS certificate %s; its SHA-256 fingerprint is %s", cert, fingerprint(cert))
    return True


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context
