"""Values come back from the database exactly as the meter sent them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyhm.sml.readings import scaled
from pyhm.store import Query
from storehelp import T0, Clock, reading, writer

SERVER = b"\x0a\x01TST\x00\x00\x00\x00\x01"


def roundtrip(tmp_path: Path, obis: str, values: list, unit: int = 30) -> list:
    clock = Clock()
    w = writer(tmp_path / "v.db", clock)
    for i, value in enumerate(values):
        clock.ms = T0 + i * 1000
        w.add(SERVER, [reading(obis, value, unit)], clock.ms)
    assert w.commit()
    w.close()
    q = Query(tmp_path / "v.db")
    series = q.find_series(q.meter(SERVER.hex()).id, obis)
    from pyhm.store.rollup import decimal

    out = [decimal(v, exp) for _, v, exp in q.raw(series, T0, T0 + len(values) * 1000)]
    q.close()
    return out


def test_huge_counters_and_negative_power(tmp_path: Path) -> None:
    big = ["18446744073709551615", "1844674407370955.1615", "9223372036854775807", "-9223372036854775808"]
    assert [str(v) for v in roundtrip(tmp_path, "1-0:16.7.0*255", big, 27)] == big


@pytest.mark.parametrize("scaler", list(range(-9, 10)))
def test_every_scaler_reads_back_identical(tmp_path: Path, scaler: int) -> None:
    values = [str(scaled(raw, scaler)) for raw in (0, 1, -1, 123456789, -98765)]  # as the decoder makes them
    got = roundtrip(tmp_path, "1-0:32.7.0*255", values, 35)
    assert [str(v) for v in got] == values  # same digits, same exponent: '0.0' stays '0.0'


def test_scaler_changing_within_a_series(tmp_path: Path) -> None:
    # The same register without and then with the PIN entered: coarser, then finer.
    values = ["12345", "12345.6", "12346.0", "12346"]
    assert [str(v) for v in roundtrip(tmp_path, "1-0:1.8.0*255", values)] == values


def test_texts_are_stored_when_they_change(tmp_path: Path) -> None:
    clock = Clock()
    w = writer(tmp_path / "t.db", clock)
    from pyhm.sml import Reading

    for i, firmware in enumerate([b"1.0", b"1.0", b"1.0", b"2.0", b"\x00\xff"]):
        clock.ms = T0 + i * 1000
        w.add(SERVER, [Reading(SERVER, "1-0:0.2.0*0", firmware, None, None, firmware, None, None)], clock.ms)
    w.commit()
    w.close()
    q = Query(tmp_path / "t.db")
    series = q.find_series(q.meter(SERVER.hex()).id, "1-0:0.2.0*0")
    assert [v for _, v in q.texts(series, T0, T0 + 10_000)] == [b"1.0", b"2.0", b"\x00\xff"]
    assert q.latest(series.meter_id)["1-0:0.2.0*0"]["value"] == b"\x00\xff"
