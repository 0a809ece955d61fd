"""scripts/dev, the README's two commands: a failed system package install stops it at once,
saying why, instead of going on half set up (a fresh machine's apt often holds its lock)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="scripts/dev installs system packages only as root")
def test_a_failed_package_install_stops_clearly(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "dev", repo / "scripts" / "dev")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")  # every package missing
    (bin_dir / "apt-get").write_text(
        f"#!/bin/sh\necho \"$@\" >> {calls}\n"
        "echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1 (apt-get)' >&2\nexit 100\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    proc = subprocess.run(["bash", str(repo / "scripts" / "dev"), "test"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "installing the system packages failed" in proc.stderr and "Could not get lock" in proc.stderr
    assert not (repo / ".venv").exists()  # nothing set up on top of a failed install
    assert "DPkg::Lock::Timeout=600" in calls.read_text()  # it waited for the lock first
