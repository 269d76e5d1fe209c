"""The clock of partition maintenance: now, in UTC from the server, and as a value of a table's time key."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pg_steward.db import Database
from pg_steward.partitions.model import Parent
from pg_steward.partitions.spans import UTC, Key, Span, subtract
from pg_steward.partitions.values import DATE, TIMESTAMPTZ


def now_utc(db: Database) -> dt.datetime:
    text = db.query("SELECT to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS t")[0]["t"]
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def now_as_key(now: dt.datetime, key_type: str, tz: ZoneInfo) -> Key:
    """The current moment as a value of a time key: a date or wall-clock time in ``tz``, or an instant."""
    if key_type == TIMESTAMPTZ:
        return now
    local = now.astimezone(tz).replace(tzinfo=None)
    return local.date() if key_type == DATE else local


def cutoff_for(db: Database, parent: Parent, retention: Span, tz: ZoneInfo) -> Key:
    assert parent.key_type is not None
    return subtract(now_as_key(now_utc(db), parent.key_type, tz), retention, tz)
