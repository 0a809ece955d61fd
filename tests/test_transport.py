"""Transport v1 framing: escapes, padding, CRC variants, garbage, resynchronisation."""

from __future__ import annotations

import random

import pytest

from pyhm.sml.crc import crc_kermit, crc_x25
from pyhm.sml.encode import Entry, encode_frame, encode_telegram
from pyhm.sml.transport import ESC, START, FrameReader, check_frame, read_frames
from pyhm.simulator import SimulatedMeter

POWER = bytes((1, 0, 16, 7, 0, 255))


def telegram(value: int = 123, seq: int = 0, crc: str = "x25") -> bytes:
    return encode_telegram(b"\x0a\x01TST\x00\x00\x00\x00\x01", [Entry(POWER, value, 27, 0)], seq, crc=crc)


def test_crc_check_values() -> None:
    assert crc_x25(b"123456789") == 0x906E
    assert crc_kermit(b"123456789") == 0x2189


def test_single_frame() -> None:
    (frame,) = read_frames(telegram())
    assert frame.crc_ok and frame.crc == "x25" and frame.error is None


def test_kermit_frame_is_accepted_and_named() -> None:
    (frame,) = read_frames(telegram(crc="kermit"))
    assert frame.crc_ok and frame.crc == "kermit"


def test_escaped_escape_in_payload_is_unescaped() -> None:
    payload = b"\x01\x02\x03\x04" + ESC + b"\x05\x06\x07\x08"
    raw = encode_frame(payload)
    assert raw.count(ESC) == 4  # start, the doubled literal, end
    (frame,) = read_frames(raw)
    assert frame.crc_ok and frame.payload == payload


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8])
def test_padding_is_removed(n: int) -> None:
    payload = bytes(range(1, n + 1))
    (frame,) = read_frames(encode_frame(payload))
    assert frame.payload == payload


def test_bad_crc_is_damaged_and_next_frame_survives() -> None:
    bad = bytearray(telegram(1))
    bad[-1] ^= 0xFF
    frames = read_frames(bytes(bad) + telegram(2))
    assert [f.crc_ok for f in frames] == [False, True]
    assert frames[0].error == "CRC mismatch"


def test_garbage_between_frames_is_skipped_and_counted() -> None:
    reader = FrameReader()
    garbage = bytes(random.Random(1).randrange(256) for _ in range(500)).replace(b"\x1b", b"\x00")
    frames = reader.feed(garbage + telegram(1) + garbage + telegram(2) + garbage)
    frames += reader.flush()
    assert [f.crc_ok for f in frames] == [True, True]
    assert reader.skipped == 3 * len(garbage)


def test_interrupted_frame_does_not_swallow_the_next() -> None:
    first = telegram(1)
    cut = first[: len(first) // 2]  # the head was pulled, then a new telegram starts
    frames = read_frames(cut + telegram(2) + telegram(3))
    assert [f.crc_ok for f in frames] == [False, True, True]
    assert frames[0].error == "interrupted by a new frame"


def test_dropped_bytes_unaligned_start_resyncs() -> None:
    first = telegram(1)
    damaged = first[:40] + first[43:]  # three bytes lost on the wire: the end is now unaligned
    frames = read_frames(damaged + telegram(2))
    assert [f.crc_ok for f in frames] == [False, True]


def test_truncated_last_frame_reported_on_flush() -> None:
    reader = FrameReader()
    assert reader.feed(telegram()[:-5]) == []
    (frame,) = reader.flush()
    assert not frame.crc_ok and frame.error == "truncated"


def test_reset_discards_half_frame_silently() -> None:
    reader = FrameReader()
    reader.feed(telegram(1)[:60])
    reader.reset()
    assert reader.pending == 0
    assert [f.crc_ok for f in reader.feed(telegram(2))] == [True]


def test_invalid_escape_is_damaged() -> None:
    raw = START + b"\x76\x01\x01\x01" + ESC + b"\x02\x02\x02\x02" + telegram()
    frames = read_frames(raw)
    assert frames[0].error.startswith("invalid escape sequence")
    assert frames[-1].crc_ok


def test_endless_garbage_keeps_a_bounded_buffer() -> None:
    reader = FrameReader()
    for _ in range(1000):
        reader.feed(b"\x00" * 1000)
        assert reader.pending < 8
    assert reader.skipped > 990_000


def test_endless_frame_is_cut_at_the_limit() -> None:
    reader = FrameReader(max_frame=4096)
    reader.feed(START)
    damaged = []
    for _ in range(100):
        damaged += reader.feed(b"\x42" * 1000)
        assert reader.pending <= 4096 + 1000
    assert damaged and all(f.error == "frame too long" for f in damaged)
    assert [f.crc_ok for f in reader.feed(telegram())] == [True]


def test_unaligned_end_with_valid_crc_is_accepted() -> None:
    # A sender that edited its payload without re-aligning the padding (seen in the corpus).
    payload = bytes.fromhex("7605000000016200620072630201710163") + b"\x00"
    body = START + payload + ESC + b"\x1a\x00"
    raw = body + crc_x25(body).to_bytes(2, "little")
    (frame,) = read_frames(raw)
    assert frame.crc_ok and not frame.aligned


def test_check_frame_rejects_padding_that_is_not_zero() -> None:
    body = START + b"\x01\x02\x03\x04" + ESC + b"\x1a\x02"
    raw = body + crc_x25(body).to_bytes(2, "little")
    frame = check_frame(raw)
    assert not frame.crc_ok and "padding" in frame.error


def test_chunking_of_a_long_stream() -> None:
    meter = SimulatedMeter(7)
    stream = b"".join(meter.telegram() + b"garbage" for _ in range(50))
    whole = read_frames(stream)
    rng = random.Random(3)
    reader = FrameReader()
    pieces = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 40)
        pieces += reader.feed(stream[i : i + n])
        i += n
    pieces += reader.flush()
    assert pieces == whole and len(whole) == 50 and all(f.crc_ok for f in whole)


def test_crc_ending_in_escape_bytes_is_not_counted_as_garbage() -> None:
    # A CRC whose last byte is 0x1b is kept back in case the next start sequence shares it; when
    # garbage follows instead, it still is not counted as skipped.
    first = next(t for t in (telegram(v) for v in range(2000)) if t[-1] == 0x1B)
    reader = FrameReader()
    frames = reader.feed(first + b"\x00garbage" + telegram(2) + first)
    frames += reader.flush()
    assert [f.crc_ok for f in frames] == [True, True, True] and frames[0].raw == first
    assert reader.skipped == len(b"\x00garbage")
