"""Changing the span of a managed range table for the future: no gap and no overlap at the switch.

Partitions already made keep their bounds. The new span takes over at the newest partition's upper bound:
maintenance's plan (``plan.wanted_ranges``) creates only what no partition covers, so the first partition of
the new span starts exactly there; when that bound is not a boundary of the new span's slots (a weekly span
after monthly partitions: months rarely start on a Monday), the first one runs from that bound to the next
slot boundary, and whole slots follow.
"""

from __future__ import annotations

from typing import Any

from pg_steward.arguments import not_null
from pg_steward.db import Database
from pg_steward.errors import INVALID_PARAMETER_VALUE, OBJECT_NOT_IN_PREREQUISITE_STATE, StewardError
from pg_steward.partitions import catalog
from pg_steward.partitions.actions import Action, log
from pg_steward.partitions.config import read_config, require_owner
from pg_steward.partitions.locking import lock_parent, with_lock_retries
from pg_steward.partitions.spans import INTEGER_KEYS, span_text, time_span
from pg_steward.partitions.values import bound_text, order


def change_span(db: Database, parent_name: str | None, new_span: str | None) -> list[dict[str, Any]]:
    """``steward.change_span(parent, new_span)``: the span maintenance creates partitions with from now on.

    One row: the previous and the new span and ``switch_at``, the newest partition's upper bound, where the first
    partition of the new span will start (NULL when the table has no partition, or one reaching MAXVALUE)."""
    not_null("new_span", new_span)
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent)
    config = read_config(db, parent.oid)
    if config is None:
        raise StewardError(f"{parent.label} is not managed by pg_steward", OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint="Register it with steward.manage(parent, span => ...).")
    require_owner(db, parent)
    if parent.key_type in INTEGER_KEYS:
        raise StewardError(f"{parent.label} has an integer key: its span is a width, not an interval",
                           INVALID_PARAMETER_VALUE,
                           hint="Give the new width with steward.manage(parent, integer_span => N).")
    assert parent.key_type is not None
    printed = db.query("SELECT ($1::text)::interval::text AS i", new_span)[0]
    span = time_span(printed["i"], parent.key_type)  # 22023 for a span the slots cannot be cut by

    def step() -> dict[str, Any]:
        lock_parent(db, parent)  # maintenance of the table waits, then plans with the new span
        ends = [p.end for p in catalog.range_partitions(db, parent)]
        newest = max(ends, key=order) if ends else None
        db.execute("UPDATE steward.partition_config SET span = $2::interval, updated_at = pg_catalog.now() "
                   "WHERE parent = $1::bigint::oid", parent.oid, printed["i"])
        switch_at = None
        if newest is not None and order(newest)[0] == 1:  # as PostgreSQL prints a value of the key
            switch_at = db.query(f"SELECT (($1::text)::{parent.key_type})::text AS v", bound_text(newest))[0]["v"]
        return {"previous_span": _interval(db, config.span), "span": printed["i"], "switch_at": switch_at}

    row = with_lock_retries(db, config.options.lock, f"change the span of {parent.label}", step)
    log(db, Action(parent.oid, "span", None, True,
                   f"span {span_text(config.span)} -> {span_text(span)}"
                   + (f"; new partitions from {row['switch_at']}" if row["switch_at"] else "")))
    return [row]


def _interval(db: Database, span: Any) -> str:
    """A span as an interval's text (months, days, microseconds)."""
    return str(db.query("SELECT pg_catalog.make_interval(months => $1::integer, days => $2::integer, "
                        "secs => $3::double precision / 1000000)::text AS i",
                        span.months, span.days, span.micros)[0]["i"])
