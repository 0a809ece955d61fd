"""The appliance packaging: the RPM built with rpmbuild and checked like a package review
would, the systemd units verified and hardened, the firewalld service, the udev rule."""

from __future__ import annotations

import base64
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pyhm.config import Config

ROOT = Path(__file__).resolve().parents[1]
UNITS = ["pyhm-acquire.service", "pyhm-web.service"]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing (scripts/dev installs them)")


@pytest.fixture(scope="module")
def rpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("rpmbuild", "rpm", "make", "git")
    result = subprocess.run(["make", "rpm"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (path,) = (ROOT / "dist").glob("pyhm-*.noarch.rpm")
    assert list((ROOT / "dist").glob("pyhm-*.src.rpm"))
    return path


@pytest.fixture(scope="module")
def installed(rpm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RPM installed into a scratch root (no scriptlets: the root has no shell to run them)."""
    root = tmp_path_factory.mktemp("root")
    result = subprocess.run(["rpm", "--root", str(root), "--nodeps", "--noscripts", "-i", str(rpm)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return root


def test_make_rpm_from_a_fresh_clone(tmp_path: Path) -> None:
    """On Debian without the project's .venv, `make rpm` makes the interpreter its checks need
    (build/venv) instead of running them with one that lacks pyhm's dependencies."""
    need("rpmbuild", "make", "git")
    if subprocess.run(["rpm", "--eval", "%{?pyproject_wheel}"], capture_output=True, text=True).stdout.strip():
        pytest.skip("Fedora builds with its own macros and the system's python3-* packages")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()
    result = subprocess.run(["make", "rpm"], cwd=clone, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert list((clone / "dist").glob("pyhm-*.noarch.rpm")) and (clone / "build/venv/bin/python").exists()
    assert " passed" in result.stdout + result.stderr  # %check ran the tests, with the dependencies


def test_file_list(rpm: Path) -> None:
    files = set(subprocess.run(["rpm", "-qlp", str(rpm)], capture_output=True, text=True, check=True).stdout.split())
    for expected in ("/usr/bin/pyhm", "/usr/lib/systemd/system/pyhm-acquire.service",
                     "/usr/lib/systemd/system/pyhm-web.service", "/usr/lib/udev/rules.d/97-hm.rules",
                     "/usr/lib/firewalld/services/pyhm.xml", "/usr/lib/sysusers.d/pyhm.conf", "/etc/pyhm/pyhm.cfg",
                     "/var/lib/pyhm"):
        assert expected in files, expected
    modules = {f.split("site-packages/", 1)[1] for f in files if "site-packages/pyhm/" in f and f.endswith(".py")}
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pyhm").rglob("*.py")}
    assert modules == source
    assert any(f.endswith("static/vendor/uPlot.iife.min.js") for f in files)
    assert any(f.endswith("templates/meter.tpl") for f in files)


def test_package_metadata(rpm: Path) -> None:
    def query(*args: str) -> str:
        return subprocess.run(["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True).stdout

    assert query("--queryformat", "%{ARCH}") == "noarch"
    requires = query("--requires")
    for dep in ("pyserial", "pyudev", "sdnotify", "pyyaml", "bottle", "colorlog", "cheroot"):
        assert re.search(rf"^python3(\.\d+)?dist\({dep}\) >= ", requires, re.M), dep  # from the generator
    assert "python3-" not in requires
    assert "bundled(js-uplot) = 1.6.32" in query("--provides")
    assert query("-c").split() == ["/etc/pyhm/pyhm.cfg"]
    licenses = query("-L").split()  # the %license files
    assert any(f.endswith("/uPlot.LICENSE") for f in licenses) and any(f.endswith("/LICENSE") for f in licenses)


def test_pre_carries_the_sysusers_lines(rpm: Path) -> None:
    """%pre must make the user on the target from the lines it carries, not from a file of the
    build machine (rpm < 4.19 does not read %{_sysusersdir} itself)."""
    pre = subprocess.run(["rpm", "-qp", "--queryformat", "%{PREIN}", str(rpm)], capture_output=True, text=True,
                         check=True).stdout
    assert "systemd-sysusers" in pre and str(ROOT) not in pre and "SOURCES" not in pre
    encoded = re.search(r"echo '([A-Za-z0-9+/=]+)' \| base64 -d \| /usr/bin/systemd-sysusers", pre)
    assert encoded, pre
    assert base64.b64decode(encoded.group(1)).decode() == (ROOT / "packaging/rpm/pyhm.sysusers").read_text()


def test_rpmlint_finds_no_error(rpm: Path) -> None:
    need("rpmlint")
    srpm = next((ROOT / "dist").glob("pyhm-*.src.rpm"))
    result = subprocess.run(["rpmlint", "-c", str(ROOT / "packaging" / "rpm" / "rpmlint.toml"), str(rpm), str(srpm),
                             str(ROOT / "packaging" / "rpm" / "pyhm.spec")], capture_output=True, text=True)
    assert " 0 errors" in result.stdout, result.stdout
    assert not re.search(r": E: ", result.stdout), result.stdout


def test_installed_pyhm_runs(installed: Path) -> None:
    site = next(installed.glob("usr/lib/python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, str(installed / "usr/bin/pyhm"), "--version"], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "pyhm 0.1.0"
    check = subprocess.run([sys.executable, str(installed / "usr/bin/pyhm"), "check-config",
                            str(installed / "etc/pyhm/pyhm.cfg")], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_units_verify_cleanly(installed: Path, unit: str) -> None:
    need("systemd-analyze")
    units = installed / "usr/lib/systemd/system"
    for target in Path("/usr/lib/systemd/system").glob("*.target"):  # what the units hang from
        if not (units / target.name).exists():
            shutil.copy(target, units / target.name)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={installed}", f"/usr/lib/systemd/system/{unit}"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_hardened(unit: str) -> None:
    need("systemd-analyze")
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(ROOT / "packaging/systemd" / unit)],
                            capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert m, result.stdout[-500:] + result.stderr
    assert float(m.group(1)) <= 1.5


def test_acquire_unit_keeps_udev_and_ttys_working() -> None:
    """What tests/test_systemd.py shows working under a real systemd, pinned in the file."""
    text = (ROOT / "packaging/systemd/pyhm-acquire.service").read_text()
    lines = text.splitlines()
    assert "Type=notify" in lines and "WatchdogSec=60s" in lines and "Restart=on-failure" in lines
    assert "SupplementaryGroups=dialout" in lines and "StateDirectory=pyhm" in lines
    assert "DevicePolicy=closed" in lines and "DeviceAllow=char-ttyUSB rw" in lines and "DeviceAllow=char-ttyACM rw" in lines
    # The groups above are resolved at start: the serial drivers are loaded before it.
    for key in ("After", "Wants"):
        (line,) = [l for l in lines if l.startswith(key + "=")]
        assert {"modprobe@usbserial.service", "modprobe@cdc_acm.service"} <= set(line.split("=", 1)[1].split())
    assert "RestrictAddressFamilies=AF_UNIX AF_NETLINK" in lines and "IPAddressDeny=any" in lines
    assert "PrivateUsers=yes" in lines and "MemoryDenyWriteExecute=yes" in lines
    assert {"RuntimeDirectory=pyhm", "RuntimeDirectoryMode=0755", "RuntimeDirectoryPreserve=yes"} <= set(lines)
    settings = [line.split("=")[0] for line in lines if not line.startswith("#")]
    assert "PrivateNetwork" not in settings


def test_firewalld_service() -> None:
    root = ET.parse(ROOT / "firewall" / "pyhm.xml").getroot()
    assert root.tag == "service" and root.findtext("short") == "pyhm"
    (port,) = root.findall("port")
    assert port.get("protocol") == "tcp" and int(port.get("port")) == Config().web.port


def test_sysusers_file() -> None:
    lines = [l for l in (ROOT / "packaging/rpm/pyhm.sysusers").read_text().splitlines() if l and not l.startswith("#")]
    assert lines[0].split()[:2] == ["u", "pyhm"] and lines[1].split() == ["m", "pyhm", "dialout"]


RULE = ROOT / "packaging" / "udev" / "97-hm.rules"


def test_udev_rule_syntax() -> None:
    """Every line is KEY op "value" pairs with known keys; every GOTO has its LABEL; links and
    access only for what is marked a head."""
    key = re.compile(r'^(ACTION|SUBSYSTEM|KERNEL|KERNELS|ENV\{\w+\}|ATTRS?\{\w+\}|SYMLINK|GROUP|MODE|'
                     r'GOTO|LABEL)(==|!=|\+=|=)"[^"]*"$')
    gotos, labels = set(), set()
    marked = False
    for n, line in enumerate(RULE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        for part in (p.strip() for p in line.split(", ")):
            assert key.match(part), f"97-hm.rules:{n}: {part!r}"
            if part.startswith("GOTO="):
                gotos.add(part[6:-1])
            if part.startswith("LABEL="):
                labels.add(part[7:-1])
        assert "IMPORT" not in line and "ID_VENDOR_ID" not in line and "ID_MODEL_ID" not in line, line
        marked |= line == 'ENV{PYHM_HEAD}!="1", GOTO="hm_end"'
        if "SYMLINK" in line or "GROUP" in line:
            assert marked, f"97-hm.rules:{n} acts before the head check"
    assert gotos <= labels


def rule_patterns(key: str) -> list:
    (line,) = [l for l in RULE.read_text().splitlines() if l.startswith(f"ENV{{{key}}}==")]
    return line.split('"')[1].split("|")


@pytest.mark.parametrize("model, vendor, head", [
    # what heads call themselves ...
    ("USB_IR_Lesekopf", "Silicon_Labs", True), ("IR-Schreib-Lesekopf", "Silicon_Labs", True),
    ("Optokopf_USB", "FTDI", True), ("IR_Read_Head", "FTDI", True), ("Optical_Probe_IEC_62056-21", "FTDI", True),
    ("USB_Serial", "Hichi", True), ("Smart_Meter_Reader", "bitShake", True),
    # ... and the same chips in other things, which pyhm must leave alone
    ("Sonoff_Zigbee_3.0_USB_Dongle_Plus", "ITead", False), ("CP2102_USB_to_UART_Bridge_Controller", "Silicon_Labs", False),
    ("CP2104_USB_to_UART_Bridge_Controller", "Silicon_Labs", False), ("FT232R_USB_UART", "FTDI", False),
    ("RFXtrx433", "RFXCOM", False), ("USB_Serial", "1a86", False), ("USB-Serial_Controller", "Prolific_Technology_Inc.", False),
    ("ConBee_II", "dresden_elektronik_ingenieurtechnik_GmbH", False), ("SkyConnect_v1.0", "Nabu_Casa", False),
    ("u-blox_7_-_GPS_GNSS_Receiver", "u-blox_AG_-_www.u-blox.com", False), ("Thread_Border_Router", "Acme", False),
])
def test_udev_rule_knows_heads_by_what_they_call_themselves(model: str, vendor: str, head: bool) -> None:
    """udev matches these globs with fnmatch(3), as fnmatchcase does (no flags)."""
    by_model = any(fnmatch.fnmatchcase(model, p) for p in rule_patterns("ID_MODEL"))
    by_vendor = any(fnmatch.fnmatchcase(vendor, p) for p in rule_patterns("ID_VENDOR"))
    assert (by_model or by_vendor) == head


def test_udev_parses_the_rule() -> None:
    """udevadm itself reads the rule (systemd 252 has no `udevadm verify`: `udevadm test` parses
    every rules file and names the bad lines)."""
    need("udevadm")
    rules = Path("/run/udev/rules.d")
    if os.geteuid() != 0:
        pytest.skip("only root can put a rule where udevadm reads rules (the syntax test above still runs)")
    rules.mkdir(parents=True, exist_ok=True)
    target = rules / "97-hm-pyhm-test.rules"
    shutil.copy(RULE, target)
    try:
        device = next(p for p in ("/sys/class/tty/tty0", "/sys/class/tty/console", "/sys/class/mem/null") if Path(p).exists())
        result = subprocess.run(["udevadm", "test", "--action=add", device], capture_output=True, text=True, timeout=60)
    finally:
        target.unlink()
    out = result.stdout + result.stderr
    assert "97-hm-pyhm-test.rules" in out  # it was read
    bad = [l for l in out.splitlines() if "97-hm-pyhm-test.rules" in l and
           re.search(r"Invalid|no matching label|takes no effect|failed to parse|unknown", l, re.I)]
    assert bad == []
