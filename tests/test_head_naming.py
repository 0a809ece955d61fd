"""Which devices are heads, what they are called, and that pyhm holds their ports alone:
udev discovery fed device records as pyudev gives them, the configuration's opt-in, and the
exclusive open on a real pty."""

from __future__ import annotations

import os
import pty
import queue
from typing import Dict, List

import pytest
import serial

from pyhm.acquire.discovery import HeadEvent, UdevDiscovery, port_of
from pyhm.acquire.reader import open_exclusive
from pyhm.config import ConfigError, SerialSettings, parse

PORT = "platform-3f980000.usb-usb-0:1.{}:1.0"


class Device:
    """The parts of a pyudev Device that discovery reads."""

    def __init__(self, node: str, serial: str, port: int, links: str) -> None:
        self.device_node = node
        self.properties: Dict[str, str] = {"ID_SERIAL_SHORT": serial, "ID_PATH": PORT.format(port), "DEVLINKS": links}
        self.device_links: List[str] = []


def names(events: "queue.Queue[HeadEvent]") -> List[tuple]:
    out = []
    while not events.empty():
        e = events.get_nowait()
        out.append((e.action, e.head.serial, e.head.device))
    return out


def test_heads_that_share_a_serial_are_named_by_port(caplog: pytest.LogCaptureFixture) -> None:
    events: "queue.Queue[HeadEvent]" = queue.Queue()
    udev = UdevDiscovery(["/dev/hm_*"], events)
    a = Device("/dev/ttyUSB0", "0001", 2, "/dev/hm_0001 /dev/serial/by-id/x")
    b = Device("/dev/ttyUSB1", "0001", 3, "/dev/hm_0001")
    udev._event("add", a)
    udev._event("add", a)  # the monitor and the enumeration both report it: one head
    assert names(events) == [("add", "0001", "/dev/ttyUSB0")]
    udev._event("add", b)
    assert names(events) == [("remove", "0001", "/dev/ttyUSB0"), ("add", "0001@0-1.2", "/dev/ttyUSB0"),
                             ("add", "0001@0-1.3", "/dev/ttyUSB1")]
    assert "2 heads report the serial 0001; naming them by their USB ports: 0001@0-1.2, 0001@0-1.3" in caplog.text
    udev._event("remove", a)
    assert names(events) == [("remove", "0001@0-1.2", "/dev/ttyUSB0"), ("remove", "0001@0-1.3", "/dev/ttyUSB1"),
                             ("add", "0001", "/dev/ttyUSB1")]


def test_names_do_not_depend_on_the_plug_order() -> None:
    def final(order: List[Device]) -> set:
        events: "queue.Queue[HeadEvent]" = queue.Queue()
        udev = UdevDiscovery(["/dev/hm_*"], events)
        present: Dict[str, str] = {}
        for d in order:
            udev._event("add", d)
        for action, name, device in names(events):
            if action == "add":
                present[device] = name
            else:
                present.pop(device, None)
        return set(present.items())

    a, b = Device("/dev/ttyUSB0", "0001", 2, "/dev/hm_0001"), Device("/dev/ttyUSB1", "0001", 3, "/dev/hm_0001")
    assert final([a, b]) == final([b, a]) == {("/dev/ttyUSB0", "0001@0-1.2"), ("/dev/ttyUSB1", "0001@0-1.3")}


def test_a_device_without_a_watched_link_is_no_head() -> None:
    events: "queue.Queue[HeadEvent]" = queue.Queue()
    udev = UdevDiscovery(["/dev/hm_*"], events)
    udev._event("add", Device("/dev/ttyUSB0", "c4e1a2b30f7c", 1,
                              "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_c4e1a2b30f7c-if00-port0"))
    assert names(events) == []


def test_extra_heads_opt_in_by_serial_or_port() -> None:
    cfg = parse(f"acquisition:\n  extra_heads: ['0035', '{PORT.format(4)}']\n").acquisition
    assert cfg.extra_heads == ("0035", PORT.format(4))
    assert cfg.devices == ("/dev/hm_*", "/dev/serial/by-id/usb-*_0035-if*", f"/dev/serial/by-path/{PORT.format(4)}*")
    events: "queue.Queue[HeadEvent]" = queue.Queue()
    udev = UdevDiscovery(cfg.devices, events)
    udev._event("add", Device("/dev/ttyUSB3", "0035", 2,
                              "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0035-if00-port0"))
    udev._event("add", Device("/dev/ttyUSB4", "0036", 5,
                              "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0036-if00-port0"))
    assert names(events) == [("add", "0035", "/dev/ttyUSB3")]
    with pytest.raises(ConfigError, match=r"extra_heads: expected a USB serial number or port path"):
        parse("acquisition:\n  extra_heads: ['/dev/ttyUSB*']\n")


def test_port_names() -> None:
    assert port_of("platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0") == "0-1.3"
    assert port_of("pci-0000:00:14.0-usb-0:2:1.0") == "0-2"


def test_a_port_pyhm_reads_is_its_alone() -> None:
    """A second exclusive open (another pyhm, or any program that locks its ports) is refused."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    try:
        port = open_exclusive(path, SerialSettings())
        try:
            with pytest.raises(serial.SerialException, match="exclusively lock"):
                open_exclusive(path, SerialSettings())
        finally:
            port.close()
        open_exclusive(path, SerialSettings()).close()  # free again once pyhm lets go
    finally:
        os.close(master)
        os.close(slave)
