"""``pyhm decode``: show what a capture holds, as a table or as JSON Lines (one frame a line)."""

from __future__ import annotations

import sys
from typing import IO, Any, Dict, Iterator, List, Optional

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
    out: Dict[str, Any] = {
        "frame": index,
        "crc_ok": t.crc_ok,
        "crc": t.frame.crc if t.frame is not None else None,
        "server_id": t.server_id.hex() if t.server_id else None,
        "messages": [f"0x{m.tag:04x}" for m in t.messages],
        "readings": [reading_dict(r) for r in t.readings],
    }
    if t.error:
        out["error"] = t.error
    return out


def telegrams(stream: IO[bytes]) -> Iterator[Telegram]:
    """Decode a byte stream frame by frame as it is read; bare messages if it holds no frame."""
    reader = FrameReader()
    head = bytearray()
    found = False
    while True:
        chunk = stream.read1(CHUNK) if hasattr(stream, "read1") else stream.read(CHUNK)
        if not chunk:
            break
        if len(head) < FALLBACK_LIMIT:
            head += chunk
        for frame in reader.feed(chunk):
            found = True
            yield decode_frame(frame)
    for frame in reader.flush():
        found = True
        yield decode_frame(frame)
    if not found and head and len(head) < FALLBACK_LIMIT:
        t = decode_payload(bytes(head))
        if t.ok:
            yield t


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
        for i, t in enumerate(telegrams(stream), 1):
            counts[t.crc_ok and t.ok] += 1
            print(exactjson.dumps(telegram_dict(t, i)) if as_json else format_table(t, i), file=out)
            out.flush()
    if not as_json:
        print(f"{counts[1]} frames decoded, {counts[0]} damaged", file=out)
    return 0
