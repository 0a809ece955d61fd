"""The appliance packaging: the RPM built with rpmbuild and checked like a package review
would, the systemd units verified and hardened, the firewalld service, the udev rule."""

from __future__ import annotations

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
    def query(fmt: str) -> str:
        return subprocess.run(["rpm", "-qp", "--queryformat", fmt, str(rpm)], capture_output=True, text=True,
                              check=True).stdout

    assert query("%{ARCH}") == "noarch"
    requires = subprocess.run(["rpm", "-qp", "--requires", str(rpm)], capture_output=True, text=True).stdout
    for dep in ("python3-pyserial", "python3-pyudev", "python3-sdnotify", "python3-pyyaml", "python3-bottle",
                "python3-colorlog", "python3-cheroot"):
        assert dep in requires
    provides = subprocess.run(["rpm", "-qp", "--provides", str(rpm)], capture_output=True, text=True).stdout
    assert "bundled(js-uplot) = 1.6.32" in provides
    config = subprocess.run(["rpm", "-qcp", str(rpm)], capture_output=True, text=True).stdout.split()
    assert config == ["/etc/pyhm/pyhm.cfg"]
    scripts = subprocess.run(["rpm", "-qp", "--scripts", str(rpm)], capture_output=True, text=True).stdout
    assert "systemctl" in scripts and "sysusers" in scripts


def test_spec_is_pure_fedora() -> None:
    spec = (ROOT / "packaging" / "rpm" / "pyhm.spec").read_text()
    for macro in ("%generate_buildrequires", "%pyproject_buildrequires", "%pyproject_wheel", "%pyproject_install",
                  "%pyproject_save_files", "%systemd_post", "%systemd_preun", "%systemd_postun_with_restart",
                  "%{_udevrulesdir}", "%{_sysusersdir}", "%config(noreplace)", "%changelog"):
        assert macro in spec, macro
    assert "macros.test" not in spec and "pip " not in spec


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
    assert float(m.group(1)) <= 2.0


def test_acquire_unit_keeps_udev_and_ttys_working() -> None:
    text = (ROOT / "packaging/systemd/pyhm-acquire.service").read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=on-failure" in text
    assert "SupplementaryGroups=dialout" in text and "StateDirectory=pyhm" in text
    assert "DevicePolicy=closed" in text and "DeviceAllow=char-ttyUSB rw" in text and "DeviceAllow=char-ttyACM rw" in text
    assert "RestrictAddressFamilies=AF_UNIX AF_NETLINK" in text and "IPAddressDeny=any" in text
    settings = [line.split("=")[0] for line in text.splitlines() if not line.startswith("#")]
    assert "PrivateNetwork" not in settings and "PrivateUsers" not in settings


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
    """Every line is KEY op "value" pairs with known keys; every GOTO has its LABEL."""
    key = re.compile(r'^(ACTION|SUBSYSTEM|KERNEL|KERNELS|ENV\{\w+\}|ATTRS?\{\w+\}|IMPORT\{builtin\}|SYMLINK|GROUP|MODE|'
                     r'GOTO|LABEL)(==|!=|\+=|=)"[^"]*"$')
    gotos, labels, ids = set(), set(), set()
    for n, line in enumerate(RULE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        for part in (p.strip() for p in line.split(", ")):
            assert key.match(part), f"97-hm.rules:{n}: {part!r}"
            if part.startswith("GOTO="):
                gotos.add(part[6:-1])
            if part.startswith("LABEL="):
                labels.add(part[7:-1])
        m = re.search(r'ID_VENDOR_ID}=="(\w+)", ENV\{ID_MODEL_ID}=="(\w+)"', line)
        if m:
            ids.add(f"{m.group(1)}:{m.group(2)}")
            assert 'SYMLINK+="hm_$env{ID_SERIAL_SHORT}"' in line and 'GROUP="dialout"' in line
    assert gotos <= labels
    assert ids == {"10c4:ea60", "0403:6001", "0403:6015", "1a86:7523", "067b:2303"}


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
