"""The single writer: takes decoded readings, stores them, keeps the rollups current.

Flash cards wear out from small writes repeated all day, so the writer batches. Readings wait
in a bounded buffer and are committed together once per *commit window* (``commit_seconds``;
``add`` commits when the buffer spans it, the acquisition service also calls ``commit`` on
time). Rollup rows and per-minute head counts, which touch one page per series, are written
once per *rollup window* (``rollup_seconds``, an hour in the service): until then they live in
memory and, after a crash, are rebuilt exactly from the committed raw telegrams. A killed
process loses only what was not committed yet. When the disk is full the transaction is
rolled back, nothing stored is touched, the readings stay in the buffer, and the writer tries
again with a growing pause until there is room.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from pyhm.obis import is_counter
from pyhm.sml.readings import Reading
from pyhm.store.codec import Layout, code_for, parse_spec, spec_text
from pyhm.store.rollup import DAY_MS, HOUR_MS, MINUTE_MS, Agg, Row
from pyhm.store.schema import connect, open_error

log = logging.getLogger("pyhm.store")

GRACE_MS = 2_000  # a minute is closed this long after it ended, late readings included
PRUNE_EVERY_MS = HOUR_MS


@dataclass(frozen=True)
class Retention:
    """How long each resolution is kept. Hour and day rollups are kept forever."""

    raw_days: float = 35
    minute_days: float = 730


class HeadStats(NamedTuple):
    """Reception health of one IR head; the counts run since its reader started."""

    serial: str
    device: str
    present: bool
    state: str  # reading, retrying, stalled, gone
    server_id: Optional[bytes]
    frames_ok: int
    frames_bad: int
    bytes_skipped: int
    last_frame_ms: Optional[int]
    last_error: Optional[str]
    messages_bad: int = 0  # messages stored although their own CRC was wrong (eBZ does this)


def _no_rows() -> Dict[str, List[Row]]:
    return {"minute": [], "hour": [], "day": []}


class Pending(NamedTuple):
    server_id: bytes
    ts_ms: int
    readings: Sequence[Reading]


class _Series:
    """What the writer keeps in memory per series: ids, thinning state, open rollup buckets."""

    __slots__ = ("id", "meter_id", "kind", "stored", "stored_ms", "prev", "minute", "hour", "day",
                 "closed_until", "text")

    def __init__(self, series_id: int, meter_id: int, kind: str) -> None:
        self.id = series_id
        self.meter_id = meter_id
        self.kind = kind
        self.stored: Optional[Tuple[int, int]] = None  # last value written to a row
        self.stored_ms = 0
        self.prev: Optional[Tuple[int, int]] = None  # last value seen (for counter increases)
        self.minute: Optional[Agg] = None
        self.hour: Optional[Agg] = None
        self.day: Optional[Agg] = None
        self.closed_until = 0  # rollups are final before this time
        self.text: Any = None


def exact(value: Decimal) -> Tuple[int, int]:
    """A Decimal as (integer, exponent), digits and exponent kept: it reads back identical."""
    exp = value.as_tuple().exponent
    assert isinstance(exp, int)
    return int(value.scaleb(-exp)) if exp else int(value), exp


class Writer:
    """The one writer of a pyhm database (one connection, used from one thread)."""

    def __init__(
        self,
        path: Union[str, Path],
        retention: Retention = Retention(),
        buffer_limit: int = 20_000,
        clock: Callable[[], float] = time.time,
        commit_seconds: float = 1.0,
        rollup_seconds: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.db = connect(self.path)
        self.retention = retention
        self.buffer_limit = buffer_limit
        self.clock = clock
        self.commit_ms = int(commit_seconds * 1000)
        self.rollup_ms = int(rollup_seconds * 1000)
        self._rollups_at = 0  # when rollup rows were last written (0: never in this run)
        self.pending: Deque[Pending] = deque()
        self.dropped = 0  # readings lost because the buffer overflowed while the disk was full
        self.committed_ms = 0  # newest reception time committed
        self.failing: Optional[str] = None  # why the last commit failed, while it keeps failing
        self._retry_at = 0.0
        self._backoff = 1.0
        self._pruned_at = 0
        self._heads: List[HeadStats] = []
        self._head_base: Dict[str, Tuple[int, ...]] = {}  # counts already stored, per head
        self._head_next: Dict[str, Tuple[int, ...]] = {}
        self._head_minutes: Dict[Tuple[str, int], Tuple[int, int, int]] = {}  # not yet written
        try:
            self._load()
            self._recover()
            alive = self.db.execute("SELECT value FROM settings WHERE key = 'writer.alive_ms'").fetchone()
        except sqlite3.DatabaseError as exc:  # damaged pages: refuse, and touch nothing
            self.db.close()
            raise open_error(self.path, exc) from None
        self.last_commit_ms: Optional[int] = int(alive[0]) if alive else None

    # -- public API ---------------------------------------------------------------------

    def add(self, server_id: bytes, readings: Sequence[Reading], ts_ms: int) -> None:
        """Hand over one telegram's readings, received at ``ts_ms`` (UTC ms)."""
        if not server_id:
            raise ValueError("a telegram must name its meter (server id)")
        self.pending.append(Pending(server_id, ts_ms, readings))
        while len(self.pending) > self.buffer_limit:
            self.pending.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("storage buffer full: %d telegrams lost so far (%s)", self.dropped, self.failing)
        if ts_ms - self.pending[0].ts_ms >= self.commit_ms or self._is_new(server_id, readings):
            self.commit()

    def _is_new(self, server_id: bytes, readings: Sequence[Reading]) -> bool:
        """A new meter or series is committed at once, so that other processes know it while
        its readings are live."""
        meter_id = self._meters.get(server_id)
        return meter_id is None or any((meter_id, r.obis, r.unit) not in self._series for r in readings)

    def due(self, now_ms: int) -> bool:
        """Is a commit due: readings waiting for a whole window, or bookkeeping a window old?"""
        oldest = self.pending[0].ts_ms if self.pending else None
        if oldest is not None and now_ms - oldest >= self.commit_ms:
            return True
        return self.last_commit_ms is None or now_ms - self.last_commit_ms >= self.commit_ms

    def commit(self, now_ms: Optional[int] = None, rollups: bool = False) -> bool:
        """Store what is pending and close rollup buckets that ended; False if it must wait.

        Rollup rows are written when the rollup window has passed (or ``rollups`` asks)."""
        now = self.clock()
        if self.failing and now < self._retry_at:
            return False
        now_ms = int(now * 1000) if now_ms is None else now_ms
        batch = list(self.pending)
        rollups = rollups or now_ms - self._rollups_at >= self.rollup_ms
        try:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self._unwritten
            for item in batch:
                self._store(item, rows)
            meters = {self._meters[item.server_id] for item in batch}
            self.db.executemany("UPDATE meters SET last_ms = ? WHERE id = ?",
                                [(self._last_ts[m], m) for m in meters if m in self._last_ts])
            self._close_idle(now_ms, rows)
            head_minutes = self._write_heads(now_ms, rollups)
            if rollups:
                self._write_rollups(rows)
            self.db.execute("INSERT OR REPLACE INTO settings VALUES ('writer.alive_ms', ?)", (str(now_ms),))
            if now_ms - self._pruned_at >= PRUNE_EVERY_MS:
                self._prune(now_ms)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        self._head_minutes = head_minutes
        if rollups:
            self._unwritten = _no_rows()
            self._rollups_at = now_ms
        self._head_base.update(self._head_next)
        self._head_next = {}
        for _ in batch:
            self.pending.popleft()
        if batch:
            self.committed_ms = max(self.committed_ms, max(p.ts_ms for p in batch))
        self.last_commit_ms = now_ms
        if self.failing:
            log.warning("storage works again: %d buffered telegrams stored", len(batch))
            self.failing = None
            self._backoff = 1.0
        return True

    def set_setting(self, key: str, value: str) -> None:
        """A small fact for other processes, committed at once (only when it changed)."""
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None or row[0] != value:
            self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    def unwritten_head_minutes(self, now_ms: int = 0, heads: Sequence[HeadStats] = ()) -> List[Tuple[str, int, int, int, int]]:
        """Per-minute head counts not yet written as minutes: those committed in totals, and what
        ``heads`` (as they are now) counted since the last commit, in the minute of ``now_ms``,
        so that the last hour's counts are live too, not one commit window behind."""
        gathered = dict(self._head_minutes)
        for h in heads:
            ok, bad, skipped, _ = self._head_growth(h)[1]
            _gather(gathered, h.serial, now_ms - now_ms % MINUTE_MS, ok, bad, skipped)
        return [(serial, ts, *counts) for (serial, ts), counts in gathered.items()]

    def _head_growth(self, h: HeadStats) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """A head's counters now, and what they grew by since the last commit."""
        counts = (h.frames_ok, h.frames_bad, h.bytes_skipped, h.messages_bad)
        base = self._head_base.get(h.serial, (0, 0, 0, 0))
        if any(c < b for c, b in zip(counts, base)):
            base = (0, 0, 0, 0)  # its reader started again: counts begin at zero
        return counts, tuple(c - b for c, b in zip(counts, base))

    def report_heads(self, heads: Sequence[HeadStats]) -> None:
        """The heads' current health, stored with the next commit."""
        self._heads = list(heads)

    def import_minute(self, server_id: bytes, obis: str, unit: Optional[int], minute: Agg) -> None:
        """Import one closed minute of history (from another logger, or a benchmark's year),
        in time order and before any live reading of that series; written at the next commit."""
        meter_id = self._meter_id(server_id, minute.start)
        s = self._series_key(meter_id, obis, unit, "counter" if minute.counter else "gauge", minute.exp)
        if minute.start < s.closed_until:
            raise ValueError(f"{obis}: minute {minute.start} is not after the history already stored")
        s.minute = minute
        if minute.counter and minute.last is not None:
            s.prev = (minute.last, minute.exp)
        self._close_minute(s, self._unwritten)

    def meter_name(self, server_id: bytes) -> Optional[str]:
        row = self.db.execute("SELECT name FROM meters WHERE server_id = ?", (server_id,)).fetchone()
        return row[0] if row else None

    def set_meter(self, server_id: bytes, name: Optional[str] = None, note: Optional[str] = None) -> None:
        """Give a meter its user-facing name and note (creating it if it was never seen)."""
        meter_id = self._meter_id(server_id, int(self.clock() * 1000))
        self.db.execute("UPDATE meters SET name = ?, note = ? WHERE id = ?", (name, note, meter_id))

    def prune(self, now_ms: Optional[int] = None) -> None:
        """Apply the retention now (it also runs by itself once an hour)."""
        now_ms = int(self.clock() * 1000) if now_ms is None else now_ms
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._prune(now_ms)
            self.db.execute("COMMIT")
        except sqlite3.Error:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Commit what can be committed and close the database."""
        self.failing = None  # one last try, whatever the backoff says
        if not self.commit(rollups=True):
            log.error("closing with %d telegrams not stored: %s", len(self.pending), self.failing)
        self.db.close()

    # -- ingest -------------------------------------------------------------------------

    def _store(self, item: Pending, rows: Dict[str, List[Row]]) -> None:
        ts = item.ts_ms
        meter_id = self._meter_id(item.server_id, ts)
        last = self._last_ts.get(meter_id, 0)
        if last - 1000 < ts <= last:
            ts = last + 1  # telegrams stamped in the same millisecond: keep them all, in order
        self._last_ts[meter_id] = max(ts, last)
        slots: List[Tuple[int, str, int]] = []
        raws: List[int] = []
        meter_time = None
        for r in item.readings:
            s = self._series_for(meter_id, r, ts)
            if s is None:
                continue
            if meter_time is None and r.time is not None:
                meter_time = r.time.value
            if s.kind == "text":
                value = r.value if isinstance(r.value, bytes) else str(r.value).encode()
                if value != s.text:
                    self.db.execute("INSERT OR REPLACE INTO texts VALUES (?, ?, ?)", (s.id, ts, value))
                    s.text = value
                continue
            v = exact(r.value)
            if s.kind == "counter" and v == s.stored and ts // MINUTE_MS == s.stored_ms // MINUTE_MS:
                # Thinned: an unchanged counter is stored once a minute (its heartbeat), so a
                # flat line and a gap stay distinguishable; the rollups lose nothing either.
                continue
            s.stored, s.stored_ms = v, ts
            slots.append((s.id, code_for(v[0]), v[1]))
            raws.append(v[0])
            self._aggregate(s, ts, v, rows)
        if slots:
            layout = self._layout(slots)
            self.db.execute(
                "INSERT OR REPLACE INTO telegrams VALUES (?, ?, ?, ?, ?)",
                (meter_id, ts, layout.id, layout.pack(raws), meter_time),
            )

    def _aggregate(self, s: _Series, ts: int, v: Tuple[int, int], rows: Dict[str, List[Row]]) -> None:
        """Fold one sample into its series' open minute (closing the previous one)."""
        ts = max(ts, s.closed_until)  # a clock stepped back: count it in the open minute
        start = ts - ts % MINUTE_MS
        if s.minute is not None and start > s.minute.start:
            self._close_minute(s, rows)
        if s.minute is None:
            s.minute = Agg(start, s.kind == "counter", v[1])
        s.minute.add(v[0], v[1], s.prev)
        s.prev = v

    def _close_minute(self, s: _Series, rows: Dict[str, List[Row]]) -> None:
        minute = s.minute
        assert minute is not None
        rows["minute"].append(minute.row(s.id))
        for level, width in (("hour", HOUR_MS), ("day", DAY_MS)):
            start = minute.start - minute.start % width
            agg = getattr(s, level)
            if agg is None or agg.start != start:
                agg = Agg(start, minute.counter, minute.exp)
                setattr(s, level, agg)
            agg.merge(minute)
            rows[level].append(agg.row(s.id))
        s.closed_until = minute.start + MINUTE_MS
        s.minute = None

    def _close_idle(self, now_ms: int, rows: Dict[str, List[Row]]) -> None:
        for s in self._by_id.values():
            if s.minute is not None and s.minute.start + MINUTE_MS + GRACE_MS <= now_ms:
                self._close_minute(s, rows)

    def _write_rollups(self, rows: Dict[str, List[Row]]) -> None:
        for level, items in rows.items():
            if items:
                # An hour or day row is re-made as each minute closes: the newest one counts.
                newest = {(row[0], row[1]): row for row in items}
                self.db.executemany(f"INSERT OR REPLACE INTO rollup_{level} VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    newest.values())

    def _write_heads(self, now_ms: int, minutes: bool) -> Dict[Tuple[str, int], Tuple[int, int, int]]:
        """Totals per head; per minute the frames and skipped bytes, gathered in memory and
        written with the rollups (the totals say the same, and a crash loses only detail).
        Returns the minutes still unwritten, to keep once the transaction is committed."""
        minute = now_ms - now_ms % MINUTE_MS
        gathered = dict(self._head_minutes)
        for h in self._heads:
            counts, (ok, bad, skipped, messages_bad) = self._head_growth(h)
            self._head_next[h.serial] = counts
            self.db.execute(
                "INSERT INTO heads (serial, device, present, state, first_seen_ms, last_seen_ms, server_id,"
                " frames_ok, frames_bad, bytes_skipped, last_frame_ms, last_error, messages_bad)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (serial) DO UPDATE SET device = excluded.device, present = excluded.present,"
                " state = excluded.state, last_seen_ms = CASE WHEN excluded.present THEN excluded.last_seen_ms"
                " ELSE heads.last_seen_ms END, server_id = coalesce(excluded.server_id, heads.server_id),"
                " frames_ok = heads.frames_ok + excluded.frames_ok, frames_bad = heads.frames_bad + excluded.frames_bad,"
                " bytes_skipped = heads.bytes_skipped + excluded.bytes_skipped,"
                " last_frame_ms = coalesce(excluded.last_frame_ms, heads.last_frame_ms), last_error = excluded.last_error,"
                " messages_bad = heads.messages_bad + excluded.messages_bad",
                (h.serial, h.device, int(h.present), h.state, now_ms, now_ms, h.server_id, ok, bad, skipped,
                 h.last_frame_ms, h.last_error, messages_bad),
            )
            _gather(gathered, h.serial, minute, ok, bad, skipped)
        self._heads = []
        if minutes:
            self.db.executemany(
                "INSERT INTO head_minutes VALUES (?, ?, ?, ?, ?) ON CONFLICT (serial, ts_ms) DO UPDATE SET"
                " frames_ok = frames_ok + excluded.frames_ok, frames_bad = frames_bad + excluded.frames_bad,"
                " bytes_skipped = bytes_skipped + excluded.bytes_skipped",
                [(serial, ts, *counts) for (serial, ts), counts in gathered.items()],
            )
            gathered = {}
        return gathered

    def _failed(self, exc: sqlite3.Error) -> None:
        """Roll back, and rebuild the in-memory state from what is committed (as after a crash)."""
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._load()
        self._recover()
        reason = str(exc)
        if "full" in reason:
            reason = f"disk full ({reason})"
        if self.failing != reason:
            log.error("cannot store readings: %s; keeping %d telegrams in memory and retrying",
                      reason, len(self.pending))
        self.failing = reason
        self._retry_at = self.clock() + self._backoff
        self._backoff = min(self._backoff * 2, 30.0)

    # -- ids and caches -----------------------------------------------------------------

    def _load(self) -> None:
        """(Re)read meters, series and layouts: after a rollback, ids may have gone."""
        self._meters: Dict[bytes, int] = {bytes(sid): mid for mid, sid in self.db.execute("SELECT id, server_id FROM meters")}
        self._series: Dict[Tuple[int, str, Optional[int]], _Series] = {}
        self._by_id: Dict[int, _Series] = {}
        for sid, mid, obis, unit, kind in self.db.execute("SELECT id, meter_id, obis, unit, kind FROM series"):
            s = _Series(sid, mid, kind)
            self._series[(mid, obis, unit)] = s
            self._by_id[sid] = s
        self._layouts: Dict[Tuple[Tuple[int, str, int], ...], Layout] = {}
        self.layouts_by_id: Dict[int, Layout] = {}
        for lid, spec in self.db.execute("SELECT id, spec FROM layouts"):
            layout = Layout(lid, parse_spec(spec))
            self._layouts[tuple(layout.slots)] = layout
            self.layouts_by_id[lid] = layout
        self._last_ts: Dict[int, int] = {}
        self._unwritten = _no_rows()  # rollup rows closed but not yet written

    def _meter_id(self, server_id: bytes, ts: int) -> int:
        meter_id = self._meters.get(server_id)
        if meter_id is None:
            cur = self.db.execute("INSERT INTO meters (server_id, first_seen_ms) VALUES (?, ?)", (server_id, ts))
            meter_id = self._meters[server_id] = int(cur.lastrowid)
            log.info("new meter %s", server_id.hex())
        return meter_id

    def _series_for(self, meter_id: int, r: Reading, ts: int) -> Optional[_Series]:
        s = self._series.get((meter_id, r.obis, r.unit))
        numeric = isinstance(r.value, Decimal)
        if s is None:
            if not numeric and not isinstance(r.value, (bytes, bool)):
                return None  # a structured SML value: nothing pyhm can chart or sum
            kind = ("counter" if is_counter(r.obis) else "gauge") if numeric else "text"
            return self._series_key(meter_id, r.obis, r.unit, kind, r.scaler)
        if (s.kind == "text") == numeric:
            return None  # the meter changed a value's type: keep the series as it began
        return s

    def _series_key(self, meter_id: int, obis: str, unit: Optional[int], kind: str, scaler: Optional[int]) -> _Series:
        key = (meter_id, obis, unit)
        s = self._series.get(key)
        if s is None:
            cur = self.db.execute(
                "INSERT INTO series (meter_id, obis, unit, kind, scaler) VALUES (?, ?, ?, ?, ?)",
                (meter_id, obis, unit, kind, scaler),
            )
            s = _Series(int(cur.lastrowid), meter_id, kind)
            self._series[key] = s
            self._by_id[s.id] = s
        return s

    def _layout(self, slots: List[Tuple[int, str, int]]) -> Layout:
        key = tuple(slots)
        layout = self._layouts.get(key)
        if layout is None:
            spec = spec_text(slots)
            cur = self.db.execute("INSERT INTO layouts (spec) VALUES (?)", (spec,))
            layout = Layout(int(cur.lastrowid), slots)
            self._layouts[key] = layout
            self.layouts_by_id[layout.id] = layout
        return layout

    # -- recovery and retention ---------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild the open rollup buckets after a stop or a crash, from what was committed."""
        last_minute = dict(self.db.execute("SELECT series_id, MAX(ts_ms) FROM rollup_minute GROUP BY series_id"))
        replay_from: Dict[int, int] = {}
        for s in self._by_id.values():
            if s.kind == "text":
                row = self.db.execute("SELECT value FROM texts WHERE series_id = ? ORDER BY ts_ms DESC LIMIT 1", (s.id,)).fetchone()
                s.text = bytes(row[0]) if row else None
                continue
            counter = s.kind == "counter"
            if s.id in last_minute:
                start = last_minute[s.id]
                s.closed_until = start + MINUTE_MS
                row = self.db.execute("SELECT * FROM rollup_minute WHERE series_id = ? AND ts_ms = ?", (s.id, start)).fetchone()
                last = Agg.from_row(counter, row)
                if counter and last.last is not None:
                    s.prev = (last.last, last.exp)
                for level, width in (("hour", HOUR_MS), ("day", DAY_MS)):
                    row = self.db.execute(f"SELECT * FROM rollup_{level} WHERE series_id = ? AND ts_ms = ?",
                                          (s.id, s.closed_until - MINUTE_MS - (s.closed_until - MINUTE_MS) % width)).fetchone()
                    if row is not None:
                        setattr(s, level, Agg.from_row(counter, row))
            replay_from[s.meter_id] = min(replay_from.get(s.meter_id, s.closed_until), s.closed_until)
        rows = self._unwritten
        for meter_id, since in replay_from.items():
            for ts, lid, data in self.db.execute(
                "SELECT ts_ms, layout_id, data FROM telegrams WHERE meter_id = ? AND ts_ms >= ? ORDER BY ts_ms",
                (meter_id, since),
            ).fetchall():
                layout = self.layouts_by_id[lid]
                for (sid, _, exp), raw in zip(layout.slots, layout.unpack(data)):
                    s = self._by_id[sid]
                    if ts >= s.closed_until:
                        s.stored, s.stored_ms = (raw, exp), ts
                        self._aggregate(s, ts, (raw, exp), rows)
                self._last_ts[meter_id] = ts

    def _prune(self, now_ms: int) -> None:
        raw_cut = now_ms - int(self.retention.raw_days * DAY_MS)
        minute_cut = now_ms - int(self.retention.minute_days * DAY_MS)
        # Each delete is a range at the start of its key: of the table, and of each series.
        self.db.execute("DELETE FROM telegrams WHERE ts_ms < ?", (raw_cut,))
        for series_id in self._by_id:
            self.db.execute("DELETE FROM rollup_minute WHERE series_id = ? AND ts_ms < ?", (series_id, minute_cut))
        self.db.execute("DELETE FROM head_minutes WHERE ts_ms < ?", (raw_cut,))
        self._pruned_at = now_ms


def _gather(minutes: Dict[Tuple[str, int], Tuple[int, int, int]], serial: str, minute: int,
            ok: int, bad: int, skipped: int) -> None:
    """Add one head's frames and skipped bytes to its count of a minute."""
    if ok or bad or skipped:
        old = minutes.get((serial, minute), (0, 0, 0))
        minutes[(serial, minute)] = (old[0] + ok, old[1] + bad, old[2] + skipped)
