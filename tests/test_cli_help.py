"""Every command and every option of ``pyhm`` explains itself in ``--help``."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pyhm.cli import build_parser


def subcommands() -> dict:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"(pyhm itself)": parser, **action.choices}


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_has_help(name: str) -> None:
    parser = subcommands()[name]
    for action in parser._actions:
        assert action.help, f"pyhm {name} {'/'.join(action.option_strings) or action.dest} has no help text"


@pytest.mark.parametrize("name, says", [
    ("acquire", "store every reading in the database"),
    ("web", "Serve the dashboard"),
])
def test_services_describe_themselves(name: str, says: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pyhm", name, "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and says in " ".join(result.stdout.split()) and "systemd" in result.stdout


def test_simulate_meters_option_is_explained() -> None:
    result = subprocess.run([sys.executable, "-m", "pyhm", "simulate", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert "how many meters to simulate" in " ".join(result.stdout.split())
