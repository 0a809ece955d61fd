"""The configuration: one YAML file (``pyhm.cfg``) parsed once into immutable dataclasses.

Every key is checked: an unknown key, a wrong type or a value out of range is an error that
names the file, the line and the key, and says what is expected. Nothing else in pyhm reads
YAML. A missing key takes the default that the shipped ``pyhm.cfg`` documents.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import urlsplit

import yaml

from pyhm.localtime import zone
from pyhm.obis import parse_obis

DEFAULT_PATH = Path(os.environ.get("PYHM_CONFIG", "/etc/pyhm/pyhm.cfg"))
MAX_DEPTH = 16  # pyhm.cfg nests 4 deep; far deeper is a broken or hostile file
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


class ConfigError(Exception):
    """A configuration that pyhm refuses, with where and why."""


@dataclass(frozen=True)
class SerialSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path = Path("/var/lib/pyhm/pyhm.db")
    raw_days: float = 35
    minute_days: float = 730
    commit_seconds: float = 60


def extra_head_pattern(entry: str) -> str:
    """An adapter the user names as a head (``acquisition.extra_heads``) → the link pattern
    udev's 60-serial.rules gives it: by its USB serial (``ID_SERIAL_SHORT``) or, for a chip
    without one, by its USB port (``ID_PATH``, e.g. ``platform-3f980000.usb-usb-0:1.3:1.0``)."""
    if not entry or any(c in entry for c in "/*?[]"):
        raise ValueError(f"expected a USB serial number or port path (see `udevadm info`), got \"{entry}\"")
    if "-usb-" in entry:
        return f"/dev/serial/by-path/{entry}*"
    return f"/dev/serial/by-id/usb-*_{entry}-if*"


@dataclass(frozen=True)
class AcquisitionConfig:
    devices: Tuple[str, ...] = ("/dev/hm_*",)  # with the link patterns of extra_heads
    serial: SerialSettings = SerialSettings()
    heads: Dict[str, SerialSettings] = field(default_factory=dict)
    stall_seconds: float = 10
    discovery: str = "udev"
    extra_heads: Tuple[str, ...] = ()

    def serial_for(self, head: str) -> SerialSettings:
        return self.heads.get(head, self.serial)


@dataclass(frozen=True)
class MeterConfig:
    name: str
    server_id: Optional[bytes] = None
    head: Optional[str] = None
    note: Optional[str] = None
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()

    def wants(self, obis: str) -> bool:
        """Does the OBIS filter keep this code? (include: only these; exclude: never these)"""
        if self.include and not any(fnmatch.fnmatchcase(obis, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(obis, p) for p in self.exclude)


@dataclass(frozen=True)
class WebConfig:
    listen: str = "0.0.0.0"
    port: int = 8443
    certificate: Path = Path("/var/lib/pyhm/tls/cert.pem")
    key: Path = Path("/var/lib/pyhm/tls/key.pem")
    credentials: Path = Path("/var/lib/pyhm/web-credentials.json")
    session_days: float = 30


@dataclass(frozen=True)
class MqttConfig:
    """``pyhm mqtt``: where to publish, and under which names (absent: the service does not run)."""

    url: str
    host: str
    port: int
    tls: bool
    site: str
    username: Optional[str] = None
    password_file: Optional[Path] = None
    ca_file: Optional[Path] = None
    client_id: Optional[str] = None
    topic_prefix: str = "pyhm"
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    state_interval: float = 0
    cursor_file: Optional[Path] = None


@dataclass(frozen=True)
class EnergyConfig:
    """Prices for the Energy page: what a kWh bought costs and what one sold earns (exact)."""

    price: Optional[Decimal] = None  # per kWh imported; None: no costs shown
    currency: str = "EUR"  # ISO 4217 code, for the page's number format
    feed_in: Optional[Decimal] = None  # per kWh exported


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = DatabaseConfig()
    acquisition: AcquisitionConfig = AcquisitionConfig()
    meters: Tuple[MeterConfig, ...] = ()
    web: WebConfig = WebConfig()
    logging: LoggingConfig = LoggingConfig()
    timezone: Optional[str] = None  # IANA name for local days and times; None: the host's zone
    mqtt: Optional[MqttConfig] = None
    energy: EnergyConfig = EnergyConfig()
    source: str = "built-in defaults"

    def meter_for(self, server_id: bytes, head: Optional[str]) -> Optional[MeterConfig]:
        """The meter entry for a telegram: by server id first, else by the head it came through."""
        for m in self.meters:
            if m.server_id is not None and m.server_id == server_id:
                return m
        for m in self.meters:
            if m.server_id is None and head is not None and m.head == head:
                return m
        return None


# -- parsing ------------------------------------------------------------------------------

def _shown(value: Any) -> str:
    """A value as the user wrote it, for a message (no Python repr)."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {path}: {message}")

    def mapping(self, node: yaml.Node, path: str, keys: Dict[str, Callable[[yaml.Node, str], Any]]) -> Dict[str, Any]:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path or "(top)", "expected a mapping of keys")
        out: Dict[str, Any] = {}
        for knode, vnode in node.value:
            key = knode.value
            where = f"{path}.{key}" if path else key
            if key not in keys:
                raise self.error(knode, where, f"unknown key (expected one of: {', '.join(keys)})")
            if key in out:
                raise self.error(knode, where, "given twice")
            out[key] = keys[key](vnode, where)
        return out

    def scalar(self, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, path, "expected a single value")
        if node.tag == "tag:yaml.org,2002:null":  # `key:` with nothing after it serialises to no document
            return None
        return yaml.safe_load(yaml.serialize(node))

    def number(self, lo: float, hi: float, integer: bool = False) -> Callable[[yaml.Node, str], Any]:
        def parse(node: yaml.Node, path: str) -> Any:
            v = self.scalar(node, path)
            ok = isinstance(v, int) if integer else isinstance(v, (int, float))
            if isinstance(v, bool) or not ok or not lo <= v <= hi:
                kind = "a whole number" if integer else "a number"
                raise self.error(node, path, f"expected {kind} from {lo:g} to {hi:g}, got {_shown(v)}")
            return v
        return parse

    def text(self, node: yaml.Node, path: str) -> str:
        v = self.scalar(node, path)
        if not isinstance(v, str) or not v:
            raise self.error(node, path, f"expected text, got {_shown(v)}")
        return v

    def path(self, node: yaml.Node, path: str) -> Path:
        try:
            return Path(_no_nul(self.text(node, path)))
        except ValueError as exc:
            raise self.error(node, path, str(exc)) from None

    def listen(self, node: yaml.Node, path: str) -> str:
        v = self.text(node, path)
        try:
            ipaddress.ip_address(v)
        except ValueError:
            if len(v) > 253 or not _HOSTNAME.fullmatch(v):
                raise self.error(node, path, f"expected an IP address (e.g. 0.0.0.0 or ::) or a host name, "
                                             f"got {_shown(v)}") from None
        return v

    def choice(self, *options: Any) -> Callable[[yaml.Node, str], Any]:
        def parse(node: yaml.Node, path: str) -> Any:
            v = self.scalar(node, path)
            if isinstance(v, str):
                v = v.lower() if isinstance(options[0], str) and options[0].islower() else v
            if v not in options:
                raise self.error(node, path, f"expected one of {', '.join(map(str, options))}, got {_shown(v)}")
            return v
        return parse

    def texts(self, check: Optional[Callable[[str], str]] = None) -> Callable[[yaml.Node, str], Tuple[str, ...]]:
        def parse(node: yaml.Node, path: str) -> Tuple[str, ...]:
            items = node.value if isinstance(node, yaml.SequenceNode) else [node]
            out = []
            for item in items:
                v = self.text(item, path)
                if check is not None:
                    try:
                        v = check(v)
                    except ValueError as exc:
                        raise self.error(item, path, str(exc)) from None
                out.append(v)
            return tuple(out)
        return parse


def _obis_pattern(text: str) -> str:
    """An OBIS code (normalised: ``1-0:1.8.0`` → ``1-0:1.8.0*255``) or a glob such as ``1-0:*.8.*``."""
    try:
        return parse_obis(text)
    except ValueError:
        if not any(c in text for c in "*?["):
            raise
    if "*" not in text.rsplit(".", 1)[-1]:
        text += "*"  # no F group given: any F, as for plain codes
    return text


def _no_nul(text: str) -> str:
    if "\0" in text:
        raise ValueError("a path cannot contain a NUL character")
    return text


class _Open:
    """A mapping or sequence open in the event stream, and where its next node goes."""

    def __init__(self, path: str, mapping: bool) -> None:
        self.path, self.mapping = path, mapping
        self.key: Optional[str] = None  # mapping: the key whose value comes next
        self.index = 0  # sequence: the next item's index

    def child(self) -> str:
        if not self.mapping:
            return f"{self.path}[{self.index}]"
        name = self.key if self.key is not None else "(key)"
        return f"{self.path}.{name}" if self.path else name

    def done(self, node: Any) -> None:
        if not self.mapping:
            self.index += 1
        elif self.key is None:
            self.key = str(node.value) if isinstance(node, yaml.ScalarEvent) else "?"
        else:
            self.key = None


def _check_events(text: str, source: str) -> None:
    """Refuse YAML tags and absurd nesting before composing (which recurses, and would crash)."""
    open_: List[_Open] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            open_.pop()
            if open_:
                open_[-1].done(event)
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        where = f"{source}:{event.start_mark.line + 1}: {open_[-1].child() if open_ else '(top)'}"
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS:
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise ConfigError(f"{where}: the YAML tag {tag} is not allowed (pyhm.cfg holds plain values, lists "
                              "and mappings)")
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) == MAX_DEPTH:
                raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep")
            open_.append(_Open(open_[-1].child() if open_ else "", isinstance(event, yaml.MappingStartEvent)))
        elif open_:
            open_[-1].done(event)


def _clash(a: MeterConfig, b: MeterConfig) -> Optional[Tuple[str, str]]:
    """What two meter entries share that must be one meter's alone: (key, message), or None."""
    both = f'("{b.name}" and "{a.name}")'
    if a.name == b.name:
        return "name", f'the name "{a.name}" is given to two meters'
    if a.server_id is not None and a.server_id == b.server_id:
        return "server_id", f"the server id {a.server_id.hex()} is given to two meters {both}"
    if a.server_id is None and b.server_id is None and a.head == b.head:
        return "head", f"the head {a.head} (without a server id) is given to two meters {both}"
    return None




def _device(text: str) -> str:
    """A device path or glob (/dev/hm_*), or a network head: socket://host:port, rfc2217://host:port."""
    if "://" not in text:
        return text
    url = urlsplit(text)
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme not in ("socket", "rfc2217") or not url.hostname or port is None:
        raise ValueError(f"expected a device path or socket://host:port or rfc2217://host:port, got \"{text}\"")
    return text


def _serial(ctx: _Ctx) -> Callable[[yaml.Node, str], SerialSettings]:
    def parse(node: yaml.Node, path: str) -> SerialSettings:
        d = ctx.mapping(node, path, {
            "baudrate": ctx.choice(300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200),
            "bytesize": ctx.choice(7, 8),
            "parity": ctx.choice("N", "E", "O"),
            "stopbits": ctx.choice(1, 2),
        })
        return SerialSettings(**d)
    return parse


def _server_id(ctx: _Ctx) -> Callable[[yaml.Node, str], bytes]:
    def parse(node: yaml.Node, path: str) -> bytes:
        v = str(ctx.scalar(node, path)).replace(" ", "")
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            raw = b""
        if not raw:
            raise ctx.error(node, path, f"expected the meter's server id in hex (e.g. 0a01454d480000cacf7e), got {_shown(v)}")
        return raw
    return parse


def _topic_level(ctx: _Ctx) -> Callable[[yaml.Node, str], str]:
    def parse(node: yaml.Node, path: str) -> str:
        v = str(ctx.scalar(node, path))
        if not v or any(c in v for c in "/+#\0") or not v.isprintable():
            raise ctx.error(node, path, f"expected one MQTT topic level (no /, + or #), got \"{v}\"")
        return v
    return parse


def _mqtt(ctx: _Ctx) -> Callable[[yaml.Node, str], MqttConfig]:
    def flag(node: yaml.Node, path: str) -> bool:
        v = ctx.scalar(node, path)
        if not isinstance(v, bool):
            raise ctx.error(node, path, f"expected true or false, got \"{v}\"")
        return v

    def parse(node: yaml.Node, path: str) -> MqttConfig:
        level = _topic_level(ctx)
        d = ctx.mapping(node, path, {
            "url": ctx.text,
            "username": ctx.text,
            "password_file": lambda n, p: Path(ctx.text(n, p)),
            "ca_file": lambda n, p: Path(ctx.text(n, p)),
            "client_id": ctx.text,
            "topic_prefix": level,
            "site": level,
            "discovery": flag,
            "discovery_prefix": level,
            "state_interval": ctx.number(0, 86400),
            "cursor_file": lambda n, p: Path(ctx.text(n, p)),
        })
        if "url" not in d:
            raise ctx.error(node, path, "the mqtt section needs a url (mqtt://host:1883 or mqtts://host:8883)")
        url = urlsplit(d["url"])
        where = next(v for k, v in node.value if k.value == "url")
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname or port == -1 or url.path not in ("", "/") \
                or url.query or url.username or url.password:
            raise ctx.error(where, f"{path}.url", "expected mqtt://host[:port] or mqtts://host[:port] "
                            f"(user name and password go in username and password_file), got \"{d['url']}\"")
        tls = url.scheme == "mqtts"
        if "ca_file" in d and not tls:
            raise ctx.error(node, f"{path}.ca_file", "a CA file needs an mqtts:// url")
        if "password_file" in d and "username" not in d:
            raise ctx.error(node, f"{path}.password_file", "a password needs a username")
        d.setdefault("site", socket.gethostname().split(".")[0] or "pyhm")
        return MqttConfig(host=url.hostname, port=port or (8883 if tls else 1883), tls=tls, **d)
    return parse


MAX_PRICE = Decimal(1000)  # per kWh: far above any tariff; more is a typo (cents for euros?)


def _energy(ctx: _Ctx) -> Callable[[yaml.Node, str], EnergyConfig]:
    def price(node: yaml.Node, path: str) -> Decimal:
        """A price exactly as written (0.32 stays 0.32: the YAML float is never used)."""
        ctx.scalar(node, path)
        try:
            v = Decimal(str(node.value).strip())
        except InvalidOperation:
            v = None
        if v is None or not v.is_finite() or not 0 <= v <= MAX_PRICE:
            raise ctx.error(node, path, f"expected a price per kWh from 0 to {MAX_PRICE} (e.g. 0.32), "
                                        f"got {_shown(ctx.scalar(node, path))}")
        return abs(v)  # -0 is 0: no cost shown as -0.00

    def currency(node: yaml.Node, path: str) -> str:
        v = ctx.text(node, path)
        if not re.fullmatch(r"[A-Z]{3}", v):
            raise ctx.error(node, path, f"expected a currency code of three capital letters (e.g. EUR, CHF), got {_shown(v)}")
        return v

    def parse(node: yaml.Node, path: str) -> EnergyConfig:
        return EnergyConfig(**ctx.mapping(node, path, {"price": price, "currency": currency, "feed_in": price}))
    return parse


def parse(text: str, source: str = "<config>") -> Config:
    """Parse and check a configuration text."""
    ctx = _Ctx(source)
    try:
        _check_events(text, source)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise ConfigError(f"{source}:{line}: the character U+{exc.character:04X} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        raise ConfigError(f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return Config(source=source)

    def database(node: yaml.Node, path: str) -> DatabaseConfig:
        d = ctx.mapping(node, path, {
            "path": ctx.path,
            "raw_days": ctx.number(1, 36500),
            "minute_days": ctx.number(1, 36500),
            "commit_seconds": ctx.number(1, 3600),
        })
        return DatabaseConfig(**d)

    def heads(node: yaml.Node, path: str) -> Dict[str, SerialSettings]:
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error(node, path, "expected a mapping: head serial → serial settings")
        return {str(k.value): _serial(ctx)(v, f"{path}.{k.value}") for k, v in node.value}

    def acquisition(node: yaml.Node, path: str) -> AcquisitionConfig:
        d = ctx.mapping(node, path, {
            "devices": ctx.texts(lambda t: _device(_no_nul(t))),
            "serial": _serial(ctx),
            "heads": heads,
            "stall_seconds": ctx.number(1, 3600),
            "discovery": ctx.choice("udev", "glob"),
            "extra_heads": ctx.texts(lambda v: v if extra_head_pattern(v) else v),
        })
        extra = d.pop("extra_heads", ())
        devices = tuple(d.pop("devices", AcquisitionConfig.devices)) + tuple(map(extra_head_pattern, extra))
        return AcquisitionConfig(devices=devices, extra_heads=extra, **d)

    def meters(node: yaml.Node, path: str) -> Tuple[MeterConfig, ...]:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error(node, path, "expected a list of meters (each: name, and server_id and/or head)")
        out = []
        for i, item in enumerate(node.value):
            where = f"{path}[{i}]"
            d = ctx.mapping(item, where, {
                "name": ctx.text,
                "server_id": _server_id(ctx),
                "head": lambda n, p: str(ctx.scalar(n, p)),
                "note": ctx.text,
                "include": ctx.texts(_obis_pattern),
                "exclude": ctx.texts(_obis_pattern),
            })
            if "name" not in d:
                raise ctx.error(item, where, "a meter needs a name")
            if "server_id" not in d and "head" not in d:
                raise ctx.error(item, where, "a meter needs a server_id or a head to be recognised by")
            meter = MeterConfig(**d)
            for other in out:
                clash = _clash(meter, other)
                if clash:
                    raise ctx.error(item, f"{where}.{clash[0]}", clash[1])
            out.append(meter)
        return tuple(out)

    def web(node: yaml.Node, path: str) -> WebConfig:
        d = ctx.mapping(node, path, {
            "listen": ctx.listen,
            "port": ctx.number(1, 65535, integer=True),
            "certificate": ctx.path,
            "key": ctx.path,
            "credentials": ctx.path,
            "session_days": ctx.number(0.01, 3650),
        })
        return WebConfig(**d)

    def logging_(node: yaml.Node, path: str) -> LoggingConfig:
        return LoggingConfig(**ctx.mapping(node, path, {"level": ctx.choice("debug", "info", "warning", "error")}))

    def timezone(node: yaml.Node, path: str) -> str:
        name = ctx.text(node, path)
        try:
            zone(name)
        except ValueError as exc:
            raise ctx.error(node, path, str(exc)) from None
        return name

    sections = ctx.mapping(root, "", {
        "database": database, "acquisition": acquisition, "meters": meters, "web": web, "logging": logging_,
        "timezone": timezone,
        "mqtt": _mqtt(ctx),
        "energy": _energy(ctx),
    })
    return Config(source=source, **sections)


def load(path: Union[str, Path, None] = None) -> Config:
    """Load the configuration file; the default path may be missing (then: built-in defaults)."""
    explicit = path is not None
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such file") from None
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse(text, str(path))


def describe(config: Config) -> str:
    """The effective configuration as YAML, for ``pyhm check-config``."""
    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, Decimal):
            return float(v) if v == Decimal(str(float(v))) else str(v)
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if hasattr(v, "__dataclass_fields__"):
            return {k: plain(getattr(v, k)) for k in v.__dataclass_fields__ if getattr(v, k) is not None}
        return v

    data = plain(config)
    data.pop("source", None)
    return f"# effective configuration (from {config.source})\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
