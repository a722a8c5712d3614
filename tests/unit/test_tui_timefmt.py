"""The TUI's one time-formatting module (cycle.tui.timefmt): every shown time says its zone, and
the form gives way to the width it has. Pure: the zone and `now` are injected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cycle.tui.timefmt import ago, clock, format_time, zone_label

CET = timezone(timedelta(hours=1))
INDIA = timezone(timedelta(hours=5, minutes=30))
NEWFOUNDLAND = timezone(timedelta(hours=-3, minutes=-30))


def ns(*parts, tz=timezone.utc) -> int:
    return int(datetime(*parts, tzinfo=tz).timestamp() * 1e9)


NOW = ns(2026, 11, 23, 15, 0, 0)


def test_zone_label_is_the_offset_from_utc():
    assert zone_label(timezone.utc) == "UTC"
    assert zone_label(CET) == "UTC+1"
    assert zone_label(INDIA) == "UTC+5:30"
    assert zone_label(NEWFOUNDLAND) == "UTC-3:30"


def test_a_wide_column_gets_the_full_local_time_with_its_zone():
    started = ns(2026, 11, 23, 13, 2, 7)
    assert format_time(started, NOW, tz=CET) == "2026-11-23 14:02:07 UTC+1"
    assert format_time(started, NOW, tz=timezone.utc) == "2026-11-23 13:02:07 UTC"


def test_narrower_columns_drop_the_date_of_today_then_the_seconds_then_the_zone():
    started = ns(2026, 11, 23, 13, 2, 7)
    assert format_time(started, NOW, width=22, tz=CET) == "2026-11-23 14:02 UTC+1"
    assert format_time(started, NOW, width=14, tz=CET) == "14:02:07 UTC+1"
    assert format_time(started, NOW, width=11, tz=CET) == "14:02 UTC+1"
    assert format_time(started, NOW, width=5, tz=CET) == "14:02"
    assert format_time(started, NOW, width=3, tz=CET) == "1h ago"


def test_another_day_keeps_the_day_when_narrow():
    started = ns(2026, 11, 20, 9, 30, 0)
    assert format_time(started, NOW, width=18, tz=CET) == "Nov 20 10:30 UTC+1"
    assert format_time(started, NOW, width=12, tz=CET) == "Nov 20 10:30"
    assert format_time(started, NOW, width=6, tz=CET) == "Nov 20"


def test_today_is_the_local_day_not_the_utc_day():
    just_after_midnight_in_india = ns(2026, 11, 23, 19, 0, 0)  # 00:30 on the 24th in UTC+5:30
    now = ns(2026, 11, 23, 19, 30, 0)
    assert format_time(just_after_midnight_in_india, now, width=14, tz=INDIA) == "00:30 UTC+5:30"


def test_no_time_is_a_dash():
    assert format_time(None, NOW) == "-"
    assert format_time(0, NOW) == "-"


def test_ago_uses_the_largest_unit():
    assert ago(NOW - 5 * 10**9, NOW) == "5s ago"
    assert ago(NOW - 190 * 10**9, NOW) == "3m ago"
    assert ago(NOW - 2 * 3600 * 10**9, NOW) == "2h ago"
    assert ago(NOW - 4 * 86_400 * 10**9, NOW) == "4d ago"
    assert ago(NOW, NOW) == "0s ago"
    assert ago(NOW + 5 * 10**9, NOW) == "in 5s"


def test_clock_is_the_local_time_of_day_to_the_millisecond():
    assert clock(ns(2026, 11, 23, 13, 2, 7) + 123_000_000, tz=CET) == "14:02:07.123"
