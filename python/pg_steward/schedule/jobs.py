"""The jobs pg_steward can schedule, their pg_cron names and commands (pure logic).

A pg_cron job is named ``pg_steward:<database>:<job>``: pg_cron keeps the
jobs of every database in one table (in ``cron.database_name``), so the name
says which database a job serves, and scheduling the same job twice finds
and updates it instead of adding a second one. When that name would pass 63
bytes, ``<database>`` is ``#`` and a digest of the database's name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pg_steward.errors import INVALID_PARAMETER_VALUE, NULL_VALUE_NOT_ALLOWED, StewardError

NAME_PREFIX = "pg_steward:"
NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1


@dataclass(frozen=True)
class Job:
    name: str
    default_schedule: str
    command: str
    needs: str | None  # the steward function (by name) the command calls, when a version may lack it
    what: str


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("maintenance", "*/15 * * * *", "CALL steward.run_maintenance()", None,
        "partition maintenance of every managed table"),
    Job("capture_query_stats", "*/5 * * * *", "SELECT * FROM steward.capture_query_stats()",
        "capture_query_stats", "a pg_stat_statements snapshot and its deltas into the query log"),
    Job("capture_long_running", "* * * * *", "SELECT * FROM steward.capture_long_running()",
        "capture_long_running", "statements running longer than the threshold"),
    Job("capture_growth", "7 4 * * *", "SELECT * FROM steward.capture_growth()", "capture_growth",
        "a growth snapshot (database size, sequences, partition bounds) for steward.growth_forecasts"),
    Job("purge_logs", "30 3 * * *", "SELECT * FROM steward.purge_logs()", None,
        "deletes pg_steward's log rows older than the configured age"),
)}

# pg_cron's own syntax: five fields of digits, names, "*", ",", "-" and "/",
# or a macro such as @daily. pg_cron parses it for real; this catches typos
# before anything is sent and rejects text that could not be a schedule.
_FIELD = re.compile(r"^[0-9A-Za-z*,/\-]+$")
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@reboot"}


def job(name: str | None) -> Job:
    if name is None:
        raise StewardError("job must not be NULL", NULL_VALUE_NOT_ALLOWED)
    found = JOBS.get(name.strip().lower())
    if found is None:
        raise StewardError(f"unknown job {name!r}", INVALID_PARAMETER_VALUE,
                           hint=f"Jobs: {', '.join(JOBS)}.")
    return found


def check_schedule(expression: str) -> str:
    """The cron expression, whitespace normalised; an error when it cannot be one."""
    text = " ".join(expression.split())
    if text.lower() in _MACROS:
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5 or not all(_FIELD.match(f) for f in fields):
        raise StewardError(
            f"invalid cron expression {expression!r}", INVALID_PARAMETER_VALUE,
            detail="pg_cron takes five fields: minute, hour, day of month, month, day of week.",
            hint="For example '*/15 * * * *' (every 15 minutes) or '30 3 * * *' (daily at 03:30).",
        )
    return text


def cron_name(database: str, job_name: str) -> str:
    """The pg_cron job name of ``job_name`` in ``database``.

    pg_cron's ``jobname`` is a ``name``, cut at 63 bytes: a long database name would make the jobs of one
    database share a cut name (scheduling one replaced another) that no longer matches. Such a database is
    named by a digest of its name instead.
    """
    name = f"{NAME_PREFIX}{database}:{job_name}"
    if len(name.encode()) <= NAME_BYTES:
        return name
    return f"{NAME_PREFIX}#{hashlib.sha256(database.encode()).hexdigest()[:16]}:{job_name}"


def job_of(cron_job_name: str, database: str) -> str | None:
    """The pg_steward job a pg_cron job name stands for in ``database``, or None."""
    return next((name for name in JOBS if cron_name(database, name) == cron_job_name), None)


def command(job_spec: Job, older_than: str | None) -> str:
    """The SQL pg_cron runs; ``older_than`` (a checked interval's text) only for purge_logs."""
    if older_than is None:
        return job_spec.command
    if job_spec.name != "purge_logs":
        raise StewardError("older_than applies to the purge_logs job only", INVALID_PARAMETER_VALUE)
    from pg_steward.sqltext import quote_literal

    return f"SELECT * FROM steward.purge_logs({quote_literal(older_than)}::interval)"
