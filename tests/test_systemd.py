"""The appliance under a real systemd: the RPM that `make rpm` builds, installed with its
scriptlets into systemd 252 booted as PID 1 in its own namespaces (tests/systemdhelp.py), with
systemd-udevd inside making real `add` events.

The stand-in heads are spare virtual consoles (/dev/tty60..63, major 4) that a test udev rule
gives a USB serial adapter's identity, as 60-serial.rules gives a real ttyUSB: the real
97-hm.rules then decides what is a head, and the real unit's device policy decides what pyhm
may open. The tests run in file order on one boot (each step builds on the last)."""

from __future__ import annotations

import re
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Iterator, Set

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pyhm.simulator import SimulatedMeter  # noqa: E402
from systemdhelp import Machine, why_not  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ACQ, WEB = "pyhm-acquire.service", "pyhm-web.service"
PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.{}:1.0"
# name: (tty, USB manufacturer, USB product, serial, port) - what `udevadm info` shows of each
DEVICES: Dict[str, tuple] = {
    "zigbee": ("tty60", "ITead", "Sonoff_Zigbee_3.0_USB_Dongle_Plus", "c4e1a2b30f7c", PORT.format(1)),
    "generic": ("tty61", "Silicon_Labs", "CP2102_USB_to_UART_Bridge_Controller", "0035", PORT.format(2)),
    "head_a": ("tty62", "Silicon_Labs", "USB_IR_Lesekopf", "0001", PORT.format(3)),
    "head_b": ("tty63", "Silicon_Labs", "USB_IR_Lesekopf", "0001", PORT.format(4)),
}
METERS = {"generic": SimulatedMeter(21), "head_a": SimulatedMeter(22), "head_b": SimulatedMeter(23)}

# Runs inside the machine: types the bytes into a tty's input queue (TIOCSTI), as a USB
# adapter's driver hands received bytes to its tty.
TYPE_BYTES = """
import fcntl, os, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
for b in bytes.fromhex(sys.argv[2]):
    fcntl.ioctl(fd, termios.TIOCSTI, bytes([b]))
os.close(fd)
"""


def adapter_rules() -> str:
    """A USB serial adapter's udev identity for each virtual console, and the defaults that
    50-udev-default.rules and 60-serial.rules give a real ttyUSB (group dialout, by-id link)."""
    lines = []
    for tty, vendor, model, serial, port in DEVICES.values():
        lines.append(
            f'SUBSYSTEM=="tty", KERNEL=="{tty}", ACTION!="remove", ENV{{ID_BUS}}="usb", ENV{{ID_VENDOR_ID}}="10c4", '
            f'ENV{{ID_MODEL_ID}}="ea60", ENV{{ID_VENDOR}}="{vendor}", ENV{{ID_MODEL}}="{model}", '
            f'ENV{{ID_SERIAL}}="{vendor}_{model}_{serial}", ENV{{ID_SERIAL_SHORT}}="{serial}", ENV{{ID_PATH}}="{port}", '
            f'GROUP="dialout", MODE="0660", SYMLINK+="serial/by-id/usb-{vendor}_{model}_{serial}-if00-port0"')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The RPM as `make rpm` builds it, and a later release of it (for the upgrade)."""
    out = tmp_path_factory.mktemp("rpms")
    paths = {}
    for name, extra in (("first", []), ("upgrade", ["DIST=.2"])):
        result = subprocess.run(["make", "rpm", f"OUT={out / name}", *extra], cwd=ROOT, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        (paths[name],) = (out / name).glob("pyhm-*.noarch.rpm")
    return paths


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Machine]:
    reason = why_not()
    if reason:
        pytest.skip(f"a real systemd cannot be booted here: {reason}")
    rpms: Dict[str, Path] = request.getfixturevalue("rpms")
    m = Machine(tmp_path_factory.mktemp("machine"), site.getsitepackages()[0])
    m.boot()
    try:
        (m.root / "etc/udev/rules.d/61-pyhm-test.rules").write_text(adapter_rules())
        m.run("udevadm", "control", "--reload")
        for name, path in rpms.items():
            shutil.copy(path, m.root / f"var/tmp/pyhm-{name}.rpm")
        yield m
    finally:
        m.shutdown()


def plug(m: Machine, name: str, action: str = "add") -> None:
    m.run("udevadm", "trigger", f"--action={action}", "--settle", f"/sys/class/tty/{DEVICES[name][0]}")


def send(m: Machine, name: str, telegrams: int = 3) -> None:
    data = b"".join(METERS[name].telegram() for _ in range(telegrams))
    m.python(TYPE_BYTES, f"/dev/{DEVICES[name][0]}", data.hex())


# Runs inside the machine, with the installed pyhm: telegrams read from a meter, as every reader
# of the store sees them (store.Query: the committed ones and those the acquisition still holds
# in its live store on /run/pyhm; it commits only once a minute).
COUNT = """
import sys
from pyhm.store import Query
q = Query("/var/lib/pyhm/pyhm.db")
try:
    meter = q.meter(sys.argv[1])
except LookupError:
    print(0)
else:
    print(max((sum(1 for _ in q.raw(s, 0, 2**62)) for s in q.series_of(meter.id)), default=0))
"""


# Telegrams of a meter committed to the database file (what survives a power cut).
COMMITTED = """
import sys
from pyhm.store import Query
q = Query("/var/lib/pyhm/pyhm.db")
print(q.db.execute("SELECT count(*) FROM telegrams t JOIN meters m ON m.id = t.meter_id WHERE m.server_id = ?",
                   (bytes.fromhex(sys.argv[1]),)).fetchone()[0])
"""


def read(m: Machine, name: str) -> int:
    return int(m.python(COUNT, METERS[name].server_id.hex()))


def committed(m: Machine, name: str) -> int:
    return int(m.python(COMMITTED, METERS[name].server_id.hex()))


def read_through(m: Machine, name: str, timeout: float = 60) -> int:
    """Telegrams typed into the head until they are read (a port being reopened drops what
    arrives meanwhile, as a real one would); the number read."""
    before = read(m, name)

    def more() -> int:
        send(m, name, 1)
        return max(0, read(m, name) - before)

    return int(m.wait(f"telegrams through {name}", more, timeout=timeout, every=1))


def rpm(m: Machine, *args: str) -> None:
    """rpm, then what the distribution's file trigger on /usr/lib/udev/rules.d does after every
    transaction that puts a rule there (Fedora's systemd-udev: `udevadm control --reload`;
    packages carry no reload of their own). Debian's rpm here has no systemd-udev package, so
    no trigger: without this, udevd goes on with the rules it had until it happens to look at
    the rules directories again (on an event, at most every 3 s), and a head plugged in sooner
    gets no /dev/hm_ link."""
    m.run("rpm", *args)
    m.run("udevadm", "control", "--reload")


def logged(m: Machine, pattern: str, unit: str = ACQ) -> bool:
    return re.search(pattern, m.journal(unit)) is not None


def main_pid(m: Machine, unit: str = ACQ) -> int:
    return int(m.show(unit, "MainPID"))


def open_files(m: Machine, pid: int) -> set:
    return set(m.sh(f"for f in /proc/{pid}/fd/*; do readlink $f; done", check=False).split())


def hold_open(m: Machine, names: Iterable[str], timeout: float = 90) -> Set[str]:
    """Feed the heads until pyhm has all of them open at once; the files it has open then. A
    reader closes a quiet head's port after acquisition.stall_seconds (10 s) and waits, backing
    off up to 30 s, before it opens it again: a snapshot of a quiet head's port proves nothing."""
    pid = main_pid(m)
    heads = sorted(names)
    wanted = {f"/dev/{DEVICES[name][0]}" for name in heads}

    def all_open() -> Set[str]:
        for name in heads:
            send(m, name, 1)
        files = open_files(m, pid)
        return files if wanted <= files else set()

    found = m.wait(f"pyhm holding {', '.join(sorted(wanted))} open", all_open, timeout=timeout)
    assert isinstance(found, set)
    return found


def test_install_makes_the_user_and_its_state_directory(machine: Machine) -> None:
    m = machine
    assert m.run("getent", "passwd", "pyhm", check=False).returncode == 2  # not there before
    # --nodeps: Debian's rpm database knows none of the python3dist(), systemd-udev or openssl
    # packages the RPM requires; they are installed here as Debian packages.
    rpm(m, "-i", "--nodeps", "/var/tmp/pyhm-first.rpm")
    assert m.sh("getent passwd pyhm").split(":")[5] == "/var/lib/pyhm"
    assert "dialout" in m.sh("id -nG pyhm").split()
    assert m.sh("stat -c '%U %G %a' /var/lib/pyhm").split() == ["pyhm", "pyhm", "750"]
    # The edit that the upgrade below must keep: a generic CP2102 head, opted in by its serial.
    m.sh("sed -i 's/^  extra_heads: \\[\\]$/  extra_heads: [\"0035\"]/' /etc/pyhm/pyhm.cfg")
    assert "extra_heads" in m.sh("pyhm check-config /etc/pyhm/pyhm.cfg")


def test_today_a_head_whose_group_was_absent_at_start_is_refused(machine: Machine) -> None:
    """The defect, reproduced: DeviceAllow= groups are resolved when the unit starts. This
    kernel has no ttyUSB/ttyACM group (no usbserial module, like a Pi before its first head),
    so the shipped DeviceAllow=char-ttyUSB/char-ttyACM resolve to nothing and the stand-in
    head, plugged in after the start, is refused with EPERM."""
    m = machine
    devices = Path("/proc/devices").read_text().split("Block devices:")[0]
    assert not re.search(r"\bttyUSB\b|\bttyACM\b", devices), "this kernel has the groups: nothing to reproduce"
    plug(m, "zigbee")
    m.run("systemctl", "start", ACQ)
    plug(m, "generic")
    m.wait("EPERM on the late head", lambda: logged(m, r"cannot open /dev/tty61: .*Operation not permitted"))
    m.run("systemctl", "stop", ACQ)
    plug(m, "generic", "remove")


def test_a_head_plugged_in_after_the_start_is_read_without_a_restart(machine: Machine) -> None:
    """The fix: the unit pulls in modprobe@usbserial/modprobe@cdc_acm and starts after them,
    so on a Pi the groups exist when DeviceAllow= is resolved. A module cannot be loaded in
    this VM; the test drop-in stands in the group its stand-ins have ("tty") for ttyUSB, and
    shows that a head whose group was resolved at start is read when it appears later."""
    m = machine
    m.sh("mkdir -p /etc/systemd/system/pyhm-acquire.service.d && printf '%s\\n' '[Service]' "
         "'DeviceAllow=char-tty rw' 'WatchdogSec=8s' > /etc/systemd/system/pyhm-acquire.service.d/50-test.conf")
    m.run("systemctl", "daemon-reload")
    m.run("systemctl", "start", ACQ)
    for module in ("usbserial", "cdc_acm"):
        unit = f"modprobe@{module}.service"
        assert unit in m.show(ACQ, "After").split() and unit in m.show(ACQ, "Wants").split()
        assert 0 < int(m.show(unit, "InactiveExitTimestampMonotonic")) <= int(m.show(ACQ, "ExecMainStartTimestampMonotonic"))
    pid = main_pid(m)
    assert m.show(ACQ, "ActiveState") == "active"
    m.wait("STATUS with no head", lambda: m.show(ACQ, "StatusText").startswith("0 head(s)"))
    plug(m, "generic")  # after the start: only a hot-plug event can tell pyhm
    m.wait("the late head opened", lambda: logged(m, r"reading /dev/tty61"))
    assert read_through(m, "generic") >= 1
    m.wait("STATUS", lambda: m.show(ACQ, "StatusText").startswith("1 head(s), 1 meter(s)"))
    assert main_pid(m) == pid and m.show(ACQ, "NRestarts") == "0"


def test_two_heads_with_one_serial_are_both_read(machine: Machine) -> None:
    m = machine
    plug(m, "head_a")
    plug(m, "head_b")
    for tty in ("tty62", "tty63"):  # the installed 97-hm.rules calls them heads
        assert "S: hm_0001" in m.sh(f"udevadm info /dev/{tty}").splitlines(), m.sh(f"udevadm info /dev/{tty}")
    m.wait("both opened", lambda: logged(m, r"reading /dev/tty62") and logged(m, r"reading /dev/tty63"))
    assert logged(m, r"2 heads report the serial 0001; naming them by their USB ports: 0001@0-1\.3, 0001@0-1\.4")
    assert read_through(m, "head_a") >= 1 and read_through(m, "head_b") >= 1
    assert m.sh("readlink -f /dev/hm_0001").strip() in ("/dev/tty62", "/dev/tty63")


def test_a_device_on_the_same_chip_that_is_no_head_is_never_opened(machine: Machine) -> None:
    m = machine
    info = m.sh("udevadm info /dev/tty60")
    assert "ID_VENDOR_ID=10c4" in info and "ID_MODEL_ID=ea60" in info  # the same chip as the heads
    links = {Path(l).name: m.sh(f"readlink -f {l}").strip() for l in m.sh("ls /dev/hm_* 2>/dev/null || true").split()}
    assert links and "/dev/tty60" not in links.values() and "hm_c4e1a2b30f7c" not in links
    files = hold_open(m, ["generic", "head_a", "head_b"])
    assert "/dev/tty60" not in files
    assert not logged(m, r"tty60")


def test_heads_are_opened_exclusively(machine: Machine) -> None:
    """Another program (not root) cannot open a port pyhm reads, though it may use the group."""
    m = machine
    gid = m.sh("getent group dialout").split(":")[2]
    hold_open(m, ["head_a"])  # fed: its port stays open for stall_seconds after the last byte
    probe = m.run("setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups", "python3", "-c",
                  "open('/dev/tty62', 'rb')", check=False)
    assert probe.returncode != 0 and "Device or resource busy" in probe.stderr
    free = m.run("setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups", "python3", "-c",
                 "open('/dev/tty60', 'rb')", check=False)
    assert free.returncode == 0, free.stderr  # the control: the group may open what pyhm leaves alone


def test_a_stopped_service_trips_the_watchdog_and_comes_back(machine: Machine) -> None:
    m = machine
    pid = main_pid(m)
    m.run("kill", "-STOP", str(pid))
    m.wait("the watchdog", lambda: logged(m, r"Watchdog timeout", unit=""), timeout=40)
    m.wait("restarted", lambda: m.show(ACQ, "ActiveState") == "active" and main_pid(m) not in (0, pid), timeout=40)
    assert int(m.show(ACQ, "NRestarts")) >= 1
    assert read_through(m, "head_b") >= 1


def test_web_answers_healthz_and_reads_the_live_directory(machine: Machine) -> None:
    m = machine
    m.run("systemctl", "start", WEB)
    probe = ("import ssl, sys, urllib.request\n"
             "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
             "print(urllib.request.urlopen('https://127.0.0.1:8443/healthz', context=ctx, timeout=5).status)\n")

    def healthy() -> bool:
        return m.run("python3", "-c", probe, check=False).stdout.strip() == "200"

    m.wait("/healthz", healthy, timeout=60)
    assert m.sh("stat -c '%U %a' /run/pyhm").split() == ["pyhm", "755"]
    m.sh("install -o pyhm -g pyhm -m 0640 /dev/null /run/pyhm/probe && echo live > /run/pyhm/probe")
    uid = m.sh("id -u pyhm").strip()
    seen = m.run("nsenter", "-t", str(main_pid(m, WEB)), "-m", "setpriv",
                 f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "cat", "/run/pyhm/probe", check=False)
    assert seen.stdout.strip() == "live", seen.stderr


def test_an_upgrade_keeps_the_edited_configuration_and_every_reading(machine: Machine) -> None:
    """The upgrade restarts the service: a clean stop commits what it held in RAM at once
    (readings wait up to database.commit_seconds for their commit otherwise)."""
    m = machine
    pid = main_pid(m)
    seen = {name: read(m, name) for name in METERS}
    assert all(seen.values()), seen
    rpm(m, "-U", "--nodeps", "/var/tmp/pyhm-upgrade.rpm")
    assert m.sh("rpm -q pyhm").strip().startswith("pyhm-0.1.0-1.2")
    assert 'extra_heads: ["0035"]' in (m.root / "etc/pyhm/pyhm.cfg").read_text()
    m.wait("restarted by the upgrade", lambda: m.show(ACQ, "ActiveState") == "active" and main_pid(m) not in (0, pid))
    assert m.sh("stat -c '%U' /var/lib/pyhm").strip() == "pyhm"
    kept = {name: committed(m, name) for name in METERS}
    assert all(kept[name] >= seen[name] for name in METERS), (seen, kept)


@pytest.mark.parametrize("unit", [ACQ, WEB])
def test_security_exposure_online(machine: Machine, unit: str) -> None:
    """`systemd-analyze security` asks the running systemd about the unit as it loaded it."""
    m = machine
    m.sh("rm -rf /etc/systemd/system/pyhm-acquire.service.d && systemctl daemon-reload")
    out = m.run("systemd-analyze", "security", unit, check=False).stdout
    level = re.search(rf"Overall exposure level for {unit}: (\d+\.\d+)", out)
    assert level, out[-1500:]
    print(f"{unit}: exposure {level.group(1)}")
    assert float(level.group(1)) <= 1.5, out
