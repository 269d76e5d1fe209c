"""Retention: partitions whose whole range is older than a cutoff are dropped, detached or archived.

Partitions are chosen by their catalog bounds, never by name: a renamed
partition is found, a partition that reaches past the cutoff stays, and the
DEFAULT partition and tables that merely share the parent's name prefix are
never candidates.
"""

from __future__ import annotations

from typing import Any

from pg_steward.arguments import not_null, one_of, positive_span
from pg_steward.db import Database
from pg_steward.errors import (
    DUPLICATE_TABLE,
    INVALID_PARAMETER_VALUE,
    INVALID_SCHEMA_NAME,
    StewardError,
)
from pg_steward.partitions import catalog
from pg_steward.partitions.bounds import Unbounded
from pg_steward.partitions.clock import cutoff_for
from pg_steward.partitions.config import MODES, read_config
from pg_steward.partitions.model import LockPolicy, Parent, RangePartition
from pg_steward.partitions.spans import Key, zone
from pg_steward.partitions.values import bound_text, order
from pg_steward.sqltext import qualified, quote_ident


def expired(partitions: list[RangePartition], cutoff: Key) -> list[RangePartition]:
    """Partitions whose upper bound is at or before the cutoff, oldest first."""
    old = [p for p in partitions if p.end is not Unbounded.MAXVALUE and order(p.end) <= order(cutoff)]
    return sorted(old, key=lambda p: order(p.start))


FOREIGN_NOTE = "a foreign table (or one holding foreign tables): detached, never dropped"


def effective_mode(part: RangePartition, mode: str) -> str:
    """The mode retention applies to ``part``: a foreign partition is detached instead of dropped, since
    pg_steward never removes what lives on another server from its tree by dropping it."""
    return "detach" if mode == "drop" and part.is_foreign else mode


def retire(db: Database, parent: Parent, part: RangePartition, mode: str, archive_schema: str | None,
           lock: LockPolicy) -> str:
    """Drop, detach or archive one partition (``effective_mode``); returns the name it has afterwards."""
    mode = effective_mode(part, mode)
    from pg_steward.partitions.locking import lock_parent, with_lock_retries

    def step() -> str:
        lock_parent(db, parent)  # the parent first, as every change of pg_steward's: one lock order
        if mode == "drop":
            db.execute(f"DROP TABLE {part.sql}")
            return f"{part.schema}.{part.name}"
        db.execute(f"ALTER TABLE {parent.sql} DETACH PARTITION {part.sql}")
        if mode == "archive":
            assert archive_schema is not None
            db.execute(f"ALTER TABLE {part.sql} SET SCHEMA {quote_ident(archive_schema)}")
            return f"{archive_schema}.{part.name}"
        return f"{part.schema}.{part.name}"

    return with_lock_retries(db, lock, f"{mode} partition {part.schema}.{part.name}", step)


def check_mode(db: Database, mode: str | None, archive_schema: str | None, parts: list[RangePartition]) -> None:
    one_of("mode", mode, MODES)
    if mode == "export":
        raise StewardError("mode export is run by a client: the server cannot write its files",
                           INVALID_PARAMETER_VALUE,
                           hint="Register the table with retention_mode => 'export'; run pg-steward export --dir DIR.")
    if mode != "archive":
        return
    if archive_schema is None:
        raise StewardError("mode archive needs archive_schema", INVALID_PARAMETER_VALUE)
    if not db.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", archive_schema):
        raise StewardError(f"schema {archive_schema} does not exist", INVALID_SCHEMA_NAME,
                           hint=f"CREATE SCHEMA {quote_ident(archive_schema)} first.")
    for part in parts:
        if catalog.relation_exists(db, archive_schema, part.name):
            raise StewardError(f"{qualified(archive_schema, part.name)} already exists", DUPLICATE_TABLE,
                               detail="Nothing was archived.")


def drop_old_partitions(db: Database, parent_name: str | None, retention: str | None, mode: str | None,
                        archive_schema: str | None, dry_run: bool | None) -> list[dict[str, Any]]:
    """``steward.drop_old_partitions(...)``: one row per partition retired (or that would be, in a dry run)."""
    not_null("retention", retention)
    assert retention is not None
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent, time_only=True)
    span = positive_span(retention, "retention")
    config = read_config(db, parent.oid)
    tz = zone(config.time_zone if config else "UTC")
    lock = config.options.lock if config else LockPolicy()
    candidates = expired(catalog.range_partitions(db, parent), cutoff_for(db, parent, span, tz))
    check_mode(db, mode, archive_schema, candidates)
    assert mode is not None
    out = []
    for part in candidates:
        name = f"{part.schema}.{part.name}"
        if not dry_run:
            name = retire(db, parent, part, mode, archive_schema, lock)
        done = effective_mode(part, mode)
        out.append({
            "partition": name, "range_from": bound_text(part.start), "range_to": bound_text(part.end),
            "action": done if not dry_run else f"would {done}",
        })
    return out
