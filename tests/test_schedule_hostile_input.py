"""Hostile input to scheduling: job names, cron expressions, intervals and database names.

pg_steward reaches pg_cron's database through dblink, whose work commits there whatever the caller's
transaction does: a call that fails must not have created, changed or removed any pg_cron job, and a call
that works must have made exactly its own job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_steward.localserver import DATABASE, LocalServer
from support.hostile import FEW_EXAMPLES, INTERVAL, NASTY, TEXT, call, check_error, make_victim

pytestmark = pytest.mark.usefixtures("same_postmaster")

JOB = st.one_of(st.none(), st.sampled_from(["maintenance", "purge_logs", " PURGE_LOGS ", "capture_long_running"]),
                TEXT)
CRON = st.one_of(st.none(), st.sampled_from(["* * * * *", "@daily", "0 0 31 2 *", "61 * * * *", "*/0 * * * *",
                                             "5 seconds", "* * * * * *", "1; DROP TABLE victim"]), TEXT)


@pytest.fixture(scope="module")
def cron_admin(server: LocalServer) -> Iterator[psycopg.Connection]:
    """A connection to pg_cron's database, where every job of the server is kept."""
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        yield admin


@pytest.fixture
def sched(cron_admin: psycopg.Connection, new_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")
        make_victim(conn)
        yield conn


def cron_jobs(admin: psycopg.Connection) -> list[tuple]:
    return admin.execute("SELECT jobid, jobname, schedule, command, database, username, active FROM cron.job "
                         "ORDER BY jobid").fetchall()


def schedules(conn: psycopg.Connection, admin: psycopg.Connection, sql: str, params: list) -> None:
    """Runs a scheduling call: on error no pg_cron job changed; when it works, its job is there (then removed)."""
    before = cron_jobs(admin)
    try:
        row = conn.execute(sql, params).fetchone()
    except psycopg.Error as error:
        check_error(error)
        assert cron_jobs(admin) == before
        return
    if isinstance(row[0], bool):  # unschedule: at most the one job it names is gone
        assert len(cron_jobs(admin)) == len(before) - int(row[0])
        return
    job, cron_job, jobid, schedule = row[:4]
    made = [j for j in cron_jobs(admin) if j[0] == jobid]
    assert made and made[0][1:3] == (cron_job, schedule), made
    assert conn.execute("SELECT steward.unschedule(%s)", [job]).fetchone() == (True,)
    assert cron_jobs(admin) == [j for j in before if j[0] != jobid]


@FEW_EXAMPLES
@given(job=JOB, cron=CRON, older_than=INTERVAL)
def test_schedule_arguments(sched: psycopg.Connection, cron_admin: psycopg.Connection, job: str | None,
                            cron: str | None, older_than: str | None) -> None:
    schedules(sched, cron_admin, "SELECT * FROM steward.schedule(%s, %s, %s::text::interval)", [job, cron, older_than])


@FEW_EXAMPLES
@given(job=JOB)
def test_unschedule_arguments(sched: psycopg.Connection, cron_admin: psycopg.Connection, job: str | None) -> None:
    sched.execute("SELECT steward.schedule('maintenance')")
    try:
        schedules(sched, cron_admin, "SELECT steward.unschedule(%s)", [job])
    finally:
        sched.execute("SELECT steward.unschedule('maintenance')")


def test_jobs_view_ignores_planted_jobs(sched: psycopg.Connection, cron_admin: psycopg.Connection) -> None:
    # Jobs someone else named like ours (an unknown job, a database whose name extends ours, a quote) are not
    # pg_steward's, nor is one of a database named like ours running elsewhere.
    here = sched.execute("SELECT current_database()").fetchone()[0]
    planted = [(f"pg_steward:{here}:evil", here), (f"pg_steward:{here}x:maintenance", here),
               (f"pg_steward:{here}'; --:maintenance", here), (f"pg_steward:{DATABASE}:maintenance", here)]
    ids = [cron_admin.execute("SELECT cron.schedule_in_database(%s, '0 0 1 1 *', 'SELECT 1', %s)",
                              [name, database]).fetchone()[0] for name, database in planted]
    try:
        assert sched.execute("SELECT count(*) FROM steward.jobs").fetchone() == (0,)
        assert sched.execute("SELECT steward.unschedule('maintenance')").fetchone() == (False,)
    finally:
        for jobid in ids:
            cron_admin.execute("SELECT cron.unschedule(%s::bigint)", [jobid])


@pytest.mark.parametrize("name", ["sales 'db' \\ \"x\"", "ünïcödé ☃ база", "d" * 40, "q'" + "x" * 61])
def test_every_job_from_a_hostile_database_name(server: LocalServer, cron_admin: psycopg.Connection,
                                                name: str) -> None:
    # Long names once made pg_cron cut the jobs' names to one: each job replaced the one scheduled before.
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    with psycopg.connect(server.url_for("x"), dbname=name, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_steward CASCADE; CREATE EXTENSION dblink; "
                     "CREATE EXTENSION pg_stat_statements")
        jobs = ["maintenance", "capture_query_stats", "capture_long_running", "purge_logs"]
        actions = [conn.execute("SELECT action FROM steward.schedule(%s)", [job]).fetchone()[0] for job in jobs]
        assert actions == ["scheduled"] * 4
        listed = conn.execute("SELECT job, database FROM steward.jobs ORDER BY job").fetchall()
        assert listed == [(job, name) for job in sorted(jobs)]
        assert [conn.execute("SELECT steward.unschedule(%s)", [job]).fetchone()[0] for job in jobs] == [True] * 4
    assert [j for j in cron_jobs(cron_admin) if j[4] == name] == []


@FEW_EXAMPLES
@given(older_than=st.one_of(INTERVAL, NASTY))
def test_purge_logs_arguments(sched: psycopg.Connection, older_than: str | None) -> None:
    sched.execute("SELECT steward.log_slow_query('SELECT 1', 5)")
    call(sched, "SELECT * FROM steward.purge_logs(%s::text::interval)", [older_than])


def test_job_status_works_without_arguments(sched: psycopg.Connection) -> None:
    assert call(sched, "SELECT * FROM steward.job_status()", []) == []
