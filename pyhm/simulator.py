"""Simulated meters: realistic SML telegrams without hardware, for the demo and the tests.

A meter's power is a random walk with load events (a kettle, an oven, a PV surplus that
exports); its energy registers integrate that power exactly in integer arithmetic, so the
counters a test reads back must agree to the last 0.1 Wh with the power it was shown.
"""

from __future__ import annotations

import random
from typing import List, Optional

from pyhm.sml.encode import Entry, encode_telegram

OBIS_IMPORT = bytes((1, 0, 1, 8, 0, 255))
OBIS_EXPORT = bytes((1, 0, 2, 8, 0, 255))
OBIS_POWER = bytes((1, 0, 16, 7, 0, 255))
OBIS_PHASE_POWER = [bytes((1, 0, c, 7, 0, 255)) for c in (36, 56, 76)]
OBIS_VOLTAGE = [bytes((1, 0, c, 7, 0, 255)) for c in (32, 52, 72)]
OBIS_MANUFACTURER = bytes((129, 129, 199, 130, 3, 255))
OBIS_DEVICE_ID = bytes((1, 0, 0, 0, 9, 255))

UNIT_W, UNIT_WH, UNIT_V = 27, 30, 35
_CWS_PER_DWH = 36_000  # centiwatt-seconds in 0.1 Wh


def server_id_for(serial: int, manufacturer: str = "PYH") -> bytes:
    """A server id laid out as real meters send it: 0a 01, manufacturer, 00, 4-byte serial."""
    return b"\x0a\x01" + manufacturer.encode("ascii")[:3] + b"\x00" + serial.to_bytes(4, "big")


class SimulatedMeter:
    """One three-phase meter. ``telegram(dt)`` advances it by ``dt`` seconds and encodes it."""

    def __init__(self, serial: int, seed: Optional[int] = None, import_wh: int = 1_234_567) -> None:
        self.server_id = server_id_for(serial)
        self.rng = random.Random(seed if seed is not None else serial)
        self.base_cw = 30_000  # 300 W base load, in centiwatts
        self.event_cw = 0
        self.event_left = 0
        self.import_cws = import_wh * 10 * _CWS_PER_DWH
        self.export_cws = 0
        self.seq = 0
        self.sec_index = self.rng.randrange(10_000_000)
        self.power_cw = self.base_cw

    def step(self, dt: int = 1) -> None:
        """Advance ``dt`` whole seconds: the counters integrate the power held over them."""
        rng = self.rng
        if self.power_cw >= 0:
            self.import_cws += self.power_cw * dt
        else:
            self.export_cws -= self.power_cw * dt
        self.base_cw = max(5_000, min(150_000, self.base_cw + rng.randint(-1_500, 1_500)))
        if self.event_left > 0:
            self.event_left -= dt
            if self.event_left <= 0:
                self.event_cw = 0
        elif rng.random() < 0.01 * dt:
            self.event_cw = rng.choice([200_000, 120_000, 80_000, -250_000])  # kettle, oven, washer, PV
            self.event_left = rng.randint(30, 600)
        self.power_cw = self.base_cw + self.event_cw
        self.seq += 1
        self.sec_index += dt

    def entries(self) -> List[Entry]:
        p = self.power_cw
        phases = [p // 3, p // 3, p - 2 * (p // 3)]
        volts = [2300 + self.rng.randint(-30, 30) for _ in range(3)]
        return (
            [
                Entry(OBIS_MANUFACTURER, b"PYH"),
                Entry(OBIS_DEVICE_ID, self.server_id),
                Entry(OBIS_IMPORT, self.import_cws // _CWS_PER_DWH, UNIT_WH, -1, status=0x1C0104),
                Entry(OBIS_EXPORT, self.export_cws // _CWS_PER_DWH, UNIT_WH, -1),
                Entry(OBIS_POWER, p, UNIT_W, -2),
            ]
            + [Entry(o, v, UNIT_W, -2) for o, v in zip(OBIS_PHASE_POWER, phases)]
            + [Entry(o, v, UNIT_V, -1) for o, v in zip(OBIS_VOLTAGE, volts)]
        )

    def telegram(self, dt: int = 1) -> bytes:
        """The next telegram, ``dt`` seconds after the previous one."""
        self.step(dt)
        return encode_telegram(self.server_id, self.entries(), self.seq, self.sec_index)
