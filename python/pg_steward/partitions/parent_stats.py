"""Statistics of partitioned parents: ANALYZE a managed table's parent after maintenance changed its partitions.

Autovacuum analyzes the partitions (they hold the rows) but never a partitioned
table itself, so the statistics the planner reads for the parent (``reltuples``,
the inherited rows of ``pg_statistic`` that estimate joins and groupings over the
whole table) stay as the last manual ANALYZE left them, or absent. After a run,
maintenance analyzes the parents whose partitions it changed:

- a parent is **pending** when the log (``steward.partition_maintenance_log``)
  holds a change of its partitions (``create``, including rows moved out of
  DEFAULT, ``drop``, ``detach``, ``archive``) newer than its last successful
  ``analyze parent`` row;
- it is **due** when it is pending, its ``partition_config.analyze_parent`` is on
  and its last analysis is at least ``analyze_parent_interval`` old (a burst of
  changes costs one ANALYZE an interval; the rest waits, still pending);
- a run analyzes at most ``maintenance_limits.max_parent_analyzes`` parents,
  never analyzed first, then the oldest analysis: the others stay pending for
  the next run.

Each ANALYZE is one step under the table's ``lock_timeout`` with retries
(``locking.with_lock_retries``) and runs with the rights of the table's owner
(``owner_rights``): it evaluates the owner's index expressions and extended
statistics. Its outcome is an ``analyze parent`` row of the log; a failure is
``ok`` false (counted by the run, listed by ``steward.health()``) and the other
parents go on.

What PostgreSQL does: ``ANALYZE parent`` samples rows across the partitions for
the parent's statistics, taking SHARE UPDATE EXCLUSIVE on the parent. Up to
PostgreSQL 17 it also analyzes every partition (SHARE UPDATE EXCLUSIVE on each,
one at a time, as autovacuum would); from 18 on ``ANALYZE ONLY parent`` does the
parent alone (partitions keep their own, autovacuum's), which is what is run
there. Detected by ``server_version_num``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pg_steward.db import Database
from pg_steward.owner_rights import owner_rights
from pg_steward.partitions import catalog
from pg_steward.partitions.actions import Action, error_text, log
from pg_steward.partitions.config import read_config, require_registered_identity
from pg_steward.partitions.locking import with_lock_retries
from pg_steward.server import version_num

ACTION = "analyze parent"
# Log actions that change a parent's set of partitions or their rows (rows moved out of DEFAULT come with create).
CHANGES = ("create", "drop", "detach", "archive")
ANALYZE_ONLY_FROM = 180000  # ANALYZE ONLY of a partitioned table: PostgreSQL 18
DEFAULT_MAX_PER_RUN = 20  # steward.maintenance_limits.max_parent_analyzes when no row sets it
CHANGES_COUNTED = 100  # a log detail says "100 or more partition changes" past this

_MAX_SQL = f"""
SELECT coalesce(m.max_parent_analyzes, {DEFAULT_MAX_PER_RUN}) AS n
FROM (SELECT true AS singleton) AS d LEFT JOIN steward.maintenance_limits AS m USING (singleton)
"""

# The due parents the caller may change, never analyzed first, then the oldest analysis. $1 one parent (NULL:
# every managed one), $2 the change actions, $3 how many, $4 the changes counted at most. Each table's last
# analysis is a probe of a partial index, its changes since a range of another (08_parent_stats.sql).
_DUE_SQL = """
SELECT pc.parent::pg_catalog.oid::pg_catalog.int8 AS oid, last.at::pg_catalog.text AS analyzed_at,
       (SELECT pg_catalog.count(*) FROM (
            SELECT FROM steward.partition_maintenance_log AS l
            WHERE l.parent OPERATOR(pg_catalog.=) pc.parent::pg_catalog.text AND l.ok
              AND l.action OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])
              AND l.logged_at OPERATOR(pg_catalog.>) coalesce(last.at, '-infinity')
            LIMIT $4::pg_catalog.int4) AS counted) AS changes
FROM steward.partition_config AS pc
JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) pc.parent::pg_catalog.oid
LEFT JOIN LATERAL (
    SELECT l.logged_at AS at FROM steward.partition_maintenance_log AS l
    WHERE l.parent OPERATOR(pg_catalog.=) pc.parent::pg_catalog.text
      AND l.action OPERATOR(pg_catalog.=) 'analyze parent' AND l.ok
    ORDER BY l.logged_at DESC LIMIT 1) AS last ON true
WHERE pc.enabled AND pc.analyze_parent AND c.relkind OPERATOR(pg_catalog.=) 'p'
  AND pg_catalog.pg_has_role(c.relowner, 'USAGE')
  AND ($1::pg_catalog.int8 IS NULL
       OR pc.parent::pg_catalog.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid)
  AND (last.at IS NULL
       OR last.at OPERATOR(pg_catalog.<=)
          (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) pc.analyze_parent_interval))
  AND EXISTS (SELECT FROM steward.partition_maintenance_log AS l
              WHERE l.parent OPERATOR(pg_catalog.=) pc.parent::pg_catalog.text AND l.ok
                AND l.action OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])
                AND l.logged_at OPERATOR(pg_catalog.>) coalesce(last.at, '-infinity'))
ORDER BY last.at NULLS FIRST, pc.parent::pg_catalog.text
LIMIT $3::pg_catalog.int4
"""


@dataclass(frozen=True)
class Due:
    oid: int
    analyzed_at: str | None  # the last successful analysis by maintenance, None: never
    changes: int  # the changes of its partitions logged since


def analyze_statement(parent_sql: str, server_version: int) -> str:
    """The statement that analyzes a partitioned parent: ``ANALYZE ONLY`` where PostgreSQL has it (18 on)."""
    return f"ANALYZE {'ONLY ' if server_version >= ANALYZE_ONLY_FROM else ''}{parent_sql}"


def success_detail(due: Due, before: float | None, after: float | None, ms: float, only: bool) -> str:
    """The log detail of a parent analyzed: why (its changes, its last analysis), the estimate before and after."""
    def estimate(value: float | None) -> str:
        return "never analyzed" if value is None or value < 0 else f"{value:.0f} rows"

    since = f"since the analysis of {due.analyzed_at}" if due.analyzed_at else "since no analysis by maintenance"
    scope = "the parent alone (ANALYZE ONLY)" if only else "the parent and its partitions"
    count = f"{due.changes} or more" if due.changes >= CHANGES_COUNTED else str(due.changes)
    return (f"{count} partition change{'s' if due.changes != 1 else ''} {since}; analyzed {scope} in "
            f"{ms:.0f} ms; estimate {estimate(before)} -> {estimate(after)}")


def due_parents(db: Database, parent_oid: int | None = None, limit: int | None = None) -> list[Due]:
    """The parents due for an ANALYZE (module docstring), at most ``limit`` (the run's budget when None)."""
    if limit is None:
        limit = int(db.query(_MAX_SQL)[0]["n"])
    if limit <= 0:
        return []
    rows = db.query(_DUE_SQL, parent_oid, list(CHANGES), limit, CHANGES_COUNTED)
    return [Due(r["oid"], r["analyzed_at"], r["changes"]) for r in rows]


def _reltuples(db: Database, oid: int) -> float | None:
    rows = db.query("SELECT c.reltuples::pg_catalog.float8 AS n FROM pg_catalog.pg_class AS c "
                    "WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid", oid)
    return rows[0]["n"] if rows else None


def analyze_parent(db: Database, due: Due, server_version: int) -> Action:
    """One parent analyzed, as its owner, under its lock_timeout with retries; the outcome as a log action."""
    config = read_config(db, due.oid)
    if config is None:
        return Action(due.oid, ACTION, None, True, "not managed any more: not analyzed")
    parent = catalog.read_parent(db, due.oid)
    statement = analyze_statement(parent.sql, server_version)
    before = _reltuples(db, due.oid)
    began = time.monotonic()

    def step() -> None:
        with owner_rights(db, parent.owner, parent.label) as table_db:
            table_db.execute(statement)

    with_lock_retries(db, config.options.lock, f"analyze {parent.label}", step)
    ms = (time.monotonic() - began) * 1000
    return Action(due.oid, ACTION, None, True, success_detail(due, before, _reltuples(db, due.oid), ms,
                                                              statement.startswith("ANALYZE ONLY")))


def analyze_parents(db: Database, parent_oid: int | None = None,
                    commit: Callable[[], None] | None = None) -> list[Action]:
    """The due parents (or ``parent_oid`` alone, if due) analyzed, each in its own subtransaction and logged;
    with ``commit`` (a procedure's), committed after each. Returns their actions."""
    actions = []
    server_version = version_num(db)
    for due in due_parents(db, parent_oid):
        try:  # a row no longer about its table (owner changed, oid reused) is not acted on: its run says why
            require_registered_identity(db, due.oid)
        except Exception:
            continue
        try:
            with db.subtransaction():
                action = analyze_parent(db, due, server_version)
        except Exception as error:  # logged and counted; the other parents go on
            action = Action(due.oid, ACTION, None, False, f"ANALYZE of the parent failed: {error_text(error)}")
        log(db, action)
        actions.append(action)
        if commit is not None:
            commit()
    return actions


def analyze_parents_sql(db: Database, parent_name: str | int | None) -> list[dict[str, object]]:
    """``steward.analyze_parents(parent)``: the parents due analyzed now (as a maintenance run does last)."""
    oid = catalog.read_parent(db, parent_name).oid if parent_name is not None else None
    return [a.row() for a in analyze_parents(db, oid)]
