"""DDL under a bounded lock_timeout, retried: maintenance never queues the application for long.

A DDL statement waiting for a lock blocks every later statement that wants a
conflicting lock on the same table. With ``lock_timeout`` the wait is bounded:
the step gives up (SQLSTATE 55P03), is rolled back alone, and is tried again
after a pause, a few times, before the failure is reported.

pg_steward's changes to one partitioned table are serialized by a lock on the
table itself, never by an advisory lock (whose keys anyone who can connect may
take): ``lock_parent`` takes SHARE UPDATE EXCLUSIVE on the parent alone. That
mode conflicts with itself and with DDL, not with the application's reads and
writes, and only roles with UPDATE, DELETE or TRUNCATE on the table (MAINTAIN
from PostgreSQL 17 on), i.e. roles its owner trusts, may take it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pg_steward.db import Database
from pg_steward.errors import LOCK_NOT_AVAILABLE, StewardError, error_sqlstate
from pg_steward.partitions.model import LockPolicy, Parent
from pg_steward.sqltext import qualified

T = TypeVar("T")

RETRY_HINT = "Another session holds a conflicting lock; maintenance tries again on its next run."
# The lock of pg_steward's changes to a table (self-conflicting; reads and writes go on).
TABLE_CHANGE_MODE = "SHARE UPDATE EXCLUSIVE"


def lock_table(db: Database, schema: str, name: str, mode: str) -> None:
    """``LOCK TABLE ONLY schema.name IN mode MODE``: ONLY, so that no partition below is locked; 42501 from
    PostgreSQL for a role without the privileges the mode needs. Waits at most the transaction's lock_timeout."""
    db.execute(f"LOCK TABLE ONLY {qualified(schema, name)} IN {mode} MODE")


def lock_parent(db: Database, parent: Parent) -> None:
    """The lock that serializes pg_steward's changes to ``parent``: taken before the catalog is read, by every
    step that changes the table (creation, retention, a maintenance step), held until the transaction ends."""
    lock_table(db, parent.schema, parent.name, TABLE_CHANGE_MODE)


# The lock_timeout (ms) that bounded_lock_timeout has set for the block running now in this session, if any.
_bounded_ms: int | None = None


@contextmanager
def bounded_lock_timeout(db: Database, policy: LockPolicy) -> Iterator[None]:
    """``lock_timeout`` of ``policy`` for the block, the setting in force restored after it. Inside a block that
    already set the same timeout nothing is set again: a table's steps (its reads, each creation) share one
    setting instead of two statements each."""
    global _bounded_ms
    if _bounded_ms == policy.timeout_ms:
        yield
        return
    # The setting in force is read, then the block's set, in one statement (the subquery is evaluated first),
    # outside the subtransactions of the attempts: a rolled-back attempt leaves it set for the next one.
    previous = db.query("SELECT p.value, pg_catalog.set_config('lock_timeout', $1, true) AS set "
                        "FROM (SELECT pg_catalog.current_setting('lock_timeout') AS value OFFSET 0) AS p",
                        f"{policy.timeout_ms}ms")[0]["value"]
    outer, _bounded_ms = _bounded_ms, policy.timeout_ms
    try:
        yield
    finally:
        _bounded_ms = outer
        db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", previous)


def with_lock_retries(db: Database, policy: LockPolicy, what: str, step: Callable[[], T],
                      hint: str = RETRY_HINT, atomic: bool = False) -> T:
    """Run ``step`` in a subtransaction with ``lock_timeout``; retry it when a lock is not available.

    ``atomic``: the step changes nothing but by one ``Database.script`` (before it, only reads), which is rolled
    back whole when one of its statements fails: it needs no subtransaction of its own."""
    with bounded_lock_timeout(db, policy):
        for attempt in range(policy.retries + 1):
            try:
                if atomic:
                    return step()
                with db.subtransaction():
                    return step()
            except Exception as error:
                if error_sqlstate(error) != LOCK_NOT_AVAILABLE:
                    raise
                if attempt == policy.retries:
                    raise StewardError(
                        f"{what}: a lock was not available within {policy.timeout_ms} ms, "
                        + (f"{policy.retries + 1} attempts" if policy.retries else "1 attempt"),
                        LOCK_NOT_AVAILABLE,
                        hint=hint,
                    ) from None
                db.notice(f"{what}: lock not available, attempt {attempt + 1} of {policy.retries + 1}")
                db.query("SELECT pg_catalog.pg_sleep($1)", policy.pause_ms * (attempt + 1) / 1000)
        raise AssertionError("unreachable")
