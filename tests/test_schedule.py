"""steward.schedule / unschedule / jobs / purge_logs against the test server's real pg_cron."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors

from pg_steward.localserver import DATABASE, LocalServer
from support.cron import first_run


@pytest.fixture
def sched(cron_ready: None, new_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """A fresh database (not pg_cron's) with pg_steward and dblink."""
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")
        yield conn


def cron_jobs(server: LocalServer, database: str) -> list[tuple]:
    with psycopg.connect(server.url_for(DATABASE)) as admin:
        return admin.execute(
            "SELECT jobname, schedule, command, database FROM cron.job WHERE database = %s ORDER BY jobname",
            [database]).fetchall()


def dbname(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT current_database()").fetchone()[0]


def test_schedule_from_another_database_is_idempotent(server: LocalServer, sched: psycopg.Connection) -> None:
    here = dbname(sched)
    first = sched.execute("SELECT jobid, action FROM steward.schedule('maintenance')").fetchone()
    again = sched.execute("SELECT jobid, action FROM steward.schedule('maintenance')").fetchone()
    assert first[1] == "scheduled" and again == (first[0], "unchanged")
    changed = sched.execute("SELECT jobid, action, schedule FROM steward.schedule('maintenance', '*/5 * * * *')")
    assert changed.fetchone() == (first[0], "updated", "*/5 * * * *")
    assert cron_jobs(server, here) == [
        (f"pg_steward:{here}:maintenance", "*/5 * * * *", "CALL steward.run_maintenance()", here)]
    view = sched.execute("SELECT job, jobid, schedule, database, active, last_status FROM steward.jobs").fetchall()
    assert view == [("maintenance", first[0], "*/5 * * * *", here, True, None)]
    assert sched.execute("SELECT steward.unschedule('maintenance')").fetchone() == (True,)
    assert sched.execute("SELECT steward.unschedule('maintenance')").fetchone() == (False,)
    assert cron_jobs(server, here) == []
    assert sched.execute("SELECT count(*) FROM steward.jobs").fetchone() == (0,)


def test_jobs_of_other_databases_are_not_shown(server: LocalServer, cron_ready: None,
                                               new_database: Callable[..., str]) -> None:
    with psycopg.connect(new_database(), autocommit=True) as one, \
            psycopg.connect(new_database(), autocommit=True) as two:
        for conn in (one, two):
            conn.execute("CREATE EXTENSION dblink")
            conn.execute("SELECT steward.schedule('maintenance')")
        assert one.execute("SELECT database FROM steward.jobs").fetchall() == [(dbname(one),)]
        one.execute("SELECT steward.unschedule('maintenance')")
        assert two.execute("SELECT count(*) FROM steward.jobs").fetchone() == (1,)
        two.execute("SELECT steward.unschedule('maintenance')")


def test_schedule_in_pg_crons_own_database(server: LocalServer, cron_ready: None) -> None:
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        try:
            row = conn.execute("SELECT cron_database, action FROM steward.schedule('purge_logs', '0 4 * * *', "
                               "'60 days')").fetchone()
            assert row == (DATABASE, "scheduled")
            assert conn.execute("SELECT job, command FROM steward.jobs").fetchall() == [
                ("purge_logs", "SELECT * FROM steward.purge_logs('60 days'::interval)")]
        finally:
            conn.execute("SELECT steward.unschedule('purge_logs')")
            conn.execute("DROP EXTENSION pg_steward")


@pytest.mark.parametrize(("args", "error", "match"), [
    ("'nope'", errors.InvalidParameterValue, "unknown job"),
    ("NULL", errors.NullValueNotAllowed, "job must not be NULL"),
    ("'maintenance', '5 seconds'", errors.InvalidParameterValue, "invalid cron expression"),
    ("'maintenance', '61 * * * *'", errors.InvalidParameterValue, "invalid schedule"),  # pg_cron's own check
    ("'maintenance', older_than => '1 day'", errors.InvalidParameterValue, "purge_logs job only"),
    ("'purge_logs', older_than => '0'", errors.InvalidParameterValue, "positive interval"),
])
def test_bad_input_schedules_nothing(server: LocalServer, sched: psycopg.Connection, args: str,
                                     error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sched.execute(f"SELECT * FROM steward.schedule({args})")
    assert cron_jobs(server, dbname(sched)) == []


def test_capture_jobs_need_their_functions(sched: psycopg.Connection) -> None:
    for job in ("capture_query_stats", "capture_long_running"):
        present = sched.execute("SELECT EXISTS (SELECT FROM pg_proc WHERE pronamespace = 'steward'::regnamespace "
                                "AND proname = %s)", [job]).fetchone()[0]
        if present:
            assert sched.execute("SELECT action FROM steward.schedule(%s)", [job]).fetchone() == ("scheduled",)
            sched.execute("SELECT steward.unschedule(%s)", [job])
        else:
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="this installation does not have"):
                sched.execute("SELECT * FROM steward.schedule(%s)", [job])


def test_without_dblink_the_error_says_what_to_do(cron_ready: None, conn: psycopg.Connection) -> None:
    with pytest.raises(errors.ObjectNotInPrerequisiteState, match="needs dblink") as info:
        conn.execute("SELECT * FROM steward.schedule('maintenance')")
    assert "CREATE EXTENSION dblink" in (info.value.diag.message_hint or "")
    with pytest.raises(errors.ObjectNotInPrerequisiteState, match="needs dblink"):
        conn.execute("SELECT * FROM steward.jobs")


def test_without_pg_cron_the_error_says_what_to_set() -> None:
    with LocalServer({"shared_preload_libraries": "pg_stat_statements"}) as bare, \
            psycopg.connect(bare.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        for sql in ("SELECT * FROM steward.schedule('maintenance')", "SELECT steward.unschedule('maintenance')",
                    "SELECT * FROM steward.jobs"):
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="pg_cron is not running") as info:
                conn.execute(sql)
            assert "shared_preload_libraries" in (info.value.diag.message_hint or "")


def test_purge_logs(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO steward.partition_maintenance_log (logged_at, parent, action, ok) VALUES "
                 "(now() - interval '40 days', 'a', 'create', true), (now() - interval '10 days', 'b', 'create', "
                 "true), (now(), 'c', 'create', true)")
    # A snapshot table of the statistics capture: the newest snapshot survives any purge.
    conn.execute("CREATE TABLE steward.query_stats_snapshot_probe (captured_at timestamptz NOT NULL)")
    conn.execute("INSERT INTO steward.query_stats_snapshot_probe VALUES (now() - interval '50 days'), "
                 "(now() - interval '45 days')")
    rows = dict(conn.execute("SELECT log, deleted FROM steward.purge_logs('30 days')").fetchall())
    assert rows["steward.partition_maintenance_log"] == 1
    assert rows["steward.query_stats_snapshot_probe"] == 1
    assert [r[0] for r in conn.execute("SELECT parent FROM steward.partition_maintenance_log ORDER BY 1")] == [
        "b", "c"]
    assert conn.execute("SELECT now() - captured_at > interval '44 days' FROM steward.query_stats_snapshot_probe"
                        ).fetchall() == [(True,)]
    rows = dict(conn.execute("SELECT log, deleted FROM steward.purge_logs('1 day')").fetchall())
    assert rows["steward.partition_maintenance_log"] == 1 and rows["steward.query_stats_snapshot_probe"] == 0
    for bad, error in (("NULL", errors.NullValueNotAllowed), ("'-1 day'", errors.InvalidParameterValue)):
        with pytest.raises(error):
            conn.execute(f"SELECT * FROM steward.purge_logs({bad})")
    assert conn.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone() == (1,)


@pytest.mark.parametrize("infinite", ["infinity", "-infinity"])
def test_an_infinite_interval_is_refused(server: LocalServer, sched: psycopg.Connection, infinite: str) -> None:
    """'infinity' is an interval from PostgreSQL 17 on: purge_logs and schedule refuse it there (no cutoff can be
    computed from it); before 17 it is not valid input at all."""
    version = sched.execute("SELECT current_setting('server_version_num')::int").fetchone()[0]
    if version >= 170000:
        error, match = errors.InvalidParameterValue, "must be a finite interval"
    else:
        error, match = errors.InvalidDatetimeFormat, "invalid input syntax for type interval"
    with pytest.raises(error, match=match):
        sched.execute("SELECT * FROM steward.purge_logs(%s::text::interval)", [infinite])
    with pytest.raises(error, match=match):
        sched.execute("SELECT * FROM steward.schedule('purge_logs', older_than => %s::text::interval)", [infinite])
    assert cron_jobs(server, dbname(sched)) == []


@pytest.mark.slow
def test_pg_cron_runs_the_scheduled_maintenance(server: LocalServer, sched: psycopg.Connection) -> None:
    """A real pg_cron run (minute granularity in 1.4): the job moves a stranded row and records it."""
    sched.execute("CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
    sched.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    sched.execute("SELECT * FROM steward.manage('events', '1 month', premake => 1)")
    sched.execute("INSERT INTO events VALUES (1, current_date + 120)")  # past the premade months: in DEFAULT
    scheduled_at = sched.execute("SELECT clock_timestamp()").fetchone()[0]
    jobid = sched.execute("SELECT jobid FROM steward.schedule('maintenance', '* * * * *')").fetchone()[0]
    try:
        run = first_run(server, jobid)
        assert (run.status, run.database) == ("succeeded", dbname(sched)), run
        assert sched.execute("SELECT last_status FROM steward.jobs").fetchone() == ("succeeded",)
        assert sched.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
        logged = sched.execute("SELECT action, rows_moved FROM steward.partition_maintenance_log "
                               "WHERE logged_at > %s AND ok", [scheduled_at]).fetchall()
        assert ("create", 1) in logged
    finally:
        sched.execute("SELECT steward.unschedule('maintenance')")


def test_purge_keeps_the_newest_statistics_snapshot(conn: psycopg.Connection) -> None:
    """The real capture tables: old snapshots go, the base of the next delta stays, captures go on."""
    if conn.execute("SELECT to_regclass('steward.query_stats_snapshot') IS NULL").fetchone()[0]:
        pytest.skip("this version has no statistics capture")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    for _ in range(3):
        conn.execute("SELECT * FROM steward.capture_query_stats()")
    conn.execute("UPDATE steward.query_stats_snapshot SET captured_at = captured_at - interval '90 days'")
    conn.execute("UPDATE steward.query_stats_snapshot_entry SET captured_at = captured_at - interval '90 days'")
    newest = conn.execute("SELECT max(snapshot_id) FROM steward.query_stats_snapshot").fetchone()[0]
    entries = conn.execute("SELECT count(*) FROM steward.query_stats_snapshot_entry WHERE snapshot_id = %s",
                           [newest]).fetchone()[0]
    assert entries > 0
    purged = dict(conn.execute("SELECT log, deleted FROM steward.purge_logs('30 days')").fetchall())
    assert purged["steward.query_stats_snapshot"] == 2
    assert conn.execute("SELECT array_agg(snapshot_id) FROM steward.query_stats_snapshot").fetchone()[0] == [newest]
    assert conn.execute("SELECT count(*) FROM steward.query_stats_snapshot_entry").fetchone()[0] == entries
    after = conn.execute("SELECT previous_captured_at IS NOT NULL FROM steward.capture_query_stats()").fetchone()
    assert after == (True,)  # the next capture still computes deltas from the kept snapshot


def test_cron_conninfo_setting_is_used(server: LocalServer, sched: psycopg.Connection) -> None:
    """steward.cron_conninfo overrides how pg_cron's database is reached (here: TCP instead of the socket)."""
    sched.execute("SELECT set_config('steward.cron_conninfo', %s, false)",
                  [f"host=127.0.0.1 port=1 dbname={DATABASE} connect_timeout=5"])
    with pytest.raises(psycopg.Error, match="could not establish connection"):
        sched.execute("SELECT * FROM steward.schedule('maintenance')")
    sched.execute("SELECT set_config('steward.cron_conninfo', %s, false)",
                  [f"host=127.0.0.1 port={server.port} dbname={DATABASE} user=postgres"])
    assert sched.execute("SELECT action FROM steward.schedule('maintenance')").fetchone() == ("scheduled",)
    assert sched.execute("SELECT steward.unschedule('maintenance')").fetchone() == (True,)


def test_scheduling_a_paused_job_resumes_it(server: LocalServer, sched: psycopg.Connection) -> None:
    jobid = sched.execute("SELECT jobid FROM steward.schedule('maintenance', '0 4 * * *')").fetchone()[0]
    try:
        with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
            admin.execute("SELECT cron.alter_job(%s, active => false)", [jobid])
        assert sched.execute("SELECT active FROM steward.jobs").fetchone() == (False,)
        again = sched.execute("SELECT jobid, action FROM steward.schedule('maintenance', '0 4 * * *')").fetchone()
        assert again == (jobid, "resumed")
        assert sched.execute("SELECT active FROM steward.jobs").fetchone() == (True,)
    finally:
        sched.execute("SELECT steward.unschedule('maintenance')")


def test_drop_extension_with_jobs_refuses_and_names_the_fix(server: LocalServer,
                                                            sched: psycopg.Connection) -> None:
    """DROP EXTENSION would leave jobs failing on every run: refused (2BP01) until they are unscheduled."""
    here = dbname(sched)
    sched.execute("SELECT steward.schedule('maintenance')")
    sched.execute("SELECT steward.schedule('purge_logs')")
    with pytest.raises(errors.DependentObjectsStillExist) as refused:
        sched.execute('DROP EXTENSION "pg_steward" CASCADE')
    assert f"pg_steward:{here}:maintenance, pg_steward:{here}:purge_logs" in str(refused.value)
    assert "steward.unschedule(job) FROM steward.jobs" in refused.value.diag.message_hint
    assert sched.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_steward'").fetchone() == (1,)
    assert len(cron_jobs(server, here)) == 2
    sched.execute("SELECT steward.unschedule(job) FROM steward.jobs")
    sched.execute("DROP EXTENSION pg_steward")
    assert cron_jobs(server, here) == []


def test_dropping_another_extension_is_not_stopped_by_pg_stewards_jobs(sched: psycopg.Connection) -> None:
    sched.execute("CREATE EXTENSION pg_trgm")
    sched.execute("SELECT steward.schedule('maintenance')")
    try:
        sched.execute("DROP EXTENSION pg_trgm")
        assert sched.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").fetchone() == (0,)
    finally:
        sched.execute("SELECT steward.unschedule('maintenance')")


def test_drop_extension_when_pg_cron_cannot_be_asked_warns(cron_ready: None, conn: psycopg.Connection) -> None:
    """No dblink in this database: the jobs cannot be listed, so the drop goes on and says it could not check."""
    conn.autocommit = True
    warnings: list[str] = []
    conn.add_notice_handler(lambda diag: warnings.append(f"{diag.severity}: {diag.message_primary}"))
    conn.execute("DROP EXTENSION pg_steward")
    assert any(w.startswith("WARNING: pg_steward: could not ask pg_cron") for w in warnings), warnings
