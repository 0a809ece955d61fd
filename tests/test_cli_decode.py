"""``pyhm decode`` and ``pyhm demo`` as a user runs them: a real process, real files, stdin."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import List

import corpus
from pyhm.simulator import SimulatedMeter

HOLLEY = corpus.ROOT / "raw" / "libsml-testing__HOLLEY_DTZ541-ZDBA__1.hex"


def pyhm(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhm", *args], input=stdin, capture_output=True, timeout=60)


def json_lines(out: bytes) -> List[dict]:
    return [json.loads(line, parse_float=Decimal) for line in out.decode().splitlines()]


def test_json_lines_with_exact_numbers() -> None:
    result = pyhm("decode", "--hex", "--json", str(HOLLEY))
    assert result.returncode == 0, result.stderr
    frames = json_lines(result.stdout)
    assert [f["crc_ok"] for f in frames] == [True] * 7 + [False]
    first = {r["obis"]: r for r in frames[0]["readings"]}
    assert frames[0]["server_id"] == "0a01484c59020003a910"
    energy = first["1-0:1.8.2*255"]
    assert energy["value"] == Decimal("177360.1") and b'"value":177360.1,' in result.stdout
    assert energy["unit"] == "Wh" and energy["raw"] == 1773601 and energy["scaler"] == -1
    assert energy["name"] == "Energy import tariff 2"
    assert first["1-0:96.50.1*1"]["value"] == "HLY"  # printable octet string as text
    assert first["1-0:96.1.0*255"]["value"] == "0a 01 48 4c 59 02 00 03 a9 10"
    assert first["1-0:81.7.4*255"]["unit"] == "°"
    assert frames[-1]["readings"] == [] and frames[-1]["error"] == "truncated"


def test_binary_from_stdin_and_table() -> None:
    data = bytes.fromhex(HOLLEY.read_text())
    result = pyhm("decode", "-", stdin=data)
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "frame 1: CRC ok (x25), server id 0a01484c59020003a910" in text
    assert "177360.1 Wh" in text
    assert text.rstrip().endswith("7 frames decoded, 1 damaged")


def test_simulated_meter_capture(tmp_path: Path) -> None:
    meter = SimulatedMeter(5)
    capture = tmp_path / "meter.bin"
    capture.write_bytes(b"\xffnoise" + b"".join(meter.telegram() for _ in range(3)))
    frames = json_lines(pyhm("decode", "--json", str(capture)).stdout)
    assert len(frames) == 3 and all(f["crc_ok"] for f in frames)
    values = {r["obis"]: r["value"] for r in frames[-1]["readings"]}
    assert values["1-0:1.8.0*255"] == Decimal(meter.import_cws // 36000) / 10


def test_bare_messages_are_decoded() -> None:
    path = corpus.ROOT / "messages_only" / "sml2mqtt__ISK_Iskra__1.hex"
    (frame,) = json_lines(pyhm("decode", "--hex", "--json", str(path)).stdout)
    assert {r["obis"]: r["value"] for r in frame["readings"]}["1-0:1.8.0*255"] == Decimal("253917.7")


def test_errors_are_clear(tmp_path: Path) -> None:
    missing = pyhm("decode", str(tmp_path / "nope.bin"))
    assert missing.returncode == 2 and b"cannot read" in missing.stderr and b"Traceback" not in missing.stderr
    bad = tmp_path / "bad.hex"
    bad.write_text("zz not hex")
    result = pyhm("decode", "--hex", str(bad))
    assert result.returncode == 2 and b"is not hex" in result.stderr


def test_garbage_only_input_exits_zero() -> None:
    result = pyhm("decode", "-", stdin=bytes(range(256)) * 10)
    assert result.returncode == 0 and b"0 frames decoded, 0 damaged" in result.stdout


def test_version() -> None:
    assert pyhm("--version").stdout.startswith(b"pyhm ")


def test_hex_text_is_recognised_without_the_option(tmp_path: Path) -> None:
    by_option = pyhm("decode", "--hex", "--json", str(HOLLEY))
    detected = pyhm("decode", "--json", str(HOLLEY))
    assert detected.returncode == 0 and detected.stdout == by_option.stdout and len(json_lines(detected.stdout)) == 8
    assert detected.stderr.decode() == f"pyhm decode: {HOLLEY} is hex text; decoding it as hex (as with --hex)\n"
    piped = pyhm("decode", "-", stdin=HOLLEY.read_bytes())
    assert piped.stdout.decode().rstrip().endswith("7 frames decoded, 1 damaged")
    assert b"the input is hex text" in piped.stderr
    binary = tmp_path / "meter.bin"
    binary.write_bytes(bytes.fromhex(HOLLEY.read_text()))
    plain = pyhm("decode", str(binary))
    assert plain.stderr == b"" and plain.stdout.decode().rstrip().endswith("7 frames decoded, 1 damaged")


def test_waiting_on_a_terminal_says_for_what() -> None:
    import os
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "decode"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(slave)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        assert ready, "nothing said while waiting for the terminal"
        hint = proc.stderr.readline().decode()
        assert hint.startswith("pyhm decode: reading an SML capture from the terminal") and "Ctrl-D" in hint
        os.write(master, b"\x04")  # Ctrl-D: end of input
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(master)
    assert proc.returncode == 0 and out.decode().rstrip() == "0 frames decoded, 0 damaged"


def test_json_lines_are_written_as_dicts_say_byte_for_byte() -> None:
    # ``pyhm decode --json`` writes lines without building dicts; they must be exactly what
    # the documented dicts serialise to, for every frame of the corpus (damaged ones too).
    from pyhm import exactjson
    from pyhm.decode import telegram_dict, telegram_json

    n = 0
    for entry in corpus.entries():
        for i, t in enumerate(corpus.telegrams(entry), 1):
            assert telegram_json(t, i) == exactjson.dumps(telegram_dict(t, i)), entry["file"]
            n += 1
    assert n > 1000


def test_wrong_message_crc_is_reported_per_message(tmp_path: Path) -> None:
    from test_messages import _wrong_message_crc_frame

    capture = tmp_path / "ebz.bin"
    capture.write_bytes(_wrong_message_crc_frame() * 3)
    frames = json_lines(pyhm("decode", "--json", str(capture)).stdout)
    assert len(frames) == 3
    for f in frames:
        assert f["crc_ok"] and f["messages"] == ["0x0101", "0x0701", "0x0201"]
        assert f["message_crc_ok"] == [True, False, True]
        assert f["readings"][0]["value"] == Decimal("5383333.6")
    intact = json_lines(pyhm("decode", "--hex", "--json", str(HOLLEY)).stdout)
    assert all("message_crc_ok" not in f for f in intact)


def test_live_stream_lines_come_as_frames_arrive() -> None:
    # No flush per frame, but one per chunk read: a line must not wait for the end of input.
    meter = SimulatedMeter(9)
    proc = subprocess.Popen([sys.executable, "-m", "pyhm", "decode", "--json", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        for n in (1, 2):
            proc.stdin.write(meter.telegram())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 20)
            assert ready, "no line while the input is still open"
            assert json.loads(proc.stdout.readline())["frame"] == n
    finally:
        proc.kill()
        proc.wait()
