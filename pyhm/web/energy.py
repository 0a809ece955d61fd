"""The Energy page's answer (`/api/energy`): one meter's import and export over a local day,
week, month or year, in bars per hour, day or month, beside the previous period and the same
period a year before, with the household's base load and what it costs a year.

Everything is built from the store's exact hourly increases (`Query.hourly`, `Query.consumption`:
the same arithmetic as every other total), summed as decimals; energies leave in kWh.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, time as clock, timedelta
from decimal import Decimal
from statistics import median
from typing import Any, Dict, List, Optional, Tuple

from pyhm import localtime
from pyhm.config import EnergyConfig
from pyhm.store import Query
from pyhm.store.query import NotFound, Series
from pyhm.store.rollup import HOUR_MS
from pyhm.web.api import EXPORT, IMPORT, BadParameter, iso, meter_of

NIGHT_HOURS = range(0, 5)  # local hours 00:00–04:59: the house asleep, no sun on the panels
HOURS_A_YEAR = 8760  # 365 days: what a constant base load runs for in a year
FIRST_DAY, LAST_DAY = date(1971, 1, 1), date(9998, 12, 31)
Totals = Dict[str, Optional[Decimal]]


def day(text: str) -> date:
    """A ``date`` parameter: YYYY-MM-DD, from 1971 to 9998."""
    value = date.fromisoformat(text)  # ValueError for no date; it also takes 2026-W10-1 and 20260301
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", text, re.ASCII) or not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError("must be a date YYYY-MM-DD from 1971 to 9998")
    return value


def _kwh(value: Decimal, series: Series) -> Decimal:
    """A counter's energy in kWh, exactly (SML energy registers count Wh)."""
    return value if series.unit_symbol == "kWh" else value.scaleb(-3)


def _series(q: Query, meter_id: int, code: str) -> Optional[Series]:
    try:
        return q.find_series(meter_id, code)
    except NotFound:
        return None


def _change(now: Optional[Decimal], before: Optional[Decimal]) -> Optional[Decimal]:
    """The change against ``before`` in per cent, to 0.1 (None when there is nothing to compare,
    or when a value turned from export to import or back: +183 % of a sign change says nothing)."""
    if now is None or before is None or before == 0 or (now < 0) != (before < 0):
        return None
    return ((now - before) / abs(before) * 100).quantize(Decimal("0.1"))


def _net(imp: Optional[Decimal], exp: Optional[Decimal]) -> Optional[Decimal]:
    if imp is None and exp is None:
        return None
    return (imp or Decimal(0)) - (exp or Decimal(0))


def base_load(hours: List[Tuple[int, Decimal]], series: Series, first_ms: int, complete_ms: int,
              tz: Any) -> Dict[str, Any]:
    """The base load: what the house draws when it sleeps.

    Precisely: for every local night of the period (the hours that begin at local 00:00 to
    04:59 of one day; 4 hours on the night clocks go forward, 6 when they go back), the lowest
    hourly import among the night's complete hours (an hour counts when the meter was read
    before it began and after it ended); the base load is the median of these minima over the
    period's nights, in W (the energy of one hour in Wh is its average power in W). The median
    ignores a night with a washing machine running, the minimum a fridge's cycles."""
    nights: Dict[date, Decimal] = {}
    for start, value in hours:
        if start < first_ms or start + HOUR_MS > complete_ms:
            continue
        at = localtime.local(start, tz)
        if at.hour in NIGHT_HOURS:
            watts = value * 1000 if series.unit_symbol == "kWh" else value
            key = at.date()
            nights[key] = min(nights.get(key, watts), watts)
    if not nights:
        return {"watts": None, "nights": 0}
    watts = median(sorted(nights.values()))
    return {"watts": watts, "nights": len(nights), "kwh_per_year": (watts * HOURS_A_YEAR).scaleb(-3)}


def _bars(period: str, first: date, end: date, tz: Any) -> List[Tuple[Any, int]]:
    """The period's sub-intervals: (key, start ms) for its local hours, days or months."""
    if period == "day":
        a, b = localtime.midnight_ms(first, tz), localtime.midnight_ms(end, tz)
        return [(ms, ms) for ms in range(a, b, HOUR_MS)]
    step = "month" if period == "year" else "day"
    out, d = [], first
    while d < end:
        out.append((d, localtime.midnight_ms(d, tz)))
        d = localtime.next_start(d, step)
    return out


class _Totals:
    """Import and export sums over a period and over its first part, from one read of its hours."""

    def __init__(self, q: Query, series: Dict[str, Optional[Series]]) -> None:
        self.q, self.series = q, series
        self.memo: Dict[Tuple[str, int, int], List[Tuple[int, Decimal]]] = {}

    def of(self, name: str, a: int, b: int, cut: int) -> Optional[Decimal]:
        """What counter ``name`` counted in [a, cut) of the period [a, b): the hours that begin
        before ``cut`` (exactly what `Query.consumption` over [a, cut) adds up)."""
        s = self.series[name]
        if s is None:
            return None
        key = (name, a, b)
        if key not in self.memo:
            self.memo[key] = self.q.hourly(s, a, b)
        rows = [v for start, v in self.memo[key] if start < cut]
        return _kwh(sum(rows, Decimal(0)), s) if rows else None

    def both(self, a: int, b: int, cut: int) -> Totals:
        imp, exp = self.of("import", a, b, cut), self.of("export", a, b, cut)
        return {"import": imp, "export": exp, "net": _net(imp, exp)}


def _compare(totals: _Totals, period: str, first: date, tz: Any, elapsed: Optional[timedelta],
             now: Totals) -> Dict[str, Any]:
    """One period to compare with: its whole totals and, while the period shown is still
    running, its totals up to the same point (``elapsed`` local time after its start), against
    which the change is reckoned: like with like."""
    end = localtime.next_start(first, period)
    a, b = localtime.midnight_ms(first, tz), localtime.midnight_ms(end, tz)
    out: Dict[str, Any] = {"start": first.isoformat(), "end": end.isoformat(), **totals.both(a, b, b)}
    base = out
    if elapsed is not None:
        cut = min(b, localtime.to_ms(datetime.combine(first, clock()) + elapsed, tz))
        base = out["same_time"] = {"to": iso(cut, tz), **totals.both(a, b, cut)}
    # The net gets no per cent: it is a difference of two flows, so its base can be near zero or of
    # either sign ("-704 %" for a day that exported more than the day before says nothing).
    out["change"] = {"import": _change(now["import"], base["import"]), "export": _change(now["export"], base["export"]),
                     "net": None}
    return out


def _last_year(period: str, first: date) -> date:
    """The same period a year before: the same date, the week 52 weeks back (same weekdays,
    same season), the same month; for a year, the year before."""
    if period == "week":
        return first - timedelta(weeks=52)
    try:
        return first.replace(year=first.year - 1)
    except ValueError:  # 29 February
        return first.replace(year=first.year - 1, day=28)


def energy(q: Query, ref: str, period: str, when: Optional[date], prices: EnergyConfig,
           now_ms: Optional[int] = None) -> Dict[str, Any]:
    """The Energy page's numbers for the local period of ``period`` around ``when`` (default today)."""
    tz = q.tz
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    meter = meter_of(q, ref)
    first = localtime.period_start(when or localtime.local(now_ms, tz).date(), period)
    end = localtime.next_start(first, period)
    if end > LAST_DAY:
        raise BadParameter("date", "must be a date YYYY-MM-DD from 1971 to 9998")
    a, b = localtime.midnight_ms(first, tz), localtime.midnight_ms(end, tz)
    series = {"import": _series(q, meter.id, IMPORT), "export": _series(q, meter.id, EXPORT)}
    hours = {name: q.hourly(s, a, b) if s is not None else [] for name, s in series.items()}
    slots = _bars(period, first, end, tz)
    sums: Dict[str, Dict[Any, Decimal]] = {}
    for name, rows in hours.items():
        s = series[name]
        per = sums[name] = {}
        for start, value in rows:
            # A day's bars are its local hours; in a zone half an hour off UTC each holds the UTC hour beginning in it.
            key = a + (start - a) // HOUR_MS * HOUR_MS if period == "day" else \
                localtime.period_of(start, "month" if period == "year" else "day", tz)
            per[key] = per.get(key, Decimal(0)) + _kwh(value, s)  # type: ignore[arg-type]
    bars = [{"start": iso(ms, tz), "t": ms, "import": sums["import"].get(key), "export": sums["export"].get(key)}
            for key, ms in slots]
    now = {name: sum(sums[name].values(), Decimal(0)) if series[name] is not None else None for name in series}
    now["net"] = _net(now["import"], now["export"])
    newest = q.last_seen_ms(meter.id)
    running = a <= now_ms < b
    elapsed = localtime.local(now_ms, tz).replace(tzinfo=None) - datetime.combine(first, clock()) if running else None
    totals = _Totals(q, series)
    previous_first = localtime.period_start(first - timedelta(days=1), period)
    out: Dict[str, Any] = {
        "meter": {"id": meter.id, "label": meter.label},
        "period": period, "start": first.isoformat(), "end": end.isoformat(), "from": iso(a, tz), "to": iso(b, tz),
        "running": running, "newest": iso(newest, tz), "unit": "kWh",
        "bars": bars, "totals": now,
        "previous": _compare(totals, period, previous_first, tz, elapsed, now),
        "last_year": _compare(totals, period, _last_year(period, first), tz, elapsed, now),
        "steps": {"previous": previous_first.isoformat(),
                  "next": end.isoformat() if end <= localtime.local(now_ms, tz).date() else None},
        "base_load": {"watts": None, "nights": 0},
        "prices": None,
    }
    imp = series["import"]
    if imp is not None:
        out["base_load"] = base_load(hours["import"], imp, meter.first_seen_ms, min(newest or 0, now_ms), tz)
    if prices.price is not None or prices.feed_in is not None:
        out["prices"] = {"currency": prices.currency, "price": prices.price, "feed_in": prices.feed_in}
        out["costs"] = {
            "import": None if prices.price is None or now["import"] is None else now["import"] * prices.price,
            "export": None if prices.feed_in is None or now["export"] is None else now["export"] * prices.feed_in,
        }
        kwh = out["base_load"].get("kwh_per_year")
        if kwh is not None and prices.price is not None:
            out["base_load"]["cost_per_year"] = kwh * prices.price
    return out
