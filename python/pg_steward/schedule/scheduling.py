"""``steward.schedule``, ``steward.unschedule`` and ``steward.jobs``: pg_steward's jobs in pg_cron."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pg_steward.arguments import positive_interval
from pg_steward.db import Database, Row
from pg_steward.errors import (
    INSUFFICIENT_PRIVILEGE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    PROHIBITED_SQL_STATEMENT_ATTEMPTED,
    StewardError,
    error_first_line,
    error_sqlstate,
)
from pg_steward.schedule import jobs
from pg_steward.schedule.cron import CronSite, check_cron_extension, cron_rows, locate
from pg_steward.sqltext import quote_ident, quote_literal


def _require_function(db: Database, job: jobs.Job) -> None:
    if job.needs is None:
        return
    if not db.query("SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = 'steward'::regnamespace "
                    "AND proname = $1", job.needs):
        raise StewardError(
            f"job {job.name} needs steward.{job.needs}(), which this installation does not have",
            OBJECT_NOT_IN_PREREQUISITE_STATE,
            hint="Update pg_steward (ALTER EXTENSION pg_steward UPDATE) to a version that has it.",
        )


@dataclass(frozen=True)
class RunAs:
    role: str  # the role the job runs as
    other: bool  # not the calling role: pg_cron is told the username (superusers only)


def _run_as(db: Database, run_as: str | None) -> RunAs:
    """The role a job runs as: ``run_as`` (a regrole's text) or the caller; another role only for a superuser."""
    row = db.query("SELECT current_user AS me, (SELECT rolsuper FROM pg_catalog.pg_roles "
                   "WHERE rolname = current_user) AS superuser, "
                   "(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = $1::pg_catalog.regrole) AS role",
                   run_as)[0]
    role = row["role"] if run_as is not None else row["me"]
    if role == row["me"]:
        return RunAs(role, False)
    if not row["superuser"]:
        raise StewardError(
            f"only a superuser may schedule a job that runs as another role ({role})", INSUFFICIENT_PRIVILEGE,
            hint="Leave run_as out to schedule a job that runs as yourself, or ask a superuser.")
    return RunAs(role, True)


def _existing(db: Database, site: CronSite, name: str, run_as: RunAs) -> Row | None:
    rows = cron_rows(db, site, (
        "SELECT jobid, schedule, command, database, active FROM cron.job "
        f"WHERE jobname = {quote_literal(name)} AND username = {quote_literal(run_as.role)}"))
    return rows[0] if rows else None


def _schedule_sql(site: CronSite, name: str, expression: str, command: str, run_as: RunAs) -> str:
    args = f"{quote_literal(name)}, {quote_literal(expression)}, {quote_literal(command)}"
    if run_as.other:
        return (f"SELECT cron.schedule_in_database({args}, {quote_literal(site.here)}, "
                f"{quote_literal(run_as.role)}) AS jobid")
    if site.local:
        return f"SELECT cron.schedule({args}) AS jobid"
    return f"SELECT cron.schedule_in_database({args}, {quote_literal(site.here)}) AS jobid"


def schedule(db: Database, job: str | None, cron_expression: str | None,
             older_than: str | None, run_as: str | None = None) -> dict[str, Any]:
    """``steward.schedule(job, cron_expression, older_than, run_as)``: create or update one job, by name.

    The keys are the function's OUT columns.
    """
    return _schedule(db, jobs.job(job), cron_expression, older_than, _run_as(db, run_as))


def _schedule(db: Database, job: jobs.Job, cron_expression: str | None, older_than: str | None,
              run_as: RunAs) -> dict[str, Any]:
    expression = jobs.check_schedule(cron_expression if cron_expression is not None else job.default_schedule)
    command = jobs.command(job, positive_interval(db, older_than, "older_than"))
    _require_function(db, job)
    site = locate(db)
    check_cron_extension(db, site)
    name = jobs.cron_name(site.here, job.name)
    before = _existing(db, site, name, run_as)
    if before and (before["schedule"], before["command"], before["database"]) == (expression, command, site.here):
        action, jobid = "unchanged", before["jobid"]
    else:
        # pg_cron updates a job of the same name and user in place (schedule, command).
        jobid = cron_rows(db, site, _schedule_sql(site, name, expression, command, run_as))[0]["jobid"]
        action = "updated" if before else "scheduled"
    if before and not before["active"]:
        # Scheduling means running: a job someone paused (cron.alter_job) is resumed, and says so.
        cron_rows(db, site, f"SELECT cron.alter_job({int(jobid)}::bigint, active => true) IS NULL AS done")
        action = "resumed" if action == "unchanged" else action
    return {"job_name": job.name, "cron_job": name, "jobid": jobid, "schedule": expression, "command": command,
            "cron_database": site.database, "action": action, "username": run_as.role}


def unschedule(db: Database, job_name: str | None, run_as: str | None = None) -> bool:
    """``steward.unschedule(job, run_as)``: true if the job was scheduled and is now gone."""
    job = jobs.job(job_name)
    who = _run_as(db, run_as)
    site = locate(db)
    check_cron_extension(db, site)
    before = _existing(db, site, jobs.cron_name(site.here, job.name), who)
    if before is None:
        return False
    cron_rows(db, site, f"SELECT cron.unschedule({int(before['jobid'])}::bigint) AS done")
    return True


_JOBS_SQL = """
SELECT j.jobid, j.jobname, j.schedule, j.command, j.database, j.username, j.active,
       d.start_time AS last_start, d.end_time AS last_end, d.status AS last_status,
       d.return_message AS last_message
FROM cron.job AS j
LEFT JOIN LATERAL (SELECT start_time, end_time, status, return_message FROM cron.job_run_details AS r
                   WHERE r.jobid = j.jobid ORDER BY r.runid DESC LIMIT 1) AS d ON true
WHERE j.database = {database} AND j.jobname::text IN ({names})
ORDER BY j.jobname
"""


NOT_VISIBLE = "not visible"
"""``last_status`` of the one row ``steward.jobs`` has when the role may not read pg_cron's jobs."""

_HIDDEN_BY = (INSUFFICIENT_PRIVILEGE, PROHIBITED_SQL_STATEMENT_ATTEMPTED)

_WHO_SQL = """
SELECT current_user AS role, pg_catalog.current_database() AS here,
       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
         OR pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') AS reads_settings
"""


def job_status(db: Database) -> list[dict[str, Any]]:
    """Rows of the ``steward.jobs`` view: this database's pg_steward jobs and their last run.

    A role that may not read them (pg_cron's settings, schema cron, or dblink's refusal of a connection
    without a password) gets one row marked ``not visible`` that says why and what it needs, not an error:
    a report of every job stays readable by a pg_monitor member. Anything else (pg_cron absent, a failed
    connection) is still an error.
    """
    try:
        with db.subtransaction():
            return _job_rows(db)
    except Exception as error:
        if error_sqlstate(error) not in _HIDDEN_BY:
            raise
        return [_not_visible(db, error)]


def _not_visible(db: Database, error: BaseException) -> dict[str, Any]:
    who = db.query(_WHO_SQL)[0]
    role = quote_ident(who["role"])
    if not who["reads_settings"]:
        needs = f"needs GRANT pg_read_all_settings TO {role} (pg_monitor has it), to read cron.database_name"
    else:
        cron_database = db.query("SELECT pg_catalog.current_setting('cron.database_name', true) AS name")[0]["name"]
        grant = f"GRANT USAGE ON SCHEMA cron TO {role} in database {cron_database}"
        if error_sqlstate(error) == PROHIBITED_SQL_STATEMENT_ATTEMPTED:
            needs = (f"dblink connects a role without superuser rights to database {cron_database} only with a "
                     f"password, which pg_steward does not keep: read steward.jobs in database {cron_database} "
                     f"({grant})")
        else:
            needs = f"needs {grant}"
    message = f"pg_cron's jobs are not visible to role {who['role']}: {error_first_line(error)}; {needs}"
    return {"job": None, "cron_job": None, "jobid": None, "schedule": None, "command": None,
            "database": who["here"], "username": who["role"], "active": None, "last_start": None,
            "last_end": None, "last_status": NOT_VISIBLE, "last_message": message}


def _job_rows(db: Database) -> list[dict[str, Any]]:
    site = locate(db)
    check_cron_extension(db, site)
    names = ", ".join(quote_literal(jobs.cron_name(site.here, name)) for name in jobs.JOBS)
    rows = cron_rows(db, site, _JOBS_SQL.format(database=quote_literal(site.here), names=names))
    out = []
    for row in rows:
        job = jobs.job_of(row["jobname"], site.here)
        if job is None:
            continue
        out.append({"job": job, "cron_job": row["jobname"], "jobid": row["jobid"], "schedule": row["schedule"],
                    "command": row["command"], "database": row["database"], "username": row["username"],
                    "active": row["active"], "last_start": row["last_start"], "last_end": row["last_end"],
                    "last_status": row["last_status"], "last_message": row["last_message"]})
    return out
