"""Decoder throughput: frames/s through a full decode to readings, pyhm against smllib.

Run: .venv/bin/python bench/decode.py [--repeat N] [--telegrams N]

Both decoders get the same bytes: (1) every intact frame of the shared corpus that smllib
also decodes, as one stream; (2) a long synthetic stream of simulated three-phase telegrams
with garbage between them. "Full decode" means bytes → frames → messages → readings with
their scaled values, for both.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import corpus  # noqa: E402
from pyhm.simulator import SimulatedMeter  # noqa: E402
from pyhm.sml import FrameReader, decode_frame, read_frames  # noqa: E402
from pyhm.sml import readings as _readings  # noqa: E402
from pyhm.sml.template import TemplateCache  # noqa: E402

CHUNK = 4096


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
    cache.learn = lambda payload: None  # type: ignore[method-assign]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--telegrams", type=int, default=20_000)
    args = parser.parse_args()

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
    print(f"\nPython {sys.version.split()[0]}, best of {args.repeat} runs each")


if __name__ == "__main__":
    main()
