"""The registry of managed tables, ``steward.partition_config``: register, unmanage, read."""

from __future__ import annotations

from typing import Any

from pg_steward.arguments import not_null, one_of, positive_span
from pg_steward.db import Database
from pg_steward.errors import (
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    INVALID_SCHEMA_NAME,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    StewardError,
    error_message,
)
from pg_steward.partitions import catalog
from pg_steward.partitions.model import Config, Limits, LockPolicy, Parent, PartitionOptions, storage_clause
from pg_steward.partitions.spans import INTEGER_KEYS, Span, time_span, zone

MODES = ("drop", "detach", "archive", "export")  # export: partitions/export.py

DEFAULT_LIMITS = Limits()

# The ceilings: the superuser's row of steward.maintenance_limits, or the defaults when there is none.
_LIMITS_SQL = f"""
SELECT coalesce(m.max_lock_timeout, '{DEFAULT_LIMITS.lock_timeout_ms} milliseconds'::interval) AS max_lock_timeout,
       coalesce(m.max_lock_retries, {DEFAULT_LIMITS.lock_retries}) AS max_lock_retries,
       coalesce(m.table_budget, '{DEFAULT_LIMITS.table_budget_ms} milliseconds'::interval) AS table_budget,
       coalesce(m.max_gap_slots, {DEFAULT_LIMITS.max_gap_slots}) AS max_gap_slots
FROM (SELECT true AS singleton) AS d LEFT JOIN steward.maintenance_limits AS m USING (singleton)
"""


# Each table's lock_timeout and lock_retries, capped by the superuser's ceilings (steward.maintenance_limits).
_CONFIG_SQL = """
SELECT parent::oid::bigint AS parent_oid, span::text AS span, integer_span, premake,
       retention::text AS retention, retention_mode, archive_schema::text AS archive_schema, time_zone,
       (extract(epoch FROM least(lock_timeout, l.max_lock_timeout)) * 1000)::bigint AS lock_timeout_ms,
       least(lock_retries, l.max_lock_retries) AS lock_retries,
       tablespace::text AS tablespace, storage_parameters, "analyze"
FROM steward.partition_config
CROSS JOIN (""" + _LIMITS_SQL + """) AS l
"""


def _config(row: dict[str, Any], key_type: str | None) -> Config:
    span = Span(width=row["integer_span"]) if row["integer_span"] else time_span(row["span"], key_type or "")
    return Config(
        parent_oid=row["parent_oid"], span=span, premake=row["premake"],
        retention=positive_span(row["retention"], "retention") if row["retention"] else None,
        retention_mode=row["retention_mode"], archive_schema=row["archive_schema"], time_zone=row["time_zone"],
        analyze=row["analyze"],
        options=PartitionOptions(
            tablespace=row["tablespace"], storage_parameters=tuple(row["storage_parameters"] or ()),
            lock=LockPolicy(timeout_ms=row["lock_timeout_ms"], retries=row["lock_retries"]),
        ),
    )


def read_config(db: Database, parent_oid: int) -> Config | None:
    rows = db.query(_CONFIG_SQL + " WHERE parent = $1::bigint::oid", parent_oid)
    if not rows:
        return None
    key = db.query(
        "SELECT pg_catalog.format_type(a.atttypid, NULL) AS t FROM pg_catalog.pg_partitioned_table p "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        "WHERE p.partrelid = $1::bigint::oid", parent_oid,
    )
    return _config(rows[0], key[0]["t"] if key else None)


def read_managed(db: Database, parent_oid: int, parent: Parent | None = None) -> tuple[Parent, Config] | None:
    """The managed table and its configuration, its registry row first checked as
    ``require_registered_identity`` does, in two statements (``read_config`` reads the key's type in a third,
    which the parent holds), or one when the caller read ``parent`` in this transaction; None when it is not in
    the registry."""
    rows = db.query(_MANAGED_SQL, parent_oid)
    if not rows:
        return None
    _check_identity(rows[0], parent_oid)
    parent = parent or catalog.read_parent(db, parent_oid)
    return parent, _config(rows[0], parent.key_type)


def read_configs(db: Database, key_types: dict[int, str | None]) -> dict[int, Config]:
    """The configuration of each table in ``key_types`` (parent oid -> key type), in one query."""
    rows = db.query(_CONFIG_SQL + " WHERE parent = ANY($1::bigint[]::oid[])", list(key_types))
    return {row["parent_oid"]: _config(row, key_types[row["parent_oid"]]) for row in rows}


def limits(db: Database) -> Limits:
    """The ceilings in force (``steward.maintenance_limits``, or the defaults)."""
    row = db.query(
        "SELECT (extract(epoch FROM max_lock_timeout) * 1000)::bigint AS lock_timeout_ms, max_lock_retries, "
        "(extract(epoch FROM table_budget) * 1000)::bigint AS table_budget_ms, max_gap_slots "
        "FROM (" + _LIMITS_SQL + ") AS l")[0]
    return Limits(lock_timeout_ms=row["lock_timeout_ms"], lock_retries=row["max_lock_retries"],
                  table_budget_ms=row["table_budget_ms"], max_gap_slots=row["max_gap_slots"])


# What the registry recorded of the relation against what the oid names now (require_registered_identity).
_IDENTITY_COLUMNS = """
       pc.registered_owner::regrole::text AS registered_owner, pc.registered_schema::text AS registered_schema,
       pc.registered_name::text AS registered_name, c.relowner::regrole::text AS owner,
       n.nspname::text AS schema, c.relname::text AS name, pg_catalog.pg_has_role(c.relowner, 'USAGE') AS member
"""
_IDENTITY_JOINS = """
LEFT JOIN pg_catalog.pg_class AS c ON c.oid = pc.parent
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
"""
_IDENTITY_SQL = ("SELECT " + _IDENTITY_COLUMNS + " FROM steward.partition_config AS pc" + _IDENTITY_JOINS
                 + " WHERE pc.parent = $1::bigint::oid")
# The configuration and the identity of one table in one statement (read_managed).
_MANAGED_SQL = ("SELECT cfg.*, " + _IDENTITY_COLUMNS
                + " FROM (" + _CONFIG_SQL + " WHERE parent = $1::bigint::oid) AS cfg"
                " JOIN steward.partition_config AS pc ON pc.parent::oid = cfg.parent_oid::oid" + _IDENTITY_JOINS)


def require_registered_identity(db: Database, parent_oid: int) -> None:
    """The registry row of ``parent_oid`` is still about the relation it was written for, owned by the same role.

    A row is written for a relation (its owner, schema and name are recorded by the registry's trigger); an oid
    that PostgreSQL gave to a new relation after a drop, or a table given to another owner, must not inherit a
    policy that drops partitions: maintenance refuses the row until the table's owner registers it again.
    """
    rows = db.query(_IDENTITY_SQL, parent_oid)
    if rows:
        _check_identity(rows[0], parent_oid)


def _check_identity(row: dict[str, Any], parent_oid: int) -> None:
    if row["name"] is not None and not row["member"]:
        raise StewardError(f"must be owner of table {row['schema']}.{row['name']} to maintain its partitions",
                           INSUFFICIENT_PRIVILEGE)
    registered = f"{row['registered_schema']}.{row['registered_name']}"
    if row["name"] is None:
        raise StewardError(f"the table registered as {registered} no longer exists; its row is ignored",
                           OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint="Remove it with steward.unmanage() or DELETE from steward.partition_config.")
    if (row["schema"], row["name"]) != (row["registered_schema"], row["registered_name"]):
        raise StewardError(
            f"oid {parent_oid} was registered as {registered} and now names {row['schema']}.{row['name']}: "
            "re-register with steward.manage", OBJECT_NOT_IN_PREREQUISITE_STATE,
            hint="A renamed table, or a new table that was given a dropped table's oid, is not maintained until "
                 "its owner calls steward.manage() for it.")
    if row["owner"] != row["registered_owner"]:
        raise StewardError(
            f"owner changed from {row['registered_owner']} to {row['owner']}: re-register with steward.manage",
            OBJECT_NOT_IN_PREREQUISITE_STATE,
            hint="The new owner accepts the policy by calling steward.manage() for the table.")


def _check_ceilings(lock_timeout: str | None, lock_timeout_ms: float | None, lock_retries: int,
                    ceiling: Limits) -> None:
    if lock_retries > ceiling.lock_retries:
        raise StewardError(f"lock_retries {lock_retries} is above the ceiling of {ceiling.lock_retries}",
                           INVALID_PARAMETER_VALUE,
                           hint=f"steward.maintenance_limits.max_lock_retries is {ceiling.lock_retries} "
                                "(set by a superuser).")
    if lock_timeout_ms is not None:  # given (and finite: register checked)
        if lock_timeout_ms > ceiling.lock_timeout_ms:
            raise StewardError(f"lock_timeout {lock_timeout} is above the ceiling of {ceiling.lock_timeout_ms} ms",
                               INVALID_PARAMETER_VALUE,
                               hint=f"steward.maintenance_limits.max_lock_timeout is {ceiling.lock_timeout_ms} ms "
                                    "(set by a superuser).")


def managed_oids(db: Database, parent_oid: int | None = None) -> list[int]:
    sql = "SELECT parent::oid::bigint AS oid FROM steward.partition_config WHERE enabled"
    if parent_oid is not None:
        return [r["oid"] for r in db.query(sql + " AND parent = $1::bigint::oid", parent_oid)]
    # In the order of parent::text with the functions' search_path (schema-qualified names), from a join: the
    # text of each regclass is a catalog lookup per table, each a miss in a new session.
    return [r["oid"] for r in db.query(
        "SELECT pc.parent::oid::bigint AS oid FROM steward.partition_config AS pc "
        "LEFT JOIN pg_catalog.pg_class AS c ON c.oid = pc.parent "
        "LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE pc.enabled ORDER BY coalesce(pg_catalog.format('%I.%I', n.nspname, c.relname), pc.parent::text)")]


def require_owner(db: Database, parent: catalog.Parent) -> None:
    if not db.query("SELECT pg_catalog.pg_has_role(current_user, $1::text, 'USAGE') AS ok", parent.owner)[0]["ok"]:
        raise StewardError(f"must be owner of table {parent.label} to manage its partitions", INSUFFICIENT_PRIVILEGE)


def register(db: Database, parent_name: str | None, span: str | None, premake: int | None, retention: str | None,
             retention_mode: str | None, archive_schema: str | None, time_zone: str | None,
             lock_timeout: str | None, lock_retries: int | None, integer_span: int | None,
             tablespace: str | None, storage_parameters: list[str] | None,
             ceilings: Limits | None = None) -> Parent:
    """Validate and upsert one row of ``steward.partition_config``; returns the parent, as read before the row
    was written. ``ceilings``: the limits in force (``limits``), when the caller has read them."""
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent)
    require_owner(db, parent)
    for value, what in ((premake, "premake"), (retention_mode, "retention_mode"), (time_zone, "time_zone"),
                        (lock_timeout, "lock_timeout"), (lock_retries, "lock_retries")):
        not_null(what, value)
    assert premake is not None and lock_retries is not None and time_zone is not None
    if premake < 0:
        raise StewardError(f"premake must be 0 or more, not {premake}", INVALID_PARAMETER_VALUE)
    if lock_retries < 0:
        raise StewardError(f"lock_retries must be 0 or more, not {lock_retries}", INVALID_PARAMETER_VALUE)
    one_of("retention_mode", retention_mode, MODES)
    zone(time_zone)
    if parent.key_type in INTEGER_KEYS:
        if integer_span is None or integer_span <= 0:
            raise StewardError(f"{parent.label} has an integer key: give integer_span, a positive width",
                               INVALID_PARAMETER_VALUE)
        if retention is not None:
            raise StewardError("retention by interval needs a date or timestamp key", INVALID_PARAMETER_VALUE)
        span = None
    else:
        not_null("span", span)
        integer_span = None
    # The intervals as the server reads them, in one statement (each statement is a subtransaction of PL/Python,
    # and registering many tables in one transaction pays for each): a text that is no interval fails here.
    read = db.query("SELECT ($1::text)::interval::text AS span, ($2::text)::interval::text AS retention, "
                    "CASE WHEN isfinite(($3::text)::interval) "
                    "THEN extract(epoch FROM ($3::text)::interval) * 1000 END AS lock_ms",
                    span, retention, lock_timeout)[0]
    if span is not None:
        time_span(read["span"], parent.key_type or "")
    if retention is not None:
        positive_span(read["retention"], "retention")
    if retention_mode == "archive":
        if archive_schema is None:
            raise StewardError("retention_mode archive needs archive_schema", INVALID_PARAMETER_VALUE)
        if not db.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", archive_schema):
            raise StewardError(f"schema {archive_schema} does not exist", INVALID_SCHEMA_NAME)
    if storage_parameters:
        _check_storage_parameters(db, storage_parameters)
    ms = read["lock_ms"]
    if lock_timeout is not None:
        if ms is None:  # 'infinity', an interval from PostgreSQL 17 on
            raise StewardError(f"lock_timeout must be a finite interval, not {lock_timeout}", INVALID_PARAMETER_VALUE)
        if ms <= 0:
            raise StewardError(f"lock_timeout must be positive, not {lock_timeout}", INVALID_PARAMETER_VALUE)
    _check_ceilings(lock_timeout, ms, lock_retries, ceilings or limits(db))
    db.execute(
        """
        INSERT INTO steward.partition_config AS c
            (parent, span, integer_span, premake, retention, retention_mode, archive_schema, time_zone,
             lock_timeout, lock_retries, tablespace, storage_parameters)
        VALUES ($1::bigint::oid::regclass, $2::interval, $3::bigint, $4::integer, $5::interval, $6, $7::name,
                $8, coalesce($9::interval, '2 seconds'), $10::integer, $11::name, coalesce($12::text[], '{}'))
        ON CONFLICT (parent) DO UPDATE SET
            span = EXCLUDED.span, integer_span = EXCLUDED.integer_span, premake = EXCLUDED.premake,
            retention = EXCLUDED.retention, retention_mode = EXCLUDED.retention_mode,
            archive_schema = EXCLUDED.archive_schema, time_zone = EXCLUDED.time_zone,
            lock_timeout = EXCLUDED.lock_timeout, lock_retries = EXCLUDED.lock_retries,
            tablespace = EXCLUDED.tablespace, storage_parameters = EXCLUDED.storage_parameters,
            enabled = true, updated_at = pg_catalog.now()
        """,
        parent.oid, span, integer_span, premake, retention, retention_mode, archive_schema, time_zone,
        lock_timeout, lock_retries, tablespace, storage_parameters,
    )
    return parent


class _Probe(Exception):
    """Raised to roll back a probe subtransaction."""


def _check_storage_parameters(db: Database, parameters: list[str]) -> None:
    """Let PostgreSQL judge the parameters on a throwaway table, rolled back."""
    clause = storage_clause(tuple(parameters))
    try:
        with db.subtransaction():
            db.execute(f"CREATE TEMPORARY TABLE pg_steward_storage_probe (probe int){clause}")
            raise _Probe
    except _Probe:
        pass
    except Exception as error:
        raise StewardError(f"invalid storage_parameters: {error_message(error)}", INVALID_PARAMETER_VALUE) from None


def unmanage(db: Database, parent_name: str | None) -> bool:
    parent = catalog.read_parent(db, parent_name)
    require_owner(db, parent)
    return bool(db.query("DELETE FROM steward.partition_config WHERE parent = $1::bigint::oid RETURNING 1",
                         parent.oid))
