"""Decoder throughput: frames/s through a full decode to readings, pyhm against smllib.

Run: .venv/bin/python bench/decode.py [--repeat N] [--telegrams N] [--job-telegrams N]

Both decoders get the same bytes: (1) every intact frame of the shared corpus that smllib
also decodes, as one stream; (2) a long synthetic stream of simulated three-phase telegrams
with garbage between them. "Full decode" means bytes → frames → messages → readings with
their scaled values, for both.

Then the same job as whole commands, each a fresh process: ``pyhm decode --json`` against a
short smllib program that decodes the same capture and writes the same JSON Lines (its
numbers come as floats, which print as the same decimals here; the benchmark checks that both
outputs say the same). Captures: 8 meters with steady layouts (fixed integer widths), and 8
meters whose integers take the smallest width, so their layout changes nearly every telegram.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from collections import Counter
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import corpus  # noqa: E402
from pyhm.obis import obis_name, unit_symbol  # noqa: E402
from pyhm.simulator import OBIS_PHASE_POWER, OBIS_POWER, UNIT_WH, SimulatedMeter  # noqa: E402
from pyhm.sml.encode import Int, encode_telegram  # noqa: E402
from pyhm.sml import FrameReader, decode_frame, read_frames  # noqa: E402
from pyhm.sml import readings as _readings  # noqa: E402
from pyhm.sml.template import TemplateCache  # noqa: E402

CHUNK = 4096
SWINGING = {OBIS_POWER, *OBIS_PHASE_POWER}


def pyhm_decode(stream: bytes) -> int:
    reader = FrameReader()
    frames = 0
    for i in range(0, len(stream), CHUNK):
        for frame in reader.feed(stream[i : i + CHUNK]):
            t = decode_frame(frame)
            if t.readings:
                frames += 1
                for r in t.readings:
                    r.value
    return frames


def pyhm_decode_no_cache(stream: bytes) -> int:
    """pyhm with the template cache switched off: the generic decoder alone."""
    cache = _readings._templates
    cache.sighted = lambda payload: None  # type: ignore[method-assign]
    return pyhm_decode(stream)


def smllib_decode(stream: bytes) -> int:
    from smllib import SmlStreamReader
    from smllib.errors import SmlLibException

    reader = SmlStreamReader()
    frames = 0
    for i in range(0, len(stream), CHUNK):
        reader.add(stream[i : i + CHUNK])
        while True:
            try:
                frame = reader.get_frame()
            except SmlLibException:
                continue
            if frame is None:
                break
            try:
                entries = frame.get_obis()
            except (SmlLibException, ValueError):
                continue
            if entries:
                frames += 1
                for e in entries:
                    e.get_value()
    return frames


def best_of(fn: Callable[[bytes], int], stream: bytes, repeat: int) -> Tuple[int, float]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        _readings._templates = TemplateCache()
        t0 = time.perf_counter()
        n = fn(stream)
        best = min(best, time.perf_counter() - t0)
    return n, best


def corpus_stream() -> Tuple[bytes, Counter]:
    """Intact x25 frames of the corpus that smllib decodes too, and pyhm's count per meter."""
    frames: List[bytes] = []
    per_meter: Counter = Counter()
    for entry in corpus.entries():
        for frame in read_frames(corpus.data(entry)):
            t = decode_frame(frame)
            if frame.crc == "x25" and t.readings:
                per_meter[entry["meter"]] += 1
                if smllib_decode(frame.raw) == 1:
                    frames.append(frame.raw)
    return b"".join(frames), per_meter


def synthetic_stream(n: int) -> bytes:
    meters = [SimulatedMeter(s) for s in range(4)]
    return b"".join(meters[i % 4].telegram() + b"\x00\x17garbage" for i in range(n))


def job_stream(n: int, steady: bool) -> bytes:
    """``n`` telegrams of 8 meters, in turn. Steady: every integer in a fixed width. Varying:
    each in the smallest width that holds it, and power swings across byte boundaries."""
    meters = [SimulatedMeter(s) for s in range(8)]
    rng = random.Random(8)
    out = []
    for i in range(n):
        meter = meters[i % 8]
        meter.step()
        entries = meter.entries()
        if steady:
            entries = [e._replace(value=Int(e.value, 8 if e.unit == UNIT_WH else 4)) if isinstance(e.value, int) else e
                       for e in entries]
        else:
            entries = [e._replace(value=rng.choice((-1, 1)) * rng.randrange(1 << rng.randrange(4, 24)))
                       if e.obis in SWINGING else e for e in entries]
        out.append(encode_telegram(meter.server_id, entries, meter.seq, meter.sec_index))
    return b"".join(out)


_TAGS = {"SmlOpenResponse": "0x0101", "SmlCloseResponse": "0x0201", "SmlGetListResponse": "0x0701"}


def _smllib_octets(value: str) -> bytes:
    """smllib gives an octet string as hex, or as text where that text is alphanumeric."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value.encode()
    return value.encode() if raw.decode(errors="ignore").isalnum() else raw


def _smllib_text(raw: bytes) -> str:
    if raw and all(0x20 <= b < 0x7F for b in raw):
        return raw.decode("ascii")
    return raw.hex(" ")


def _smllib_time(t: Any) -> Optional[Dict[str, Any]]:
    return None if t is None else {"kind": "sec_index", "value": t}


def smllib_json(path: str, out: IO[str]) -> None:
    """The same job with smllib: every frame of a capture as one JSON line, as pyhm writes it."""
    from smllib import SmlStreamReader
    from smllib.errors import CrcError

    reader = SmlStreamReader()
    index = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    write = out.write
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            reader.add(chunk)
            while True:
                try:
                    frame = reader.get_frame()
                except CrcError:
                    index += 1
                    write(dumps({"frame": index, "crc_ok": False, "crc": None, "server_id": None,
                                 "messages": [], "readings": [], "error": "CRC mismatch"}) + "\n")
                    continue
                if frame is None:
                    break
                index += 1
                server_id = None
                tags = []
                readings = []
                for message in frame.parse_frame():
                    body = message.message_body
                    tags.append(_TAGS[type(body).__name__])
                    if tags[-1] != "0x0701":
                        continue
                    server_id = server_id or body.server_id
                    for e in body.val_list:
                        if e.value is None:
                            continue
                        octets = _smllib_octets(e.value) if isinstance(e.value, str) else None
                        obis = e.obis.obis_code
                        readings.append({
                            "obis": obis, "name": obis_name(obis),
                            "value": e.get_value() if octets is None else _smllib_text(octets),
                            "unit": unit_symbol(e.unit), "scaler": e.scaler,
                            "raw": e.value if octets is None else octets.hex(),
                            "status": e.status, "time": _smllib_time(e.val_time),
                        })
                write(dumps({"frame": index, "crc_ok": True, "crc": "x25", "server_id": server_id,
                             "messages": tags, "readings": readings}) + "\n")


def _run(argv: List[str], stdout: IO[bytes]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=stdout, check=True)
    return time.perf_counter() - t0


def _same_content(ours: Path, theirs: Path) -> int:
    """How many lines differ once numbers are read as exact decimals (0 when the job is the same)."""
    a = ours.read_text().splitlines()
    b = theirs.read_text().splitlines()
    if len(a) != len(b):
        return max(len(a), len(b))
    return sum(json.loads(x, parse_float=Decimal) != json.loads(y, parse_float=Decimal) for x, y in zip(a, b))


def whole_command(n: int, repeat: int) -> None:
    print(f"\nThe same job as whole commands: {n} telegrams of 8 meters to JSON Lines, best of {repeat}")
    print(f"{'capture':<26}{'frames':>8}{'pyhm s':>10}{'smllib s':>10}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, steady in (("8 meters, steady layouts", True), ("8 meters, varying layouts", False)):
            capture = d / "capture.bin"
            capture.write_bytes(job_stream(n, steady))
            ours, theirs = d / "ours.jsonl", d / "theirs.jsonl"
            t_ours = t_theirs = float("inf")
            for _ in range(repeat):
                with open(ours, "wb") as f:
                    t_ours = min(t_ours, _run([sys.executable, "-m", "pyhm", "decode", "--json", str(capture)], f))
                with open(theirs, "wb") as f:
                    t_theirs = min(t_theirs, _run([sys.executable, __file__, "--smllib-json", str(capture)], f))
            differ = _same_content(ours, theirs)
            print(f"{name:<26}{n:>8}{t_ours:>10.2f}{t_theirs:>10.2f}{t_theirs / t_ours:>7.1f}x")
            if differ:
                print(f"  note: {differ} lines differ between the two outputs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--telegrams", type=int, default=20_000)
    parser.add_argument("--job-telegrams", type=int, default=20_000)
    parser.add_argument("--only-job", action="store_true", help="only the whole-command comparison")
    parser.add_argument("--smllib-json", metavar="CAPTURE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smllib_json:
        smllib_json(args.smllib_json, sys.stdout)
        return
    if args.only_job:
        whole_command(args.job_telegrams, args.repeat)
        return

    stream, per_meter = corpus_stream()
    print("Corpus frames decoded to readings by pyhm, per meter:")
    for meter, n in sorted(per_meter.items()):
        print(f"  {meter:<45} {n:5d}")
    print(f"  {'total':<45} {sum(per_meter.values()):5d}\n")

    print("Each run starts with no telegram layout known: every meter's first frame takes the")
    print("slow path and teaches the template cache, as in a freshly started pyhm.\n")
    print(f"{'stream':<26}{'frames':>8}{'pyhm f/s':>12}{'smllib f/s':>12}{'ratio':>8}")
    for name, data in (("corpus (smllib-readable)", stream), ("synthetic 3-phase", synthetic_stream(args.telegrams))):
        n_ours, t_ours = best_of(pyhm_decode, data, args.repeat)
        n_theirs, t_theirs = best_of(smllib_decode, data, args.repeat)
        if n_ours != n_theirs:
            print(f"  note: pyhm decoded {n_ours} frames, smllib {n_theirs}")
        ours, theirs = n_ours / t_ours, n_theirs / t_theirs
        print(f"{name:<26}{n_ours:>8}{ours:>12.0f}{theirs:>12.0f}{ours / theirs:>7.1f}x")
    n_slow, t_slow = best_of(pyhm_decode_no_cache, stream, args.repeat)
    print(f"{'corpus, slow path only':<26}{n_slow:>8}{n_slow / t_slow:>12.0f}")
    whole_command(args.job_telegrams, args.repeat)
    print(f"\nPython {sys.version.split()[0]}, best of {args.repeat} runs each")


if __name__ == "__main__":
    main()
