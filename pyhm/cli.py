"""The ``pyhm`` command: one subcommand per job; each imports only what it needs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from pyhm import __version__


HEX_TEXT = frozenset(b"0123456789abcdefABCDEF \t\r\n")


def _is_hex_text(head: bytes, whole: bool) -> bool:
    """Hex text, not binary SML? Binary SML always holds 0x1b escapes, which hex text cannot."""
    return bool(head.strip()) and (whole or len(head) >= 16) and HEX_TEXT.issuperset(head)


def _decode(args: argparse.Namespace) -> int:
    from pyhm import decode

    as_hex = args.hex
    if args.file == "-":
        terminal = sys.stdin.isatty()
        if terminal:  # and no peeking: a terminal's end of input (Ctrl-D) is read only once
            print("pyhm decode: reading an SML capture from the terminal; name a file or pipe one in "
                  "(pyhm decode < capture.bin); Ctrl-D ends the input", file=sys.stderr, flush=True)
        head = b"" if as_hex or terminal else sys.stdin.buffer.peek(4096)[:4096]
        whole = False
    else:
        try:
            with open(args.file, "rb") as f:
                head = b"" if as_hex else f.read(4096)
        except OSError:
            head = b""  # decode.run says why it cannot read the file
        whole = len(head) < 4096
    if not as_hex and _is_hex_text(head, whole):
        name = "the input" if args.file == "-" else args.file
        print(f"pyhm decode: {name} is hex text; decoding it as hex (as with --hex)", file=sys.stderr)
        as_hex = True
    return decode.run(args.file, as_hex, args.json)


def _demo(args: argparse.Namespace) -> int:
    from pyhm import demo
    from pyhm.store.schema import os_reason

    try:
        return demo.run(args.dir, args.seconds, args.port, args.weeks)
    except OSError as exc:  # its directory
        print(f"pyhm demo: cannot start: {os_reason(exc)}", file=sys.stderr)
        return 1


def _weeks(text: str) -> float:
    """``--weeks``: 0 (no history) up to two years (the minute rollups' retention)."""
    try:
        weeks = float(text)
    except ValueError:
        weeks = -1.0
    if not 0 <= weeks <= 104:
        raise argparse.ArgumentTypeError(f'must be a number of weeks from 0 to 104, not "{text}"')
    return weeks


def _check_config(args: argparse.Namespace) -> int:
    from pyhm import config

    try:
        cfg = config.load(args.file or args.config)
    except config.ConfigError as exc:
        print(f"pyhm: invalid configuration: {exc}", file=sys.stderr)
        return 2
    print(config.describe(cfg), end="")
    return 0


def _acquire(args: argparse.Namespace) -> int:
    from pyhm import logs
    from pyhm.acquire.service import Service

    cfg = _load(args)
    if cfg is None:
        return 2
    logs.setup(cfg.logging.level)
    return Service(cfg).run()


def _mqtt(args: argparse.Namespace) -> int:
    from pyhm import config, logs

    cfg = _load(args)
    if cfg is None:
        return 255 if args.configured else 2  # for ExecCondition=: 255 fails the unit, 1-254 skip it
    if cfg.mqtt is None:
        print(f"pyhm mqtt: not configured: {cfg.source} has no mqtt section (see the README, MQTT)", file=sys.stderr)
        return 1
    if args.configured:
        print(f"pyhm mqtt: configured: {cfg.mqtt.url}")
        return 0
    from pyhm.mqtt.service import MqttService

    logs.setup(cfg.logging.level)
    try:
        service = MqttService(cfg)
    except config.ConfigError as exc:
        print(f"pyhm mqtt: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return service.run()


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The configuration, or None after saying what is wrong with it."""
    from pyhm import config

    try:
        return config.load(args.config)
    except config.ConfigError as exc:
        print(f"pyhm: invalid configuration: {exc}", file=sys.stderr)
        return None


def _web(args: argparse.Namespace) -> int:
    import logging
    import signal
    import subprocess
    import threading

    from pyhm import logs
    from pyhm.web.server import serve

    cfg = _load(args)
    if cfg is None:
        return 2
    logs.setup(cfg.logging.level)
    from pyhm.store.schema import os_reason

    try:
        server, _ = serve(cfg)
    except subprocess.CalledProcessError as exc:
        print(f"pyhm web: cannot make a TLS certificate: {exc.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    except OSError as exc:  # the certificate's directory or files
        print(f"pyhm web: cannot start: {os_reason(exc)}", file=sys.stderr)
        return 1
    try:
        server.prepare()
    except OSError as exc:
        print(f"pyhm web: cannot serve on {cfg.web.listen}:{cfg.web.port}: {os_reason(exc)}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    worker = threading.Thread(target=server.serve, name="https", daemon=True)
    worker.start()
    logging.getLogger("pyhm.web").info("serving https://%s:%d/", cfg.web.listen, server.bind_addr[1])
    while not done.wait(1) and worker.is_alive():
        pass
    server.stop()
    return 0 if done.is_set() else 1


def _passwd(args: argparse.Namespace) -> int:
    import getpass

    from pyhm.web.auth import set_password

    cfg = _load(args)
    if cfg is None:
        return 2
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New web password: ")
        if getpass.getpass("Again: ") != password:
            print("pyhm passwd: the two entries differ; nothing changed", file=sys.stderr)
            return 1
    try:
        set_password(cfg.web.credentials, password)
    except ValueError as exc:
        print(f"pyhm passwd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        from pyhm.store.schema import os_reason

        print(f"pyhm passwd: cannot write {cfg.web.credentials}: {os_reason(exc, cfg.web.credentials)}",
              file=sys.stderr)
        return 1
    print(f"password set ({cfg.web.credentials}); sessions logged in before are logged out")
    return 0


def _backup(args: argparse.Namespace) -> int:
    import sqlite3

    from pyhm.store import Query, SchemaError
    from pyhm.store.schema import os_reason

    cfg = _load(args)
    if cfg is None:
        return 2
    source, dest = cfg.database.path, Path(args.dest)
    if dest.exists():
        print(f"pyhm backup: {dest} exists; not overwriting it", file=sys.stderr)
        return 2
    try:
        q = Query(source)
    except SchemaError as exc:
        print(f"pyhm backup: {exc}", file=sys.stderr)
        return 1
    try:
        q.backup(dest)
    except sqlite3.Error as exc:
        dest.unlink(missing_ok=True)
        print(f"pyhm backup: cannot copy {source} to {dest}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        dest.unlink(missing_ok=True)
        print(f"pyhm backup: cannot write {dest}: {os_reason(exc, dest)}", file=sys.stderr)
        return 1
    finally:
        q.close()
    damage = _damage(dest)
    if damage:
        print(f"pyhm backup: copied {source} to {dest}, but the copy shows that the database is damaged "
              f"({damage}); rescue what is readable with: sqlite3 {dest} .recover | sqlite3 rescued.db",
              file=sys.stderr)
        return 1
    print(f"backed up {source} to {dest}")
    return 0


def _damage(path: Path) -> Optional[str]:
    """SQLite's first complaint about a database file, or None if its quick check passes."""
    import sqlite3

    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        first = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()
    return None if first == "ok" else first


def _simulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from pyhm.acquire.simulate import Simulator
    from pyhm.store.schema import os_reason

    replay = None
    try:
        if args.replay:
            data = Path(args.replay).read_bytes()
            replay = bytes.fromhex("".join(data.decode("ascii", "replace").split())) if args.hex else data
    except OSError as exc:
        print(f"pyhm simulate: cannot read {args.replay}: {os_reason(exc, args.replay)}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"pyhm simulate: {args.replay} is not hex text", file=sys.stderr)
        return 2
    try:
        sim = Simulator(Path(args.dir), args.meters, args.interval, replay).start()
    except ValueError as exc:
        print(f"pyhm simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pyhm simulate: cannot make the meters in {args.dir}: {os_reason(exc)}", file=sys.stderr)
        return 1
    for m in sim.meters:
        print(f"{m.link} -> {m.device}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


def _export(args: argparse.Namespace) -> int:
    from pyhm import export

    db = args.db
    if db is None:
        cfg = _load(args)
        if cfg is None:
            return 2
        db = cfg.database.path
    return export.run(str(db), args.meter, args.obis, args.start, args.end, args.format, args.resolution)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhm", description="Home metering: read German smart meters (SML), store and serve the readings."
    )
    parser.add_argument("--version", action="version", version=f"pyhm {__version__}")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="configuration file (default: $PYHM_CONFIG or /etc/pyhm/pyhm.cfg)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="what to do (pyhm COMMAND --help tells more)")
    sub.required = True

    p = sub.add_parser("decode", help="decode an SML capture and print every frame")
    p.add_argument("file", nargs="?", default="-", help="capture file (binary, or hex with --hex); - for stdin")
    p.add_argument("--hex", action="store_true", help="the input is hex text")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per frame")
    p.set_defaults(func=_decode)

    p = sub.add_parser("demo", help="run pyhm on simulated meters (no hardware needed)")
    p.add_argument("--dir", default=".pyhm-demo", help="where the demo keeps its database (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--port", type=int, default=8443, help="HTTPS port on localhost (default: %(default)s)")
    p.add_argument("--weeks", type=_weeks, default=5,
                   help="weeks of history to fill in before the meters go live, 0 for none; only into a database "
                        "without the demo's meters (default: %(default)s)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("check-config", help="check a configuration file and print the effective configuration")
    p.add_argument("file", nargs="?", help="the file (default: the --config file)")
    p.set_defaults(func=_check_config)

    p = sub.add_parser(
        "acquire", help="the acquisition service: read every IR head, store every reading",
        description="Read every IR head the configuration names (hot-plugged heads too), decode each SML "
                    "telegram and store every reading in the database; runs until SIGTERM or Ctrl-C. "
                    "Normally started by systemd as pyhm-acquire.service. Settings: the acquisition, "
                    "meters and database sections of the configuration (see --config).")
    p.set_defaults(func=_acquire)

    p = sub.add_parser(
        "web", help="the web service: dashboard, charts and JSON API over HTTPS",
        description="Serve the dashboard, the charts and the JSON API over HTTPS, reading the database "
                    "that pyhm acquire writes; runs until SIGTERM or Ctrl-C. Normally started by systemd "
                    "as pyhm-web.service. Set the password first with pyhm passwd. Settings: the web "
                    "section of the configuration (see --config).")
    p.set_defaults(func=_web)

    p = sub.add_parser("mqtt", help="publish to an MQTT broker: Home Assistant discovery, live state, history stream")
    p.add_argument("--configured", action="store_true",
                   help="only say whether an mqtt section is configured (exit 0) or not (exit 1)")
    p.set_defaults(func=_mqtt)

    p = sub.add_parser("passwd", help="set the web password")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input (for scripts)")
    p.set_defaults(func=_passwd)

    p = sub.add_parser("backup", help="a consistent copy of the database, while the services run")
    p.add_argument("dest", help="the new file to write")
    p.set_defaults(func=_backup)

    p = sub.add_parser("simulate", help="simulated meters on ptys, linked as DIR/hm_SIM0001, ...")
    p.add_argument("--dir", default="/tmp/pyhm-sim", help="where the hm_* links go (default: %(default)s)")
    p.add_argument("--meters", type=int, default=2, help="how many meters to simulate (default: %(default)s)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between telegrams")
    p.add_argument("--replay", help="send the frames of this capture instead, in a loop")
    p.add_argument("--hex", action="store_true", help="the capture is hex text")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("export", help="export one series of one meter as CSV or JSON")
    p.add_argument("--db", default=None,
                   help="database file (default: database.path of the configuration, see --config)")
    p.add_argument("--meter", required=True, help="meter name, id or server id (hex)")
    p.add_argument("--obis", required=True, help="OBIS code, e.g. 1-0:1.8.0")
    p.add_argument("--from", dest="start", help="start, ISO 8601 (default: 24 hours before --to)")
    p.add_argument("--to", dest="end", help="end, ISO 8601 (default: now)")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default: %(default)s)")
    p.add_argument("--resolution", choices=("raw", "minute", "hour", "day"), default="raw",
                   help="every stored sample, or one row per minute, hour or day (default: %(default)s)")
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
