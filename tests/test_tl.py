"""Type-length fields: every type, width and length form, and malformed input."""

from __future__ import annotations

import pytest

from pyhm.sml.encode import Int, UInt, encode_value
from pyhm.sml.errors import ParseError
from pyhm.sml.tl import END, read_value


def roundtrip(value):  # type: ignore[no-untyped-def]
    data = encode_value(value)
    decoded, pos = read_value(data, 0, len(data))
    assert pos == len(data)
    return decoded


@pytest.mark.parametrize("width", range(1, 9))
def test_signed_integers_of_every_width(width: int) -> None:
    lo, hi = -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
    for v in (lo, -1, 0, 1, hi):
        assert roundtrip(Int(v, width)) == v
    assert encode_value(Int(-1, width))[0] == 0x50 + width + 1


@pytest.mark.parametrize("width", range(1, 9))
def test_unsigned_integers_of_every_width(width: int) -> None:
    for v in (0, 1, (1 << (8 * width)) - 1):
        assert roundtrip(UInt(v, width)) == v


def test_negative_power_twos_complement() -> None:
    assert read_value(bytes.fromhex("55ffffffff"), 0, 5)[0] == -1
    assert read_value(bytes.fromhex("538b28"), 0, 3)[0] == -29912


def test_octet_strings_short_and_long() -> None:
    for n in (0, 1, 14, 15, 16, 200, 300, 5000):
        value = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        assert roundtrip(value) == (value if n else None)


def test_multibyte_tl_known_bytes() -> None:
    # 83 02: an octet string of 0x32 bytes including the two TL bytes (from a real public key).
    data = bytes.fromhex("8302") + bytes(48)
    assert read_value(data, 0, len(data)) == (bytes(48), 50)


def test_long_lists() -> None:
    for n in (15, 16, 20, 255, 300):
        assert roundtrip(list(range(n))) == list(range(n))
    assert encode_value(list(range(20)))[:2] == bytes.fromhex("f104")


def test_booleans_absent_and_end() -> None:
    assert roundtrip(True) is True and roundtrip(False) is False
    assert roundtrip(None) is None
    assert read_value(b"\x00", 0, 1) == (END, 1)


def test_nested_lists() -> None:
    value = [b"ab", [1, [None, True, [UInt(5, 2)]]], -3]
    assert roundtrip(value) == [b"ab", [1, [None, True, [5]]], -3]


@pytest.mark.parametrize(
    "hexdata",
    [
        "",  # nothing
        "0a0102",  # string longer than the data
        "72620162",  # list shorter than announced
        "5a" + "00" * 9,  # integer of 9 bytes
        "6f" + "00" * 14,  # unsigned of 14 bytes
        "43" + "0000",  # boolean of 2 bytes
        "10",  # type 1 does not exist
        "8f",  # multi-byte TL without its continuation
        "81f2",  # continuation bytes announce a third TL byte that is missing
        "80",  # TL length shorter than the TL itself
    ],
)
def test_malformed_input_raises_parse_error(hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    with pytest.raises(ParseError):
        read_value(data, 0, len(data))


def test_deep_nesting_is_refused() -> None:
    data = b"\x71" * 100 + b"\x01"
    with pytest.raises(ParseError):
        read_value(data, 0, len(data))


def test_type_bits_in_continuation_bytes_are_ignored() -> None:
    # A 17-entry list and a 20-byte octet string whose continuation bytes carry type bits.
    assert read_value(bytes.fromhex("f171") + b"\x62\x05" * 17, 0, 36)[0] == [5] * 17
    value = bytes(range(20))
    assert read_value(bytes.fromhex("8156") + value, 0, 22)[0] == value
