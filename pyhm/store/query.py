"""Reading the database: charts, consumption, latest values, statistics, export.

Everything here opens the database read-only, from any process, while the writer writes (WAL).
The readings the acquisition received but has not committed yet (its commit window spares the
SD card) are laid over the database from the live store (``store.live``): the live file is
read first, then the database, and a live telegram counts only if it is newer than every
committed one, so nothing is counted twice and nothing falls between the two.
A chart of any range costs about the same: the store answers from the coarsest resolution that
still gives the points asked for (raw telegrams, then minute, hour, day rollups) and merges
buckets with the same exact arithmetic the writer uses.
"""

from __future__ import annotations

import sqlite3

from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar, Union

from pyhm.localtime import PERIODS, period_of, zone
from pyhm.obis import obis_name, unit_symbol
from pyhm.store.codec import Layout, parse_spec
from pyhm.store.live import Live, LiveReader
from pyhm.store.rollup import HOUR_MS, LEVEL_MS, MINUTE_MS, Agg, decimal
from pyhm.store.schema import connect

RAW_ROWS_PER_POINT = 4  # raw telegrams are read for ranges up to points * this many seconds
ROLLUP_ROWS_PER_POINT = 10
K = TypeVar("K")


class Point(NamedTuple):
    """One chart point: a bucket's start and its value (gauges: mean, with min and max;
    counters: the last reading)."""

    ts_ms: int
    value: Decimal
    min: Optional[Decimal] = None
    max: Optional[Decimal] = None


class Series(NamedTuple):
    id: int
    meter_id: int
    obis: str
    unit: Optional[int]
    kind: str

    @property
    def unit_symbol(self) -> Optional[str]:
        return unit_symbol(self.unit)

    @property
    def name(self) -> Optional[str]:
        return obis_name(self.obis)


class Meter(NamedTuple):
    id: int
    server_id: bytes
    name: Optional[str]
    note: Optional[str]
    first_seen_ms: int

    @property
    def label(self) -> str:
        return self.name or self.server_id.hex()


class NotFound(LookupError):
    """No such meter or series."""


def point_of(agg: Agg) -> Point:
    """A bucket as a chart point."""
    if agg.counter:
        return Point(agg.start, decimal(agg.last, agg.exp))  # type: ignore[arg-type]
    mean = (Decimal(agg.vsum) / agg.n).scaleb(agg.exp).quantize(Decimal(1).scaleb(agg.exp - 2))  # type: ignore[arg-type]
    return Point(agg.start, mean, decimal(agg.vmin, agg.exp), decimal(agg.vmax, agg.exp))


class Query:
    """Read-only access to a pyhm database; ``tz`` is the household's zone (default: the host's)."""

    def __init__(self, path: Union[str, Path], tz: Optional[tzinfo] = None) -> None:
        self.path = Path(path)
        self.tz = tz or zone()
        self.db = connect(self.path, readonly=True)
        self._layouts: Dict[int, Layout] = {}
        self._live_reader: Optional[LiveReader] = None
        self._server_ids: Dict[int, bytes] = {}

    def close(self) -> None:
        self.db.close()

    # -- the live store -----------------------------------------------------------------

    def _setting(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def live(self) -> Optional[Live]:
        """What the acquisition holds in RAM now (None: no live store, or its writer is gone)."""
        path = self._setting("live.path")
        if path is None:
            return None
        if self._live_reader is None or str(self._live_reader.path) != path:
            self._live_reader = LiveReader(Path(path))
        live = self._live_reader.read()
        return live if live is not None and live.fresh() else None

    def _server_id(self, meter_id: int) -> Optional[bytes]:
        sid = self._server_ids.get(meter_id)
        if sid is None:
            row = self.db.execute("SELECT server_id FROM meters WHERE id = ?", (meter_id,)).fetchone()
            if row is None:
                return None
            sid = self._server_ids[meter_id] = bytes(row[0])
        return sid

    def _committed_ms(self, meter_id: int) -> Optional[int]:
        row = self.db.execute("SELECT last_ms FROM meters WHERE id = ?", (meter_id,)).fetchone()
        return row[0] if row else None

    def _live_samples(self, live: Optional[Live], series: "Series") -> List[Tuple[int, int, int]]:
        sid = self._server_id(series.meter_id) if live is not None else None
        return live.samples(sid, series.obis, series.unit) if live is not None and sid is not None else []

    # -- meters and series --------------------------------------------------------------

    def meters(self) -> List[Meter]:
        return [Meter(i, bytes(s), n, note, f) for i, s, n, note, f in
                self.db.execute("SELECT id, server_id, name, note, first_seen_ms FROM meters ORDER BY id")]

    def meter(self, ref: Union[int, str]) -> Meter:
        """A meter by id, name or server id (hex)."""
        for m in self.meters():
            if str(ref) in (str(m.id), m.name, m.server_id.hex()):
                return m
        raise NotFound(f'no meter "{ref}"')

    def series_of(self, meter_id: int) -> List[Series]:
        return [Series(*row) for row in self.db.execute(
            "SELECT id, meter_id, obis, unit, kind FROM series WHERE meter_id = ? ORDER BY id", (meter_id,))]

    def find_series(self, meter_id: int, obis: str) -> Series:
        for s in self.series_of(meter_id):
            if s.obis == obis:
                return s
        raise NotFound(f"meter {meter_id} has no series {obis}")

    def last_seen_ms(self, meter_id: int) -> Optional[int]:
        """When the meter's newest telegram arrived (committed or live)."""
        live = self.live()
        sid = self._server_id(meter_id) if live is not None else None
        return _newest(self._committed_ms(meter_id), live.newest_ms(sid) if live and sid else None)

    def newest_ms(self) -> Optional[int]:
        """When the newest telegram of any meter arrived (committed or live)."""
        live = self.live()
        committed = self.db.execute("SELECT MAX(ts_ms) FROM telegrams").fetchone()[0]
        return _newest(committed, live.newest_ms() if live else None)

    # -- raw telegrams ------------------------------------------------------------------

    def _layout(self, layout_id: int) -> Layout:
        layout = self._layouts.get(layout_id)
        if layout is None:
            for lid, spec in self.db.execute("SELECT id, spec FROM layouts WHERE id >= ?", (layout_id,)):
                self._layouts[lid] = Layout(lid, parse_spec(spec))
            layout = self._layouts[layout_id]
        return layout

    def raw(self, series: Series, from_ms: int, to_ms: int) -> Iterator[Tuple[int, int, int]]:
        """(ts_ms, integer, exponent) of every sample of a series in [from, to): the stored
        ones, then those still in the live store."""
        pending = self._live_samples(self.live(), series)  # read before the database: see above
        last = self._committed_ms(series.meter_id) if pending else None
        for ts, lid, data in self.db.execute(
            "SELECT ts_ms, layout_id, data FROM telegrams WHERE meter_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            (series.meter_id, from_ms, to_ms),
        ):
            layout = self._layouts.get(lid) or self._layout(lid)
            at = layout.index.get(series.id)
            if at is not None:
                last = max(last or ts, ts)
                yield ts, layout.struct.unpack(data)[at[0]], at[1]
        for ts, v, exp in pending:
            if from_ms <= ts < to_ms and (last is None or ts > last):
                last = ts
                yield ts, v, exp

    def telegrams(self, meter_id: int, after_ms: int, limit: int) -> List[Tuple[int, List[Tuple[Series, Decimal]]]]:
        """The next ``limit`` stored telegrams of a meter after ``after_ms``, oldest first, with
        the exact values each row holds (an unchanged counter only once a minute)."""
        if (self._committed_ms(meter_id) or 0) <= after_ms:
            return []  # nothing newer: spares a scan (telegrams are clustered by time, not meter)
        by_id = {s.id: s for s in self.series_of(meter_id)}
        out = []
        for ts, lid, data in self.db.execute(
            "SELECT ts_ms, layout_id, data FROM telegrams WHERE meter_id = ? AND ts_ms > ? ORDER BY ts_ms LIMIT ?",
            (meter_id, after_ms, limit),
        ).fetchall():
            layout = self._layouts.get(lid) or self._layout(lid)
            out.append((ts, [(by_id[sid], decimal(v, exp)) for (sid, _, exp), v in zip(layout.slots, layout.unpack(data))]))
        return out

    def texts(self, series: Series, from_ms: int, to_ms: int) -> List[Tuple[int, bytes]]:
        return [(ts, bytes(v)) for ts, v in self.db.execute(
            "SELECT ts_ms, value FROM texts WHERE series_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            (series.id, from_ms, to_ms))]

    def rollups(self, series: Series, level: str, from_ms: int, to_ms: int) -> Iterator[Agg]:
        counter = series.kind == "counter"
        for row in self.db.execute(
            f"SELECT * FROM rollup_{level} WHERE series_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            (series.id, from_ms, to_ms),
        ):
            yield Agg.from_row(counter, row)

    # -- charts -------------------------------------------------------------------------

    def _oldest(self, series: Series, level: str) -> Optional[int]:
        if level == "raw":
            # Telegrams are clustered by time: a meter with none left would cost a full scan.
            last, oldest = self._committed_ms(series.meter_id), self.db.execute("SELECT MIN(ts_ms) FROM telegrams").fetchone()[0]
            if last is None or oldest is None or last < oldest:
                return None
            sql, key = "SELECT MIN(ts_ms) FROM telegrams WHERE meter_id = ?", series.meter_id
        else:
            sql, key = f"SELECT MIN(ts_ms) FROM rollup_{level} WHERE series_id = ?", series.id
        return self.db.execute(sql, (key,)).fetchone()[0]

    def choose_level(self, series: Series, from_ms: int, to_ms: int, points: int) -> str:
        """The finest resolution that answers with about ``points`` points from few rows and
        holds the whole range (raw telegrams are kept 35 days, minutes two years)."""
        span = max(1, to_ms - from_ms)
        candidates = []
        if span <= points * RAW_ROWS_PER_POINT * 1000:
            candidates.append("raw")
        for level in ("minute", "hour"):
            if span // LEVEL_MS[level] <= points * ROLLUP_ROWS_PER_POINT:
                candidates.append(level)
        candidates.append("day")
        first_seen = self.db.execute("SELECT first_seen_ms FROM meters WHERE id = ?", (series.meter_id,)).fetchone()[0]
        for level in candidates:
            oldest = self._oldest(series, level)
            width = LEVEL_MS.get(level, 1)
            # Complete if it reaches back to the range's start, or to the meter's first reading.
            if oldest is not None and oldest <= max(from_ms, first_seen - first_seen % width):
                return level
        return candidates[-1]

    def chart(self, series: Series, from_ms: int, to_ms: int, points: int = 1000,
              level: Optional[str] = None) -> Tuple[str, List[Point]]:
        """At most ``points`` points of a series over [from, to), and the resolution used
        (``level``: this one, not the one `choose_level` finds)."""
        if series.kind == "text":
            raise NotFound(f"{series.obis} holds text, not numbers")
        points = max(1, points)
        level = level or self.choose_level(series, from_ms, to_ms, points)
        step = LEVEL_MS.get(level, 1000)
        width = step * -(-(to_ms - from_ms) // (points * step))
        counter = series.kind == "counter"
        buckets: List[Agg] = []

        def bucket(ts: int, exp: int) -> Agg:
            start = from_ms + (ts - from_ms) // width * width
            if not buckets or buckets[-1].start != start:
                buckets.append(Agg(start, counter, exp))
            return buckets[-1]

        raw_from = from_ms
        if level != "raw":
            for agg in self.rollups(series, level, from_ms, to_ms):
                bucket(agg.start, agg.exp).merge(agg)
            # The minute still open lives only in the raw telegrams (rollups are written as
            # each minute closes): read it from there, so a chart reaches up to now.
            closed = self.db.execute("SELECT MAX(ts_ms) FROM rollup_minute WHERE series_id = ?", (series.id,)).fetchone()[0]
            raw_from = max(from_ms, closed + MINUTE_MS if closed is not None else from_ms)
        prev = None
        for ts, v, exp in self.raw(series, raw_from, to_ms):
            bucket(ts, exp).add(v, exp, prev)
            prev = (v, exp)
        return level, [point_of(b) for b in buckets if b.n]

    # -- consumption --------------------------------------------------------------------

    def consumption(self, series: Series, period: str, from_ms: int, to_ms: int,
                    tz: Optional[tzinfo] = None) -> List[Tuple[date, Decimal]]:
        """What a counter counted per local day, week (from Monday), month or year, by the
        real zone (a local day has 23, 24 or 25 hours); up to the newest reading."""
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}")
        zone_ = tz or self.tz
        return self._increases(series, from_ms, to_ms, lambda ts: period_of(ts, period, zone_))  # type: ignore[arg-type]

    def hourly(self, series: Series, from_ms: int, to_ms: int) -> List[Tuple[int, Decimal]]:
        """What a counter counted per hour (its start, UTC ms) in [from, to), up to the newest
        reading: the hours a local day is made of (whole-hour zones: a UTC hour is a local one).
        The samples not rolled up yet count by their hour, as its row will (zones off by :30 or :45)."""
        return self._increases(series, from_ms, to_ms, lambda ts: ts - ts % HOUR_MS, by_hour=True)

    def _increases(self, series: Series, from_ms: int, to_ms: int, key: Callable[[int], K],
                   by_hour: bool = False) -> List[Tuple[K, Decimal]]:
        """A counter's increases summed per ``key(ts_ms)``, oldest key first.

        Built from the hourly increases, then the samples after the newest written rollup
        (committed or live): those in [from, to), or (``by_hour``) those whose hour begins
        there. A reset or a replaced counter adds nothing negative.
        """
        if series.kind != "counter":
            raise NotFound(f"{series.obis} is not a counter")
        totals: Dict[K, Agg] = {}

        def total(ts_ms: int, exp: int) -> Agg:
            k = key(ts_ms)
            agg = totals.get(k)
            if agg is None:
                agg = totals[k] = Agg(0, True, exp)
            return agg

        for agg in self.rollups(series, "hour", from_ms, to_ms):
            total(agg.start, agg.exp).merge(agg)
        # What the written rollups do not hold yet (they are written once an hour, and the open
        # minute never): from the raw and live samples, from the last written minute's value on.
        closed = self.db.execute("SELECT ts_ms, exp, vlast FROM rollup_minute WHERE series_id = ? ORDER BY ts_ms DESC LIMIT 1",
                                 (series.id,)).fetchone()
        prev = None if closed is None or closed[2] is None else (int(closed[2]), closed[1])
        end = -(-to_ms // HOUR_MS) * HOUR_MS if by_hour else to_ms
        for ts, v, exp in self.raw(series, from_ms if closed is None else closed[0] + MINUTE_MS, end):
            if (ts - ts % HOUR_MS if by_hour else ts) >= from_ms:
                total(ts, exp).add(v, exp, prev)
            prev = (v, exp)
        return [(k, decimal(t.inc, t.exp)) for k, t in sorted(totals.items())]  # type: ignore[misc,type-var]

    # -- now ----------------------------------------------------------------------------

    def latest(self, meter_id: int) -> Dict[str, Dict[str, Any]]:
        """The newest value of every series of a meter, by OBIS code."""
        by_id = {s.id: s for s in self.series_of(meter_id)}
        out: Dict[str, Dict[str, Any]] = {}
        live = self.live()
        for s in by_id.values():
            pending = self._live_samples(live, s)
            if pending:
                ts, v, exp = pending[-1]
                out[s.obis] = self._entry(s, ts, decimal(v, exp))
        rows = self.db.execute(
            "SELECT ts_ms, layout_id, data FROM telegrams WHERE meter_id = ? AND ts_ms >= ? ORDER BY ts_ms DESC LIMIT 120",
            (meter_id, (self._committed_ms(meter_id) or 0) - 3_600_000),
        ).fetchall()
        for ts, lid, data in rows:
            layout = self._layouts.get(lid) or self._layout(lid)
            for (sid, _, exp), v in zip(layout.slots, layout.unpack(data)):
                s = by_id[sid]
                if s.obis not in out:
                    out[s.obis] = self._entry(s, ts, decimal(v, exp))
        for s in by_id.values():
            if s.kind == "text" and s.obis not in out:
                row = self.db.execute("SELECT ts_ms, value FROM texts WHERE series_id = ? ORDER BY ts_ms DESC LIMIT 1",
                                      (s.id,)).fetchone()
                if row:
                    out[s.obis] = self._entry(s, row[0], bytes(row[1]))
        return out

    @staticmethod
    def _entry(s: Series, ts: int, value: Any) -> Dict[str, Any]:
        return {"ts_ms": ts, "value": value, "unit": s.unit_symbol, "name": s.name, "kind": s.kind}

    def heads(self) -> List[Dict[str, Any]]:
        """Every IR head ever seen, with its reception totals; its state now from the live store."""
        live = self.live()
        cur = self.db.execute("SELECT * FROM heads ORDER BY serial")
        names = [d[0] for d in cur.description]
        out = {row[0]: dict(zip(names, row)) for row in cur}
        for h in live.heads if live else ():
            row = out.get(h["serial"])
            if row is None:  # a head not committed yet: its counts so far are all there is
                row = out[h["serial"]] = {k: h.get(k) for k in names}
                row.update(first_seen_ms=live.written_ms, last_seen_ms=live.written_ms, messages_bad=h.get("messages_bad", 0))
            row.update({k: h[k] for k in ("device", "present", "state", "last_frame_ms", "last_error")})
            if h.get("server_id"):
                row["server_id"] = bytes.fromhex(h["server_id"])  # the meter on it now
        return [out[k] for k in sorted(out)]

    def head_minutes(self, serial: str, from_ms: int, to_ms: int) -> List[Tuple[int, int, int, int]]:
        """(minute, frames ok, frames bad, bytes skipped) of one head, the unwritten ones too."""
        rows = {r[0]: list(r[1:]) for r in self.db.execute(
            "SELECT ts_ms, frames_ok, frames_bad, bytes_skipped FROM head_minutes"
            " WHERE serial = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms", (serial, from_ms, to_ms))}
        live = self.live()
        for s, ts, *counts in live.facts.get("head_minutes", ()) if live else ():
            if s == serial and from_ms <= ts < to_ms:
                acc = rows.setdefault(ts, [0, 0, 0])
                for i, c in enumerate(counts):
                    acc[i] += c
        return [(ts, *counts) for ts, counts in sorted(rows.items())]  # type: ignore[misc]

    def writer_alive_ms(self) -> Optional[int]:
        """When the acquisition service last showed life: its live store, else its last commit."""
        live = self.live()
        return _newest(self._last_commit_ms(), live.written_ms if live else None)

    def data_version(self) -> Tuple[Optional[int], Optional[int]]:
        """A cheap token that changes whenever new data can be read: a telegram in the live
        store, or a commit (its time, written with every commit)."""
        live = self.live()
        return self._last_commit_ms(), (live.newest_ms() if live else None)

    def _last_commit_ms(self) -> Optional[int]:
        alive = self._setting("writer.alive_ms")
        return int(alive) if alive else None

    def backup(self, dest: Union[str, Path]) -> None:
        """A consistent copy of the whole database, made while the writer goes on writing."""
        target = sqlite3.connect(str(dest))
        try:
            self.db.backup(target)
        finally:
            target.close()

    def stats(self) -> Dict[str, Any]:
        """Size and contents of the database, for the status page and ``pyhm export``'s users."""
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        out: Dict[str, Any] = {
            "path": str(self.path),
            "size_bytes": self.path.stat().st_size,
            "used_bytes": (pages - free) * page_size,
            "schema_version": self.db.execute("PRAGMA user_version").fetchone()[0],
        }
        for table in ("meters", "series", "telegrams", "texts", "rollup_minute", "rollup_hour", "rollup_day"):
            out[f"{table}_rows"] = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        out["oldest_raw_ms"], out["newest_raw_ms"] = self.db.execute(
            "SELECT MIN(ts_ms), MAX(ts_ms) FROM telegrams").fetchone()
        return out


def _newest(*times: Optional[int]) -> Optional[int]:
    return max((t for t in times if t), default=None)


def utc_ms(dt: datetime) -> int:
    """A datetime (naive ones are local time) as UTC milliseconds."""
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return int(dt.astimezone(timezone.utc).timestamp() * 1000)

