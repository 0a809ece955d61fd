"""Simulated meters: realistic SML telegrams without hardware, for the demo and the tests.

``SimulatedMeter``'s power is a random walk with load events (a kettle, an oven, a PV surplus
that exports); ``ModelMeter``'s is a model's function of time (``pyhm.household``: the demo's
house with PV, its heat pump), so its history can be filled in and its live telegrams go on
from there. Either meter's energy registers integrate its power exactly in integer
arithmetic, so the counters a test reads back must agree to the last 0.1 Wh with the power
it was shown.
"""

from __future__ import annotations

import random
import time
from typing import Callable, List, Optional

from pyhm.household import Model, Phases, noise
from pyhm.sml import Reading, decode_frame, read_frames
from pyhm.sml.encode import Entry, encode_telegram
from pyhm.sml.readings import scaled

OBIS_IMPORT = bytes((1, 0, 1, 8, 0, 255))
OBIS_EXPORT = bytes((1, 0, 2, 8, 0, 255))
OBIS_POWER = bytes((1, 0, 16, 7, 0, 255))
OBIS_PHASE_POWER = [bytes((1, 0, c, 7, 0, 255)) for c in (36, 56, 76)]
OBIS_VOLTAGE = [bytes((1, 0, c, 7, 0, 255)) for c in (32, 52, 72)]
OBIS_MANUFACTURER = bytes((129, 129, 199, 130, 3, 255))
OBIS_DEVICE_ID = bytes((1, 0, 0, 0, 9, 255))

UNIT_W, UNIT_WH, UNIT_V = 27, 30, 35
_CWS_PER_DWH = 36_000  # centiwatt-seconds in 0.1 Wh
_CWMS_PER_DWH = 36_000_000  # centiwatt-milliseconds in 0.1 Wh


def server_id_for(serial: int, manufacturer: str = "PYH") -> bytes:
    """A server id laid out as real meters send it: 0a 01, manufacturer, 00, 4-byte serial."""
    return b"\x0a\x01" + manufacturer.encode("ascii")[:3] + b"\x00" + serial.to_bytes(4, "big")


def values(import_dwh: int, export_dwh: int, phases: List[int], volts: List[int]) -> List[int]:
    """The numbers of a telegram, in the order of ``entries``: import and export (0.1 Wh),
    power and the phases' powers (0.01 W), the phases' voltages (0.1 V)."""
    return [import_dwh, export_dwh, sum(phases), *phases, *volts]


def entries(server_id: bytes, import_dwh: int, export_dwh: int, phases: List[int], volts: List[int]) -> List[Entry]:
    """A three-phase meter's telegram: maker, id, the counters, the power (the phases' sum), voltages."""
    nums = values(import_dwh, export_dwh, phases, volts)
    return (
        [
            Entry(OBIS_MANUFACTURER, b"PYH"),
            Entry(OBIS_DEVICE_ID, server_id),
            Entry(OBIS_IMPORT, nums[0], UNIT_WH, -1, status=0x1C0104),
            Entry(OBIS_EXPORT, nums[1], UNIT_WH, -1),
            Entry(OBIS_POWER, nums[2], UNIT_W, -2),
        ]
        + [Entry(o, v, UNIT_W, -2) for o, v in zip(OBIS_PHASE_POWER, nums[3:6])]
        + [Entry(o, v, UNIT_V, -1) for o, v in zip(OBIS_VOLTAGE, nums[6:9])]
    )


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
        return entries(self.server_id, self.import_cws // _CWS_PER_DWH, self.export_cws // _CWS_PER_DWH, phases, volts)

    def telegram(self, dt: int = 1) -> bytes:
        """The next telegram, ``dt`` seconds after the previous one."""
        self.step(dt)
        return encode_telegram(self.server_id, self.entries(), self.seq, self.sec_index)


class ModelMeter:
    """A three-phase meter whose power is ``model``'s at each instant (``pyhm.household``).

    ``advance(ts_ms)`` moves it on to any later instant: its counters integrate the power held
    since the previous step, to the centiwatt-millisecond, then it shows the model's power at
    ``ts_ms``. The demo fills in weeks of history with it (``readings()``, no SML needed) and
    then lets the same meter go on live (``telegram()``, on the host's clock), so the counters
    and the day's curve run on without a jump.
    """

    def __init__(self, serial: int, model: Model, at_ms: int, import_wh: int = 0, export_wh: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.server_id = server_id_for(serial)
        self.serial = serial
        self.model = model
        self.clock = clock
        self.import_cwms = import_wh * 10 * _CWMS_PER_DWH
        self.export_cwms = export_wh * 10 * _CWMS_PER_DWH
        self.ms = at_ms
        self.phases: Phases = model.phases(at_ms)
        self.power_cw = sum(self.phases)
        self.seq = 0
        self._template: List[Reading] = []
        self._numeric: List[int] = []

    @property
    def import_dwh(self) -> int:
        """The import register (1.8.0) in 0.1 Wh, as the telegram shows it."""
        return self.import_cwms // _CWMS_PER_DWH

    @property
    def export_dwh(self) -> int:
        """The export register (2.8.0) in 0.1 Wh, as the telegram shows it."""
        return self.export_cwms // _CWMS_PER_DWH

    def set_counters(self, import_dwh: int, export_dwh: int) -> None:
        """Go on from registers read back (a demo started again on its database)."""
        self.import_cwms = import_dwh * _CWMS_PER_DWH
        self.export_cwms = export_dwh * _CWMS_PER_DWH

    def advance(self, ts_ms: int) -> None:
        """Move on to ``ts_ms``: integrate the power held until then, then take the model's."""
        dt = ts_ms - self.ms
        if dt < 0:
            raise ValueError(f"a meter cannot go back in time ({ts_ms} < {self.ms})")
        if self.power_cw >= 0:
            self.import_cwms += self.power_cw * dt
        else:
            self.export_cwms -= self.power_cw * dt
        self.ms = ts_ms
        self.phases = self.model.phases(ts_ms)
        self.power_cw = sum(self.phases)
        self.seq += 1

    def volts(self) -> List[int]:
        """Each phase's voltage in 0.1 V: ~230 V, lower under load, higher while feeding in."""
        s = self.ms // 1000
        return [2300 + int(30 * noise(self.serial * 3 + i, s)) - 15 - p // 10_000 for i, p in enumerate(self.phases)]

    def values(self) -> List[int]:
        return values(self.import_dwh, self.export_dwh, list(self.phases), self.volts())

    def entries(self) -> List[Entry]:
        return entries(self.server_id, self.import_dwh, self.export_dwh, list(self.phases), self.volts())

    def encode(self) -> bytes:
        """The telegram for the meter's present state."""
        return encode_telegram(self.server_id, self.entries(), self.seq, (self.ms // 1000 - 1_600_000_000) % 2**32)

    def telegram(self) -> bytes:
        """The next telegram, at the host's clock (as a live meter sends it)."""
        self.advance(max(self.ms, int(self.clock() * 1000)))
        return self.encode()

    def readings(self) -> List[Reading]:
        """The readings the decoder makes of ``encode()``, without encoding and decoding each
        time: a decoded telegram's readings with this moment's numbers (for back-filling)."""
        if not self._template:
            self._template = decode_frame(read_frames(self.encode())[0]).readings
            self._numeric = [i for i, r in enumerate(self._template) if r.is_numeric]
        out = list(self._template)
        for i, raw in zip(self._numeric, self.values()):
            r = out[i]
            out[i] = Reading(r.server_id, r.obis, scaled(raw, r.scaler), r.unit, r.scaler, raw, r.status, r.time)
        return out
