"""From messages to readings: the OBIS values of SML_GetList.Res, scaled exactly.

A ``Reading`` is what flows on from the decoder: small, immutable, and exact. Numeric values
are ``Decimal(raw) * 10**scaler`` computed without rounding, so a register that says
5383333.6 Wh is stored and shown as exactly that.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, List, NamedTuple, Optional

from pyhm.obis import obis_name, obis_str, unit_symbol
from pyhm.sml.errors import SmlError
from pyhm.sml.messages import GET_LIST_RES, OPEN_RES, Message, SmlTime, parse_messages
from pyhm.sml.transport import Frame


def scaled(raw: Any, scaler: Optional[int]) -> Any:
    """``raw * 10**scaler`` as an exact Decimal for integers; other values unchanged."""
    if raw.__class__ is not int:
        return raw
    if not scaler:
        return Decimal(raw)
    if scaler > 0:
        return Decimal(raw * 10**scaler)
    return Decimal(raw).scaleb(scaler)


class Reading(NamedTuple):
    """One OBIS value of one meter at one moment."""

    server_id: bytes
    obis: str
    value: Any  # Decimal, bytes, bool, or the raw structure of an exotic SML_Value
    unit: Optional[int]  # DLMS unit code
    scaler: Optional[int]
    raw: Any
    status: Optional[int]
    time: Optional[SmlTime]  # the meter's own clock: metadata, never the sample time

    @property
    def name(self) -> Optional[str]:
        return obis_name(self.obis)

    @property
    def unit_symbol(self) -> Optional[str]:
        return unit_symbol(self.unit)

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, Decimal)


class Telegram(NamedTuple):
    """A decoded frame: its messages and readings, or why there are none."""

    frame: Optional[Frame]
    messages: List[Message]
    server_id: Optional[bytes]
    readings: List[Reading]
    error: Optional[str]

    @property
    def crc_ok(self) -> bool:
        return self.frame is None or self.frame.crc_ok

    @property
    def ok(self) -> bool:
        return self.error is None


_POWER = "1-0:16.7.0*255"


def dzg_unsigned_power(server_id: bytes) -> bool:
    """DZG DVS74 firmware in these serial ranges sends 16.7.0 as a signed 16-bit value that is
    really unsigned (356.24 W arrives as -299.12 W); libsml corrects the same ranges."""
    if len(server_id) != 10 or server_id[2:5] != b"DZG":
        return False
    serial = int.from_bytes(server_id[6:10], "big")
    return 42_000_000 <= serial <= 48_999_999 or 55_000_000 <= serial <= 58_999_999


def readings_of(messages: List[Message]) -> List[Reading]:
    """The readings of every SML_GetList.Res among ``messages``."""
    out: List[Reading] = []
    for message in messages:
        if message.tag != GET_LIST_RES:
            continue
        body = message.body
        server = body.server_id or b""
        fix_power = dzg_unsigned_power(server)
        append = out.append
        for e in body.entries:
            if e.value is None:  # an entry without a value carries nothing to keep
                continue
            obis = obis_str(e.obj_name)
            value = scaled(e.value, e.scaler)
            if fix_power and obis == _POWER and e.value.__class__ is int and -0x8000 <= e.value < 0:
                value = scaled(e.value + 0x10000, e.scaler)
            append(Reading(server, obis, value, e.unit, e.scaler, e.value, e.status, e.val_time))
    return out


def server_id_of(messages: List[Message]) -> Optional[bytes]:
    """The meter's server id: from its GetList.Res, else from its Open.Res."""
    fallback = None
    for message in messages:
        if message.tag == GET_LIST_RES and message.body.server_id:
            return message.body.server_id
        if message.tag == OPEN_RES and fallback is None:
            fallback = message.body.server_id
    return fallback


def decode_payload(payload: bytes, crc: str = "x25", frame: Optional[Frame] = None) -> Telegram:
    """Decode a frame payload or a bare message sequence; errors are reported, not raised."""
    try:
        messages = parse_messages(payload, crc)
    except SmlError as exc:
        return Telegram(frame, [], None, [], str(exc))
    return Telegram(frame, messages, server_id_of(messages), readings_of(messages), None)


def decode_frame(frame: Frame) -> Telegram:
    """Decode one frame from the FrameReader. A damaged frame yields no readings, only its error."""
    if not frame.crc_ok:
        return Telegram(frame, [], None, [], frame.error)
    return decode_payload(frame.payload, frame.crc or "x25", frame)
