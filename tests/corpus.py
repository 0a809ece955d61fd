"""The shared SML capture corpus (../shared/sml-corpus), as test data."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

from pyhm.decode import value_text
from pyhm.sml import Reading, Telegram, decode_frame, read_frames

ROOT = Path(os.environ.get("PYHM_SML_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "sml-corpus"))


def entries() -> List[Dict[str, Any]]:
    index = ROOT / "index.json"
    if not index.is_file():
        raise FileNotFoundError(f"SML corpus not found at {ROOT} (set PYHM_SML_CORPUS)")
    return json.loads(index.read_text())


def data(entry: Dict[str, Any]) -> bytes:
    return bytes.fromhex((ROOT / entry["file"]).read_text().strip())


def telegrams(entry: Dict[str, Any]) -> List[Telegram]:
    return [decode_frame(f) for f in read_frames(data(entry))]


def libsml_value(r: Reading) -> str:
    """A reading as libsml's sml_server example prints it (obis#value#unit)."""
    if isinstance(r.value, bytes):
        # libsml prints the printable prefix as characters and the rest as spaced hex.
        n = 0
        while n < len(r.value) and 0x20 <= r.value[n] < 0x7F:
            n += 1
        rest = r.value[n:]
        shown = r.value[:n].decode("ascii") + (rest.hex(" ") + " " if rest else "")
        return f"{r.obis}#{shown}#"
    return f"{r.obis}#{r.value}#{r.unit_symbol or ''}"


def expected_matches(reading: Reading, expected: Dict[str, Any], tolerance: float = 0) -> bool:
    """Does ``reading`` show the value (and unit) a source states?

    Strings are compared as pyhm shows them or as libsml's sml_server prints them (the
    source of most stated values). A value stated in kWh is compared with the Wh the meter
    sends, to the decimals the source shows.
    """
    if "value" not in expected:
        return reading.raw == expected["raw"] and reading.unit_symbol == expected["unit"]
    want = expected["value"]
    if isinstance(want, str):
        got = value_text(reading.value)
        libsml = libsml_value(reading).split("#")[1].rstrip()
        return want.replace(" ", "") in (str(got).replace(" ", ""), libsml.replace(" ", ""))
    value = Decimal(str(want))
    unit = expected.get("unit")
    ours = reading.unit_symbol
    if unit == "kWh" and ours == "Wh":
        shown = reading.value / 1000
        return abs(shown - value) <= max(Decimal(str(tolerance)), Decimal(1).scaleb(value.as_tuple().exponent) / 2)
    if unit is not None and unit != ours:
        return False
    if tolerance:
        return abs(reading.value - value) <= Decimal(str(tolerance))
    return reading.value == value
