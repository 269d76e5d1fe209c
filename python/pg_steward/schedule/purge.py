"""``steward.purge_logs``: deletes pg_steward's own log rows older than an age.

The logs are the tables pg_steward writes to as it works. Tables that a
version does not have are skipped, so the purge serves every area that is
installed. The newest pg_stat_statements snapshot is always kept: the next
capture computes its deltas from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pg_steward.arguments import not_null, positive_interval
from pg_steward.db import Database
from pg_steward.sqltext import qualified, quote_ident


@dataclass(frozen=True)
class Log:
    table: str
    column: str
    keep_newest: bool = False  # snapshots: the newest is the base of the next delta


FIXED_LOGS = (
    Log("partition_maintenance_log", "logged_at"),
    Log("maintenance_runs", "started_at"),  # one row per run: trimmed like the log it summarizes
    Log("query_performance_log", "execution_date"),
)
SNAPSHOT_PREFIX = "query_stats_snapshot"

# Tables of schema steward with the timestamp column a log is expected to have,
# children (tables whose foreign keys point at others of the set) first.
_TABLES_SQL = """
SELECT c.relname::text AS name, a.attname::text AS col,
       (SELECT count(*) FROM pg_catalog.pg_constraint AS k
        WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid) AS references_others
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND NOT a.attisdropped AND a.attnum > 0
WHERE c.relnamespace = 'steward'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.atttypid = 'timestamptz'::regtype
"""


def installed_logs(db: Database) -> list[Log]:
    rows = db.query(_TABLES_SQL)
    present = {(r["name"], r["col"]) for r in rows}
    logs = [log for log in FIXED_LOGS if (log.table, log.column) in present]
    snapshots = sorted((r for r in rows if r["name"].startswith(SNAPSHOT_PREFIX) and r["col"] == "captured_at"),
                       key=lambda r: (-r["references_others"], r["name"]))
    logs += [Log(r["name"], "captured_at", keep_newest=True) for r in snapshots]
    return logs


def _delete_sql(log: Log) -> str:
    table, column = qualified("steward", log.table), quote_ident(log.column)
    keep = f" AND {column} < (SELECT max({column}) FROM {table})" if log.keep_newest else ""
    return (f"WITH gone AS (DELETE FROM {table} WHERE {column} < $1::timestamptz{keep} RETURNING 1) "
            "SELECT count(*) AS deleted FROM gone")


def purge_logs(db: Database, older_than: str | None) -> list[dict[str, Any]]:
    """One row per log: how many rows older than ``now() - older_than`` were deleted."""
    not_null("older_than", older_than)
    positive_interval(db, older_than, "older_than")
    row = db.query("SELECT pg_catalog.now() - $1::interval AS cutoff", older_than)[0]
    out = []
    for log in installed_logs(db):
        deleted = db.query(_delete_sql(log), row["cutoff"])[0]["deleted"]
        out.append({"log": f"steward.{log.table}", "deleted": deleted, "cutoff": row["cutoff"]})
    return out
