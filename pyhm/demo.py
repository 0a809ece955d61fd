"""``pyhm demo``: pyhm's main job on an embedded default, no hardware needed.

Two simulated meters send a telegram a second; the bytes go through the same frame reader
and decoder as an IR head's, cut into uneven chunks the way a serial port delivers them.
"""

from __future__ import annotations

import random
import sys
import time
from typing import IO, Optional

from pyhm.decode import format_table
from pyhm.simulator import SimulatedMeter
from pyhm.sml import FrameReader, decode_frame


def run(count: Optional[int], interval: float, out: IO[str] = sys.stdout) -> int:
    meters = [SimulatedMeter(serial) for serial in (1001, 1002)]
    readers = [FrameReader() for _ in meters]
    rng = random.Random(0)
    n = 0
    print("pyhm demo: two simulated meters, one telegram a second each (Ctrl-C stops)", file=out)
    while count is None or n < count:
        n += 1
        for meter, reader in zip(meters, readers):
            data = meter.telegram()
            cuts = sorted(rng.sample(range(1, len(data)), 3))
            for a, b in zip([0] + cuts, cuts + [len(data)]):
                for frame in reader.feed(data[a:b]):
                    print(format_table(decode_frame(frame), n), file=out)
        out.flush()
        if count is None or n < count:
            time.sleep(interval)
    return 0
