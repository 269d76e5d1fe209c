"""Partition names: ``<parent>_p<start>``, at most 63 bytes, unique in their schema.

The suffix says where the partition starts, as precisely as its span needs:
``_p2024`` (years), ``_p2024q3`` (quarters), ``_p2024_07`` (months),
``_p2024_07_15`` (days, weeks), ``_p2024_07_15_1300`` (hours, minutes),
``_p1000`` / ``_pm1000`` (integer keys; m for minus). A partition that does
not start on its span's boundary (a gap filled between odd bounds) is named by
its exact start. When the parent's name is too long, it is cut (at a UTF-8
character boundary) so the suffix always survives; when the result is taken,
a short hash of the parent's and the partition's identity keeps it unique.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pg_steward.partitions.spans import Key, Span

NAMEDATALEN = 63  # PostgreSQL cuts identifiers to 63 bytes


def suffix(start: Key, span: Span, aligned: bool = True, tz_local: Key | None = None) -> str:
    """The ``_p...`` suffix for a partition starting at ``start`` (a wall-clock value for timestamptz)."""
    value = tz_local if tz_local is not None else start
    if isinstance(value, int):
        return f"_p{value}" if value >= 0 else f"_pm{-value}"
    if isinstance(value, dt.datetime) and (span.micros or not aligned) and value.time() != dt.time(0):
        text = value.strftime("_p%Y_%m_%d_%H%M")
        return text + value.strftime("%S") if value.second or value.microsecond else text
    day = value.date() if isinstance(value, dt.datetime) else value
    if aligned and span.months and span.months % 12 == 0:
        return f"_p{day.year:04d}"
    if aligned and span.months and span.months % 3 == 0:
        return f"_p{day.year:04d}q{(day.month - 1) // 3 + 1}"
    if aligned and span.months:
        return f"_p{day.year:04d}_{day.month:02d}"
    return f"_p{day.year:04d}_{day.month:02d}_{day.day:02d}"


def cut(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` bytes of UTF-8, never inside a character."""
    data = name.encode()
    if len(data) <= max_bytes:
        return name
    return data[:max_bytes].decode(errors="ignore")


def first_choice(parent: str, tail: str) -> str:
    """``<parent><tail>`` within 63 bytes: the name ``partition_name`` gives when it is free."""
    return cut(parent, NAMEDATALEN - len(tail.encode())) + tail


def partition_name(parent: str, tail: str, taken: Callable[[str], bool], identity: str) -> str:
    """A free name ``<parent><tail>`` within 63 bytes; ``identity`` seeds the hash used on a clash."""
    name = first_choice(parent, tail)
    if not taken(name):
        return name
    import hashlib  # only for a name already taken (rare): its OpenSSL load is not paid by every session

    digest = hashlib.sha1(identity.encode()).hexdigest()
    for attempt in range(100):
        mark = "_" + digest[:6] + (str(attempt) if attempt else "")
        name = cut(parent, NAMEDATALEN - len(tail.encode()) - len(mark)) + tail + mark
        if not taken(name):
            return name
    raise RuntimeError(f"no free partition name for {parent}{tail}")
