"""``steward.purge_logs``: deletes pg_steward's own log rows older than an age.

The logs are the tables pg_steward writes to as it works. Tables that a
version does not have are skipped, so the purge serves every area that is
installed. The newest pg_stat_statements snapshot is always kept: the next
capture computes its deltas from it.

pg_cron keeps a row per run in ``cron.job_run_details`` for ever. Called in
pg_cron's own database, the purge also deletes the old rows of the jobs
pg_steward scheduled there (for any database of the server: pg_cron keeps them
all in one place), and of no other job. When it cannot (pg_cron is elsewhere,
the role may not delete them), its row says what was skipped and why, with
``deleted`` NULL: the other logs are purged all the same.

With ``dry_run`` the same rows are counted, not deleted: ``deleted`` is what a
real purge would delete now, and ``note`` says that nothing was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pg_steward.arguments import not_null, positive_interval
from pg_steward.db import Database
from pg_steward.schedule import jobs
from pg_steward.schedule.cron import cron_preloaded
from pg_steward.sqltext import qualified, quote_ident

CRON_RUNS = "cron.job_run_details"


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


DRY_RUN_NOTE = "dry run: nothing deleted"


def _delete_sql(log: Log, dry_run: bool = False) -> str:
    table, column = qualified("steward", log.table), quote_ident(log.column)
    keep = f" AND {column} < (SELECT max({column}) FROM {table})" if log.keep_newest else ""
    where = f"{column} < $1::timestamptz{keep}"
    if dry_run:
        return f"SELECT count(*) AS deleted FROM {table} WHERE {where}"
    return f"WITH gone AS (DELETE FROM {table} WHERE {where} RETURNING 1) SELECT count(*) AS deleted FROM gone"


# pg_cron's jobs and whether the caller may delete their runs, read in the database pg_cron is created in.
_CRON_SQL = """
SELECT e.extnamespace::regnamespace::text AS schema,
       (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'cron.database_name') AS cron_database,
       current_user AS me,
       (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user) AS sees_all
FROM (SELECT NULL) AS one LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_cron'
"""
# A run still starting or running is never deleted: pg_cron updates its row when it ends.
_CRON_OLD_RUNS = """r.jobid = ANY($1::bigint[]) AND r.start_time < $2::timestamptz
                AND r.status NOT IN ('starting', 'running')"""
_CRON_DELETE_SQL = f"""
WITH gone AS (DELETE FROM cron.job_run_details AS r
              WHERE {_CRON_OLD_RUNS}
              RETURNING 1)
SELECT count(*) AS deleted FROM gone
"""
_CRON_COUNT_SQL = f"SELECT count(*) AS deleted FROM cron.job_run_details AS r WHERE {_CRON_OLD_RUNS}"


def _cron_row(deleted: int | None, cutoff: object, note: str | None) -> dict[str, Any]:
    return {"log": CRON_RUNS, "deleted": deleted, "cutoff": cutoff, "note": note}


def purge_cron_runs(db: Database, cutoff: object, dry_run: bool = False) -> dict[str, Any] | None:
    """The old runs of pg_steward's pg_cron jobs, deleted (counted when ``dry_run``); None when this server has
    no pg_cron at all."""
    state = db.query(_CRON_SQL)[0]
    if state["schema"] is None:
        preloaded = cron_preloaded(db)
        if preloaded is False:
            return None
        where = (f"database {state['cron_database']}" if preloaded and state["cron_database"]
                 else "pg_cron's database (cron.database_name)")
        note = (f"skipped: pg_cron keeps its run details in {where}; "
                "steward.purge_logs() called there trims those of pg_steward's jobs")
        return _cron_row(None, cutoff, note)
    may = db.query("SELECT pg_catalog.has_schema_privilege('cron', 'USAGE') "
                   "AND pg_catalog.has_table_privilege('cron.job', 'SELECT') "
                   "AND pg_catalog.has_table_privilege('cron.job_run_details', 'SELECT, DELETE') AS ok")[0]["ok"]
    if not may:
        note = (f"skipped: role {state['me']} may not delete from {CRON_RUNS} (it needs USAGE ON SCHEMA cron, "
                f"SELECT ON cron.job and SELECT, DELETE ON {CRON_RUNS})")
        db.notice(f"pg_steward: purge_logs {note}")
        return _cron_row(None, cutoff, note)
    ours = [r["jobid"] for r in db.query("SELECT jobid, jobname::text AS jobname, database::text AS database "
                                         "FROM cron.job WHERE jobname IS NOT NULL")
            if jobs.job_of(r["jobname"], r["database"]) is not None]
    statement = _CRON_COUNT_SQL if dry_run else _CRON_DELETE_SQL
    deleted = db.query(statement, ours, cutoff)[0]["deleted"] if ours else 0
    # pg_cron's row security shows a role only the runs of its own jobs: the others' are left, and said so.
    note = None if state["sees_all"] else f"only the runs of role {state['me']}'s jobs (pg_cron's row security)"
    if dry_run:
        note = DRY_RUN_NOTE if note is None else f"{DRY_RUN_NOTE}; {note}"
    return _cron_row(deleted, cutoff, note)


def purge_logs(db: Database, older_than: str | None, dry_run: bool | None = False) -> list[dict[str, Any]]:
    """One row per log: how many rows older than ``now() - older_than`` were deleted (with ``dry_run``: would
    be, and none is), or why none could be."""
    not_null("older_than", older_than)
    not_null("dry_run", dry_run)
    dry = bool(dry_run)
    positive_interval(db, older_than, "older_than")
    row = db.query("SELECT pg_catalog.now() - $1::interval AS cutoff", older_than)[0]
    out = []
    for log in installed_logs(db):
        deleted = db.query(_delete_sql(log, dry), row["cutoff"])[0]["deleted"]
        out.append({"log": f"steward.{log.table}", "deleted": deleted, "cutoff": row["cutoff"],
                    "note": DRY_RUN_NOTE if dry else None})
    cron = purge_cron_runs(db, row["cutoff"], dry)
    if cron is not None:
        out.append(cron)
    return out
