"""Maintenance of managed tables: premake by the clock, fill gaps, rescue DEFAULT rows, retention, ANALYZE.

Each table is maintained in a subtransaction of its own: a failure is logged
and the other tables go on. One run at a time per database (an advisory lock;
a second run returns at once and says so). Every DDL step is bounded by the
table's lock_timeout and retried (``locking.py``). A second run right after
the first finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pg_steward.db import Database
from pg_steward.partitions import catalog
from pg_steward.partitions.catalog import Parent
from pg_steward.partitions.config import Config, managed_oids, read_config
from pg_steward.partitions.create import create_range_partition
from pg_steward.partitions.locking import with_lock_retries
from pg_steward.partitions.plan import MAX_NEW_PER_RUN, wanted_ranges
from pg_steward.partitions.retention import cutoff_for, expired, now_as_key, now_utc, retire
from pg_steward.partitions.spans import Key, advance, floor, zone
from pg_steward.partitions.survey import idle_tables
from pg_steward.partitions.values import bound_text, from_text, order
from pg_steward.sqltext import qualified

ADVISORY_LOCK = 0x7374657761726431  # "steward1": one maintenance run at a time


@dataclass
class Action:
    parent: int | None
    action: str
    partition: str | None
    ok: bool
    detail: str | None = None
    rows_moved: int = 0

    def row(self) -> dict[str, Any]:
        return {"parent": self.parent, "action": self.action, "partition": self.partition,
                "ok": self.ok, "detail": self.detail}


def stranded_values(db: Database, parent: Parent, config: Config) -> list[Key]:
    """One key value per span slot that has rows in the DEFAULT partition."""
    if parent.default_oid is None:
        return []
    default_sql = qualified(*catalog.relation_name(db, parent.default_oid))
    tz = zone(config.time_zone)
    found: list[Key] = []
    cursor: Key | None = None
    while len(found) < MAX_NEW_PER_RUN:
        where = f"WHERE {parent.key_sql} >= $1" if cursor is not None else f"WHERE {parent.key_sql} IS NOT NULL"
        args = (cursor,) if cursor is not None else ()
        row = db.query(f"SELECT min({parent.key_sql})::text AS v FROM {default_sql} {where}", *args)[0]
        if row["v"] is None:
            break
        assert parent.key_type is not None
        value = from_text(row["v"], parent.key_type)
        if not order(value)[0] == 1:
            break  # infinity: no partition can hold it
        found.append(value)  # type: ignore[arg-type]
        cursor = advance(floor(value, config.span, tz), config.span, tz)  # type: ignore[arg-type]
    return found


def maintain_table(db: Database, config: Config) -> list[Action]:
    parent = catalog.read_parent(db, config.parent_oid)
    catalog.require_range(parent)
    tz = zone(config.time_zone)
    assert parent.key_type is not None
    actions: list[Action] = []
    now = now_as_key(now_utc(db), parent.key_type, tz) if parent.is_time else None
    cutoff = cutoff_for(db, parent, config.retention, tz) if config.retention and parent.is_time else None

    def plan() -> list[tuple[Key, Key]]:
        # Reading the table (its highest key, its DEFAULT rows) waits for locks too: bounded like the DDL.
        clock = now
        if clock is None:  # integer key: the clock is the highest value stored
            top = db.query(f"SELECT max({parent.key_sql})::text AS v FROM {parent.sql}")[0]["v"]
            clock = int(top) if top is not None else None
        parts = catalog.range_partitions(db, parent)
        return wanted_ranges(parts, config, clock, cutoff, stranded_values(db, parent, config))

    for start, end in with_lock_retries(db, config.options.lock, f"read {parent.label}", plan):
        made = create_range_partition(db, parent, start, end, span=config.span, tz=tz, options=config.options)
        if made.created:
            detail = f"{bound_text(start)} to {bound_text(end)}"
            if made.moved_rows:
                detail += f"; moved {made.moved_rows} rows from DEFAULT"
            actions.append(Action(parent.oid, "create", made.label, True, detail, made.moved_rows))
            if config.analyze:
                db.execute(f"ANALYZE {qualified(made.schema, made.name)}")
    if cutoff is not None:
        for part in expired(catalog.range_partitions(db, parent), cutoff):
            name = retire(db, parent, part, config.retention_mode, config.archive_schema, config.options.lock)
            detail = f"{bound_text(part.start)} to {bound_text(part.end)}, older than {bound_text(cutoff)}"
            actions.append(Action(parent.oid, config.retention_mode, name, True, detail))
    return actions


def log(db: Database, action: Action) -> None:
    db.execute(
        "INSERT INTO steward.partition_maintenance_log (parent, action, partition, ok, rows_moved, detail) "
        "VALUES ($1::bigint::oid::regclass::text, $2, $3, $4, $5, $6)",
        action.parent, action.action, action.partition, action.ok, action.rows_moved, action.detail,
    )


def _maintain_one(db: Database, oid: int) -> list[Action]:
    try:
        with db.subtransaction():
            config = read_config(db, oid)
            actions = maintain_table(db, config) if config else []
    except Exception as error:  # one table's failure is logged; the others go on
        message = getattr(error, "message", None) or (error.args[0] if error.args else str(error))
        actions = [Action(oid, "error", None, False, str(message))]
    for action in actions:
        log(db, action)
    return actions


def _locked(db: Database, work: Callable[[], list[Action]]) -> list[Action]:
    if not db.query("SELECT pg_catalog.pg_try_advisory_lock($1) AS ok", ADVISORY_LOCK)[0]["ok"]:
        return [Action(None, "skip", None, True, "another maintenance run is in progress; nothing done")]
    try:
        return work()
    finally:
        db.query("SELECT pg_catalog.pg_advisory_unlock($1)", ADVISORY_LOCK)


def maintain_partitions(db: Database, parent_name: str | int | None) -> list[dict[str, Any]]:
    """``steward.maintain_partitions(parent)``: every managed table (or one), in this transaction."""
    parent_oid = catalog.read_parent(db, parent_name).oid if parent_name is not None else None

    def work() -> list[Action]:
        oids = managed_oids(db, parent_oid)
        if parent_oid is not None and not oids:
            return [Action(parent_oid, "skip", None, True, "not managed: call steward.manage() first")]
        # A table named by the caller (run_maintenance names those the survey found due) is read directly.
        idle = idle_tables(db, oids) if parent_oid is None else set()
        return [a for oid in oids if oid not in idle for a in _maintain_one(db, oid)]

    return [a.row() for a in _locked(db, work)]


def tables_due(db: Database) -> list[int]:
    """``steward._tables_due()``: the enabled managed tables that maintenance has work for now, by name."""
    oids = managed_oids(db)
    idle = idle_tables(db, oids)
    return [oid for oid in oids if oid not in idle]
