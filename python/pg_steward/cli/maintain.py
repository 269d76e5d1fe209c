"""``pg-steward maintain``: partition maintenance run from a client.

The work is ``steward.maintain_partitions``, table by table, each in its own
transaction (a progress bar follows the tables). With ``--concurrently``,
tables whose retention mode is ``detach`` first lose their expired partitions
through ``ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY``, which takes only
SHARE UPDATE EXCLUSIVE on the parent (queries and writes go on) but cannot run
inside a function or a transaction block: only a client in autocommit can.
A detach interrupted half-way (it commits twice) is finished with
``DETACH PARTITION ... FINALIZE`` on the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pg_steward.cli.connect import CliError, describe, one_line
from pg_steward.partitions.maintain import ADVISORY_LOCK, ANOTHER_RUN

LOCK_NOT_AVAILABLE = "55P03"

_TABLES_SQL = """
SELECT c.parent::oid AS oid, c.parent::text AS parent, c.retention_mode, c.retention::text AS retention,
       (extract(epoch FROM c.lock_timeout) * 1000)::bigint AS lock_timeout_ms, c.lock_retries,
       EXISTS (SELECT FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS k ON k.oid = i.inhrelid
               WHERE i.inhparent = c.parent AND pg_catalog.pg_get_expr(k.relpartbound, k.oid) = 'DEFAULT')
           AS has_default
FROM steward.partition_config AS c
WHERE c.enabled AND (%(parent)s::regclass IS NULL OR c.parent = %(parent)s::regclass)
ORDER BY c.parent::text
"""

# Partitions of a parent by the name steward.drop_old_partitions reports (schema.name, unquoted).
_CHILDREN_SQL = """
SELECT k.oid::regclass::text AS quoted, n.nspname || '.' || k.relname AS plain, i.inhdetachpending AS pending
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS k ON k.oid = i.inhrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = k.relnamespace
WHERE i.inhparent = %s
"""


def _action(parent: str, action: str, partition: str | None, ok: bool, detail: str | None) -> dict[str, Any]:
    return {"table": parent, "action": action, "partition": partition, "ok": ok, "detail": detail}


def _log(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    conn.execute("INSERT INTO steward.partition_maintenance_log (parent, action, partition, ok, detail) "
                 "VALUES (%s, %s, %s, %s, %s)", [row["table"], row["action"], row["partition"], row["ok"],
                                                 row["detail"]])


def _retrying(conn: psycopg.Connection, table: dict[str, Any], statement: sql.Composed) -> None:
    """Run DDL with the table's lock_timeout, retried like the in-server maintenance does."""
    conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, false)", [f"{table['lock_timeout_ms']}ms"])
    try:
        for attempt in range(table["lock_retries"] + 1):
            try:
                conn.execute(statement)
                return
            except psycopg.errors.LockNotAvailable:
                if attempt == table["lock_retries"]:
                    raise
                time.sleep(0.5 * (attempt + 1))
    finally:
        conn.execute("RESET lock_timeout")


def _detach_step(conn: psycopg.Connection, table: dict[str, Any], partition: str, finalize: bool,
                 ) -> dict[str, Any]:
    mode = "FINALIZE" if finalize else "CONCURRENTLY"
    action = "detach finalize" if finalize else "detach concurrently"
    statement = sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + mode).format(
        sql.SQL(table["parent"]), sql.SQL(partition))  # both are regclass::text: quoted by PostgreSQL
    try:
        _retrying(conn, table, statement)
        row = _action(table["parent"], action, partition, True, None)
    except psycopg.Error as error:
        detail = one_line(str(error))
        if not finalize:
            detail += "; if it stopped half-way, the next run finishes it (DETACH ... FINALIZE)"
        row = _action(table["parent"], action, partition, False, detail)
    _log(conn, row)
    return row


def detach_expired(conn: psycopg.Connection, table: dict[str, Any]) -> list[dict[str, Any]]:
    """Finish pending detaches, then detach the expired partitions concurrently."""
    children = conn.execute(_CHILDREN_SQL, [table["oid"]]).fetchall()
    done = [_detach_step(conn, table, quoted, True) for quoted, _, pending in children if pending]
    if table["has_default"]:
        note = ("has a DEFAULT partition, so PostgreSQL cannot DETACH CONCURRENTLY: "
                "retention detaches it inside maintain_partitions instead")
        return [*done, _action(table["parent"], "note", None, True, note)]
    expired = conn.execute(
        "SELECT partition FROM steward.drop_old_partitions(%s::regclass, %s::interval, 'detach', dry_run => true)",
        [table["parent"], table["retention"]]).fetchall()
    by_plain = {plain: quoted for quoted, plain, pending in children if not pending}
    return done + [_detach_step(conn, table, by_plain[name], False) for (name,) in expired if name in by_plain]


def maintain_one(conn: psycopg.Connection, table: dict[str, Any], concurrently: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if concurrently and table["retention_mode"] == "detach" and table["retention"]:
        rows += detach_expired(conn, table)
    cur = conn.execute("SELECT action, partition, ok, detail FROM steward.maintain_partitions(%s::regclass)",
                       [table["parent"]])
    rows += [_action(table["parent"], *r) for r in cur.fetchall()]
    return rows


def run(conn: psycopg.Connection, parent: str | None, concurrently: bool,
        advance: Callable[[int, str], None] | None = None) -> list[dict[str, Any]]:
    """Maintain every managed table (or ``parent``); one row per action."""
    try:
        tables = conn.execute(_TABLES_SQL, {"parent": parent}).fetchall()
    except psycopg.errors.UndefinedTable:
        raise CliError(f"table {parent} does not exist") from None
    columns = ["oid", "parent", "retention_mode", "retention", "lock_timeout_ms", "lock_retries", "has_default"]
    tables = [dict(zip(columns, t, strict=True)) for t in tables]
    if parent is not None and not tables:
        raise CliError(f"{parent} is not managed by pg_steward: SELECT steward.manage('{parent}', ...) first")
    if not conn.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", [ADVISORY_LOCK]).fetchone()[0]:
        return [_action("", "skip", None, True, ANOTHER_RUN)]
    rows: list[dict[str, Any]] = []
    try:
        for table in tables:
            try:
                rows += maintain_one(conn, table, concurrently)
            except psycopg.Error as error:  # one table's failure is reported; the others go on
                rows.append(_action(table["parent"], "error", None, False, describe(error)))
            if advance:
                advance(len(tables), table["parent"])
    finally:
        conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", [ADVISORY_LOCK])
    return rows
