"""Privileges of steward.schedule / unschedule / jobs: a role reaches pg_cron only as itself.

pg_cron keeps its jobs in one database (the test server's ``cron.database_name``), shows a role only its own
rows of cron.job (row security) and gives no USAGE on schema cron to PUBLIC. These tests run pg_steward in
that database (the local path) and from another one (through dblink), with a superuser's job in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo

from pg_steward.localserver import DATABASE, LocalServer
from support.partitions import digest

CHANGES = ("SELECT * FROM steward.schedule('maintenance', '0 4 * * *')", "SELECT steward.unschedule('maintenance')")
READS = ("SELECT * FROM steward.jobs", "SELECT * FROM steward.job_status()")


def not_visible(session: psycopg.Connection, sql: str) -> str:
    """The message of the one row a read of the jobs gives a role that may not see them."""
    [row] = session.execute(sql).fetchall()
    names = [d.name for d in session.execute(sql).description or []]
    job = dict(zip(names, row, strict=True))
    assert job["last_status"] == "not visible" and job["jobid"] is None and job["username"] == session.info.user
    return str(job["last_message"])


@pytest.fixture
def cron_db(server: LocalServer) -> Iterator[psycopg.Connection]:
    """pg_cron's database with pg_steward, and a maintenance job scheduled by the superuser."""
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        admin.execute("SELECT * FROM steward.schedule('maintenance')")
        try:
            yield admin
        finally:
            admin.execute("SELECT steward.unschedule('maintenance')")
            admin.execute("DROP EXTENSION pg_steward")


@pytest.fixture
def role(cron_db: psycopg.Connection) -> Iterator[Callable[..., psycopg.Connection]]:
    """Factory: a session of a new login role with the given memberships and grants in pg_cron's database."""
    made: list[tuple[str, psycopg.Connection]] = []

    def make(*grants: str, database: str | None = None) -> psycopg.Connection:
        name = f"cronuser_{uuid.uuid4().hex[:8]}"
        cron_db.execute(f'CREATE ROLE "{name}" LOGIN')
        for grant in grants:
            cron_db.execute(grant.format(role=f'"{name}"'))
        session = psycopg.connect(make_conninfo(cron_db.info.dsn, user=name, dbname=database or DATABASE),
                                  autocommit=True)
        made.append((name, session))
        return session

    yield make
    for name, session in made:
        session.close()
        cron_db.execute("DELETE FROM cron.job WHERE username = %s", [name])
        cron_db.execute(f'DROP OWNED BY "{name}"; DROP ROLE "{name}"')


def superuser_jobs(cron_db: psycopg.Connection) -> list[tuple]:
    return cron_db.execute("SELECT jobid, jobname, schedule, command, username, active FROM cron.job "
                           "WHERE username = current_user ORDER BY jobid").fetchall()


def test_a_role_without_rights_reaches_no_job(cron_db: psycopg.Connection,
                                              role: Callable[..., psycopg.Connection]) -> None:
    mallory = role()
    before = digest(cron_db, "cron.job")
    for sql in CHANGES:
        with pytest.raises(errors.InsufficientPrivilege):  # cron.database_name, then schema cron, are not its
            mallory.execute(sql)
    for sql in READS:  # a read says what it cannot see and the grant it needs, not an error
        assert "needs GRANT pg_read_all_settings TO" in not_visible(mallory, sql)
    watcher = role("GRANT pg_monitor TO {role}")  # reads the settings, but not schema cron
    for sql in READS:
        message = not_visible(watcher, sql)
        assert "permission denied for schema cron" in message
        assert f'needs GRANT USAGE ON SCHEMA cron TO "{watcher.info.user}" in database {DATABASE}' in message
    assert digest(cron_db, "cron.job") == before


def test_another_roles_job_can_be_neither_seen_nor_removed(cron_db: psycopg.Connection,
                                                           role: Callable[..., psycopg.Connection]) -> None:
    """Granted what pg_cron asks of its users (USAGE on schema cron), a role schedules its own jobs, as it could
    with cron.schedule; the superuser's job of the same name stays out of its sight and reach."""
    theirs = superuser_jobs(cron_db)
    watcher = role("GRANT pg_monitor TO {role}", "GRANT USAGE ON SCHEMA cron TO {role}")
    assert watcher.execute("SELECT * FROM steward.jobs").fetchall() == []
    assert watcher.execute("SELECT steward.unschedule('maintenance')").fetchone() == (False,)
    assert superuser_jobs(cron_db) == theirs
    own = watcher.execute("SELECT jobid, action FROM steward.schedule('maintenance', '0 4 * * *')").fetchone()
    assert own[1] == "scheduled" and own[0] not in [j[0] for j in theirs]
    assert watcher.execute("SELECT jobid, username FROM steward.jobs").fetchall() == [
        (own[0], watcher.info.user)]
    assert watcher.execute("SELECT steward.unschedule('maintenance')").fetchone() == (True,)
    assert superuser_jobs(cron_db) == theirs


def test_cron_conninfo_does_not_lend_another_roles_identity(server: LocalServer, cron_db: psycopg.Connection,
                                                           role: Callable[..., psycopg.Connection],
                                                           new_database: Callable[..., str]) -> None:
    """From another database pg_steward reaches pg_cron through dblink; naming the superuser in
    steward.cron_conninfo gets a role nothing: dblink asks a non-superuser for a password it must really use."""
    app = new_database()
    with psycopg.connect(app, autocommit=True) as owner:
        owner.execute("CREATE EXTENSION dblink")
    superuser = cron_db.execute("SELECT current_user").fetchone()[0]
    watcher = role("GRANT pg_monitor TO {role}", database=psycopg.conninfo.conninfo_to_dict(app)["dbname"])
    watcher.execute("SELECT set_config('steward.cron_conninfo', %s, false)",
                    [f"host={server.host} port={server.port} dbname={DATABASE} user={superuser}"])
    before = digest(cron_db, "cron.job")
    # dblink's refusal, worded "password is required" before PostgreSQL 16 and "password or GSSAPI delegated
    # credentials required" from 16 on
    version = cron_db.execute("SELECT current_setting('server_version_num')::int").fetchone()[0]
    refusal = "password or GSSAPI delegated credentials required" if version >= 160000 else "password is required"
    for sql in CHANGES:
        with pytest.raises(psycopg.Error, match=refusal):
            watcher.execute(sql)
    for sql in READS:
        message = not_visible(watcher, sql)
        assert refusal in message and f"read steward.jobs in database {DATABASE}" in message
    assert digest(cron_db, "cron.job") == before
