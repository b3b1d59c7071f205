"""since/until values as docker reads them (its GetTimestamp): durations, dates and times, unix seconds."""

from __future__ import annotations

import calendar
import time

import pytest

from berth.util.timefmt import parse_since

NOW = 1_763_884_800.5  # 2025-11-23T08:00:00.5Z


def utc(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def local_offset() -> int:
    return time.localtime(NOW).tm_gmtoff


@pytest.mark.parametrize(("value", "expected"), [
    ("10m", NOW - 600.5), ("1h30m", NOW - 5400.5), ("1.5h", NOW - 5400.5), ("-1h", NOW + 3599.5),
    ("0s", NOW - 0.5), ("250ms", NOW - 0.5),
])
def test_a_go_duration_is_that_long_ago_in_whole_seconds(value: str, expected: float) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0.0), ("1700000000", 1_700_000_000.0), ("1700000000.25", 1_700_000_000.25), ("+5", 5.0),
])
def test_unix_seconds_pass_through(value: str, expected: float) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-01Z", utc("2026-01-01T00:00:00")),
    ("2026-01-01+02:00", utc("2026-01-01T00:00:00") - 7200),
    ("2026-01-01-02:00", utc("2026-01-01T00:00:00") + 7200),
    ("2026-01-01T08Z", utc("2026-01-01T08:00:00")),
    ("2026-01-01T08:30-05:00", utc("2026-01-01T13:30:00")),
    ("2026-01-01T08:30:15Z", utc("2026-01-01T08:30:15")),
    ("2026-01-01T08:30:15+01:00", utc("2026-01-01T07:30:15")),
    ("2026-01-01T08:30:15.25-05:00", utc("2026-01-01T13:30:15") + 0.25),
])
def test_a_date_or_time_with_a_zone(value: str, expected: float) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize(("value", "wall"), [
    ("2026-01-01", "2026-01-01T00:00:00"), ("2026-01-01T08", "2026-01-01T08:00:00"),
    ("2026-01-01T8:30", "2026-01-01T08:30:00"), ("2026-01-01T08:30:15", "2026-01-01T08:30:15"),
])
def test_without_a_zone_it_is_local_time_at_todays_offset(value: str, wall: str) -> None:
    assert parse_since(value, NOW) == utc(wall) - local_offset()


def test_a_fraction_counts_to_the_nanosecond_and_no_further() -> None:
    assert parse_since("2026-01-01T08:30:15.123456789999Z", NOW) == utc("2026-01-01T08:30:15") + 0.123456789


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", 'failed to parse value as time or duration: "yesterday"'),
    ("5.", 'failed to parse value as time or duration: "5."'),
    ("-5", 'parsing time "-5" as "2006-01-02": cannot parse it'),
    ("2026-1-01", 'parsing time "2026-1-01" as "2006-01-02": cannot parse it'),
    ("2026-13-01", 'parsing time "2026-13-01" as "2006-01-02": month must be in 1..12'),
    ("2026-01-01T25", 'parsing time "2026-01-01T25" as "2006-01-02T15": hour must be in 0..23'),
    ("2026-01-01T08:30:15z", 'parsing time "2026-01-01T08:30:15z" as "2006-01-02T15:04:05Z07:00": cannot parse it'),
    ("١٢", 'failed to parse value as time or duration: "١٢"'),
])
def test_bad_values_get_dockers_text(value: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_since(value, NOW)
    assert str(err.value) == message
