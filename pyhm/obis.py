"""OBIS codes (IEC 62056-61) and the DLMS/COSEM unit table (IEC 62056-62).

An OBIS code arrives as six bytes ``A B C D E F`` and is written ``A-B:C.D.E*F``. The text
form is what pyhm stores and shows; formatting is cached because every telegram repeats the
same dozen codes.
"""

from __future__ import annotations

import re
from typing import Dict, Optional

UNITS: Dict[int, str] = {
    1: "a", 2: "mo", 3: "wk", 4: "d", 5: "h", 6: "min", 7: "s", 8: "°", 9: "°C",
    10: "currency", 11: "m", 12: "m/s", 13: "m³", 14: "m³", 15: "m³/h", 16: "m³/h",
    17: "m³/d", 18: "m³/d", 19: "l", 20: "kg", 21: "N", 22: "Nm", 23: "Pa", 24: "bar",
    25: "J", 26: "J/h", 27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh", 32: "varh",
    33: "A", 34: "C", 35: "V", 36: "V/m", 37: "F", 38: "Ω", 39: "Ωm²/m", 40: "Wb", 41: "T",
    42: "A/m", 43: "H", 44: "Hz", 45: "1/(Wh)", 46: "1/(varh)", 47: "1/(VAh)", 48: "V²h",
    49: "A²h", 50: "kg/s", 51: "S", 52: "K", 53: "1/(V²h)", 54: "1/(A²h)", 55: "1/m³",
    56: "%", 57: "Ah", 60: "Wh/m³", 61: "J/m³", 62: "mol%", 63: "g/m³", 64: "Pa·s",
    65: "J/kg", 70: "dBm", 71: "dBµV", 72: "dB",
}
"""DLMS unit code → symbol. 13/14 (and 15/16, 17/18) differ only as uncorrected/corrected
volume. 253 (reserved), 254 (other unit) and 255 (count, no unit) have no symbol."""

# Names by value group C.D.E (electricity, A=1); looked up after an exact match fails.
_ELECTRICITY: Dict[str, str] = {
    "1.8.0": "Energy import total",
    "2.8.0": "Energy export total",
    "3.8.0": "Reactive energy import total",
    "4.8.0": "Reactive energy export total",
    "1.7.0": "Power import",
    "2.7.0": "Power export",
    "15.7.0": "Power (absolute)",
    "16.7.0": "Power",
    "21.7.0": "Power L1",
    "41.7.0": "Power L2",
    "61.7.0": "Power L3",
    "36.7.0": "Power L1",
    "56.7.0": "Power L2",
    "76.7.0": "Power L3",
    "31.7.0": "Current L1",
    "51.7.0": "Current L2",
    "71.7.0": "Current L3",
    "91.7.0": "Current neutral",
    "32.7.0": "Voltage L1",
    "52.7.0": "Voltage L2",
    "72.7.0": "Voltage L3",
    "14.7.0": "Frequency",
    "13.7.0": "Power factor",
    "81.7.1": "Phase angle U-L2 to U-L1",
    "81.7.2": "Phase angle U-L3 to U-L1",
    "81.7.4": "Phase angle I-L1 to U-L1",
    "81.7.15": "Phase angle I-L2 to U-L2",
    "81.7.26": "Phase angle I-L3 to U-L3",
    "0.0.0": "Device id",
    "0.0.9": "Device id",
    "0.2.0": "Firmware version",
    "96.1.0": "Device id",
    "96.5.0": "Status word",
    "96.50.1": "Manufacturer",
    "96.90.2": "Firmware checksum",
}
_EXACT: Dict[str, str] = {
    "129-129:199.130.3*255": "Manufacturer",
    "129-129:199.130.5*255": "Public key",
    "0-0:96.1.0*255": "Device id",
    "0-0:96.1.255*255": "Device id",
}
_TARIFF = re.compile(r"^([1-4])\.8\.([1-9])$")
_ENERGY_KIND = {"1": "Energy import", "2": "Energy export", "3": "Reactive energy import", "4": "Reactive energy export"}
_OBIS_TEXT = re.compile(r"^(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\*(\d{1,3}))?$")

_cache: Dict[bytes, str] = {}


def obis_str(code: bytes) -> str:
    """``b'\\x01\\x00\\x01\\x08\\x00\\xff'`` → ``'1-0:1.8.0*255'``; other lengths as hex."""
    text = _cache.get(code)
    if text is None:
        if len(code) == 6:
            a, b, c, d, e, f = code
            text = f"{a}-{b}:{c}.{d}.{e}*{f}"
        else:
            text = code.hex()
        if len(_cache) < 4096:
            _cache[code] = text
    return text


def parse_obis(text: str) -> str:
    """Normalise a user-written OBIS code (``1-0:1.8.0`` → ``1-0:1.8.0*255``); ValueError if invalid."""
    m = _OBIS_TEXT.match(text.strip())
    if not m or any(int(g) > 255 for g in m.groups() if g is not None):
        raise ValueError(f'not an OBIS code: "{text}" (expected A-B:C.D.E or A-B:C.D.E*F)')
    a, b, c, d, e, f = m.groups()
    return f"{int(a)}-{int(b)}:{int(c)}.{int(d)}.{int(e)}*{int(f) if f is not None else 255}"


def obis_name(obis: str) -> Optional[str]:
    """A human name for the common codes, None for codes without one."""
    name = _EXACT.get(obis)
    if name is not None:
        return name
    m = _OBIS_TEXT.match(obis)
    if not m or m.group(1) != "1":
        return None
    cde = f"{m.group(3)}.{m.group(4)}.{m.group(5)}"
    name = _ELECTRICITY.get(cde)
    if name is None:
        t = _TARIFF.match(cde)
        if t:
            name = f"{_ENERGY_KIND[t.group(1)]} tariff {t.group(2)}"
    return name


def unit_symbol(code: Optional[int]) -> Optional[str]:
    """DLMS unit code → symbol; None for no unit, count, other or unknown codes."""
    if code is None:
        return None
    return UNITS.get(code)


def is_counter(obis: str) -> bool:
    """Energy registers (``C.8.E``) only ever grow; they are stored and summed differently."""
    m = _OBIS_TEXT.match(obis)
    return bool(m) and m.group(4) == "8"
