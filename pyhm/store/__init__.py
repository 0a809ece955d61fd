"""Storage: one SQLite file (WAL) that keeps every reading exactly, for years, on an SD card.

``Writer`` is the single writer (one connection, one thread); ``Query`` opens read-only
connections for the web service and the CLI. Neither knows anything of serial ports or HTTP.
"""

from pyhm.store.query import Point, Query
from pyhm.store.schema import SCHEMA_VERSION, SchemaError, connect
from pyhm.store.writer import HeadStats, Retention, Writer

__all__ = ["HeadStats", "Point", "Query", "Retention", "SCHEMA_VERSION", "SchemaError", "Writer", "connect"]
