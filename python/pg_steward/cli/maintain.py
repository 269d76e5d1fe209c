"""``pg-steward maintain``: partition maintenance run from a client.

The work is the SQL API's: ``steward.maintain_partitions(table)`` for each
managed table, each in its own transaction (a progress bar follows the
tables). With ``--concurrently``, the client first runs what only a client
can, ``ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY`` (and ``...
FINALIZE`` for a detach an interrupted run left pending), which takes only
SHARE UPDATE EXCLUSIVE on the parent but cannot run inside a function or a
transaction block. ``steward.detach_steps(table)`` says which statements to
run and with which ``lock_timeout``; each runs once, in autocommit, and
``steward.record_detach`` logs its outcome. A detach that fails (a lock not
available in time) is reported and logged; the next run tries it again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import psycopg
from rich.console import Console

from pg_steward.cli.connect import Client, CliError, connect, describe, one_line, require_extension
from pg_steward.cli.fleet import add_targets, dsns_of, progress_bar, report_errors, run_all
from pg_steward.cli.output import FORMATS, print_rows, printable, write_flat
from pg_steward.partitions.model import NOT_WORK

COLUMNS = ["database", "table", "action", "partition", "ok", "detail"]
HALF_WAY = "; if it stopped half-way, the next run finishes it (DETACH ... FINALIZE)"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "maintain", help="run partition maintenance from outside (optionally DETACH ... CONCURRENTLY)",
        description="Maintain every managed table (steward.maintain_partitions, one transaction per table). "
        "With --concurrently, tables whose retention mode is detach lose their expired partitions "
        "through ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, which only a client can run.")
    parser.add_argument("--table", metavar="TABLE", help="only this managed table")
    parser.add_argument("--concurrently", action="store_true",
                        help="detach expired partitions with DETACH PARTITION ... CONCURRENTLY")
    parser.add_argument("--format", choices=FORMATS, default="table")
    add_targets(parser)


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    dsns = dsns_of(args)
    outcomes = run_all(dsns, lambda dsn: maintain_database(dsn, args.table, args.concurrently, err, len(dsns) == 1),
                       jobs=args.jobs, console=err, description="maintaining")
    rows = [{"database": o.database, **r} for o in outcomes for r in (o.value or [])]
    if args.format != "table":
        write_flat(sys.stdout, args.format, rows)
    elif not rows:
        console.print("maintenance: nothing to do" if all(o.ok for o in outcomes) else "")
    else:
        print_rows(console, "maintenance", rows, COLUMNS)
    status = report_errors(outcomes)
    failed_actions = any(not r["ok"] for r in rows)
    return status or (1 if failed_actions else 0)


def maintain_database(dsn: str, parent: str | None, concurrently: bool, console: Console,
                      bar_per_table: bool) -> list[dict[str, Any]]:
    """Maintenance of one database; a bar over its tables unless a fleet bar is shown already."""
    with connect(dsn) as db:
        require_extension(db)
        if not bar_per_table:  # rich shows one live display at a time: the fleet's
            return maintain(db, parent, concurrently)
        with progress_bar(console, printable(f"maintaining {db.dbname}")) as bar:
            task = bar.add_task(printable(f"maintaining {db.dbname}"), total=None)

            def advance(total: int, table: str) -> None:
                bar.update(task, total=total, advance=1, description=printable(f"maintained {table}"))

            return maintain(db, parent, concurrently, advance)


def _action(table: str, action: str, partition: str | None, ok: bool, detail: str | None) -> dict[str, Any]:
    return {"table": table, "action": action, "partition": partition, "ok": ok, "detail": detail}


def managed_tables(db: Client, parent: str | None) -> list[tuple[int, str]]:
    """The enabled managed tables (or ``parent``), as (oid, name in the database's search_path), by name."""
    oid = None
    if parent is not None:
        oid = db.relation(parent)
        if oid is None:
            raise CliError(f"table {parent} does not exist")
    rows = db.query("SELECT parent::pg_catalog.oid::pg_catalog.int8 AS oid FROM steward.partition_config "
                    "WHERE enabled AND ($1::pg_catalog.int8 IS NULL OR parent = $1::pg_catalog.int8::pg_catalog.oid)",
                    oid)
    if parent is not None and not rows:
        raise CliError(f"{parent} is not managed by pg_steward: SELECT steward.manage('{parent}', ...) first")
    names = db.names(r["oid"] for r in rows)
    return sorted(((r["oid"], names[r["oid"]]) for r in rows if r["oid"] in names), key=lambda t: t[1])


def run_detach(db: Client, table: str, step: dict[str, Any], name: str) -> dict[str, Any]:
    """One statement of ``steward.detach_steps``, run once in autocommit, its outcome logged."""
    try:
        db.query("SELECT pg_catalog.set_config('lock_timeout', $1, false)", step["lock_timeout"])
        try:
            db.execute(step["statement"])
        finally:
            db.execute("RESET lock_timeout")
        row = _action(table, step["step"], name, True, step["detail"])
    except psycopg.Error as error:
        detail = one_line(str(error)) + (HALF_WAY if step["step"] == "detach concurrently" else "")
        row = _action(table, step["step"], name, False, detail)
    db.query("SELECT steward.record_detach($1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass, "
             "$2::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text, $3, $4, $5)",
             step["parent_table"], step["partition"], row["action"], row["ok"], row["detail"])
    return row


def detach(db: Client, oid: int, table: str) -> list[dict[str, Any]]:
    """What ``steward.detach_steps`` says for one table, run."""
    steps = db.query("SELECT parent_table::pg_catalog.oid::pg_catalog.int8 AS parent_table, "
                     "partition::pg_catalog.oid::pg_catalog.int8 AS partition, step, statement, lock_timeout, detail "
                     "FROM steward.detach_steps($1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass)", oid)
    names = db.names(s["partition"] for s in steps)
    rows = []
    for step in steps:
        if step["statement"] is None:  # a note (DEFAULT partition) or a table that cannot be planned
            rows.append(_action(table, step["step"], None, step["step"] != "error", step["detail"]))
        else:
            rows.append(run_detach(db, table, step, names.get(step["partition"], str(step["partition"]))))
    return rows


def maintain_one(db: Client, oid: int, table: str, concurrently: bool) -> list[dict[str, Any]]:
    rows = detach(db, oid, table) if concurrently else []
    actions = db.query("SELECT action, partition, ok, detail "
                       "FROM steward.maintain_partitions($1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass)",
                       oid)
    return rows + [_action(table, a["action"], a["partition"], a["ok"], a["detail"]) for a in actions]


def maintain(db: Client, parent: str | None, concurrently: bool,
             advance: Callable[[int, str], None] | None = None) -> list[dict[str, Any]]:
    """Maintain every managed table (or ``parent``); one row per action.

    A run over every table is recorded in ``steward.maintenance_runs`` (``steward.record_run_start`` /
    ``record_run_end``), as ``CALL steward.run_maintenance()`` records its own, so that ``steward.health()``
    knows when maintenance last completed.
    """
    tables = managed_tables(db, parent)
    run_id = None if parent is not None else db.query("SELECT steward.record_run_start() AS run_id")[0]["run_id"]
    rows: list[dict[str, Any]] = []
    failed = 0
    for oid, table in tables:
        try:
            done = maintain_one(db, oid, table, concurrently)
        except psycopg.Error as error:  # one table's failure is reported; the others go on
            done = [_action(table, "error", None, False, describe(error))]
        rows += done
        failed += any(not r["ok"] for r in done)
        if advance:
            advance(len(tables), table)
    if run_id is not None:
        actions = sum(r["ok"] and r["action"] not in NOT_WORK for r in rows)
        db.query("SELECT steward.record_run_end($1::pg_catalog.int8, $2::pg_catalog.int4, $3::pg_catalog.int4, "
                 "$4::pg_catalog.int4)", run_id, len(tables), actions, failed)
    return rows
