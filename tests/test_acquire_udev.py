"""Hot-plug with real udev events (umockdev): heads found, read, pulled and plugged back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def umockdev_ready() -> bool:
    if not shutil.which("umockdev-wrapper"):
        return False
    probe = "import gi; gi.require_version('UMockdev', '1.0'); from gi.repository import UMockdev"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_hot_plug(tmp_path: Path) -> None:
    if not umockdev_ready():
        # The test command installs umockdev; without it this test cannot run, and must not pass.
        pytest.fail("umockdev-wrapper and its GObject introspection data are missing (scripts/dev installs them)")
    result = subprocess.run(["umockdev-wrapper", sys.executable, str(HERE / "udev_scenario.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["opened_s"] < 2.0  # plugged in: read within two seconds, no configuration
    assert out["first_reading_s"] < 3.0
    assert out["both"] == [4, 3]
    assert out["after_pull"] == [4, 6]  # the half telegram is not stored; the other head goes on
    assert out["after_replug"] == [6, 6]
    assert out["readers"] == ["AAA", "BBB"]
    assert out["exit"] == 0
    assert "head AAA removed" in result.stderr and "Traceback" not in result.stderr
