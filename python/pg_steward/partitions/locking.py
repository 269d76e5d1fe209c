"""DDL under a bounded lock_timeout, retried: maintenance never queues the application for long.

A DDL statement waiting for a lock blocks every later statement that wants a
conflicting lock on the same table. With ``lock_timeout`` the wait is bounded:
the step gives up (SQLSTATE 55P03), is rolled back alone, and is tried again
after a pause, a few times, before the failure is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pg_steward.db import Database
from pg_steward.errors import LOCK_NOT_AVAILABLE, StewardError, error_sqlstate
from pg_steward.partitions.model import LockPolicy

T = TypeVar("T")


def with_lock_retries(db: Database, policy: LockPolicy, what: str, step: Callable[[], T]) -> T:
    """Run ``step`` in a subtransaction with ``lock_timeout``; retry it when a lock is not available."""
    previous = db.query("SELECT pg_catalog.current_setting('lock_timeout') AS value")[0]["value"]
    try:
        for attempt in range(policy.retries + 1):
            try:
                with db.subtransaction():
                    db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", f"{policy.timeout_ms}ms")
                    return step()
            except Exception as error:
                if error_sqlstate(error) != LOCK_NOT_AVAILABLE:
                    raise
                if attempt == policy.retries:
                    raise StewardError(
                        f"{what}: a lock was not available within {policy.timeout_ms} ms, "
                        f"{policy.retries + 1} attempts",
                        LOCK_NOT_AVAILABLE,
                        hint="Another session holds a conflicting lock; maintenance tries again on its next run.",
                    ) from None
                db.notice(f"{what}: lock not available, attempt {attempt + 1} of {policy.retries + 1}")
                db.query("SELECT pg_catalog.pg_sleep($1)", policy.pause_ms * (attempt + 1) / 1000)
        raise AssertionError("unreachable")
    finally:
        db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", previous)
