"""Span arithmetic: calendar spans in a time zone, fixed durations, integers, retention cutoffs."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_steward.arguments import positive_span
from pg_steward.errors import StewardError
from pg_steward.partitions.spans import (
    UTC,
    Span,
    advance,
    floor,
    parse_interval,
    slots,
    subtract,
    time_span,
    zone,
)

NY = zone("America/New_York")


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("P1M", Span(months=1)), ("P3M", Span(months=3)), ("P1Y", Span(months=12)), ("P1Y2M", Span(months=14)),
        ("P1D", Span(days=1)), ("P7D", Span(days=7)), ("P2W", Span(days=14)),
        ("PT1H", Span(micros=3_600_000_000)), ("PT0.5S", Span(micros=500_000)),
        ("P-1M", Span(months=-1)), ("P1DT-1H", Span(days=1, micros=-3_600_000_000)),
    ],
)
def test_parse_iso_intervals(text: str, span: Span) -> None:
    assert parse_interval(text) == span


@pytest.mark.parametrize("text", ["", "P", "1 month", "PXM", "P1.5M"])
def test_unreadable_intervals(text: str) -> None:
    with pytest.raises(StewardError):
        parse_interval(text)


@pytest.mark.parametrize(
    ("interval", "key"),
    [("P1M1D", "date"), ("P-1M", "date"), ("PT0S", "date"), ("PT1H", "date"), ("PT7H", "timestamp with time zone")],
)
def test_spans_that_cannot_partition(interval: str, key: str) -> None:
    with pytest.raises(StewardError) as error:
        time_span(interval, key)
    assert error.value.sqlstate == "22023"


def test_negative_or_zero_retention_is_refused() -> None:
    for text in ("P-1M", "PT0S", "P1MT-1H"):
        with pytest.raises(StewardError):
            positive_span(text, "retention")
    assert positive_span("P2Y", "retention") == Span(months=24)


def test_month_quarter_year_alignment_for_dates() -> None:
    day = dt.date(2024, 8, 17)
    assert floor(day, Span(months=1), NY) == dt.date(2024, 8, 1)
    assert floor(day, Span(months=3), NY) == dt.date(2024, 7, 1)
    assert floor(day, Span(months=12), NY) == dt.date(2024, 1, 1)
    assert advance(dt.date(2024, 12, 1), Span(months=1), NY) == dt.date(2025, 1, 1)
    assert advance(dt.date(2024, 1, 1), Span(months=3), NY, count=5) == dt.date(2025, 4, 1)


def test_advance_from_an_unaligned_start_adds_like_postgres() -> None:
    assert advance(dt.date(2024, 1, 20), Span(months=1), NY) == dt.date(2024, 2, 20)
    assert advance(dt.date(2024, 1, 31), Span(months=1), NY) == dt.date(2024, 2, 29)
    assert advance(dt.datetime(2024, 2, 1, 6), Span(days=1), NY) == dt.datetime(2024, 2, 2, 6)
    # 06:00 in New York on the day before the spring change, plus a day: 06:00 again, 23 hours later.
    start = dt.datetime(2024, 3, 9, 11, tzinfo=UTC)
    assert advance(start, Span(days=1), NY) == dt.datetime(2024, 3, 10, 10, tzinfo=UTC)


def test_weeks_start_on_monday() -> None:
    assert floor(dt.date(2024, 8, 17), Span(days=7), NY) == dt.date(2024, 8, 12)  # a Saturday -> Monday
    assert floor(dt.date(2024, 8, 12), Span(days=7), NY) == dt.date(2024, 8, 12)


def test_daily_timestamptz_slots_follow_local_midnight_across_dst() -> None:
    # 2024-03-10: New York springs forward (23-hour day); 2024-11-03: falls back (25 hours).
    spring = slots(dt.datetime(2024, 3, 10, 12, tzinfo=UTC), dt.datetime(2024, 3, 11, 12, tzinfo=UTC), Span(days=1), NY)
    assert [(s.isoformat(), e - s) for s, e in spring] == [
        ("2024-03-10T05:00:00+00:00", dt.timedelta(hours=23)),
        ("2024-03-11T04:00:00+00:00", dt.timedelta(hours=24)),
    ]
    autumn_start = floor(dt.datetime(2024, 11, 3, 12, tzinfo=UTC), Span(days=1), NY)
    assert autumn_start == dt.datetime(2024, 11, 3, 4, tzinfo=UTC)
    assert advance(autumn_start, Span(days=1), NY) - autumn_start == dt.timedelta(hours=25)


def test_midnight_that_does_not_exist_starts_the_day_at_the_transition() -> None:
    santiago = zone("America/Santiago")  # 2024-09-08 00:00 does not exist there (clocks jump to 01:00)
    start = floor(dt.datetime(2024, 9, 8, 15, tzinfo=UTC), Span(days=1), santiago)
    assert start.astimezone(santiago).date() == dt.date(2024, 9, 8)
    assert (start - dt.timedelta(microseconds=1)).astimezone(santiago).date() == dt.date(2024, 9, 7)


def test_hourly_spans_are_an_absolute_grid() -> None:
    hour = Span(micros=3_600_000_000)
    value = dt.datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC)
    assert floor(value, hour, NY) == dt.datetime(2024, 3, 10, 6, tzinfo=UTC)
    assert advance(floor(value, hour, NY), hour, NY) == dt.datetime(2024, 3, 10, 7, tzinfo=UTC)
    naive = dt.datetime(2024, 3, 10, 2, 30)
    assert floor(naive, Span(micros=15 * 60_000_000), NY) == dt.datetime(2024, 3, 10, 2, 30)


def test_integer_slots_floor_toward_minus_infinity() -> None:
    span = Span(width=1000)
    assert floor(1999, span, NY) == 1000
    assert floor(-1, span, NY) == -1000
    assert slots(-1, 1000, span, NY) == [(-1000, 0), (0, 1000), (1000, 2000)]


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)),
       st.sampled_from([Span(months=1), Span(months=3), Span(months=12), Span(days=1), Span(days=7)]))
def test_every_date_lies_in_its_slot(day: dt.date, span: Span) -> None:
    start = floor(day, span, NY)
    end = advance(start, span, NY)
    assert start <= day < end
    assert floor(end, span, NY) == end


@given(st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "America/Santiago", "UTC"]),
       st.sampled_from([Span(months=1), Span(days=1), Span(days=7)]))
def test_every_instant_lies_in_its_local_slot(instant: dt.datetime, tz_name: str, span: Span) -> None:
    tz = zone(tz_name)
    start = floor(instant, span, tz)
    end = advance(start, span, tz)
    assert start <= instant < end
    assert floor(end, span, tz) == end


def test_a_day_without_midnight_ends_at_the_next_midnight() -> None:
    santiago = zone("America/Santiago")  # 2032-09-05 00:00 -04 does not exist: the day starts at 01:00 -03
    start = floor(dt.datetime(2032, 9, 5, 12, tzinfo=UTC), Span(days=1), santiago)
    assert start == dt.datetime(2032, 9, 5, 4, tzinfo=UTC)
    assert advance(start, Span(days=1), santiago) == dt.datetime(2032, 9, 6, 3, tzinfo=UTC)  # 00:00 -03, 23 h
    # An unaligned start still adds like PostgreSQL: the wall-clock time of day is kept.
    noon = dt.datetime(2032, 9, 5, 15, tzinfo=UTC)
    assert advance(noon, Span(days=1), santiago) == dt.datetime(2032, 9, 6, 15, tzinfo=UTC)


def test_retention_cutoffs_as_postgres_computes_them() -> None:
    assert subtract(dt.date(2024, 3, 31), Span(months=1), NY) == dt.date(2024, 2, 29)
    assert subtract(dt.date(2024, 3, 31), Span(months=24), NY) == dt.date(2022, 3, 31)
    now = dt.datetime(2024, 3, 11, 4, tzinfo=UTC)  # 00:00 EDT on March 11th
    assert subtract(now, Span(days=1), NY) == dt.datetime(2024, 3, 10, 5, tzinfo=UTC)  # 00:00 EST, 23 h before
    assert subtract(dt.datetime(2024, 5, 31, 12), Span(months=1), NY) == dt.datetime(2024, 4, 30, 12)
    with pytest.raises(StewardError):
        subtract(5, Span(months=1), NY)


def test_unknown_time_zone() -> None:
    with pytest.raises(StewardError, match="unknown time zone"):
        zone("Mars/Olympus_Mons")
