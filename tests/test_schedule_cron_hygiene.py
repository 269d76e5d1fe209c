"""pg_cron hygiene: steward.purge_logs trims the run details of pg_steward's own pg_cron jobs, and health()
flags those jobs when their last run failed or could not connect. Against the test server's real pg_cron."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pg_steward.localserver import DATABASE, LocalServer, bindir
from support.cron import first_run
from support.reports import rows

# A run of job %s planted in cron.job_run_details: status, message, and how long ago it started.
_PLANT = """
INSERT INTO cron.job_run_details (jobid, job_pid, database, username, command, status, return_message,
                                  start_time, end_time)
SELECT j.jobid, 0, j.database, j.username, j.command, %s, %s, now() - %s::interval,
       CASE WHEN %s IN ('succeeded', 'failed') THEN now() - %s::interval END
FROM cron.job AS j WHERE j.jobid = %s
RETURNING runid
"""


def plant(admin: psycopg.Connection, jobid: int, status: str, message: str | None, ago: str) -> int:
    return admin.execute(_PLANT, [status, message, ago, status, ago, jobid]).fetchone()[0]


def runs_left(admin: psycopg.Connection, runids: list[int]) -> set[int]:
    found = admin.execute("SELECT runid FROM cron.job_run_details WHERE runid = ANY(%s)", [runids]).fetchall()
    return {r[0] for r in found}


def health(conn: psycopg.Connection) -> dict[str, dict]:
    return {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}


@pytest.fixture
def cron_db(server: LocalServer, cron_ready: None) -> Iterator[psycopg.Connection]:
    """pg_cron's database with pg_steward installed (removed again after the test)."""
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        try:
            yield admin
        finally:
            for job in ("maintenance", "purge_logs"):
                admin.execute("SELECT steward.unschedule(%s)", [job])
            admin.execute("DROP EXTENSION pg_steward")


@pytest.fixture
def app(cron_ready: None, new_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """An application database (not pg_cron's) with pg_steward and dblink."""
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")
        try:
            yield conn
        finally:
            conn.execute("SELECT steward.unschedule('maintenance')")


def test_purge_trims_old_runs_of_pg_stewards_jobs_only(cron_db: psycopg.Connection,
                                                       app: psycopg.Connection) -> None:
    ours = cron_db.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 1 1 *')").fetchone()[0]
    # pg_steward's job of another database: its runs are kept in pg_cron's database too.
    app_job = app.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 1 1 *')").fetchone()[0]
    foreign = cron_db.execute("SELECT cron.schedule('someone_elses', '0 4 1 1 *', 'SELECT 1')").fetchone()[0]
    try:
        old = plant(cron_db, ours, "succeeded", "CALL", "40 days")
        old_failed = plant(cron_db, ours, "failed", "ERROR: boom", "35 days")
        old_of_app = plant(cron_db, app_job, "succeeded", "CALL", "40 days")
        recent = plant(cron_db, ours, "succeeded", "CALL", "1 hour")
        running = plant(cron_db, ours, "running", None, "40 days")
        foreign_old = plant(cron_db, foreign, "succeeded", "SELECT 1", "40 days")
        result = {r["log"]: r for r in rows(cron_db, "SELECT * FROM steward.purge_logs('30 days')")}
        assert result["cron.job_run_details"]["deleted"] == 3
        assert result["cron.job_run_details"]["note"] is None
        assert runs_left(cron_db, [old, old_failed, old_of_app, recent, running, foreign_old]) == {
            recent, running, foreign_old}
        assert result["steward.partition_maintenance_log"]["note"] is None
    finally:
        cron_db.execute("SELECT cron.unschedule(%s::bigint)", [foreign])


def test_a_dry_run_counts_what_the_purge_would_delete_and_deletes_nothing(cron_db: psycopg.Connection) -> None:
    ours = cron_db.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 1 1 *')").fetchone()[0]
    old = plant(cron_db, ours, "succeeded", "CALL", "40 days")
    recent = plant(cron_db, ours, "succeeded", "CALL", "1 hour")
    cron_db.execute("INSERT INTO steward.partition_maintenance_log (logged_at, parent, action, ok) "
                    "VALUES (now() - interval '40 days', 'old', 'create', true)")
    logged = cron_db.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone()[0]
    dry = {r["log"]: r for r in rows(cron_db, "SELECT * FROM steward.purge_logs('30 days', dry_run => true)")}
    assert dry["cron.job_run_details"]["deleted"] == 1
    assert dry["steward.partition_maintenance_log"]["deleted"] >= 1
    assert {r["note"] for r in dry.values()} == {"dry run: nothing deleted"}
    assert runs_left(cron_db, [old, recent]) == {old, recent}
    assert cron_db.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone()[0] == logged
    real = {r["log"]: r for r in rows(cron_db, "SELECT * FROM steward.purge_logs('30 days')")}
    assert {log: r["deleted"] for log, r in real.items()} == {log: r["deleted"] for log, r in dry.items()}
    assert runs_left(cron_db, [old, recent]) == {recent}


def test_a_dry_run_of_null_is_refused(cron_db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.NullValueNotAllowed):
        cron_db.execute("SELECT * FROM steward.purge_logs('30 days', dry_run => NULL)")


def test_purge_by_a_role_that_may_not_delete_runs_goes_on_and_says_so(cron_db: psycopg.Connection) -> None:
    ours = cron_db.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 1 1 *')").fetchone()[0]
    old = plant(cron_db, ours, "succeeded", "CALL", "40 days")
    name = f"purger_{uuid.uuid4().hex[:8]}"
    cron_db.execute(f'CREATE ROLE "{name}" LOGIN')
    cron_db.execute(f'GRANT SELECT, DELETE ON ALL TABLES IN SCHEMA steward TO "{name}"')
    cron_db.execute("INSERT INTO steward.partition_maintenance_log (logged_at, parent, action, ok) "
                    "VALUES (now() - interval '40 days', 'old', 'create', true)")
    try:
        with psycopg.connect(make_conninfo(cron_db.info.dsn, user=name), autocommit=True) as session:
            result = {r["log"]: r for r in rows(session, "SELECT * FROM steward.purge_logs('30 days')")}
        assert result["steward.partition_maintenance_log"]["deleted"] == 1  # the purge went on
        cron = result["cron.job_run_details"]
        assert cron["deleted"] is None  # never claimed
        assert cron["note"].startswith(f"skipped: role {name} may not delete from cron.job_run_details")
        assert "USAGE ON SCHEMA cron" in cron["note"]
        assert runs_left(cron_db, [old]) == {old}
    finally:
        cron_db.execute(f'DROP OWNED BY "{name}"; DROP ROLE "{name}"')


def test_purge_in_another_database_names_pg_crons_database(app: psycopg.Connection) -> None:
    result = {r["log"]: r for r in rows(app, "SELECT * FROM steward.purge_logs('30 days')")}
    cron = result["cron.job_run_details"]
    assert cron["deleted"] is None
    assert cron["note"].startswith(f"skipped: pg_cron keeps its run details in database {DATABASE}")


def test_health_flags_a_job_whose_last_run_failed(server: LocalServer, app: psycopg.Connection) -> None:
    jobid = app.execute("SELECT jobid FROM steward.schedule('maintenance', '* * * * *')").fetchone()[0]
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        admin.execute("SELECT cron.alter_job(%s::bigint, command => 'SELECT 1/0')", [jobid])
        run = first_run(server, jobid)
        assert run.status == "failed" and "division by zero" in (run.message or "")
        # Once a year from now on: any later run fails the same way, none starts while the report is read.
        admin.execute("SELECT cron.alter_job(%s::bigint, schedule => '0 4 1 1 *')", [jobid])
    checks = health(app)
    assert checks["cron_job_failures"]["status"] == "warning"
    assert checks["cron_job_failures"]["value"] == "1 jobs"
    assert "division by zero" in checks["cron_job_failures"]["detail"]
    assert f"jobid = {jobid}" in checks["cron_job_failures"]["fix"]
    assert checks["cron_job_connections"]["status"] == "ok"


def test_health_flags_a_job_that_cannot_connect(server: LocalServer, app: psycopg.Connection) -> None:
    jobid = app.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 1 1 *')").fetchone()[0]
    never = health(app)["cron_job_connections"]
    assert never["status"] == "ok" and "never run yet" in never["detail"]
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        # pg_cron's return_message when it cannot open the job's connection (no pg_hba.conf rule, no password)
        plant(admin, jobid, "failed", "connection failed", "5 minutes")
    checks = health(app)
    assert checks["cron_job_connections"]["status"] == "critical"
    assert "connection failed" in checks["cron_job_connections"]["detail"]
    assert "cron.use_background_workers = on" in checks["cron_job_connections"]["fix"]
    assert checks["cron_job_failures"]["status"] == "ok"  # counted once, as a connection failure
    # Its threshold row is accepted by steward.health_thresholds and judges the count.
    app.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                "VALUES ('cron_job_connections', 1, 5)")
    assert health(app)["cron_job_connections"]["status"] == "warning"


def test_pg_restore_clean_over_a_database_with_jobs_needs_the_opt_in(server: LocalServer, app: psycopg.Connection,
                                                                      tmp_path: Path) -> None:
    """pg_restore --clean drops the extension before it creates it again: with jobs scheduled, the guard refuses
    that DROP unless the DBA says steward.drop_with_jobs = allow; then the restore goes through, the jobs stay
    and work with the restored extension."""
    app.execute("SELECT steward.schedule('maintenance', '0 4 1 1 *')")
    url = server.url_for(app.info.dbname)
    dump = tmp_path / "app.dump"
    subprocess.run([str(bindir() / "pg_dump"), "--format=custom", f"--file={dump}", url], check=True)
    restore = [str(bindir() / "pg_restore"), "--clean", "--if-exists", "--exit-on-error", f"--dbname={url}",
               str(dump)]
    refused = subprocess.run(restore, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "pg_steward has jobs scheduled in pg_cron" in refused.stderr
    assert "SET steward.drop_with_jobs = allow" in refused.stderr
    allowed = subprocess.run(restore, capture_output=True, text=True,
                             env={**os.environ, "PGOPTIONS": "-c steward.drop_with_jobs=allow"})
    assert allowed.returncode == 0, allowed.stderr
    assert app.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_steward'").fetchone() == (1,)
    assert app.execute("SELECT job, active FROM steward.jobs").fetchall() == [("maintenance", True)]


def test_the_opt_in_drop_warns_and_names_the_jobs(app: psycopg.Connection) -> None:
    app.execute("SELECT steward.schedule('maintenance', '0 4 1 1 *')")
    warnings: list[str] = []
    app.add_notice_handler(lambda diag: warnings.append(f"{diag.severity}: {diag.message_primary}"))
    app.execute("SET steward.drop_with_jobs = allow")
    app.execute("DROP EXTENSION pg_steward")
    assert any(w.startswith("WARNING: pg_steward: dropped while pg_cron has jobs for this database: pg_steward:")
               for w in warnings), warnings
    app.execute("RESET steward.drop_with_jobs")
    app.execute("CREATE EXTENSION pg_steward")  # the job works again; the fixture unschedules it
