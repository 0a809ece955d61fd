"""The docs tell the truth: README commands, CI, the architecture page, Python 3.9 syntax."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pyhm.decode import reading_dict, telegram_dict
from pyhm.sml import decode_payload
from pyhm.simulator import SimulatedMeter
from pyhm.sml import read_frames

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_commands() -> list:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = quick_start_commands()
    assert commands == ["scripts/dev demo", "scripts/dev test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^scripts/dev test\s*$", ci, re.M)
    assert (ROOT / "scripts" / "dev").stat().st_mode & 0o111


def test_readme_names_every_json_field() -> None:
    meter = SimulatedMeter(1)
    t = decode_payload(read_frames(meter.telegram())[0].payload)
    for key in ("crc_ok", "server_id", "readings"):
        assert key in telegram_dict(t, 1) and f"`{key}`" in README
    for key in reading_dict(t.readings[0]):
        assert f"`{key}`" in README, key


def test_architecture_page_names_every_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    for path in (ROOT / "pyhm").rglob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT).as_posix()
        assert rel in page or path.name in page, f"docs/architecture.md does not mention {rel}"


def test_sources_are_python_39_syntax() -> None:
    for path in list((ROOT / "pyhm").rglob("*.py")) + list((ROOT / "bench").glob("*.py")):
        ast.parse(path.read_text(), str(path), feature_version=(3, 9))


def test_readme_config_error_example_is_what_pyhm_says(tmp_path: Path) -> None:
    import subprocess
    import sys

    shown = next(line for line in README.splitlines() if "invalid configuration" in line)
    cfg = tmp_path / "pyhm.cfg"
    cfg.write_text("#\n" * 10 + "acquisition:\n  stall_secnds: 5\n")
    result = subprocess.run([sys.executable, "-m", "pyhm", "check-config", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == shown.replace("/etc/pyhm/pyhm.cfg", str(cfg))
