"""The ``pyhm`` command: one subcommand per job; each imports only what it needs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from pyhm import __version__


def _decode(args: argparse.Namespace) -> int:
    from pyhm import decode

    return decode.run(args.file, args.hex, args.json)


def _demo(args: argparse.Namespace) -> int:
    from pyhm import demo

    return demo.run(args.dir, args.seconds, args.port)


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
    from pyhm.web.app import serve

    cfg = _load(args)
    if cfg is None:
        return 2
    logs.setup(cfg.logging.level)
    try:
        server, _ = serve(cfg)
        server.prepare()
    except subprocess.CalledProcessError as exc:
        print(f"pyhm web: cannot make a TLS certificate: {exc.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pyhm web: cannot serve on {cfg.web.listen}:{cfg.web.port}: {exc}", file=sys.stderr)
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
    except (ValueError, OSError) as exc:
        print(f"pyhm passwd: {exc}", file=sys.stderr)
        return 1
    print(f"password set ({cfg.web.credentials}); sessions logged in before are logged out")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pyhm.store import Query, SchemaError

    cfg = _load(args)
    if cfg is None:
        return 2
    dest = Path(args.dest)
    if dest.exists():
        print(f"pyhm backup: {dest} exists; not overwriting it", file=sys.stderr)
        return 2
    try:
        q = Query(cfg.database.path)
        q.backup(dest)
        q.close()
    except (SchemaError, OSError) as exc:
        print(f"pyhm backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {cfg.database.path} to {dest}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from pyhm.acquire.simulate import Simulator

    replay = None
    if args.replay:
        data = Path(args.replay).read_bytes()
        replay = bytes.fromhex(data.decode("ascii", "replace").strip()) if args.hex else data
    try:
        sim = Simulator(Path(args.dir), args.meters, args.interval, replay).start()
    except ValueError as exc:
        print(f"pyhm simulate: {exc}", file=sys.stderr)
        return 2
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

    return export.run(args.db, args.meter, args.obis, args.start, args.end, args.format, args.resolution)


DEFAULT_DB = os.environ.get("PYHM_DB", "/var/lib/pyhm/pyhm.db")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhm", description="Home metering: read German smart meters (SML), store and serve the readings."
    )
    parser.add_argument("--version", action="version", version=f"pyhm {__version__}")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="configuration file (default: $PYHM_CONFIG or /etc/pyhm/pyhm.cfg)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    p.set_defaults(func=_demo)

    p = sub.add_parser("check-config", help="check a configuration file and print the effective configuration")
    p.add_argument("file", nargs="?", help="the file (default: the --config file)")
    p.set_defaults(func=_check_config)

    p = sub.add_parser("acquire", help="the acquisition service: read every IR head, store every reading")
    p.set_defaults(func=_acquire)

    p = sub.add_parser("web", help="the web service: dashboard, charts and JSON API over HTTPS")
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
    p.add_argument("--meters", type=int, default=2)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between telegrams")
    p.add_argument("--replay", help="send the frames of this capture instead, in a loop")
    p.add_argument("--hex", action="store_true", help="the capture is hex text")
    p.set_defaults(func=_simulate)

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
