"""The same command over many databases at once.

Each database gets its own connection in a worker thread (psycopg releases
the GIL while it waits for the server). A database that fails is reported
with its one-line reason; the others finish. Results keep the order of the
DSNs given, whatever order they complete in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pg_steward.cli.connect import CliError, describe, label

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
    """A bar on stderr, shown only on a terminal (scripts and pipes get clean output)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


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
