"""Retention mode ``export``: an expired partition is written to a file by a client, verified, then retired.

The server cannot write a client's files, so in this mode maintenance never
retires a partition by itself: it reports each expired one as ``awaiting
export`` (logged every run, counted by the health check
``partition_exports`` once it is overdue). ``pg-steward export`` reads the
list (``steward.export_candidates``), copies each partition out in one
snapshot, verifies the file, and then calls
``steward.record_partition_export``, which counts the partition's rows again
under its lock and only when they match records the export and drops or
detaches the partition, in one transaction. ``pg-steward import`` loads such
a file back: ``steward.prepare_partition_import`` makes the empty partition
(refusing any overlap), the client copies the rows into it in the same
transaction and checks the count before it commits.
"""

from __future__ import annotations

import re
from typing import Any

from pg_steward.arguments import not_null, one_of
from pg_steward.db import Database
from pg_steward.errors import (
    INVALID_PARAMETER_VALUE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    StewardError,
)
from pg_steward.owner_rights import owner_rights, require_owner_rights
from pg_steward.partitions import catalog
from pg_steward.partitions.clock import cutoff_for
from pg_steward.partitions.config import managed_oids, read_config
from pg_steward.partitions.create import create_range_partition, existing_or_overlap
from pg_steward.partitions.locking import lock_parent, lock_table, with_lock_retries
from pg_steward.partitions.model import Config, Parent, RangePartition
from pg_steward.partitions.retention import effective_mode, expired
from pg_steward.partitions.spans import Span, zone
from pg_steward.partitions.values import bound_text, from_text, order

MODE = "export"
AWAITING = "awaiting export"
THEN_MODES = ("drop", "detach")  # what record_partition_export does once the export is recorded
SHA256 = re.compile(r"[0-9a-f]{64}")
OVERDUE_GRACE = Span(days=1)  # an expired partition still awaiting export a day later is a health warning


def awaiting_detail(part: RangePartition, cutoff: object) -> str:
    return (f"{bound_text(part.start)} to {bound_text(part.end)}, older than {bound_text(cutoff)}; "  # type: ignore[arg-type]
            "retention mode export: kept until pg-steward export writes and verifies its file "
            "(steward.record_partition_export then retires it)")


def _config_in_export_mode(db: Database, parent: Parent) -> Config:
    config = read_config(db, parent.oid) if managed_oids(db, parent.oid) else None
    if config is None or config.retention_mode != MODE or config.retention is None:
        raise StewardError(f"{parent.label} is not managed with retention_mode export and a retention",
                           OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint=f"SELECT steward.manage('{parent.label}', retention => '...', "
                                "retention_mode => 'export') first.")
    return config


def _expired(db: Database, parent: Parent, config: Config, extra: Span | None = None) -> list[RangePartition]:
    assert config.retention is not None
    retention = config.retention
    if extra is not None:
        retention = Span(retention.months + extra.months, retention.days + extra.days, retention.micros + extra.micros)
    return expired(catalog.range_partitions(db, parent), cutoff_for(db, parent, retention, zone(config.time_zone)))


def _table_candidates(db: Database, parent: Parent, config: Config) -> list[dict[str, Any]]:
    catalog.require_range(parent, time_only=True)
    assert config.retention is not None
    cutoff = cutoff_for(db, parent, config.retention, zone(config.time_zone))
    return [{"parent_table": parent.oid, "partition": p.oid, "range_from": bound_text(p.start),
             "range_to": bound_text(p.end), "detail": awaiting_detail(p, cutoff)}
            for p in expired(catalog.range_partitions(db, parent), cutoff)]


def export_candidates(db: Database, parent_name: str | None) -> list[dict[str, Any]]:
    """``steward.export_candidates(parent)``: the expired partitions awaiting export, oldest first per table.

    Over every table, only enabled managed tables in mode ``export`` are read; a named table must be one."""
    if parent_name is not None:
        parent = catalog.read_parent(db, parent_name)
        return _table_candidates(db, parent, _config_in_export_mode(db, parent))
    out: list[dict[str, Any]] = []
    for oid in managed_oids(db):
        config = read_config(db, oid)
        if config is None or config.retention_mode != MODE or config.retention is None:
            continue
        out += _table_candidates(db, catalog.read_parent(db, oid), config)
    return out


def _parent_of(db: Database, partition: str) -> tuple[Parent, int]:
    rows = db.query("SELECT i.inhparent::bigint AS parent, c.oid::bigint AS oid FROM pg_catalog.pg_class AS c "
                    "LEFT JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = c.oid WHERE c.oid = $1::regclass",
                    partition)
    if not rows or rows[0]["parent"] is None:
        raise StewardError(f"{partition} is not a partition", OBJECT_NOT_IN_PREREQUISITE_STATE)
    return catalog.read_parent(db, rows[0]["parent"]), rows[0]["oid"]


def check_record_arguments(rows: int | None, sha256: str | None, location: str | None, then_mode: str | None) -> None:
    """The arguments of ``record_partition_export`` that need no database (pure, unit-tested)."""
    for value, what in ((rows, "row_count"), (sha256, "sha256"), (location, "location"), (then_mode, "then_mode")):
        not_null(what, value)
    assert rows is not None and sha256 is not None and location is not None
    if rows < 0:
        raise StewardError(f"row_count must be 0 or more, not {rows}", INVALID_PARAMETER_VALUE)
    if not SHA256.fullmatch(sha256):
        raise StewardError("sha256 must be 64 lowercase hexadecimal digits", INVALID_PARAMETER_VALUE)
    if not location.strip():
        raise StewardError("location must not be empty", INVALID_PARAMETER_VALUE)
    one_of("then_mode", then_mode, THEN_MODES)


def record_partition_export(db: Database, partition: str | None, rows: int | None, sha256: str | None,
                            location: str | None, then_mode: str | None) -> list[dict[str, Any]]:
    """``steward.record_partition_export(...)``: the export of one expired partition, checked, recorded, retired.

    Under the parent's change lock and an ACCESS EXCLUSIVE lock on the partition (bounded by the table's
    lock_timeout, retried), the partition's rows are counted with its owner's rights; only when they are
    ``rows`` is the export written to ``steward.partition_exports`` and the partition dropped or detached
    (``then_mode``; a foreign partition is detached). Anything else raises, and nothing is changed."""
    not_null("partition", partition)
    check_record_arguments(rows, sha256, location, then_mode)
    assert partition is not None and then_mode is not None
    parent, oid = _parent_of(db, partition)
    require_owner_rights(db, parent.owner, parent.label)
    config = _config_in_export_mode(db, parent)
    cutoff = cutoff_for(db, parent, config.retention, zone(config.time_zone))  # type: ignore[arg-type]
    part = next((p for p in catalog.range_partitions(db, parent) if p.oid == oid), None)
    if part is None or part not in expired(catalog.range_partitions(db, parent), cutoff):
        raise StewardError(f"{partition} is not past the retention of {parent.label}: nothing recorded or retired",
                           OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint="Only the partitions steward.export_candidates() lists are exported and retired.")
    mode = effective_mode(part, then_mode)

    def step() -> str:
        lock_parent(db, parent)
        lock_table(db, part.schema, part.name, "ACCESS EXCLUSIVE")
        with owner_rights(db, parent.owner, parent.label) as table_db:
            found = table_db.query(f"SELECT count(*) AS n FROM {part.sql}")[0]["n"]
        if found != rows:
            raise StewardError(f"{part.schema}.{part.name} holds {found} rows, the export has {rows}: "
                               "nothing recorded or retired", OBJECT_NOT_IN_PREREQUISITE_STATE,
                               hint="Rows arrived (or went) after the export: run pg-steward export again.")
        db.execute("INSERT INTO steward.partition_exports (parent, partition, range_from, range_to, row_count, "
                   "sha256, location, retired_as) VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8)",
                   parent.label, f"{part.schema}.{part.name}", bound_text(part.start), bound_text(part.end),
                   rows, sha256, location, mode)
        if mode == "drop":
            db.execute(f"DROP TABLE {part.sql}")
        else:
            db.execute(f"ALTER TABLE {parent.sql} DETACH PARTITION {part.sql}")
        return mode

    done = with_lock_retries(db, config.options.lock, f"{then_mode} exported partition {part.schema}.{part.name}",
                             step)
    detail = f"{bound_text(part.start)} to {bound_text(part.end)}; {rows} rows exported to {location}, then {done}"
    row = {"parent": parent.oid, "action": f"export, {done}", "partition": f"{part.schema}.{part.name}", "ok": True,
           "detail": detail}
    # The maintenance log keeps it, as maintenance logs its own retirements (maintain.log_all).
    db.execute("INSERT INTO steward.partition_maintenance_log (parent, action, partition, ok, detail) "
               "VALUES ($1, $2, $3, true, $4)", parent.label, row["action"], row["partition"], detail)
    return [row]


def prepare_partition_import(db: Database, parent_name: str | None, range_from: str | None,
                             range_to: str | None) -> int:
    """``steward.prepare_partition_import(parent, range_from, range_to)``: a new, empty partition for an import.

    Any existing partition with these bounds or overlapping them is refused (a partition with the very same
    bounds too: an import never adds rows to a partition that exists). Rows of the range that sit in the DEFAULT
    partition are moved into the new one, as every partition pg_steward creates. Returns its oid; the caller
    loads the rows in the same transaction."""
    for value, what in ((range_from, "range_from"), (range_to, "range_to")):
        not_null(what, value)
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent, time_only=True)
    require_owner_rights(db, parent.owner, parent.label)
    assert parent.key_type is not None and range_from is not None and range_to is not None
    try:
        start = from_text(db.query(f"SELECT ($1::text)::{parent.key_type}::text AS v", range_from)[0]["v"],
                          parent.key_type)
        end = from_text(db.query(f"SELECT ($1::text)::{parent.key_type}::text AS v", range_to)[0]["v"],
                        parent.key_type)
    except Exception as error:
        if isinstance(error, StewardError):
            raise
        raise StewardError(f"range bounds {range_from!r} to {range_to!r} are not values of {parent.key_type}",
                           INVALID_PARAMETER_VALUE) from None
    if not order(start) < order(end):
        raise StewardError(f"empty range: {range_from} is not before {range_to}", INVALID_PARAMETER_VALUE)
    same = existing_or_overlap(catalog.range_partitions(db, parent), start, end)
    if same is not None:
        raise StewardError(f"{same.schema}.{same.name} already holds {bound_text(start)} to {bound_text(end)}: "
                           "nothing imported", OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint="Import into another parent (pg-steward import --into), or detach it first.")
    config = read_config(db, parent.oid)
    made = create_range_partition(db, parent, start, end, tz=zone(config.time_zone if config else "UTC"),
                                  options=config.options if config else None)
    return int(db.query("SELECT c.oid::bigint AS oid FROM pg_catalog.pg_class AS c "
                        "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = $1 AND c.relname = $2", made.schema, made.name)[0]["oid"])


def overdue_exports(db: Database) -> tuple[float, str, str | None]:
    """Health check ``partition_exports``: partitions still awaiting export a day after they expired."""
    # health() has no @text_formats SET clauses: the registry's intervals and the bounds are read with the
    # functions' formats (runtime.PINNED_SETTINGS), and the caller's come back afterwards.
    names = ("DateStyle", "TimeZone", "IntervalStyle")
    before = db.query("SELECT pg_catalog.current_setting('DateStyle') AS d, pg_catalog.current_setting('TimeZone') "
                      "AS z, pg_catalog.current_setting('IntervalStyle') AS i")[0]
    db.query("SELECT pg_catalog.set_config('DateStyle', 'ISO, YMD', true), pg_catalog.set_config('TimeZone', 'UTC', "
             "true), pg_catalog.set_config('IntervalStyle', 'iso_8601', true)")
    try:
        return _overdue(db)
    finally:
        db.query("SELECT " + ", ".join(f"pg_catalog.set_config('{n}', ${i}, true)" for i, n in enumerate(names, 1)),
                 before["d"], before["z"], before["i"])


def _overdue(db: Database) -> tuple[float, str, str | None]:
    late: list[str] = []
    tables = 0
    for oid in managed_oids(db):
        config = read_config(db, oid)
        if config is None or config.retention_mode != MODE or config.retention is None:
            continue
        tables += 1
        parent = catalog.read_parent(db, oid)
        late += [f"{p.schema}.{p.name} of {parent.label}" for p in _expired(db, parent, config, OVERDUE_GRACE)]
    if not late:
        return 0.0, f"no partition awaits export for more than a day ({tables} table(s) in retention mode export)", None
    shown = "; ".join(late[:10]) + (f"; and {len(late) - 10} more" if len(late) > 10 else "")
    return (float(len(late)), f"expired for more than a day, not exported (nothing is dropped until then): {shown}",
            "pg-steward export --dir DIR  -- writes, verifies and records each file, then retires the partition")
