"""Partition key values: from catalog text, to SQL literals, for each supported key type.

The SQL functions pin ``DateStyle = ISO`` and ``TimeZone = UTC``, so the
catalog prints dates as ``2024-07-01`` and timestamptz bounds in UTC
(``2024-07-01 04:00:00+00``). ``infinity`` and BC dates sort as unbounded.
"""

from __future__ import annotations

import datetime as dt

from pg_steward.partitions.bounds import Unbounded, Value
from pg_steward.partitions.spans import INTEGER_KEYS, UTC, Key

DATE, TIMESTAMP, TIMESTAMPTZ = "date", "timestamp without time zone", "timestamp with time zone"
Bound = Key | Unbounded


def from_text(text: Value, key_type: str) -> Bound:
    """A bound value as the catalog prints it, typed."""
    if isinstance(text, Unbounded):
        return text
    if text is None:
        raise ValueError("NULL is not a range bound")
    if text in ("infinity", "-infinity") or text.endswith(" BC"):
        return Unbounded.MAXVALUE if text == "infinity" else Unbounded.MINVALUE
    if key_type in INTEGER_KEYS:
        return int(text)
    if key_type == DATE:
        return dt.date.fromisoformat(text)
    value = dt.datetime.fromisoformat(text)
    if key_type == TIMESTAMPTZ:
        return value.astimezone(UTC)
    return value


def to_literal_text(value: Key) -> str:
    """Text PostgreSQL reads back as the same value (timestamptz in UTC, with its offset)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def order(value: Bound) -> tuple:
    """Sort key that puts MINVALUE first and MAXVALUE last."""
    if value is Unbounded.MINVALUE:
        return (0,)
    if value is Unbounded.MAXVALUE:
        return (2,)
    return (1, value)


def overlaps(a: tuple[Bound, Bound], b: tuple[Bound, Bound]) -> bool:
    """Whether ranges ``[a0, a1)`` and ``[b0, b1)`` share a value."""
    return order(a[0]) < order(b[1]) and order(b[0]) < order(a[1])


def bound_text(value: Bound) -> str:
    return value.value if isinstance(value, Unbounded) else to_literal_text(value)
