"""Partition spans and bound arithmetic, for date, timestamp, timestamptz and integer keys.

A span is what one partition covers: whole calendar months (month, quarter,
year), whole calendar days (day, week), a fixed duration below a day (hours,
minutes), or a width of integers. Calendar spans follow the wall clock of a
time zone: for ``timestamptz`` keys a daily partition runs from local midnight
to the next local midnight, 23 or 25 hours across DST changes. Fixed
durations are an absolute grid. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pg_steward.errors import DATETIME_OVERFLOW, INVALID_PARAMETER_VALUE, StewardError
from pg_steward.partitions.bounds import Unbounded

UTC = dt.timezone.utc
DAY_ANCHOR = dt.date(2000, 1, 3)  # a Monday: weeks start on Mondays
MICROS_PER_DAY = 86_400_000_000
TIME_KEYS = ("date", "timestamp without time zone", "timestamp with time zone")
INTEGER_KEYS = ("smallint", "integer", "bigint")
INTEGER_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}

Key = int | dt.date | dt.datetime


@dataclass(frozen=True)
class Span:
    months: int = 0
    days: int = 0
    micros: int = 0
    width: int = 0  # integer keys


_ISO_INTERVAL = re.compile(
    r"P(?:(?P<years>-?\d+)Y)?(?:(?P<months>-?\d+)M)?(?:(?P<weeks>-?\d+)W)?(?:(?P<days>-?\d+)D)?"
    r"(?:T(?:(?P<hours>-?\d+)H)?(?:(?P<minutes>-?\d+)M)?(?:(?P<seconds>-?\d+(?:\.\d+)?)S)?)?"
)


def parse_interval(text: str) -> Span:
    """A PostgreSQL interval printed with ``IntervalStyle = 'iso_8601'`` (``P1M``, ``P7D``, ``PT1H``)."""
    if text in ("infinity", "-infinity"):  # valid intervals from PostgreSQL 17 on, never a span
        raise StewardError(f"a span or age must be a finite interval, not {text}", INVALID_PARAMETER_VALUE)
    match = _ISO_INTERVAL.fullmatch(text)
    if not match or text in ("P", "PT"):
        raise StewardError(f"cannot read interval {text!r}", INVALID_PARAMETER_VALUE)
    part = {k: v for k, v in match.groupdict().items() if v is not None}
    months = int(part.get("years", 0)) * 12 + int(part.get("months", 0))
    days = int(part.get("weeks", 0)) * 7 + int(part.get("days", 0))
    seconds = float(part.get("seconds", 0)) + int(part.get("minutes", 0)) * 60 + int(part.get("hours", 0)) * 3600
    return Span(months=months, days=days, micros=round(seconds * 1_000_000))


def time_span(interval: str, key_type: str) -> Span:
    """Check that an interval can be a partition span for a key of this type."""
    span = parse_interval(interval)
    kinds = sum(1 for v in (span.months, span.days, span.micros) if v)
    if kinds != 1 or span.months < 0 or span.days < 0 or span.micros < 0:
        raise StewardError(
            f"span must be a positive number of months, of days, or a duration below a day, not {interval}",
            INVALID_PARAMETER_VALUE,
            hint="Use '1 day', '1 week', '1 month', '3 months', '1 year' or '1 hour', for example.",
        )
    if span.micros and (key_type == "date" or MICROS_PER_DAY % span.micros):
        raise StewardError(
            f"a span of {interval} does not fit a {key_type} key",
            INVALID_PARAMETER_VALUE,
            hint="Spans below a day must divide a day evenly and need a timestamp key.",
        )
    return span


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise StewardError(f"unknown time zone {name!r}", INVALID_PARAMETER_VALUE) from error


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _local_date(value: Key, tz: ZoneInfo) -> dt.date:
    """The calendar date of a key value (in ``tz`` for timestamptz)."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(tz) if value.tzinfo else value).date()
    assert isinstance(value, dt.date)
    return value


def _at_midnight(day: dt.date, like: Key, tz: ZoneInfo) -> Key:
    """The first instant of a calendar day, in the type of ``like``."""
    if isinstance(like, dt.datetime):
        if like.tzinfo:
            # fold=0 before a gap gives the first instant that exists on that day.
            return dt.datetime.combine(day, dt.time(0), tz).astimezone(UTC)
        return dt.datetime.combine(day, dt.time(0))
    return day


def floor(value: Key, span: Span, tz: ZoneInfo) -> Key:
    """Start of the span slot that contains ``value``."""
    if span.width:
        assert isinstance(value, int)
        return value - value % span.width
    day = _local_date(value, tz)
    if span.months:
        index = day.year * 12 + day.month - 1
        index -= index % span.months
        return _at_midnight(dt.date(index // 12, index % 12 + 1, 1), value, tz)
    if span.days:
        offset = (day - DAY_ANCHOR).days % span.days
        return _at_midnight(day - dt.timedelta(days=offset), value, tz)
    assert isinstance(value, dt.datetime)
    origin = dt.datetime(2000, 1, 1, tzinfo=UTC if value.tzinfo else None)
    elapsed = (value - origin) // dt.timedelta(microseconds=1)
    return origin + dt.timedelta(microseconds=elapsed - elapsed % span.micros)


def _shift(day: dt.date, span: Span, count: int) -> dt.date:
    """``day`` plus ``count`` spans of months (day of month kept, clamped) or of days."""
    if span.months:
        first = _add_months(day.replace(day=1), span.months * count)
        last = (_add_months(first, 1) - dt.timedelta(days=1)).day
        return first.replace(day=min(day.day, last))
    return day + dt.timedelta(days=span.days * count)


def advance(start: Key, span: Span, tz: ZoneInfo, count: int = 1) -> Key:
    """``start + count * span`` as PostgreSQL adds an interval: calendar spans keep the wall-clock time of day."""
    try:
        return _advance(start, span, tz, count)
    except (OverflowError, ValueError):
        raise _out_of_range(f"{start} plus {count} x {span_text(span)}") from None


def advance_within(start: Key, span: Span, tz: ZoneInfo, key_type: str | None,
                   count: int = 1) -> Key | Unbounded:
    """``advance``, or MAXVALUE where the result would pass the largest value of the key's type (an integer key's
    maximum, a time key's year 9999): the last slot of the key's range reaches to MAXVALUE."""
    if span.width and key_type in INTEGER_MAX:
        assert isinstance(start, int)
        end = start + count * span.width
        return end if end <= INTEGER_MAX[key_type] else Unbounded.MAXVALUE
    try:
        return _advance(start, span, tz, count)
    except (OverflowError, ValueError):
        return Unbounded.MAXVALUE


def floor_within(value: Key, span: Span, tz: ZoneInfo, key_type: str | None) -> Key | Unbounded:
    """``floor``, or MINVALUE where the slot would start below the smallest value of the key's type: the first
    slot of the key's range reaches down to MINVALUE."""
    try:
        start = floor(value, span, tz)
    except (OverflowError, ValueError):
        return Unbounded.MINVALUE
    if span.width and key_type in INTEGER_MAX and start < -INTEGER_MAX[key_type] - 1:  # type: ignore[operator]
        return Unbounded.MINVALUE
    return start


def span_text(span: Span) -> str:
    """A span as a DBA writes it: ``1 month``, ``7 days``, ``3600 s``, ``width 100``."""
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((span.months, "month"), (span.days, "day")) if n]
    if span.micros:
        parts.append(f"{span.micros / 1_000_000:g} s")
    if span.width:
        parts.append(f"width {span.width}")
    return ", ".join(parts) or "0"


def _out_of_range(what: str) -> StewardError:
    # PostgreSQL's dates reach the year 294276; the Python that computes partition bounds stops at 9999.
    return StewardError(f"{what} is outside the supported range of dates (years 1 to 9999)", DATETIME_OVERFLOW)


def _advance(start: Key, span: Span, tz: ZoneInfo, count: int) -> Key:
    if span.width:
        assert isinstance(start, int)
        return start + count * span.width
    if span.micros:
        assert isinstance(start, dt.datetime)
        return start + count * dt.timedelta(microseconds=span.micros)
    if isinstance(start, dt.datetime):
        local = start.astimezone(tz).replace(tzinfo=None) if start.tzinfo else start
        if start.tzinfo and start == _at_midnight(local.date(), start, tz):
            # A day's first instant goes to a day's first instant: where midnight does not exist (DST starting
            # at 00:00, as in America/Santiago), the day starts at 01:00, and the next day at 00:00 again.
            return _at_midnight(_shift(local.date(), span, count), start, tz)
        moved = dt.datetime.combine(_shift(local.date(), span, count), local.time())
        return moved.replace(tzinfo=tz).astimezone(UTC) if start.tzinfo else moved
    return _shift(start, span, count)


def slots(first: Key, last: Key, span: Span, tz: ZoneInfo) -> list[tuple[Key, Key]]:
    """Consecutive slots ``[start, end)`` from the one holding ``first`` to the one holding ``last``."""
    out = []
    start = floor(first, span, tz)
    while start <= last:  # type: ignore[operator]
        end = advance(start, span, tz)
        out.append((start, end))
        start = end
    return out


def subtract(value: Key, interval: Span, tz: ZoneInfo) -> Key:
    """``value - interval`` as PostgreSQL computes it in time zone ``tz`` (months, then days, then time)."""
    try:
        return _subtract(value, interval, tz)
    except (OverflowError, ValueError):
        raise _out_of_range(f"{value} minus {span_text(interval)}") from None


def _subtract(value: Key, interval: Span, tz: ZoneInfo) -> Key:
    if isinstance(value, dt.datetime):
        local = value.astimezone(tz) if value.tzinfo else value
        day = local.date()
        shifted = _add_months(day.replace(day=1), -interval.months)
        last = (_add_months(shifted, 1) - dt.timedelta(days=1)).day
        day = shifted.replace(day=min(day.day, last)) - dt.timedelta(days=interval.days)
        moved = dt.datetime.combine(day, local.time(), tz if value.tzinfo else None)
        moved = moved - dt.timedelta(microseconds=interval.micros)
        return moved.astimezone(UTC) if value.tzinfo else moved
    if isinstance(value, dt.date):
        shifted = _add_months(value.replace(day=1), -interval.months)
        last = (_add_months(shifted, 1) - dt.timedelta(days=1)).day
        day = shifted.replace(day=min(value.day, last)) - dt.timedelta(days=interval.days)
        return day - dt.timedelta(days=interval.micros // MICROS_PER_DAY)
    raise StewardError("retention by interval needs a date or timestamp key", INVALID_PARAMETER_VALUE)
