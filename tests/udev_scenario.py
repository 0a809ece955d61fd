"""Run under umockdev-wrapper by test_acquire_udev.py: real udev events from an emulated
testbed, the real acquisition service, SML written into the emulated ttys. Prints JSON."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from acquirehelp import telegram_count, wait_for  # noqa: E402
from pyhm.acquire.service import Service  # noqa: E402
from pyhm.config import AcquisitionConfig, Config, DatabaseConfig  # noqa: E402
from pyhm.simulator import SimulatedMeter  # noqa: E402

tmp = Path(sys.argv[1])
db = tmp / "pyhm.db"
testbed = UMockdev.Testbed.new()
results: dict = {}


def plug(tty: str, serial: str) -> str:
    """A USB serial adapter with the link the pyhm udev rule gives it."""
    usb = f"/devices/pci0000:00/usb1/1-{tty[-1]}"
    testbed.add_from_string(
        f"P: {usb}\nE: SUBSYSTEM=usb\nE: ID_VENDOR_ID=10c4\nE: ID_MODEL_ID=ea60\nE: ID_SERIAL_SHORT={serial}\n"
        f"A: idVendor=10c4\nA: idProduct=ea60\nA: serial={serial}\n\n"
        f"P: {usb}/{tty}\nN: {tty}\nE: DEVNAME=/dev/{tty}\nE: SUBSYSTEM=tty\nE: ID_SERIAL_SHORT={serial}\n"
        f"E: DEVLINKS=/dev/serial/by-id/usb-Silicon_Labs_CP2104_{serial}-if00-port0 /dev/hm_{serial}\n"
    )
    path = f"/sys{usb}/{tty}"
    testbed.uevent(path, "add")
    return path


def unplug(path: str) -> None:
    """The tty goes, then the USB device it hung from."""
    testbed.uevent(path, "remove")
    testbed.remove_device(path)
    testbed.remove_device(path.rsplit("/", 1)[0])


config = Config(database=DatabaseConfig(path=db, commit_seconds=1), acquisition=AcquisitionConfig(devices=("/dev/hm_*",), discovery="udev"))
service = Service(config)
thread = threading.Thread(target=lambda: results.setdefault("exit", service.run()), daemon=True)
thread.start()
wait_for(lambda: db.exists(), what="database")

sim_a, sim_b = SimulatedMeter(11), SimulatedMeter(12)


def reading(serial: str) -> bool:
    reader = service.heads.readers.get(serial)
    return reader is not None and reader.state == "reading"


t0 = time.monotonic()
path_a = plug("ttyUSB0", "AAA")
wait_for(lambda: reading("AAA"), what="the new head opened")
results["opened_s"] = time.monotonic() - t0
fd_a = testbed.get_dev_fd("/dev/ttyUSB0")
os.write(fd_a, sim_a.telegram())
wait_for(lambda: telegram_count(db, sim_a.server_id) == 1, what="first telegram of a new head")
results["first_reading_s"] = time.monotonic() - t0

path_b = plug("ttyUSB1", "BBB")
wait_for(lambda: reading("BBB"), what="the second head opened")
fd_b = testbed.get_dev_fd("/dev/ttyUSB1")
for _ in range(3):
    os.write(fd_a, sim_a.telegram())
    os.write(fd_b, sim_b.telegram())
    time.sleep(0.2)
wait_for(lambda: telegram_count(db, sim_a.server_id) == 4 and telegram_count(db, sim_b.server_id) == 3, what="both heads")
results["both"] = [telegram_count(db, sim_a.server_id), telegram_count(db, sim_b.server_id)]

half = sim_a.telegram()
os.write(fd_a, half[: len(half) // 2])  # pulled in the middle of a telegram
time.sleep(0.2)
unplug(path_a)
wait_for(lambda: "AAA" not in service.heads.readers, what="reader of A stopped")
for _ in range(3):
    os.write(fd_b, sim_b.telegram())
    time.sleep(0.2)
wait_for(lambda: telegram_count(db, sim_b.server_id) == 6, what="B going on")
results["after_pull"] = [telegram_count(db, sim_a.server_id), telegram_count(db, sim_b.server_id)]

path_a = plug("ttyUSB2", "AAA")  # plugged back: the kernel names it anew, the link stays
wait_for(lambda: reading("AAA"), what="the head opened again")
fd_a = testbed.get_dev_fd("/dev/ttyUSB2")
for _ in range(2):
    os.write(fd_a, sim_a.telegram())
    time.sleep(0.2)
wait_for(lambda: telegram_count(db, sim_a.server_id) == 6, what="A resumed")
results["after_replug"] = [telegram_count(db, sim_a.server_id), telegram_count(db, sim_b.server_id)]
results["readers"] = sorted(service.heads.readers)

service.request_stop()
thread.join(timeout=20)
print(json.dumps(results))
