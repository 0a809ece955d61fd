"""The ``pyhm`` command: one subcommand per job; each imports only what it needs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from pyhm import __version__


def _decode(args: argparse.Namespace) -> int:
    from pyhm import decode

    return decode.run(args.file, args.hex, args.json)


def _demo(args: argparse.Namespace) -> int:
    from pyhm import demo

    return demo.run(args.count, args.interval)


def _export(args: argparse.Namespace) -> int:
    from pyhm import export

    return export.run(args.db, args.meter, args.obis, args.start, args.end, args.format, args.resolution)


DEFAULT_DB = os.environ.get("PYHM_DB", "/var/lib/pyhm/pyhm.db")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhm", description="Home metering: read German smart meters (SML), store and serve the readings."
    )
    parser.add_argument("--version", action="version", version=f"pyhm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("decode", help="decode an SML capture and print every frame")
    p.add_argument("file", nargs="?", default="-", help="capture file (binary, or hex with --hex); - for stdin")
    p.add_argument("--hex", action="store_true", help="the input is hex text")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per frame")
    p.set_defaults(func=_decode)

    p = sub.add_parser("demo", help="run pyhm on simulated meters (no hardware needed)")
    p.add_argument("--count", type=int, default=None, help="stop after this many telegrams per meter")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between telegrams")
    p.set_defaults(func=_demo)

    p = sub.add_parser("export", help="export one series of one meter as CSV or JSON")
    p.add_argument("--db", default=DEFAULT_DB, help="database file (default: %(default)s)")
    p.add_argument("--meter", required=True, help="meter name, id or server id (hex)")
    p.add_argument("--obis", required=True, help="OBIS code, e.g. 1-0:1.8.0")
    p.add_argument("--from", dest="start", help="start, ISO 8601 (default: 24 hours before --to)")
    p.add_argument("--to", dest="end", help="end, ISO 8601 (default: now)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--resolution", choices=("raw", "minute", "hour", "day"), default="raw")
    p.set_defaults(func=_export)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
