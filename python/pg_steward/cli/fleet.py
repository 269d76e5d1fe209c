"""The same command over many databases at once.

Each database gets its own connection in a worker thread (psycopg releases
the GIL while it waits for the server). A database that fails is reported
with its one-line reason; the others finish. Results keep the order of the
DSNs given, whatever order they complete in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pg_steward.cli.connect import CliError, describe, label, read_dsn_file
from pg_steward.cli.output import printable

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    dsn: str
    database: str  # label(dsn): host:port/dbname, no password
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def progress_bar(console: Console, description: str) -> Progress:
    """A bar on stderr, shown only on a terminal (scripts and pipes get clean output). Its description is
    plain text, never markup: it may name a table (give it through ``printable``)."""
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)


def _attempt(dsn: str, work: Callable[[str], T]) -> Outcome[T]:
    try:
        return Outcome(dsn, label(dsn), value=work(dsn))
    except CliError as error:
        return Outcome(dsn, label(dsn), error=str(error))
    except Exception as error:  # a server error in one database must not stop the others
        return Outcome(dsn, label(dsn), error=describe(error))


def run_all(dsns: Sequence[str], work: Callable[[str], T], *, jobs: int, console: Console,
            description: str) -> list[Outcome[T]]:
    """``work(dsn)`` for every DSN, ``jobs`` at a time; one Outcome per DSN, in the order given."""
    if len(dsns) == 1:
        return [_attempt(dsns[0], work)]
    results: dict[int, Outcome[T]] = {}
    with progress_bar(console, description) as bar, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        task = bar.add_task(description, total=len(dsns))
        futures = {pool.submit(_attempt, dsn, work): i for i, dsn in enumerate(dsns)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.advance(task)
    return [results[i] for i in range(len(dsns))]


def add_targets(parser: argparse.ArgumentParser) -> None:
    """The options that name the databases a command works on."""
    group = parser.add_argument_group("databases")
    group.add_argument("--dsn", action="append", default=[], metavar="DSN",
                       help="a libpq connection string or URI; repeat it for a fleet (default: the PG* "
                            "environment variables)")
    group.add_argument("--dsn-file", metavar="FILE",
                       help="a file of DSNs, one per line (# comments and blank lines are skipped)")
    group.add_argument("--jobs", type=int, default=8, metavar="N",
                       help="databases worked on at the same time (default 8)")


def dsns_of(args: argparse.Namespace) -> list[str]:
    found = list(args.dsn)
    if args.dsn_file:
        found += read_dsn_file(args.dsn_file)
    if not found and not args.dsn_file:
        found = [""]  # libpq's defaults: PGHOST, PGDATABASE, ... as psql would use
    if not found:
        raise CliError(f"no DSN in {args.dsn_file}")
    return found


def over(args: argparse.Namespace, work: Callable[[str], T], console: Console, what: str) -> list[Outcome[T]]:
    """``work`` over the databases the command's options name."""
    return run_all(dsns_of(args), work, jobs=args.jobs, console=console, description=what)


def report_errors(outcomes: Sequence[Outcome[Any]]) -> int:
    """Failed databases on stderr, one line each; the exit status (1 if any failed)."""
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        prefix = "" if outcome.error and outcome.database in outcome.error else f"{outcome.database}: "
        print(printable(f"pg-steward: error: {prefix}{outcome.error}"), file=sys.stderr)
    return 1 if failed else 0
