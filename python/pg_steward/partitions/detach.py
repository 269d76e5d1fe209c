"""Concurrent detaches, which only a client can run: what to run, and the record of what was run.

``ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY`` (and its ``FINALIZE``)
cannot run inside a function or a transaction block, so maintenance cannot
run it itself. ``steward.detach_steps()`` says what a client in autocommit
should run for the managed tables whose retention mode is ``detach``: first
the detaches an interrupted run left pending, then the partitions past
retention, chosen by their catalog bounds exactly as retention chooses them.
``steward.record_detach()`` logs what the client ran in
``steward.partition_maintenance_log``, as maintenance logs its own actions.
"""

from __future__ import annotations

from typing import Any

from pg_steward.db import Database
from pg_steward.errors import INVALID_PARAMETER_VALUE, NULL_VALUE_NOT_ALLOWED, StewardError
from pg_steward.owner_rights import require_owner_rights
from pg_steward.partitions import catalog
from pg_steward.partitions.actions import Action, log
from pg_steward.partitions.clock import cutoff_for
from pg_steward.partitions.config import managed_oids, read_config
from pg_steward.partitions.model import Config, Parent
from pg_steward.partitions.retention import expired
from pg_steward.partitions.spans import zone
from pg_steward.partitions.values import bound_text
from pg_steward.sqltext import qualified

FINALIZE = "detach finalize"
CONCURRENTLY = "detach concurrently"
NOTE = "note"
ERROR = "error"
STEPS = (FINALIZE, CONCURRENTLY)
DEFAULT_NOTE = ("has a DEFAULT partition, so PostgreSQL cannot DETACH CONCURRENTLY: "
                "retention detaches it inside maintain_partitions instead")

# Partitions whose detach was interrupted half-way (it commits twice): DETACH ... FINALIZE completes them.
_PENDING_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE i.inhparent = $1::bigint::oid AND i.inhdetachpending
ORDER BY n.nspname, c.relname
"""


def _step(parent: Parent, step: str, partition: int | None = None, statement: str | None = None,
          lock_timeout: str | None = None, detail: str | None = None) -> dict[str, Any]:
    return {"parent_table": parent.oid, "partition": partition, "step": step, "statement": statement,
            "lock_timeout": lock_timeout, "detail": detail}


def table_steps(db: Database, config: Config) -> list[dict[str, Any]]:
    """The statements to run for one table in detach mode, in order."""
    parent = catalog.read_parent(db, config.parent_oid)
    catalog.require_range(parent, time_only=True)
    timeout = f"{config.options.lock.timeout_ms}ms"
    pending = db.query(_PENDING_SQL, parent.oid)
    steps = [_step(parent, FINALIZE, p["oid"], f"ALTER TABLE {parent.sql} DETACH PARTITION "
                   f"{qualified(p['schema'], p['name'])} FINALIZE", timeout,
                   "finishes a detach that an interrupted run left pending") for p in pending]
    if parent.default_oid is not None:
        return [*steps, _step(parent, NOTE, detail=DEFAULT_NOTE)]
    assert config.retention is not None
    cutoff = cutoff_for(db, parent, config.retention, zone(config.time_zone))
    left = {p["oid"] for p in pending}
    for part in expired(catalog.range_partitions(db, parent), cutoff):
        if part.oid in left:
            continue
        steps.append(_step(parent, CONCURRENTLY, part.oid,
                           f"ALTER TABLE {parent.sql} DETACH PARTITION {part.sql} CONCURRENTLY", timeout,
                           f"{bound_text(part.start)} to {bound_text(part.end)}, older than {bound_text(cutoff)}"))
    return steps


def _in_detach_mode(config: Config) -> bool:
    return config.retention_mode == "detach" and config.retention is not None


def detach_steps(db: Database, parent_name: str | None) -> list[dict[str, Any]]:
    """``steward.detach_steps(parent)``: what a client should run, for one managed table or all of them.

    Only enabled managed tables in retention mode ``detach`` have steps. A named table that cannot be planned
    raises its error; over all tables, such a table gets one ``error`` row and the others are planned.
    """
    if parent_name is not None:
        oid = catalog.read_parent(db, parent_name).oid
        config = read_config(db, oid) if managed_oids(db, oid) else None  # enabled ones only
        return table_steps(db, config) if config is not None and _in_detach_mode(config) else []
    out = []
    for oid in managed_oids(db):
        config = read_config(db, oid)
        if config is None or not _in_detach_mode(config):
            continue
        try:
            with db.subtransaction():
                out += table_steps(db, config)
        except Exception as error:  # one table that cannot be planned leaves the others
            message = getattr(error, "message", None) or (error.args[0] if error.args else str(error))
            out.append({"parent_table": oid, "partition": None, "step": ERROR, "statement": None,
                        "lock_timeout": None, "detail": str(message)})
    return out


def record_detach(db: Database, parent: str | None, partition: str | None, step: str | None, ok: bool | None,
                  detail: str | None) -> None:
    """``steward.record_detach(...)``: one row of ``steward.partition_maintenance_log`` for a step a client ran."""
    for value, what in ((parent, "parent"), (partition, "partition"), (step, "step"), (ok, "ok")):
        if value is None:
            raise StewardError(f"{what} must not be NULL", NULL_VALUE_NOT_ALLOWED)
    if step not in STEPS:
        raise StewardError(f"step must be one of {', '.join(STEPS)}, not {step!r}", INVALID_PARAMETER_VALUE)
    table = catalog.read_parent(db, parent)
    # Only a role that may change the table logs about it (the log's trigger would drop the row silently).
    require_owner_rights(db, table.owner, table.label)
    log(db, Action(table.oid, step, partition, bool(ok), detail))
