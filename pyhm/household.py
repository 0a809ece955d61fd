"""What the demo's meters measure: a household with a PV system, and a heat pump.

Each model is a pure function of time: ``phases(ts_ms)`` gives the signed power per phase
(L1, L2, L3) in centiwatts, positive when drawn from the grid. The same instant always gives
the same power, so the weeks of history the demo fills in and the meter that goes on live
afterwards draw one continuous curve. The day's plan (when the kettle, the oven, the washing
machine run; how cloudy it is) is drawn from a generator seeded by the meter and the local
date, and the clock that plans it is the household's own zone (``pyhm.localtime``): the
kettle boils at 7 in the morning local time, and the sun stands highest at noon local
standard time (13:00 in summer time). No I/O.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, tzinfo
from typing import Dict, List, NamedTuple, Tuple

from pyhm.localtime import midnight_ms

Phases = Tuple[int, int, int]

LATITUDE = 50.0  # degrees north: the middle of Germany
_MASK = (1 << 64) - 1


def noise(a: int, b: int) -> float:
    """A deterministic pseudo-random number in [0, 1) for the pair (a, b): cheap, stateless."""
    x = (a * 0x9E3779B97F4A7C15 + b * 0xC2B2AE3D27D4EB4F + 0x165667B19E3779F9) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return (x ^ (x >> 31)) / 2.0**64


class Load(NamedTuple):
    """An appliance run: from ``start`` for ``seconds`` (local seconds since midnight), the
    watts it draws on each phase; a thermostat (``cycle`` > 0) switches it on for the first
    ``duty`` of every ``cycle`` seconds."""

    start: int
    seconds: int
    watts: Phases
    cycle: int = 0
    duty: float = 1.0

    def at(self, sec: int) -> Phases:
        t = sec - self.start
        if not 0 <= t < self.seconds or (self.cycle and t % self.cycle >= self.duty * self.cycle):
            return (0, 0, 0)
        return self.watts


class Day(NamedTuple):
    """One local day's plan."""

    start_ms: int
    seconds: int  # 82,800, 86,400 or 90,000: the days when the clocks change
    loads: List[Load]
    weather: float  # 1 clear sky ... 0 overcast; for the heat pump, the day's mean temperature
    clouds: float  # how much passing clouds vary the sun within the day (0: not at all)


class Model:
    """A meter's power as a function of time, planned per local day (cached: a model is
    asked for every second of the day, and in order)."""

    def __init__(self, seed: int, tz: tzinfo) -> None:
        self.seed = seed
        self.tz = tz
        self._days: Dict[date, Day] = {}
        self._day: Day = Day(0, 0, [], 0.0, 0.0)

    def day(self, ts_ms: int) -> Day:
        """The plan of the local day the instant ``ts_ms`` lies in."""
        d = self._day
        if d.start_ms <= ts_ms < d.start_ms + d.seconds * 1000:
            return d
        local = datetime.fromtimestamp(ts_ms / 1000, self.tz).date()
        d = self._days.get(local)
        if d is None:
            start = midnight_ms(local, self.tz)
            seconds = (midnight_ms(local + timedelta(days=1), self.tz) - start) // 1000
            d = self._plan(local, start, seconds, random.Random(f"{self.seed}:{local.toordinal()}"))
            if len(self._days) > 64:
                self._days.clear()
            self._days[local] = d
        self._day = d
        return d

    def _plan(self, local: date, start_ms: int, seconds: int, rng: random.Random) -> Day:
        raise NotImplementedError

    def phases(self, ts_ms: int) -> Phases:
        """Signed power per phase in centiwatts at ``ts_ms`` (UTC ms)."""
        raise NotImplementedError

    def wall(self, ts_ms: int) -> Tuple[int, float]:
        """The local wall clock at ``ts_ms`` in seconds since midnight (an appliance runs at 7
        o'clock also on the days the clocks change), and the zone's standard offset in hours."""
        dt = datetime.fromtimestamp(ts_ms / 1000, self.tz)
        off = (dt.utcoffset() or timedelta()) - (dt.dst() or timedelta())
        return dt.hour * 3600 + dt.minute * 60 + dt.second, off.total_seconds() / 3600


def _at(h: float, rng: random.Random, spread_h: float) -> int:
    """Seconds since midnight of ``h`` o'clock, moved by up to ``spread_h`` hours either way."""
    return int((h + rng.uniform(-spread_h, spread_h)) * 3600)


class Household(Model):
    """A family home with a 7.5 kWp PV system on its roof (a three-phase inverter).

    The base load is always there: standby (router, heating pump) on all phases, the fridge
    (L1) and the freezer (L3) cycling, ~115-245 W together at night. Mornings bring the kettle
    and the coffee machine (L1), evenings the cooktop (L2+L3), the oven (L3, thermostat),
    lights and TV (L2), the dishwasher (L2); on some days the washing machine (L3). The
    phases are therefore unequal, and on a sunny midday the inverter's feed-in (equal on all
    three) outweighs them: the meter exports.
    """

    STANDBY_W = (60, 30, 25)
    KWP = 7500

    def _plan(self, local: date, start_ms: int, seconds: int, rng: random.Random) -> Day:
        weekend = local.weekday() >= 5
        loads = [
            Load(_at(6.5 if not weekend else 8.5, rng, 0.4), rng.randint(180, 240), (2000, 0, 0)),  # kettle
            Load(_at(6.7 if not weekend else 8.8, rng, 0.3), 90, (1300, 0, 0)),  # coffee
            Load(_at(6.2 if not weekend else 8.0, rng, 0.2), 5400, (0, 120, 0)),  # morning lights
            Load(_at(16.5, rng, 0.5), rng.randint(5 * 3600, 7 * 3600), (0, rng.randint(150, 350), 0)),  # lights, TV
            Load(_at(18.0, rng, 0.6), rng.randint(900, 2400), (0, 1200, 1100), 240, 0.7),  # cooktop
        ]
        if rng.random() < 0.5:
            loads.append(Load(_at(17.8, rng, 0.5), rng.randint(2400, 4200), (0, 0, 2400), 300, 0.6))  # oven
        if weekend or rng.random() < 0.3:
            loads.append(Load(_at(12.0, rng, 0.5), rng.randint(1200, 2400), (0, 1400, 900), 200, 0.75))  # lunch
        if rng.random() < 0.45:  # washing machine: heating, then the drum, then the spin
            t = _at(13.0, rng, 3.5)
            loads += [Load(t, 900, (0, 0, 2000)), Load(t + 900, 4500, (0, 0, 150)), Load(t + 5400, 600, (0, 0, 450))]
        if rng.random() < 0.6:  # dishwasher: heating, washing, heating again to dry
            t = _at(20.5, rng, 0.8)
            loads += [Load(t, 1200, (0, 2000, 0)), Load(t + 1200, 3000, (0, 90, 0)), Load(t + 4200, 900, (0, 1900, 0))]
        for _ in range(rng.randint(0, 2)):  # tea in the afternoon
            loads.append(Load(_at(16.0, rng, 2.0), rng.randint(120, 200), (2000, 0, 0)))
        summer = 0.5 - 0.5 * math.cos(2 * math.pi * (local.timetuple().tm_yday - 20) / 365)  # 0 in January
        sky = rng.random()
        sunny, mixed = 0.2 + 0.25 * summer, 0.55 + 0.2 * summer  # a fifth of the winter days is sunny
        weather, clouds = ((rng.uniform(0.85, 1.0), 0.05) if sky < sunny else
                           (rng.uniform(0.45, 0.85), 0.6) if sky < mixed else
                           (rng.uniform(0.04, 0.15), 0.3))
        return Day(start_ms, seconds, loads, weather, clouds)

    def phases(self, ts_ms: int) -> Phases:
        day = self.day(ts_ms)
        sec, standard_h = self.wall(ts_ms)
        s = ts_ms // 1000
        fridge = 70 if (s + self.seed * 977) % 2700 < 900 else 0
        freezer = 60 if (s + self.seed * 613) % 3600 < 1100 else 0
        l1, l2, l3 = self.STANDBY_W
        l1 += fridge
        l3 += freezer
        for load in day.loads:
            w1, w2, w3 = load.at(sec)
            l1, l2, l3 = l1 + w1, l2 + w2, l3 + w3
        jitter = noise(self.seed, s)
        pv = self.pv_w(ts_ms, day, standard_h)
        cw = [int((w * (0.98 + 0.04 * noise(self.seed * 3 + i, s)) - pv / 3) * 100) for i, w in enumerate((l1, l2, l3))]
        cw[0] += int(jitter * 300)
        return cw[0], cw[1], cw[2]

    def pv_w(self, ts_ms: int, day: Day, standard_h: float) -> float:
        """The inverter's output in watts: clear-sky sun on a south roof, times the weather."""
        sun = clear_sky(ts_ms, standard_h)
        if sun <= 0:
            return 0.0
        passing = 1.0 - day.clouds * noise(self.seed + 7, ts_ms // 180_000)  # a cloud lasts ~3 minutes
        return self.KWP * sun * day.weather * passing


def clear_sky(ts_ms: int, standard_offset_h: float, tilt: float = 35.0) -> float:
    """The fraction of its peak that a south-facing PV roof yields under a clear sky.

    The sun's position from the date and the hour angle (noon at 12:00 local standard time,
    i.e. a longitude of 15° per hour of the zone's standard offset), the light falling on a
    roof tilted by ``tilt``, dimmed by the air mass when the sun is low: a December noon gives
    about a third of a June noon, and the day is 8 hours long instead of 16.
    """
    days = ts_ms / 86_400_000
    decl = math.radians(-23.44) * math.cos(2 * math.pi * ((days % 365.2422) + 10 - 0.5) / 365.2422)
    solar_h = (days % 1.0) * 24 + standard_offset_h
    hour_angle = math.radians((solar_h - 12.0) * 15.0)
    lat = math.radians(LATITUDE)
    sin_elev = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    if sin_elev <= 0.02:
        return 0.0
    roof = math.radians(LATITUDE - tilt)
    incidence = math.sin(roof) * math.sin(decl) + math.cos(roof) * math.cos(decl) * math.cos(hour_angle)
    air = 0.7 ** ((1.0 / sin_elev) ** 0.678) / 0.7
    return max(0.0, incidence) * min(1.0, air) * 0.9


class HeatPump(Model):
    """An air-to-water heat pump on its own meter (no PV): the compressor cycles more and
    draws more the colder it is outside (coldest at dawn, and in winter), heats the hot water
    every morning at half past five; its controller and circulation pump sit on L1."""

    def _plan(self, local: date, start_ms: int, seconds: int, rng: random.Random) -> Day:
        doy = local.timetuple().tm_yday
        mean = 9.0 - 9.0 * math.cos(2 * math.pi * (doy - 20) / 365) + rng.uniform(-4, 4)
        hot_water = Load(_at(5.5, rng, 0.1), rng.randint(2400, 3000), (900, 900, 900))
        return Day(start_ms, seconds, [hot_water], mean, 0.0)

    def outdoor_c(self, ts_ms: int, day: Day) -> float:
        hour = (ts_ms - day.start_ms) / 3_600_000
        return day.weather + 4.0 * math.sin(2 * math.pi * (hour - 9) / 24)

    def phases(self, ts_ms: int) -> Phases:
        day = self.day(ts_ms)
        s = ts_ms // 1000
        demand = max(0.0, min(1.0, (16.0 - self.outdoor_c(ts_ms, day)) / 22.0))
        l1 = l2 = l3 = 0
        if demand > 0.02:
            if (s + self.seed * 131) % 1800 < max(0.25, demand) * 1800:
                each = int((800 + 1000 * demand) / 3)
                l1, l2, l3 = l1 + each, l2 + each, l3 + each
            l1 += 45  # circulation pump
        w1, w2, w3 = day.loads[0].at(self.wall(ts_ms)[0])
        l1 += 18 + w1  # controller
        return (int(l1 * (98 + 4 * noise(self.seed, s)) + 0.5), l2 * 100 + w2 * 100, l3 * 100 + w3 * 100)
