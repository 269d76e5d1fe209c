"""``pg-steward partition-existing``: a live table turned into a partitioned one, from a client.

A client of the SQL API only: the plan is ``steward.partition_existing_table_plan(...)``, every other step a
``CALL steward.partition_existing_table(..., action => ...)`` in autocommit (the procedure commits after each
batch it copies). The procedure's NOTICEs are the progress: ``copied N of about M rows`` moves a bar on a
terminal, and every NOTICE is a plain line on stderr otherwise. Ctrl-C cancels the running CALL (what was
committed stays: the state row in ``steward.table_conversions`` keeps the last key copied); running the same
command again resumes the copy there.

- no action option: ``start`` (create the twin and copy, or resume the copy);
- ``--swap``: the same, then ``swap`` (verify, then rename) once the copy is complete;
- ``--plan`` / ``--dry-run``: the steps and their locks, nothing changed;
- ``--resume``: ``start``, refused when no conversion of the table is in progress;
- ``--undo`` (before the swap) and ``--finish`` (after it).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pg_steward.cli.connect import Client, CliError, connect, describe, require_extension
from pg_steward.cli.output import print_rows, printable

COPIED = re.compile(r"copied (\d+) of about (\d+) rows")
COMPLETE = re.compile(r"copy complete, (\d+) rows")
RESUMING = re.compile(r"resuming the copy after (\d+) rows")
PLAN_COLUMNS = ["step", "action", "statement", "locks"]

_CALL_SQL = ("CALL steward.partition_existing_table($1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass, "
             "$2::pg_catalog.text, $3::pg_catalog.interval, action => $4::pg_catalog.text, "
             "premake => $5::pg_catalog.int4, batch_size => $6::pg_catalog.int4, "
             "lock_timeout => $7::pg_catalog.interval, lock_retries => $8::pg_catalog.int4, "
             "time_zone => $9::pg_catalog.text, manage => $10::pg_catalog.bool)")
_PLAN_SQL = ("SELECT step, action, statement, locks FROM steward.partition_existing_table_plan("
             "$1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass, $2::pg_catalog.text, "
             "$3::pg_catalog.interval, premake => $4::pg_catalog.int4, batch_size => $5::pg_catalog.int4, "
             "lock_timeout => $6::pg_catalog.interval, time_zone => $7::pg_catalog.text)")
# The conversion of a table, found by the source's oid or, after the swap, the twin's (the name given then).
_STATE_SQL = ("SELECT step, rows_copied, rows_estimate FROM steward.table_conversions "
              "WHERE source OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid "
              "OR twin OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "partition-existing", help="turn a table into a partitioned one while it is written to",
        description="Turn TABLE into a table partitioned by range of --key while the application writes to it "
        "(CALL steward.partition_existing_table). Without an action option, creates the partitioned twin and "
        "copies the rows in batches, or resumes an interrupted copy; Ctrl-C stops it, and the same command "
        "resumes it. --swap then verifies and swaps the tables.")
    parser.add_argument("table", metavar="TABLE", help="the table, as the database's search_path finds it")
    parser.add_argument("--key", required=True, metavar="COLUMN", help="the partition key (date or timestamp)")
    parser.add_argument("--span", required=True, metavar="INTERVAL", help="each partition's range, e.g. '1 month'")
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--plan", "--dry-run", dest="plan", action="store_true",
                         help="show the steps and the locks of each; change nothing")
    actions.add_argument("--resume", action="store_true",
                         help="resume the copy of a conversion in progress (refused if there is none)")
    actions.add_argument("--swap", action="store_true",
                         help="copy (or resume), then verify and swap the tables")
    actions.add_argument("--undo", action="store_true",
                         help="before the swap: drop the twin, leave the table as it was")
    actions.add_argument("--finish", action="store_true",
                         help="after the swap: mark it done and show the DROP of the old table (never run)")
    parser.add_argument("--premake", type=int, default=3, metavar="N", help="future partitions (default 3)")
    parser.add_argument("--batch-size", type=int, default=10000, metavar="N", help="rows per batch (default 10000)")
    parser.add_argument("--lock-timeout", default="2 seconds", metavar="INTERVAL",
                        help="longest wait for a lock, each try (default 2 seconds)")
    parser.add_argument("--lock-retries", type=int, default=5, metavar="N", help="tries after the first (default 5)")
    parser.add_argument("--time-zone", default="UTC", metavar="ZONE", help="of timestamptz bounds (default UTC)")
    parser.add_argument("--manage", action="store_true",
                        help="with --swap: register the new table with steward.manage")
    parser.add_argument("--dsn", default="", metavar="DSN",
                        help="a libpq connection string or URI (default: the PG* environment variables)")


def action_of(args: argparse.Namespace) -> str:
    for name in ("plan", "undo", "finish"):
        if getattr(args, name):
            return name
    return "start"


def command_line(args: argparse.Namespace, option: str = "") -> str:
    """The command that resumes (or swaps): the same table, key and span."""
    parts = ["pg-steward", "partition-existing", shlex.quote(args.table), "--key", shlex.quote(args.key),
             "--span", shlex.quote(args.span)]
    if args.dsn:
        parts += ["--dsn", "DSN"]
    return " ".join(parts + ([option] if option else []))


class CopyProgress:
    """The procedure's NOTICEs as progress: a bar on a terminal, plain lines otherwise."""

    def __init__(self, err: Console) -> None:
        self.err = err
        self.terminal = err.is_terminal
        self.bar: Progress | None = None
        self.task: Any = None
        self.copied = 0

    def __enter__(self) -> CopyProgress:
        if self.terminal:
            self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=self.err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("copying rows", total=None)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def notice(self, message: str) -> None:
        copied, complete, resuming = COPIED.search(message), COMPLETE.search(message), RESUMING.search(message)
        if copied:
            self.copied = int(copied.group(1))
        elif complete:
            self.copied = int(complete.group(1))
        elif resuming:
            self.copied = int(resuming.group(1))
        if self.bar is None:
            print(printable(message), file=sys.stderr, flush=True)
            return
        if copied:  # the estimate may be short of what is copied: the bar grows
            total = max(int(copied.group(2)), self.copied)
            self.bar.update(self.task, completed=self.copied, total=total)
        else:
            self.bar.console.print(printable(message), markup=False, highlight=False)


def call(db: Client, oid: int, args: argparse.Namespace, action: str, on_notice: Callable[[str], None]) -> None:
    def handler(diag: psycopg.errors.Diagnostic) -> None:
        on_notice(diag.message_primary or "")

    db.conn.add_notice_handler(handler)
    try:
        with db.interruptible():  # Ctrl-C cancels the CALL, wherever the signal lands
            db.execute(_CALL_SQL, oid, args.key, args.span, action, args.premake, args.batch_size, args.lock_timeout,
                       args.lock_retries, args.time_zone, args.manage)
    finally:
        db.conn.remove_notice_handler(handler)


def state(db: Client, oid: int) -> dict[str, Any] | None:
    rows = db.query(_STATE_SQL, oid)
    return rows[0] if rows else None


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    with connect(args.dsn) as db:
        require_extension(db)
        oid = db.relation(args.table)
        if oid is None:
            raise CliError(f"table {args.table} does not exist")
        if args.plan:
            rows = db.query(_PLAN_SQL, oid, args.key, args.span, args.premake, args.batch_size, args.lock_timeout,
                            args.time_zone)
            print_rows(console, f"converting {args.table} (dry run: nothing changed)", rows, PLAN_COLUMNS)
            return 0
        action = action_of(args)
        current = state(db, oid)
        if args.resume and (current is None or current["step"] != "copying"):
            raise CliError(f"no copy of {args.table} is in progress"
                           + (f" (the conversion is at step {current['step']})" if current else "")
                           + f": start one with {command_line(args)}")
        with CopyProgress(err) as progress:
            try:
                if action != "start":
                    call(db, oid, args, action, progress.notice)
                elif current is None or current["step"] == "copying":
                    call(db, oid, args, "start", progress.notice)
                if args.swap:
                    call(db, oid, args, "swap", progress.notice)
            except KeyboardInterrupt:
                # psycopg cancelled the CALL; each batch committed before it is kept with its key.
                progress.__exit__()
                print(printable(f"pg-steward: interrupted after {progress.copied} rows copied; run "
                                f"{command_line(args)} to resume"), file=sys.stderr)
                return 130
            except psycopg.Error as error:
                raise CliError(describe(error)) from None
        after = state(db, oid)
        if after is None:
            console.print(printable(f"{args.table}: no conversion in progress"), markup=False, highlight=False)
        else:
            console.print(printable(f"{args.table}: step {after['step']}, {after['rows_copied']} rows copied"),
                          markup=False, highlight=False)
            if after["step"] == "copied":
                console.print(printable(f"next: {command_line(args, '--swap')}"), markup=False, highlight=False)
            elif after["step"] == "swapped":
                console.print(printable(f"next: {command_line(args, '--finish')}"), markup=False, highlight=False)
        return 0
