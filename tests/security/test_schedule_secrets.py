"""No readable secrets in scheduling (issue 13, class 4).

0.1.0 told a non-superuser scheduling from another database to put a password in ``steward.cron_conninfo``
(``ALTER ROLE ... SET``), where every role reads it in ``pg_db_role_setting``. Now such a setting is refused,
and the route that needs no password is a superuser scheduling the job with ``run_as``: pg_cron runs it as that
role, with no connection string stored anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors, sql

from pg_steward.localserver import DATABASE, LocalServer
from support.cron import first_run

ROLE = "sched_owner"


@pytest.fixture
def sched(cron_ready: None, new_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """A database that is not pg_cron's, with dblink, and a login role that owns a partitioned table there."""
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD 'secret-of-sched-owner'")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {ROLE}")
        conn.execute(f"GRANT pg_read_all_settings TO {ROLE}")  # cron.database_name (extension/schedule.md)
        conn.execute(f"GRANT INSERT ON steward.partition_maintenance_log TO {ROLE}")
        conn.execute(f"GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {ROLE}")
        conn.execute(f"GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO {ROLE}")
        yield conn
        with psycopg.connect(conn.info.dsn.replace(f"dbname={conn.info.dbname}", f"dbname={DATABASE}"),
                             autocommit=True) as admin:
            admin.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = %s", [conn.info.dbname])
        conn.execute(f"DROP OWNED BY {ROLE} CASCADE")
        conn.execute(f"ALTER ROLE {ROLE} RESET ALL")
        conn.execute(f"DROP ROLE {ROLE}")


def _cron_jobs(server: LocalServer, database: str) -> list[tuple]:
    with psycopg.connect(server.url_for(DATABASE)) as admin:
        return admin.execute("SELECT jobname, username FROM cron.job WHERE database = %s ORDER BY jobname",
                             [database]).fetchall()


@pytest.mark.parametrize("conninfo", [
    "host=127.0.0.1 dbname=postgres user=sched_owner password=secret-of-sched-owner",
    "host=127.0.0.1 PASSWORD = 'it''s secret' dbname=postgres",
    "host=127.0.0.1 password='sp ace' dbname=postgres",
    "postgresql://sched_owner:secret-of-sched-owner@127.0.0.1/postgres",
    "postgres://127.0.0.1/postgres?user=sched_owner&password=secret-of-sched-owner",
])
def test_a_password_in_cron_conninfo_is_refused(server: LocalServer, sched: psycopg.Connection,
                                                conninfo: str) -> None:
    """The 0.1.0 route: ALTER ROLE ... SET steward.cron_conninfo with a password, readable by every role."""
    sched.execute(sql.SQL("ALTER ROLE {} SET steward.cron_conninfo = {}").format(sql.Identifier(ROLE),
                                                                               sql.Literal(conninfo)))
    with psycopg.connect(sched.info.dsn, user=ROLE, autocommit=True) as owner:
        with pytest.raises(errors.InvalidParameterValue) as refused:
            owner.execute("SELECT * FROM steward.schedule('maintenance')")
    assert "steward.cron_conninfo holds a password" in str(refused.value)
    assert "run_as" in refused.value.diag.message_hint
    assert _cron_jobs(server, sched.info.dbname) == []


def test_cron_conninfo_without_a_password_still_works(server: LocalServer, sched: psycopg.Connection) -> None:
    sched.execute("SELECT set_config('steward.cron_conninfo', %s, false)",
                  [f"host=127.0.0.1 port={server.port} dbname={DATABASE} user=postgres passfile=/nonexistent"])
    assert sched.execute("SELECT action FROM steward.schedule('maintenance')").fetchone() == ("scheduled",)


def test_a_superuser_schedules_a_job_that_runs_as_another_role(server: LocalServer,
                                                               sched: psycopg.Connection) -> None:
    here = sched.info.dbname
    row = sched.execute("SELECT action, username FROM steward.schedule('maintenance', run_as => %s)",
                        [ROLE]).fetchone()
    assert row == ("scheduled", ROLE)
    assert _cron_jobs(server, here) == [(f"pg_steward:{here}:maintenance", ROLE)]
    again = sched.execute("SELECT action FROM steward.schedule('maintenance', run_as => %s)", [ROLE]).fetchone()
    assert again == ("unchanged",)
    assert sched.execute("SELECT job, username FROM steward.jobs").fetchall() == [("maintenance", ROLE)]
    # The superuser's own job of the same name is another job; unschedule finds each by its role.
    assert sched.execute("SELECT steward.unschedule('maintenance')").fetchone() == (False,)
    assert sched.execute("SELECT steward.unschedule('maintenance', %s)", [ROLE]).fetchone() == (True,)
    assert _cron_jobs(server, here) == []


def test_only_a_superuser_may_schedule_for_another_role(server: LocalServer, sched: psycopg.Connection) -> None:
    sched.execute(f"GRANT EXECUTE ON FUNCTION dblink(text, text) TO {ROLE}")
    with psycopg.connect(sched.info.dsn, user=ROLE, autocommit=True) as owner:
        with pytest.raises(errors.InsufficientPrivilege, match="only a superuser may schedule a job that runs as"):
            owner.execute("SELECT * FROM steward.schedule('maintenance', run_as => 'postgres')")
        with pytest.raises(errors.UndefinedObject):
            owner.execute("SELECT * FROM steward.schedule('maintenance', run_as => 'no_such_role')")
    assert _cron_jobs(server, sched.info.dbname) == []


@pytest.mark.slow
def test_pg_cron_runs_the_job_as_the_role(server: LocalServer, sched: psycopg.Connection) -> None:
    """The recommended setup for a non-superuser: pg_cron runs maintenance as the table's owner, no password."""
    with psycopg.connect(sched.info.dsn, user=ROLE, autocommit=True) as owner:
        owner.execute("CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
        owner.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
        owner.execute("SELECT * FROM steward.manage('events', '1 month', premake => 1)")
        owner.execute("INSERT INTO events VALUES (1, current_date + 120)")  # past the premade months
    jobid = sched.execute("SELECT jobid FROM steward.schedule('maintenance', '* * * * *', run_as => %s)",
                          [ROLE]).fetchone()[0]
    run = first_run(server, jobid)
    assert (run.status, run.username) == ("succeeded", ROLE), run
    assert sched.execute("SELECT last_status FROM steward.jobs").fetchone() == ("succeeded",)
    assert sched.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    assert sched.execute("SELECT DISTINCT username FROM steward.partition_maintenance_log "
                         "WHERE action = 'create'").fetchall() == [(ROLE,)]
