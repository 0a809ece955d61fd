"""``pyhm export``: one series over a time range, as CSV or JSON, straight from the database.

Times are local ISO 8601 with their offset; values are the exact decimals stored. ``raw``
exports every stored sample (kept 35 days by default); a rollup resolution exports one row per
bucket: mean, min and max for gauges, last value and increase for counters.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple

from pyhm import exactjson
from pyhm.decode import value_text
from pyhm.obis import parse_obis
from pyhm.store import Query, SchemaError
from pyhm.store.schema import open_error
from pyhm.store.query import NotFound, Series, point_of, utc_ms
from pyhm.store.rollup import LEVEL_MS, decimal

RESOLUTIONS = ("raw", "minute", "hour", "day")
CHUNK = 64 * 1024  # characters per piece of an export: memory stays flat whatever the range


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; without an offset it is local time."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'not a date or time: "{text}" (expected e.g. 2026-11-24 or 2026-11-24T13:00)') from None


def local_iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000).astimezone().isoformat(timespec="seconds")


def columns(series: Series, resolution: str) -> List[str]:
    if series.kind == "text" or resolution == "raw":
        return ["time", "value", "unit"]
    if series.kind == "counter":
        return ["time", "last", "increase", "unit"]
    return ["time", "mean", "min", "max", "unit"]


def rows(q: Query, series: Series, start: int, end: int, resolution: str) -> Iterator[List[Any]]:
    unit = series.unit_symbol or ""
    if series.kind == "text":
        for ts, value in q.texts(series, start, end):
            yield [local_iso(ts), value_text(value), unit]
    elif resolution == "raw":
        for ts, v, exp in q.raw(series, start, end):
            yield [local_iso(ts), decimal(v, exp), unit]
    else:
        for agg in q.rollups(series, resolution, start - start % LEVEL_MS[resolution], end):
            if agg.counter:
                yield [local_iso(agg.start), decimal(agg.last, agg.exp), decimal(agg.inc, agg.exp), unit]
            else:
                p = point_of(agg)
                yield [local_iso(agg.start), p.value, p.min, p.max, unit]


def open_series(db: str, meter: str, obis: str) -> Tuple[Query, Series]:
    q = Query(db)
    try:
        return q, q.find_series(q.meter(meter).id, parse_obis(obis))
    except Exception:
        q.close()
        raise


def run(db: str, meter: str, obis: str, start: Optional[str], end: Optional[str], fmt: str,
        resolution: str, out: IO[str] = sys.stdout) -> int:
    try:
        end_ms = utc_ms(parse_time(end) if end else datetime.now())
        start_ms = utc_ms(parse_time(start)) if start else end_ms - 86_400_000
        if end_ms <= start_ms:
            raise ValueError("--to must be after --from")
        q, series = open_series(db, meter, obis)
    except (ValueError, OverflowError, SchemaError, NotFound) as exc:
        print(f"pyhm export: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        print(f"pyhm export: {open_error(Path(db), exc)}", file=sys.stderr)
        return 1
    try:
        write(q, series, start_ms, end_ms, resolution, fmt, out)
    except sqlite3.DatabaseError as exc:  # damaged pages met on the way: what was read is out
        out.flush()
        print(f"pyhm export: stopped: {open_error(Path(db), exc)}", file=sys.stderr)
        return 1
    finally:
        q.close()
    return 0


def write(q: Query, series: Series, start_ms: int, end_ms: int, resolution: str, fmt: str, out: IO[str]) -> None:
    """The rows of a series as CSV (with a header) or as a JSON array of objects."""
    for chunk in chunks(q, series, start_ms, end_ms, resolution, fmt):
        out.write(chunk)


def chunks(q: Query, series: Series, start_ms: int, end_ms: int, resolution: str, fmt: str,
           size: int = CHUNK) -> Iterator[str]:
    """The export in pieces of about ``size`` characters, read from a cursor as they are sent:
    a year of raw samples takes no more memory than a minute of them."""
    names = columns(series, resolution)
    buf = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
    else:
        buf.write("[")
    for i, row in enumerate(rows(q, series, start_ms, end_ms, resolution)):
        if fmt == "csv":
            writer.writerow(["" if v is None else v for v in row])
        else:
            item: Dict[str, Any] = dict(zip(names, row))
            buf.write(("," if i else "") + "\n" + exactjson.dumps(item))
        if buf.tell() >= size:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if fmt == "json":
        buf.write("\n]\n")
    yield buf.getvalue()
