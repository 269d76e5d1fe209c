"""The newest premade partition of each managed table, and the health check premake_runway built on it.

Read from the catalog only: the runway of premade partitions needs no history
(steward.growth_forecasts() in reports/growth.py adds an integer key's growth).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pg_steward.db import Database
from pg_steward.partitions import catalog
from pg_steward.partitions.bounds import Unbounded
from pg_steward.partitions.spans import INTEGER_KEYS, TIME_KEYS, zone
from pg_steward.partitions.values import DATE, TIMESTAMPTZ
from pg_steward.reports import runway
from pg_steward.sqltext import quote_ident


@dataclass(frozen=True)
class Premade:
    """The newest premade partition of a managed range-partitioned table."""
    table: str  # schema-qualified and quoted
    partition: str
    key_type: str
    key_column: str  # quoted
    bound: object  # the key value: a date, a datetime, an int
    bound_text: str
    bound_epoch: float | None  # time keys: the bound as an instant (a date or timestamp in the table's time zone)
    span_seconds: float | None  # time keys: the newest partition's width
    width: int | None  # integer keys: the newest partition's width


def _epoch(value: object, key_type: str, tz: ZoneInfo) -> float:
    if key_type == DATE:
        assert isinstance(value, dt.date)
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz).timestamp()
    assert isinstance(value, dt.datetime)
    return value.timestamp() if key_type == TIMESTAMPTZ else value.replace(tzinfo=tz).timestamp()


@contextmanager
def text_formats(db: Database) -> Iterator[None]:
    """The catalog's bounds printed as partitions/values.py reads them (ISO dates, UTC), within functions that
    have no @text_formats SET clauses (their text shows the caller's time zone); the caller's settings back
    afterwards."""
    before = db.query("SELECT pg_catalog.current_setting('DateStyle') AS d, "
                      "pg_catalog.current_setting('TimeZone') AS z")[0]
    db.query("SELECT pg_catalog.set_config('DateStyle', 'ISO, YMD', true), "
             "pg_catalog.set_config('TimeZone', 'UTC', true)")
    try:
        yield
    finally:
        db.query("SELECT pg_catalog.set_config('DateStyle', $1, true), pg_catalog.set_config('TimeZone', $2, true)",
                 before["d"], before["z"])


def premake_runway(db: Database) -> tuple[float | None, str, str | None]:
    """Health check premake_runway: the fewest spans of premade partitions left before a managed table's newest
    bound is reached (time keys; an integer key's runway is in steward.growth_forecasts())."""
    with text_formats(db):
        premade = premade_partitions(db)
    now = db.query("SELECT extract(epoch FROM pg_catalog.now())::pg_catalog.float8 AS e")[0]["e"]
    timed = sorted(((runway.spans_left(p.bound_epoch, now, p.span_seconds or 0), p) for p in premade
                    if p.bound_epoch is not None and p.span_seconds), key=lambda x: (x[0], x[1].table))
    others = len(premade) - len(timed)
    note = f"; {others} table(s) with an integer key: see steward.growth_forecasts()" if others else ""
    if not timed:
        return None, "no managed table partitioned by a time key: nothing to judge" + note, None
    worst = timed[:5]
    detail = "; ".join(
        f"{p.table}: newest partition {p.partition} ends at {p.bound_text}, in "
        f"{runway.days_until(p.bound_epoch or 0, now):.1f} days ({spans:.2f} spans)" for spans, p in worst) + note
    fix = (f"SELECT * FROM steward.maintain_partitions('{worst[0][1].table}'::regclass);  -- premakes its partitions; "
           "then check why maintenance did not (steward.jobs, steward.partition_maintenance_log)")
    return round(worst[0][0], 2), detail, fix


def premade_partitions(db: Database) -> list[Premade]:
    """Each enabled managed table partitioned by range on one date, timestamp or integer column, with its newest
    bounded range partition (tables with none, or only an unbounded one, are left out)."""
    zones = {r["oid"]: r["time_zone"] for r in db.query(
        "SELECT parent::oid::bigint AS oid, time_zone FROM steward.partition_config WHERE enabled")}
    out = []
    for parent in sorted(catalog.read_parents(db, list(zones)), key=lambda p: p.label):
        if parent.strategy != "range" or parent.key_type not in TIME_KEYS + INTEGER_KEYS:
            continue
        parts = [p for p in catalog.range_partitions(db, parent)
                 if not isinstance(p.end, Unbounded) and not isinstance(p.start, Unbounded)]
        if not parts:
            continue
        newest = max(parts, key=lambda p: p.end)  # type: ignore[arg-type,return-value]
        assert parent.key_type is not None and parent.key_column is not None
        if parent.key_type in TIME_KEYS:
            tz = zone(zones[parent.oid])
            end, start = _epoch(newest.end, parent.key_type, tz), _epoch(newest.start, parent.key_type, tz)
            epoch, seconds, width = end, end - start, None
        else:
            epoch, seconds, width = None, None, int(newest.end) - int(newest.start)  # type: ignore[call-overload]
        out.append(Premade(parent.sql, newest.sql, parent.key_type, quote_ident(parent.key_column), newest.end,
                           str(newest.end), epoch, seconds, width))
    return out
