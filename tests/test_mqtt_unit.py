"""The pyhm-mqtt unit: verifies cleanly, is hardened (exposure ≤ 2.0), is skipped rather than
failed when MQTT is not configured, reads the database read-only, and ships in the RPM."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "packaging/systemd/pyhm-mqtt.service"

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


@needs_analyze
def test_unit_is_hardened() -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert m, result.stdout[-500:] + result.stderr
    assert float(m.group(1)) <= 2.0


@needs_analyze
def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    units = tmp_path / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    shutil.copy(UNIT, units)
    for target in Path("/usr/lib/systemd/system").glob("*.target"):
        shutil.copy(target, units / target.name)
    for name in ("pyhm-acquire.service", "pyhm-web.service"):
        shutil.copy(ROOT / "packaging/systemd" / name, units)
    pyhm = tmp_path / "usr/bin/pyhm"
    pyhm.parent.mkdir(parents=True)
    pyhm.write_text("#!/bin/sh\n")
    pyhm.chmod(0o755)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={tmp_path}", f"/usr/lib/systemd/system/{UNIT.name}"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def settings() -> dict:
    out: dict = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_unit_is_a_notify_service_skipped_when_not_configured_with_a_read_only_database() -> None:
    s = settings()
    assert s["Type"] == ["notify"] and s["WatchdogSec"] and s["Restart"] == ["on-failure"]
    # `pyhm mqtt --configured` exits 1 without an mqtt section (tests/test_mqtt.py): ExecCondition
    # then skips the unit instead of failing it.
    assert s["ExecCondition"] == ["/usr/bin/pyhm --config /etc/pyhm/pyhm.cfg mqtt --configured"]
    assert s["ExecStart"] == ["/usr/bin/pyhm --config /etc/pyhm/pyhm.cfg mqtt"]
    assert s["ReadOnlyPaths"] == ["-/var/lib/pyhm/pyhm.db"] and s["User"] == ["pyhm"]
    assert "AF_INET" in s["RestrictAddressFamilies"][0] and "PrivateNetwork" not in s
    assert s["IPAddressDeny"] == ["any"] and "localhost" in s["IPAddressAllow"][0]


def test_rpm_installs_and_lists_the_unit() -> None:
    spec = (ROOT / "packaging/rpm/pyhm.spec").read_text()
    assert "packaging/systemd/pyhm-mqtt.service %{buildroot}%{_unitdir}/pyhm-mqtt.service" in spec
    assert len(re.findall(r"^%\{_unitdir\}/pyhm-mqtt\.service$", spec, re.M)) == 1  # in %files
    for scriptlet in ("%systemd_post", "%systemd_preun", "%systemd_postun_with_restart"):
        assert re.search(rf"^{scriptlet} .*pyhm-mqtt\.service", spec, re.M), scriptlet
