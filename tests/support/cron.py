"""pg_cron in the tests: the end of a scheduled job's first run, as ``cron.job_run_details`` records it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from pg_steward.localserver import DATABASE, LocalServer

# pg_cron starts a job at the top of a minute: the first run of a '* * * * *' job has begun within about 60 s
# of scheduling, whatever the load. The run itself is waited for until it ends (bounded by its own settings).
START_WITHIN_S = 150
_RUN_SQL = ("SELECT status, return_message, username::text, database::text FROM cron.job_run_details "
            "WHERE jobid = %s ORDER BY runid LIMIT 1")
_ENDED = ("succeeded", "failed")


@dataclass(frozen=True)
class JobRun:
    status: str  # succeeded or failed
    message: str | None  # pg_cron's return_message: the command's status or the error
    username: str  # the role pg_cron ran it as
    database: str


def first_run(server: LocalServer, jobid: int) -> JobRun:
    """The first run of pg_cron job ``jobid``, once it has ended: waits on the state of its row in
    ``cron.job_run_details`` (in pg_cron's database), polling; fails if no run began within START_WITHIN_S."""
    deadline = time.monotonic() + START_WITHIN_S
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as cron_db:
        while True:
            row = cron_db.execute(_RUN_SQL, [jobid]).fetchone()
            if row is not None and row[0] in _ENDED:
                return JobRun(*row)
            assert row is not None or time.monotonic() < deadline, f"pg_cron never started job {jobid}"
            time.sleep(0.2)  # a polling pause, not a wait for an outcome
