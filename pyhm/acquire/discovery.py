"""Finding IR heads: a head is a tty whose device links include a watched link (/dev/hm_*),
or a network head given as a pyserial URL (``socket://host:port``, ``rfc2217://host:port``).

Only what the user meant is a head: the udev rule links only devices that call themselves a
read head, and other adapters are named by the user (``acquisition.extra_heads``, turned into
link patterns by the configuration). Two backends with one interface (``start``, ``poll``,
``stop``), both putting ``HeadEvent``s on a queue for the supervisor: ``UdevDiscovery`` listens
to udev (hot-plug), ``GlobDiscovery`` looks for the paths every second (ptys, adapters that
udev does not announce). Network heads
are always there: they are announced once at the start, and their reader reconnects.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import queue
import threading
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

log = logging.getLogger("pyhm.discovery")


class Head(NamedTuple):
    serial: str  # its name: from its link (/dev/hm_<SERIAL>) or udev's ID_SERIAL_SHORT, @port if shared
    device: str  # the path to open
    link: str  # the watched link it was found by


class HeadEvent(NamedTuple):
    action: str  # "add" or "remove"
    head: Head


def serial_of(link: str, fallback: Optional[str] = None) -> str:
    """``/dev/hm_A10K3F2D`` → ``A10K3F2D``."""
    name = os.path.basename(link)
    if name.startswith("hm_") and len(name) > 3:
        return name[3:]
    return fallback or name


def port_of(id_path: str) -> str:
    """udev's ID_PATH → the USB port part, as a short name: ``platform-3f980000.usb-usb-0:1.3:1.0``
    → ``0-1.3`` (bus 0, port 1.3; the configuration and interface are left out)."""
    tail = id_path.rsplit("usb-", 1)[-1]
    parts = tail.split(":")
    if len(parts) >= 3:
        parts = parts[:2]
    return "-".join(parts) or id_path


def matching_link(links: Iterable[str], patterns: Sequence[str]) -> Optional[str]:
    for link in links:
        if any(fnmatch.fnmatchcase(link, p) for p in patterns):
            return link
    return None


class UdevDiscovery:
    """Hot-plug through udev: monitor the tty subsystem, then list what is already there.

    Heads that report the same serial (many CP2102 heads say "0001") are told apart by the USB
    port they are plugged into: each is then named ``<serial>@<port>``. The names follow from
    the heads present and their ports, not from the order they were plugged in."""

    def __init__(self, patterns: Sequence[str], events: "queue.Queue[HeadEvent]") -> None:
        self.patterns = list(patterns)
        self.events = events
        self._observer = None
        self._lock = threading.Lock()
        self._present: Dict[str, Tuple[Head, str]] = {}  # device node → (head as announced, port)

    def head_of(self, device) -> Optional[Head]:  # type: ignore[no-untyped-def]
        """The head a udev tty device is, if one of its links is watched. DEVLINKS is read
        directly: events carry it even where pyudev's device_links come up empty."""
        props = device.properties
        links = set((props.get("DEVLINKS") or "").split())
        try:
            links.update(device.device_links)
        except Exception:  # noqa: BLE001 - a vanished device has no links to list
            pass
        link = matching_link(sorted(links), self.patterns)
        if link is None or not device.device_node:
            return None
        return Head(serial_of(link, props.get("ID_SERIAL_SHORT")), device.device_node, link)

    def _announce(self, action: str, head: Head, port: str) -> None:
        """Queue an add or remove, naming every head that shares its serial by its port."""
        with self._lock:
            before = self._named(head.serial)
            if action == "add":
                self._present[head.device] = (head, port)
            else:
                self._present.pop(head.device, None)
            after = self._named(head.serial)
            changed = {d for d in set(before) | set(after) if before.get(d) != after.get(d)}
            for device in sorted(changed & set(before)):
                self.events.put(HeadEvent("remove", before[device]))
            for device in sorted(changed & set(after)):
                self.events.put(HeadEvent("add", after[device]))
            if len(after) > 1 and changed - {head.device}:
                log.warning("%d heads report the serial %s; naming them by their USB ports: %s", len(after),
                            head.serial, ", ".join(sorted(h.serial for h in after.values())))

    def _named(self, serial: str) -> Dict[str, Head]:
        """The present heads that report this serial, by device node, with their names."""
        same = {d: hp for d, hp in self._present.items() if hp[0].serial == serial}
        if len(same) == 1:
            return {d: head for d, (head, _) in same.items()}
        return {d: head._replace(serial=f"{serial}@{port or os.path.basename(d)}") for d, (head, port) in same.items()}

    def _event(self, action: str, device) -> None:  # type: ignore[no-untyped-def]
        """One udev add or remove of a tty (also the enumeration at start, as adds)."""
        head = self.head_of(device)
        port = port_of(device.properties.get("ID_PATH") or "")
        if head is not None:
            self._announce(action, head, port)
        elif action == "remove" and device.device_node:
            known = self._present.get(device.device_node)
            if known is not None:
                self._announce("remove", known[0], known[1])
            else:
                self.events.put(HeadEvent("remove", Head("", device.device_node, "")))

    def start(self) -> None:
        import pyudev

        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context)
        monitor.filter_by(subsystem="tty")

        def on_event(device) -> None:  # type: ignore[no-untyped-def]
            # In the observer's thread: only classify and queue; the supervisor acts.
            if device.action in ("add", "remove"):
                self._event(device.action, device)

        self._observer = pyudev.MonitorObserver(monitor, callback=on_event, name="udev-monitor")
        self._observer.daemon = True
        self._observer.start()  # monitor first, then enumerate: nothing plugged in between is missed
        for device in context.list_devices(subsystem="tty"):
            if self.head_of(device) is not None:
                self._event("add", device)

    def poll(self) -> None:
        """Nothing to do: udev tells."""

    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.send_stop()
            self._observer = None
        self._present = {}


class GlobDiscovery:
    """Heads are the paths that match the patterns; looked for on every ``poll``."""

    def __init__(self, patterns: Sequence[str], events: "queue.Queue[HeadEvent]") -> None:
        self.patterns = list(patterns)
        self.events = events
        self._present: Dict[str, Head] = {}

    def start(self) -> None:
        self.poll()

    def poll(self) -> None:
        found: Dict[str, Head] = {}
        for pattern in self.patterns:
            for path in glob.glob(pattern):
                if os.path.exists(path):  # a link to a vanished pty is no head
                    found[path] = Head(serial_of(path), path, path)
        for path in sorted(set(self._present) - set(found)):
            self.events.put(HeadEvent("remove", self._present[path]))
        for path in sorted(set(found) - set(self._present)):
            self.events.put(HeadEvent("add", found[path]))
        self._present = found

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        self._present = {}


NETWORK_SCHEMES = ("socket://", "rfc2217://")


def is_network(device: str) -> bool:
    return device.startswith(NETWORK_SCHEMES)


def network_head(url: str) -> Head:
    """``socket://wifi-head.lan:8888`` → the head ``wifi-head.lan:8888`` read from that URL."""
    return Head(url.split("://", 1)[1].split("?", 1)[0].rstrip("/"), url, url)


class WithNetworkHeads:
    """A discovery backend plus the network heads of the configuration."""

    def __init__(self, backend, urls: Sequence[str], events: "queue.Queue[HeadEvent]") -> None:  # type: ignore[no-untyped-def]
        self.backend = backend
        self.urls = list(urls)
        self.events = events

    def start(self) -> None:
        self.backend.start()
        for url in self.urls:
            self.events.put(HeadEvent("add", network_head(url)))

    def poll(self) -> None:
        self.backend.poll()

    def alive(self) -> bool:
        return bool(self.backend.alive())

    def stop(self) -> None:
        self.backend.stop()


def discovery(kind: str, patterns: Sequence[str], events: "queue.Queue[HeadEvent]"):  # type: ignore[no-untyped-def]
    """The backend for ``acquisition.discovery`` in the configuration (plus network heads)."""
    paths = [p for p in patterns if not is_network(p)]
    backend = UdevDiscovery(paths, events) if kind == "udev" else GlobDiscovery(paths, events)
    urls = [p for p in patterns if is_network(p)]
    return WithNetworkHeads(backend, urls, events) if urls else backend


__all__: List[str] = ["GlobDiscovery", "Head", "HeadEvent", "UdevDiscovery", "discovery", "is_network", "port_of",
                      "serial_of"]
