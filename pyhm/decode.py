"""``pyhm decode``: show what a capture holds, as a table or as JSON Lines (one frame a line)."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple

from pyhm import exactjson
from pyhm.sml import FrameReader, Reading, Telegram, decode_frame, decode_payload
from pyhm.sml.messages import SmlTime

CHUNK = 4096
FALLBACK_LIMIT = 1 << 20  # input this small without frames is tried as bare messages


def value_text(value: Any) -> Any:
    """Octet strings as text where printable, else as spaced hex; numbers unchanged."""
    if isinstance(value, bytes):
        if value and all(0x20 <= b < 0x7F for b in value):
            return value.decode("ascii")
        return value.hex(" ")
    if isinstance(value, list):
        return [value_text(v) for v in value]
    return value


def time_dict(t: Optional[SmlTime]) -> Optional[Dict[str, Any]]:
    if t is None:
        return None
    out: Dict[str, Any] = {"kind": t.kind, "value": t.value}
    if t.kind == "local_timestamp":
        out["local_offset_min"] = t.local_offset
        out["season_offset_min"] = t.season_offset
    return out


def reading_dict(r: Reading) -> Dict[str, Any]:
    return {
        "obis": r.obis,
        "name": r.name,
        "value": value_text(r.value),
        "unit": r.unit_symbol,
        "raw": r.raw.hex() if isinstance(r.raw, bytes) else value_text(r.raw),
        "scaler": r.scaler,
        "status": r.status,
        "time": time_dict(r.time),
    }


def telegram_dict(t: Telegram, index: int) -> Dict[str, Any]:
    """What one JSON line says about a frame (``telegram_json`` writes it fast)."""
    out: Dict[str, Any] = {
        "frame": index,
        "crc_ok": t.crc_ok,
        "crc": t.frame.crc if t.frame is not None else None,
        "server_id": t.server_id.hex() if t.server_id else None,
        "messages": [f"0x{tag:04x}" for tag in t.message_tags],
    }
    if t.bad_message_crcs:
        out["message_crc_ok"] = list(t.message_crc_ok)
    out["readings"] = [reading_dict(r) for r in t.readings]
    if t.error:
        out["error"] = t.error
    return out


_dumps = exactjson.dumps
_MAX_CACHED = 4096
_heads: Dict[str, str] = {}  # obis → '{"obis":…,"name":…,"value":'
_units: Dict[Optional[int], str] = {}  # unit code → ',"unit":…,"raw":'
_tails: Dict[Tuple[Any, Any], str] = {}  # (scaler, status) → ',"scaler":…,"status":…,"time":null}'
_tags: Dict[Tuple[int, ...], str] = {}


def _cache(cache: Dict[Any, str], key: Any, text: str) -> str:
    if len(cache) >= _MAX_CACHED:
        cache.clear()
    cache[key] = text
    return text


def _reading_json(r: Reading) -> str:
    obis = r.obis
    head = _heads.get(obis) or _cache(_heads, obis, f'{{"obis":{_dumps(obis)},"name":{_dumps(r.name)},"value":')
    unit = _units.get(r.unit) or _cache(_units, r.unit, f',"unit":{_dumps(r.unit_symbol)},"raw":')
    scaler, status, time = r.scaler, r.status, r.time
    if time is None and (status is None or status.__class__ is int):
        tail = _tails.get((scaler, status)) or _cache(
            _tails, (scaler, status), f',"scaler":{_dumps(scaler)},"status":{_dumps(status)},"time":null}}')
    else:
        tail = f',"scaler":{_dumps(scaler)},"status":{_dumps(status)},"time":{_dumps(time_dict(time))}}}'
    value = r.value
    raw = r.raw
    return (f'{head}{format(value, "f") if value.__class__ is Decimal else _dumps(value_text(value))}{unit}'
            f'{raw if raw.__class__ is int else _dumps(raw.hex() if raw.__class__ is bytes else value_text(raw))}'
            f'{tail}')


def telegram_json(t: Telegram, index: int) -> str:
    """``telegram_dict`` as one line of JSON, byte for byte, without building the dicts: the
    output is most of the work of ``pyhm decode --json``."""
    if t.bad_message_crcs or t.error or t.frame is None:
        return _dumps(telegram_dict(t, index))
    tags = _tags.get(t.message_tags)
    if tags is None:
        tags = _tags[t.message_tags] = _dumps([f"0x{tag:04x}" for tag in t.message_tags])
    server = f'"{t.server_id.hex()}"' if t.server_id else "null"
    readings = ",".join([_reading_json(r) for r in t.readings])
    return (f'{{"frame":{index},"crc_ok":true,"crc":"{t.frame.crc}","server_id":{server},'
            f'"messages":{tags},"readings":[{readings}]}}')


def telegram_batches(stream: IO[bytes]) -> Iterator[List[Telegram]]:
    """Decode a byte stream as it is read: the telegrams of each chunk read, then those of the
    end of input; bare messages if it holds no frame at all."""
    reader = FrameReader()
    head = bytearray()
    found = False
    while True:
        chunk = stream.read1(CHUNK) if hasattr(stream, "read1") else stream.read(CHUNK)
        if not chunk:
            break
        if len(head) < FALLBACK_LIMIT:
            head += chunk
        frames = reader.feed(chunk)
        if frames:
            found = True
            yield [decode_frame(frame) for frame in frames]
    frames = reader.flush()
    if frames:
        found = True
        yield [decode_frame(frame) for frame in frames]
    if not found and head and len(head) < FALLBACK_LIMIT:
        t = decode_payload(bytes(head))
        if t.ok:
            yield [t]


def format_table(t: Telegram, index: int) -> str:
    state = "CRC ok" + (f" ({t.frame.crc})" if t.frame is not None else "") if t.crc_ok else "damaged"
    head = f"frame {index}: {state}"
    if t.server_id:
        head += f", server id {t.server_id.hex()}"
    if t.error:
        head += f": {t.error}"
    lines = [head]
    for r in t.readings:
        value = value_text(r.value)
        unit = r.unit_symbol or ""
        lines.append(f"  {r.obis:<24} {r.name or '':<30} {value} {unit}".rstrip())
    return "\n".join(lines)


def run(path: str, as_hex: bool, as_json: bool, out: IO[str] = sys.stdout) -> int:
    """Decode the capture at ``path`` (``-`` for stdin) and print every frame found."""
    import io

    try:
        if path == "-":
            stream: IO[bytes] = sys.stdin.buffer
        else:
            stream = open(path, "rb")
    except OSError as exc:
        print(f"pyhm decode: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    with stream:
        if as_hex:
            text = stream.read().decode("ascii", "replace")
            try:
                stream = io.BytesIO(bytes.fromhex("".join(text.split())))
            except ValueError as exc:
                print(f"pyhm decode: {path} is not hex: {exc}", file=sys.stderr)
                return 2
        counts: List[int] = [0, 0]
        i = 0
        for batch in telegram_batches(stream):
            lines = []
            for t in batch:
                i += 1
                counts[t.crc_ok and t.ok] += 1
                lines.append(telegram_json(t, i) if as_json else format_table(t, i))
            out.write("\n".join(lines) + "\n")
            out.flush()  # once per chunk read: prompt on a live stream, cheap on a file
    if not as_json:
        print(f"{counts[1]} frames decoded, {counts[0]} damaged", file=out)
    return 0
