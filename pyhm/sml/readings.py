"""From messages to readings: the OBIS values of SML_GetList.Res, scaled exactly.

A ``Reading`` is what flows on from the decoder: small, immutable, and exact. Numeric values
are ``Decimal(raw) * 10**scaler`` computed without rounding, so a register that says
5383333.6 Wh is stored and shown as exactly that.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, List, NamedTuple, Optional, Tuple

from pyhm.obis import obis_name, obis_str, unit_symbol
from pyhm.sml.errors import SmlError
from pyhm.sml.messages import GET_LIST_RES, MESSAGE_CRC, OPEN_RES, Message, SmlTime, parse_messages
from pyhm.sml.template import Template, TemplateCache
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


class Telegram:
    """A decoded frame: its readings, or why there are none. The typed messages are decoded
    only when asked for: the readings (the fast path) do not need them. ``message_tags`` and
    ``message_crc_ok`` (per message; None where a message carries no CRC) are always there."""

    __slots__ = ("frame", "payload", "crc", "server_id", "readings", "error", "_messages",
                 "message_tags", "message_crc_ok")

    def __init__(
        self,
        frame: Optional[Frame],
        payload: bytes,
        crc: str,
        server_id: Optional[bytes],
        readings: List[Reading],
        error: Optional[str],
        messages: Optional[List[Message]] = None,
        summary: Tuple[Tuple[int, ...], Tuple[Optional[bool], ...]] = ((), ()),
    ) -> None:
        self.frame = frame
        self.payload = payload
        self.crc = crc
        self.server_id = server_id
        self.readings = readings
        self.error = error
        self._messages = messages
        if messages:
            summary = (tuple(m.tag for m in messages), tuple(m.crc_ok for m in messages))
        self.message_tags, self.message_crc_ok = summary

    @property
    def bad_message_crcs(self) -> int:
        """How many messages carry a CRC that does not match them (decoded all the same:
        several meters get them wrong inside intact frames)."""
        return self.message_crc_ok.count(False)

    @property
    def messages(self) -> List[Message]:
        if self._messages is None:
            try:
                self._messages = parse_messages(self.payload, self.crc) if self.error is None else []
            except SmlError:
                self._messages = []
        return self._messages

    @property
    def crc_ok(self) -> bool:
        return self.frame is None or self.frame.crc_ok

    @property
    def ok(self) -> bool:
        return self.error is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Telegram):
            return NotImplemented
        return (self.frame, self.payload, self.server_id, self.readings, self.error) == (
            other.frame, other.payload, other.server_id, other.readings, other.error)

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"error={self.error!r}"
        server = self.server_id.hex() if self.server_id else None
        return f"Telegram(server_id={server}, readings={len(self.readings)}, {state})"


_POWER = "1-0:16.7.0*255"
_new_tuple = tuple.__new__


def dzg_unsigned_power(server_id: bytes) -> bool:
    """DZG DVS74 firmware in these serial ranges sends 16.7.0 as a signed 8- or 16-bit value
    that is really unsigned (356.24 W arrives as -299.12 W); libsml corrects the same ranges."""
    if len(server_id) != 10 or server_id[2:5] != b"DZG":
        return False
    serial = int.from_bytes(server_id[6:10], "big")
    return 42_000_000 <= serial <= 48_999_999 or 55_000_000 <= serial <= 58_999_999


def _reading(server: bytes, fix_power: bool, name: bytes, status: Any, time: Optional[SmlTime],
             unit: Optional[int], scaler: Optional[int], raw: Any, width: Optional[int]) -> Reading:
    """One list entry as a Reading; the only place entries become readings (both paths).
    ``width``: the bytes an integer value was sent in."""
    obis = obis_str(name)
    value = scaled(raw, scaler)
    if fix_power and obis == _POWER and raw.__class__ is int and raw < 0 and width in (1, 2):
        # Only what was sent in 1 or 2 bytes is reinterpreted, at that width (as libsml does):
        # a wider negative is a real one.
        value = scaled(raw + (1 << (8 * width)), scaler)  # type: ignore[operator]
    return _new_tuple(Reading, (server, obis, value, unit, scaler, raw, status, time))  # no keyword handling


def readings_of(messages: List[Message]) -> List[Reading]:
    """The readings of every SML_GetList.Res among ``messages``."""
    out: List[Reading] = []
    for message in messages:
        if message.tag != GET_LIST_RES:
            continue
        server = message.body.server_id or b""
        fix = dzg_unsigned_power(server)
        out += [
            _reading(server, fix, e.obj_name, e.status, e.val_time, e.unit, e.scaler, e.value, e.value_width)
            for e in message.body.entries
            if e.value is not None  # an entry without a value carries nothing to keep
        ]
    return out


def server_id_of(messages: List[Message]) -> Optional[bytes]:
    """The meter's server id: from its GetList.Res, else from its first Open.Res."""
    fallback = None
    seen_open = False
    for message in messages:
        if message.tag == GET_LIST_RES and message.body.server_id:
            return message.body.server_id
        if message.tag == OPEN_RES and not seen_open:
            seen_open = True
            fallback = message.body.server_id
    return fallback


_TIME_KINDS = {1: "sec_index", 2: "timestamp"}


def _get(values: Tuple[Any, ...], index: Optional[int]) -> Any:
    return None if index is None else values[index]


def _time(spec: Any, values: Tuple[Any, ...]) -> Optional[SmlTime]:
    if spec is None:
        return None
    if spec[0] == "choice":
        return SmlTime(_TIME_KINDS[values[spec[1]]], values[spec[2]])
    if spec[0] == "bare":
        return SmlTime("bare", values[spec[1]])
    _, _, ts, offset, season = spec
    return SmlTime("local_timestamp", values[ts], _get(values, offset), _get(values, season))


def _by_template(template: Template, values: Tuple[Any, ...]) -> Tuple[Optional[bytes], List[Reading]]:
    """Readings and server id straight from the unpacked values of a known layout."""
    server_id = _get(values, template.open_server)
    out: List[Reading] = []
    found = False
    for server_index, rows in template.lists:
        server = _get(values, server_index)
        if server and not found:
            server_id, found = server, True
        server = server or b""
        fix = dzg_unsigned_power(server)
        out += [
            _reading(server, fix, values[n], _get(values, st), _time(t, values), _get(values, u),
                     _get(values, sc), values[v], w)
            for n, st, t, u, sc, v, w in rows
        ]
    return server_id, out


_templates = TemplateCache()


def decode_payload(payload: bytes, crc: str = "x25", frame: Optional[Frame] = None) -> Telegram:
    """Decode a frame payload or a bare message sequence; errors are reported, not raised."""
    hit = _templates.find(payload)
    if hit is not None:
        template, values = hit
        server_id, readings = _by_template(template, values)
        crcs = template.message_crcs(payload, values, MESSAGE_CRC[crc])
        return Telegram(frame, payload, crc, server_id, readings, None, None, (template.tags, crcs))
    try:
        messages = parse_messages(payload, crc)
    except SmlError as exc:
        return Telegram(frame, payload, crc, None, [], str(exc), [])
    _templates.sighted(payload)
    return Telegram(frame, payload, crc, server_id_of(messages), readings_of(messages), None, messages)


def decode_frame(frame: Frame) -> Telegram:
    """Decode one frame from the FrameReader. A damaged frame yields no readings, only its error."""
    if not frame.crc_ok:
        return Telegram(frame, frame.payload, "x25", None, [], frame.error, [])
    return decode_payload(frame.payload, frame.crc or "x25", frame)
