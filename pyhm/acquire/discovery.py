"""Finding IR heads: a head is a tty whose device links include a watched link (/dev/hm_*),
or a network head given as a pyserial URL (``socket://host:port``, ``rfc2217://host:port``).

Two backends with one interface (``start``, ``poll``, ``stop``), both putting ``HeadEvent``s
on a queue for the supervisor: ``UdevDiscovery`` listens to udev (hot-plug), ``GlobDiscovery``
looks for the paths every second (ptys, adapters that udev does not announce). Network heads
are always there: they are announced once at the start, and their reader reconnects.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import queue
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

log = logging.getLogger("pyhm.discovery")


class Head(NamedTuple):
    serial: str  # from its link (/dev/hm_<SERIAL>) or udev's ID_SERIAL_SHORT
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


def matching_link(links: Iterable[str], patterns: Sequence[str]) -> Optional[str]:
    for link in links:
        if any(fnmatch.fnmatchcase(link, p) for p in patterns):
            return link
    return None


class UdevDiscovery:
    """Hot-plug through udev: monitor the tty subsystem, then list what is already there."""

    def __init__(self, patterns: Sequence[str], events: "queue.Queue[HeadEvent]") -> None:
        self.patterns = list(patterns)
        self.events = events
        self._observer = None

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

    def start(self) -> None:
        import pyudev

        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context)
        monitor.filter_by(subsystem="tty")

        def on_event(device) -> None:  # type: ignore[no-untyped-def]
            # In the observer's thread: only classify and queue; the supervisor acts.
            if device.action in ("add", "remove"):
                head = self.head_of(device)
                if head is not None:
                    self.events.put(HeadEvent(device.action, head))
                elif device.action == "remove" and device.device_node:
                    self.events.put(HeadEvent("remove", Head("", device.device_node, "")))

        self._observer = pyudev.MonitorObserver(monitor, callback=on_event, name="udev-monitor")
        self._observer.daemon = True
        self._observer.start()  # monitor first, then enumerate: nothing plugged in between is missed
        for device in context.list_devices(subsystem="tty"):
            head = self.head_of(device)
            if head is not None:
                self.events.put(HeadEvent("add", head))

    def poll(self) -> None:
        """Nothing to do: udev tells."""

    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.send_stop()
            self._observer = None


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


__all__: List[str] = ["GlobDiscovery", "Head", "HeadEvent", "UdevDiscovery", "discovery", "is_network", "serial_of"]
