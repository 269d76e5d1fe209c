"""Checks of the arguments SQL functions receive: one wording and one SQLSTATE per kind of mistake.

``positive_interval`` asks the server (``interval > '0'``, months counted as
30 days; finite: ``'infinity'`` is an interval from PostgreSQL 17 on, and no
cutoff can be computed from it) and gives back the interval's text; ``positive_span`` reads an
interval already printed in ISO 8601 and wants every part of it positive or
zero and not all zero. ``one_of`` checks an enumerated option.
"""

from __future__ import annotations

from collections.abc import Sequence

from pg_steward.db import Database
from pg_steward.errors import INVALID_PARAMETER_VALUE, NULL_VALUE_NOT_ALLOWED, StewardError
from pg_steward.partitions.spans import Span, parse_interval


def not_null(name: str, value: object) -> None:
    if value is None:
        raise StewardError(f"{name} must not be NULL", NULL_VALUE_NOT_ALLOWED)


def not_positive(name: str, value: object) -> StewardError:
    return StewardError(f"{name} must be a positive interval, not {value}", INVALID_PARAMETER_VALUE)


def positive_interval(db: Database, value: str | None, name: str) -> str | None:
    """``value`` (an interval's text, or None) checked by the server to be finite and above zero; its text as
    printed. ``isfinite(interval)`` is true for every interval before PostgreSQL 17, which has no infinite ones."""
    if value is None:
        return None
    row = db.query("SELECT isfinite($1::interval) AS finite, $1::interval > interval '0' AS positive, "
                   "$1::interval::text AS text", value)[0]
    if not row["finite"]:
        raise StewardError(f"{name} must be a finite interval, not {value}", INVALID_PARAMETER_VALUE)
    if not row["positive"]:
        raise not_positive(name, value)
    text: str = row["text"]
    return text


def positive_span(interval: str, name: str) -> Span:
    """An interval printed with ``IntervalStyle = 'iso_8601'`` whose parts are all positive or zero, not all zero."""
    span = parse_interval(interval)
    if span.months < 0 or span.days < 0 or span.micros < 0 or span == Span():
        raise not_positive(name, interval)
    return span


def one_of(name: str, value: str | None, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``; the error names them all."""
    if value not in allowed:
        raise StewardError(f"{name} must be one of {', '.join(allowed)}, not {value!r}", INVALID_PARAMETER_VALUE)
    return value
