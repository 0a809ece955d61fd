"""The household's zone: local days of 23, 24 and 25 hours, wall times without an offset,
the host's zone as the default."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from pyhm.localtime import host_zone, midnight_ms, period_of, period_range, to_ms, zone, zone_name

BERLIN = zone("Europe/Berlin")
H = 3_600_000


@pytest.mark.parametrize("day, hours", [
    (date(2026, 3, 28), 24), (date(2026, 3, 29), 23), (date(2026, 3, 30), 24),
    (date(2026, 10, 24), 24), (date(2026, 10, 25), 25), (date(2026, 10, 26), 24),
])
def test_a_local_day_has_23_24_or_25_hours(day: date, hours: int) -> None:
    start, end = period_range(midnight_ms(day, BERLIN) + 12 * H, "day", BERLIN)
    assert start == midnight_ms(day, BERLIN) and (end - start) // H == hours


def test_periods_by_the_real_zone() -> None:
    summer_midnight = to_ms(datetime(2026, 7, 1, 0, 0), BERLIN)
    assert summer_midnight == to_ms(datetime(2026, 6, 30, 22, 0, tzinfo=timezone.utc), BERLIN)
    # The hour before local midnight in summer belongs to the day before, not to the next.
    assert period_of(summer_midnight - 1, "day", BERLIN) == date(2026, 6, 30)
    assert period_of(summer_midnight, "day", BERLIN) == date(2026, 7, 1)
    assert period_of(summer_midnight, "week", BERLIN) == date(2026, 6, 29)  # a Monday
    start, end = period_range(summer_midnight, "month", BERLIN)
    assert (end - start) // H == 31 * 24
    start, end = period_range(summer_midnight, "year", BERLIN)
    assert (end - start) // H == 365 * 24  # one hour lost in March, found in October
    assert start == to_ms(datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc), BERLIN)
    with pytest.raises(ValueError):
        period_range(0, "fortnight", BERLIN)


def test_wall_times_without_an_offset() -> None:
    assert to_ms(datetime(2026, 1, 15, 12, 0), BERLIN) == to_ms(datetime(2026, 1, 15, 11, 0, tzinfo=timezone.utc), BERLIN)
    assert to_ms(datetime(2026, 7, 15, 12, 0), BERLIN) == to_ms(datetime(2026, 7, 15, 10, 0, tzinfo=timezone.utc), BERLIN)
    # 02:30 on 25 October happens twice: the first one (summer time) is meant.
    assert to_ms(datetime(2026, 10, 25, 2, 30), BERLIN) == to_ms(datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc), BERLIN)
    # An offset given wins over the zone.
    assert to_ms(datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc), BERLIN) == 1_768_478_400_000


def test_zone_names_and_the_host_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert zone_name(BERLIN) == "Europe/Berlin"
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Mars/Olympus")
    with pytest.raises(ValueError):
        zone("../../etc/passwd")
    monkeypatch.delenv("TZ", raising=False)
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/New_York")
    assert zone_name(host_zone(link)) == "America/New_York"
    copy = tmp_path / "copied"
    copy.write_bytes(Path("/usr/share/zoneinfo/Europe/Berlin").read_bytes())
    copied = host_zone(copy)
    assert datetime(2026, 7, 1, tzinfo=copied).utcoffset() == datetime(2026, 7, 1, tzinfo=BERLIN).utcoffset()
    assert host_zone(tmp_path / "missing") is timezone.utc
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert zone_name(host_zone(link)) == "Asia/Tokyo"
    assert zone_name(zone()) == "Asia/Tokyo"
