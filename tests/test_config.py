"""The configuration: the shipped file, its examples, and errors that say where and what."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pyhm import config
from pyhm.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "pyhm.cfg"


def test_shipped_file_says_what_the_defaults_are() -> None:
    assert config.load(SHIPPED) == Config(source=str(SHIPPED))


def test_shipped_meter_example_is_valid() -> None:
    text = SHIPPED.read_text()
    example = re.search(r"^#   - name: House.*?\nmeters: \[\]", text, re.S | re.M).group(0)
    lines = [line[2:] for line in example.splitlines() if line.startswith("#  ")]
    cfg = config.parse("meters:\n" + "\n".join(lines), "example")
    (meter,) = cfg.meters
    assert meter.name == "House" and meter.server_id == bytes.fromhex("0a01454d480000cacf7e")
    assert meter.include == ("1-0:1.8.0*255", "1-0:2.8.0*255", "1-0:*.7.0*")
    assert meter.wants("1-0:16.7.0*255") and meter.wants("1-0:1.8.0*255") and not meter.wants("1-0:1.8.1*255")
    assert cfg.meter_for(bytes.fromhex("0a01454d480000cacf7e"), None) is meter
    assert cfg.meter_for(b"other", "A10K3F2D") is None  # a server id was given: the head alone is not enough


def test_a_full_file() -> None:
    cfg = config.parse(
        """
database: {path: /srv/hm.db, raw_days: 10}
acquisition:
  devices: [/dev/hm_*, /dev/ttyACM*]
  discovery: glob
  heads:
    FT1234: {baudrate: 115200}
meters:
  - {name: Garage, head: FT1234, exclude: ["129-129:*"]}
web: {port: 443}
logging: {level: DEBUG}
""",
        "full.cfg",
    )
    assert cfg.database.path == Path("/srv/hm.db") and cfg.database.raw_days == 10
    assert cfg.acquisition.serial_for("FT1234").baudrate == 115200
    assert cfg.acquisition.serial_for("other").baudrate == 9600
    assert cfg.meter_for(b"any", "FT1234").name == "Garage"
    assert not cfg.meters[0].wants("129-129:199.130.3*255")
    assert cfg.web.port == 443 and cfg.logging.level == "debug"


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("databse:\n  path: /x\n", "cfg:1: databse", "unknown key"),
        ("database:\n  path: /x\n  raw_dayz: 3\n", "cfg:3: database.raw_dayz", "unknown key"),
        ("database:\n  raw_days: many\n", "cfg:2: database.raw_days", "expected a number"),
        ("web:\n  port: 70000\n", "cfg:2: web.port", "from 1 to 65535"),
        ("acquisition:\n  serial:\n    baudrate: 9601\n", "cfg:3: acquisition.serial.baudrate", "expected one of"),
        ("meters:\n  - name: A\n    server_id: xyz\n", "cfg:3: meters[0].server_id", "server id in hex"),
        ("meters:\n  - name: A\n", "cfg:2: meters[0]", "needs a server_id or a head"),
        ("meters:\n  - head: X\n    include: [banana]\n", "cfg:3: meters[0].include", "not an OBIS code"),
        ("logging:\n  level: loud\n", "cfg:2: logging.level", "expected one of"),
        ("web: [1, 2]\n", "cfg:1: web", "expected a mapping"),
        ("database:\n  path: /a\n  path: /b\n", "cfg:3: database.path", "given twice"),
        ("database: {path: [unclosed\n", "cfg:2", "not valid YAML"),
        ("energy:\n  price: cheap\n", "cfg:2: energy.price", "expected a price per kWh"),
        ("energy:\n  price: -0.1\n", "cfg:2: energy.price", "from 0 to 1000"),
        ("energy:\n  price: .nan\n", "cfg:2: energy.price", "expected a price per kWh"),
        ("energy:\n  price: [1]\n", "cfg:2: energy.price", "expected a single value"),
        ("energy:\n  feed_in: 2000\n", "cfg:2: energy.feed_in", "from 0 to 1000"),
        ("energy:\n  currency: euro\n", "cfg:2: energy.currency", "three capital letters"),
        ("energy:\n  prize: 1\n", "cfg:2: energy.prize", "unknown key"),
        ("energy:\n  price:\n", "cfg:2: energy.price", "got nothing"),
        ("energy: {feed_in: }\n", "cfg:1: energy.feed_in", "got nothing"),
        ("web:\n  port:\n", "cfg:2: web.port", "got nothing"),
    ],
)
def test_errors_name_file_line_and_key(text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.parse(text, "cfg")
    assert str(err.value).startswith(where) and what in str(err.value)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhm", *args], capture_output=True, text=True, timeout=60)


def test_check_config_command(tmp_path: Path) -> None:
    ok = run("check-config", str(SHIPPED))
    assert ok.returncode == 0 and "port: 8443" in ok.stdout and "from " + str(SHIPPED) in ok.stdout
    bad = tmp_path / "bad.cfg"
    bad.write_text("web:\n  prot: 8443\n")
    result = run("check-config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:2: web.prot: unknown key" in result.stderr and "Traceback" not in result.stderr
    missing = run("check-config", str(tmp_path / "nope.cfg"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_services_refuse_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text("database:\n  raw_days: -1\n")
    result = run("--config", str(bad), "acquire")
    assert result.returncode == 2 and f"{bad}:2: database.raw_days" in result.stderr


HOSTILE = [
    ("web: !foo {port: 1}\n", "cfg:1: web: the YAML tag !foo is not allowed"),
    ("web:\n  port: !!python/object:os.system 3\n", "cfg:2: web.port: the YAML tag !!python/object:os.system"),
    ("meters:\n  - name: A\n    include: [1-0:1.8.0, !bar 2]\n", "cfg:3: meters[0].include[1]: the YAML tag !bar"),
    ("web: " + "[" * 5000 + "]" * 5000 + "\n", "cfg:1: web[0][0]"),
    ("web:\n  listen: not..an..address\n", 'cfg:2: web.listen: expected an IP address (e.g. 0.0.0.0 or ::) or a host '
                                          'name, got "not..an..address"'),
    ('database:\n  path: "/var/lib/pyhm/a\\0b.db"\n', "cfg:2: database.path: a path cannot contain a NUL character"),
    ('web: {key: "/k\\0"}\n', "cfg:1: web.key: a path cannot contain a NUL character"),
    ('acquisition:\n  devices: [/dev/hm_*, "/dev/x\\0"]\n', "cfg:2: acquisition.devices: a path cannot contain a NUL"),
    ("database:\n  path: /x\0y\n", "cfg:2: the character U+0000 is not allowed in YAML"),
    ("meters:\n  - {name: Flat, head: A}\n  - name: Flat\n    head: B\n",
     'cfg:3: meters[1].name: the name "Flat" is given to two meters'),
    ("meters:\n  - {name: Flat, server_id: 0a01}\n  - {name: Shop, server_id: 0A 01}\n",
     'cfg:3: meters[1].server_id: the server id 0a01 is given to two meters ("Flat" and "Shop")'),
    ("meters:\n  - {name: Flat, head: A}\n  - {name: Shop, head: A}\n",
     'cfg:3: meters[1].head: the head A (without a server id) is given to two meters ("Flat" and "Shop")'),
]


@pytest.mark.parametrize("text, message", HOSTILE)
def test_hostile_files_get_one_line_naming_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cfg"
    path.write_text(text)
    for args in (["check-config", str(path)], ["--config", str(path), "acquire"]):
        result = run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith(f"pyhm: invalid configuration: {tmp_path}/{message}")


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "127.0.0.1", "fe80::1", "pi.local", "localhost", "hm-1.example."])
def test_listen_accepts_addresses_and_host_names(listen: str) -> None:
    assert config.parse(f'web: {{listen: "{listen}"}}\n', "cfg").web.listen == listen


def test_messages_show_values_as_written_not_as_python() -> None:
    with pytest.raises(ConfigError) as err:
        config.parse("database:\n  raw_days: many\n", "cfg")
    assert str(err.value).endswith('got "many"')
    with pytest.raises(ConfigError) as err:
        config.parse("meters:\n  - {name: A, server_id: 0x}\n", "cfg")
    assert str(err.value).endswith('got "0x"')


def test_a_file_that_is_not_utf8_is_named_with_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.cfg"
    path.write_bytes("meters:\n  - {name: Küche, head: A}\n".encode("latin-1"))
    result = run("check-config", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"pyhm: invalid configuration: {path}:2: not UTF-8 text (byte 20); save the file as UTF-8\n"


def test_energy_prices_are_exact_decimals() -> None:
    cfg = config.parse("energy:\n  price: 0.32\n  feed_in: 0.0820\n  currency: CHF\n", "cfg")
    assert cfg.energy.price == Decimal("0.32") and str(cfg.energy.price) == "0.32"
    assert str(cfg.energy.feed_in) == "0.0820" and cfg.energy.currency == "CHF"
    assert config.parse("energy:\n  price: 1\n", "cfg").energy == config.EnergyConfig(price=Decimal(1))
    assert Config().energy.price is None and Config().energy.currency == "EUR"
    negative_zero = config.parse("energy:\n  price: -0\n  feed_in: -0.00\n", "cfg").energy
    assert str(negative_zero.price) == "0" and str(negative_zero.feed_in) == "0.00"  # costs never read -0.00


def test_shipped_energy_example_is_valid_and_checked(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    example = re.search(r"^# energy:\n(#  .*\n)+", text, re.M).group(0)
    path = tmp_path / "energy.cfg"
    path.write_text("".join(line[2:] + "\n" for line in example.splitlines()))
    assert config.load(path).energy == config.EnergyConfig(Decimal("0.32"), "EUR", Decimal("0.082"))
    ok = run("check-config", str(path))
    assert ok.returncode == 0 and "price: 0.32" in ok.stdout and "feed_in: 0.082" in ok.stdout, ok.stdout + ok.stderr
    path.write_text("energy:\n  currency: EUR\n  price: 0,32\n")
    bad = run("check-config", str(path))
    assert bad.returncode == 2 and f"{path}:3: energy.price: expected a price per kWh" in bad.stderr
