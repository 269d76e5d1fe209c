"""No silent lock-out (SECURITY.md, class 5): no role without rights on a table can keep maintenance or capture from
running, a run that gives up is not a success, and health() shows it.

In 0.1.0 maintenance and capture took advisory locks with fixed keys: any role that could connect held them, and
then run_maintenance() did nothing and said so in a NOTICE (pg_cron recorded ``succeeded``), create_partition()
failed after its lock retries, and capture_query_stats() waited for ever. Now pg_steward's changes to a table are
serialized by a lock on the table itself (only roles its owner trusts may take it), capture by a lock on the
snapshot table bounded by a lock_timeout, and every run over the managed tables is a row of
steward.maintenance_runs.

Sessions that must wait run in a thread; the test waits for their lock state in pg_locks, never for a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from pg_steward.localserver import DATABASE, LocalServer
from support.cron import first_run

# The advisory keys of 0.1.0: maintenance runs (pg_try_advisory_lock(bigint)), partition changes
# (pg_advisory_xact_lock(space, parent oid)) and captures (pg_advisory_xact_lock(bigint)).
RUN_KEY = 0x7374657761726431
CREATE_SPACE = 0x73747764
CAPTURE_KEY = 0x73746577
SAFETY = "-c statement_timeout=30s"  # no call here may hang the suite
ROLES = ("lockout_owner", "lockout_other", "lockout_nobody")
OWNER_GRANTS = """
GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO {role};
GRANT INSERT ON steward.partition_maintenance_log TO {role};
GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {role};
GRANT CREATE ON SCHEMA public TO {role};
"""


@pytest.fixture
def url(new_database: Callable[..., str]) -> Iterator[str]:
    """A fresh database and the roles of these tests: two table owners with the documented grants, and a role
    with no privilege at all."""
    address = new_database()
    with psycopg.connect(address, autocommit=True) as admin:
        for role in ROLES:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
            admin.execute(f"CREATE ROLE {role} LOGIN")
        for role in ROLES[:2]:
            admin.execute(OWNER_GRANTS.format(role=role))
    yield address
    with psycopg.connect(address, autocommit=True) as admin:
        for role in ROLES:
            admin.execute(f"DROP OWNED BY {role} CASCADE")
            admin.execute(f"DROP ROLE {role}")


def connect(url: str, role: str | None = None) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, options=SAFETY, **({"user": role} if role else {}))


class Call(threading.Thread):
    """One statement in a thread of its own: its rows or its error."""

    def __init__(self, conn: psycopg.Connection, sql: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.sql = conn, sql
        self.rows: list[Any] | None = None
        self.error: psycopg.Error | None = None
        self.elapsed = 0.0

    def run(self) -> None:
        started = time.monotonic()
        try:
            cursor = self.conn.execute(self.sql)
            self.rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as error:
            self.error = error
        finally:
            self.elapsed = time.monotonic() - started


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Until ``predicate`` holds (a lock state), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the state awaited never came"
        time.sleep(0.01)


def waiting_on(admin: psycopg.Connection, pid: int, relation: str, mode: str) -> bool:
    """Whether backend ``pid`` waits for ``mode`` on ``relation`` (a lock not granted, as pg_locks shows it)."""
    return admin.execute("SELECT count(*) > 0 FROM pg_locks WHERE pid = %s AND NOT granted "
                         "AND locktype = 'relation' AND relation = %s::regclass AND mode = %s",
                         [pid, relation, mode]).fetchone()[0]


def behind_lock(admin: psycopg.Connection, holder: psycopg.Connection, lock: str, conn: psycopg.Connection,
                sql: str, relation: str, mode: str, *, release_first: bool) -> tuple[Call, bool]:
    """``sql`` run by ``conn`` while ``holder`` holds ``lock``: the ended call, and whether pg_locks showed it
    waiting for ``mode`` on ``relation``. ``release_first``: the holder lets go as soon as the call waits; otherwise
    only once the call has ended (given up)."""
    holder.execute("BEGIN")
    holder.execute(lock)
    call = Call(conn, sql)
    seen: list[bool] = []
    try:
        call.start()
        pid = conn.info.backend_pid

        def waiting_or_done() -> bool:
            if waiting_on(admin, pid, relation, mode):
                seen.append(True)
                return True
            return not call.is_alive()

        wait_for(waiting_or_done)
        if not release_first:
            call.join(30)
    finally:
        holder.execute("ROLLBACK")
        call.join(30)
    assert not call.is_alive()
    return call, bool(seen)


def partitions(admin: psycopg.Connection, parent: str) -> int:
    return admin.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [parent]).fetchone()[0]


def managed(admin: psycopg.Connection, *names: str, default: bool = True, timeout: str = "200 ms") -> None:
    """Monthly tables with DEFAULT, managed with the current month only, then with two more months due."""
    for name in names:
        admin.execute(f"CREATE TABLE {name} (d date NOT NULL, v int) PARTITION BY RANGE (d)")
        if default:
            admin.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
        admin.execute("SELECT * FROM steward.manage(%s, '1 month', premake => 0, lock_timeout => %s::interval, "
                      "lock_retries => 1)", [name, timeout])
    # Parent analysis is another pass with its own lock and failure tests (test_partitions_parent_stats.py): off.
    admin.execute("UPDATE steward.partition_config SET premake = 2, analyze_parent = false "
                  "WHERE parent = ANY (%s::regclass[])", [list(names)])


def health_check(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT status, value, detail, fix FROM steward.health() "
                       "WHERE check_name = 'maintenance_runs'").fetchone()
    assert row is not None, "health() has no maintenance_runs check"
    return dict(zip(("status", "value", "detail", "fix"), row, strict=True))


def hold_old_keys(conn: psycopg.Connection, *parents: str) -> None:
    """Every advisory key of 0.1.0 taken by a role without any privilege, held by its session."""
    conn.execute("SELECT pg_advisory_lock(%s)", [RUN_KEY])
    conn.execute("SELECT pg_advisory_lock(%s)", [CAPTURE_KEY])
    for parent in parents:
        conn.execute("SELECT pg_advisory_lock(%s, %s::regclass::oid::integer)", [CREATE_SPACE, parent])


# --- an unprivileged role cannot stop anything ------------------------------------------------------------------


def test_advisory_keys_held_by_anyone_stop_nothing(url: str) -> None:
    with connect(url) as admin, connect(url, "lockout_nobody") as nobody:
        managed(admin, "m", "n")
        admin.execute("CREATE TABLE c (d date NOT NULL) PARTITION BY RANGE (d)")
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        hold_old_keys(nobody, "m", "n", "c")
        rows = admin.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall()
        assert rows == [("m", "create", True)] * 2 + [("n", "create", True)] * 2
        admin.execute("UPDATE steward.partition_config SET premake = 3")
        notices: list[str] = []
        admin.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        admin.execute("CALL steward.run_maintenance()")
        assert (partitions(admin, "m"), partitions(admin, "n")) == (5, 5), notices  # DEFAULT and four months
        assert not any("in progress" in n for n in notices), notices
        admin.execute("UPDATE steward.partition_config SET premake = 4 WHERE parent = 'm'::regclass")
        assert admin.execute("SELECT action FROM steward.maintain_partitions('m')").fetchall() == [("create",)]
        started = time.monotonic()
        assert admin.execute("SELECT steward.create_partition('c', '2031-01-01', '1 month')::text").fetchone() == (
            "c_p2031_01",)
        assert time.monotonic() - started < 1.5, "create_partition waited for a lock"
        capture = admin.execute("SELECT snapshot_id IS NOT NULL FROM steward.capture_query_stats()").fetchone()
        assert capture == (True,)
        runs = admin.execute("SELECT procedure, finished_at IS NOT NULL, tables_due, failures "
                             "FROM steward.maintenance_runs ORDER BY run_id").fetchall()
        assert runs == [("maintain_partitions", True, 2, 0), ("run_maintenance", True, 2, 0)]


def test_only_roles_the_owner_trusts_can_take_the_locks_pg_steward_waits_for(url: str) -> None:
    """pg_steward waits for the table's own lock (SHARE UPDATE EXCLUSIVE on the parent alone) and capture for the
    snapshot table's: a role without UPDATE, DELETE or TRUNCATE gets 42501 for either."""
    with connect(url) as admin, connect(url, "lockout_nobody") as nobody, connect(url) as holder, \
            connect(url) as steward_conn:
        managed(admin, "m", timeout="5 s")
        admin.execute("GRANT SELECT, INSERT ON m TO lockout_nobody")  # reading and writing is not enough
        for statement in ("LOCK TABLE ONLY m IN SHARE UPDATE EXCLUSIVE MODE",
                          "LOCK TABLE steward.query_stats_snapshot IN SHARE ROW EXCLUSIVE MODE"):
            with pytest.raises(errors.InsufficientPrivilege), nobody.transaction():
                nobody.execute(statement)
        # What maintenance waits for is that lock: a privileged holder of it makes the run wait for the table.
        run, waited = behind_lock(admin, holder, "LOCK TABLE ONLY m IN SHARE UPDATE EXCLUSIVE MODE", steward_conn,
                                  "SELECT action FROM steward.maintain_partitions('m')", "m",
                                  "ShareUpdateExclusiveLock", release_first=True)
        assert waited
        assert run.error is None and run.rows == [("create",), ("create",)]


# --- a run that gives up is not a success -----------------------------------------------------------------------


def test_a_held_table_lock_fails_that_table_the_others_are_done_and_the_call_raises(url: str) -> None:
    with connect(url) as admin, connect(url) as holder, connect(url) as steward_conn:
        managed(admin, "a_free", "h", "z_free")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE ONLY h IN SHARE UPDATE EXCLUSIVE MODE")  # a role with UPDATE on h could
        try:
            with pytest.raises(psycopg.Error) as raised:
                steward_conn.execute("CALL steward.run_maintenance()")
        finally:
            holder.execute("ROLLBACK")
        error = raised.value
        assert error.sqlstate == "SW001", error
        assert "maintenance failed for 1 of 3 tables due: public.h" in str(error)
        assert error.diag.message_hint and "steward.health()" in error.diag.message_hint
        # The other tables' work and every log row were committed before the error.
        assert [partitions(admin, t) for t in ("a_free", "h", "z_free")] == [4, 2, 4]
        failed = admin.execute("SELECT parent, action, detail FROM steward.partition_maintenance_log "
                               "WHERE NOT ok").fetchall()
        assert [(p, a) for p, a, _ in failed] == [("public.h", "error")]
        assert "a lock was not available within 200 ms, 2 attempts" in failed[0][2]
        assert admin.execute("SELECT procedure, tables_due, actions, failures, finished_at IS NOT NULL "
                             "FROM steward.maintenance_runs").fetchall() == [("run_maintenance", 3, 4, 1, True)]
        check = health_check(admin)
        assert "failing: public.h since" in check["detail"] and "lock was not available" in check["detail"]
        assert "no complete maintenance run" in check["detail"] and "1 of 3 tables failed" in check["detail"]
        # maintain_partitions() returns its failures as rows (a raise would roll the others back) and records them.
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE ONLY h IN SHARE UPDATE EXCLUSIVE MODE")
        try:
            rows = steward_conn.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()")
            assert rows.fetchall() == [("h", "error", False)]
        finally:
            holder.execute("ROLLBACK")
        assert admin.execute("SELECT failures FROM steward.maintenance_runs ORDER BY run_id DESC LIMIT 1"
                             ).fetchone() == (1,)
        # Once the holder is gone the next run does the work, completes, and health says so.
        steward_conn.execute("CALL steward.run_maintenance()")
        assert partitions(admin, "h") == 4
        check = health_check(admin)
        assert check["status"] == "ok" and check["detail"].startswith("last complete run 0 s ago"), check
        assert "failing" not in check["detail"]


def test_health_ages_the_last_complete_run(url: str) -> None:
    with connect(url) as admin:
        assert health_check(admin)["detail"] == "no managed tables"
        managed(admin, "m")
        admin.execute("CALL steward.run_maintenance()")
        assert health_check(admin)["status"] == "ok"
        # As if the last complete run were two hours old, then two days (the defaults: 1 hour, 1 day).
        admin.execute("UPDATE steward.maintenance_runs SET started_at = started_at - interval '2 hours', "
                      "finished_at = finished_at - interval '2 hours'")
        check = health_check(admin)
        assert check["status"] == "warning" and check["fix"].startswith("SELECT * FROM steward.partition_maint")
        assert check["detail"].startswith("last complete run 7200 s ago (run 1, run_maintenance by postgres")
        admin.execute("UPDATE steward.maintenance_runs SET started_at = started_at - interval '2 days', "
                      "finished_at = finished_at - interval '2 days'")
        assert health_check(admin)["status"] == "critical"
        admin.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                      "VALUES ('maintenance_runs', 86400 * 7, NULL)")
        assert health_check(admin)["status"] == "ok"
        # A run that started and never ended (cancelled, the server stopped) is named.
        admin.execute("INSERT INTO steward.maintenance_runs (procedure) VALUES ('run_maintenance')")
        assert "newest run 2 (run_maintenance by postgres, started" in health_check(admin)["detail"]
        assert "): not finished" in health_check(admin)["detail"]
        # purge_logs trims the runs with the logs.
        purged = dict(admin.execute("SELECT log, deleted FROM steward.purge_logs('1 day')").fetchall())
        assert purged["steward.maintenance_runs"] == 1


@pytest.mark.slow
def test_pg_cron_records_a_run_that_failed(server: LocalServer, url: str) -> None:
    """The scheduled job (pg_cron, as a superuser) over a table that fails: pg_cron records ``failed``, with the
    message, where 0.1.0 recorded ``succeeded``."""
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as cron_db:
        cron_db.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    with connect(url) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS dblink")
        managed(admin, "ok_table", "moved")
        admin.execute("ALTER TABLE moved OWNER TO lockout_other")  # a finding: maintenance refuses the table
        jobid = admin.execute("SELECT jobid FROM steward.schedule('maintenance', '* * * * *')").fetchone()[0]
        try:
            run = first_run(server, jobid)
        finally:
            admin.execute("SELECT steward.unschedule('maintenance')")
        assert run.status == "failed", run
        assert "maintenance failed for 1 of 2 tables due: public.moved" in (run.message or "")
        assert partitions(admin, "ok_table") == 4


# --- capture never waits without bound ----------------------------------------------------------------------------


def test_capture_behind_a_held_snapshot_lock_fails_in_bounded_time(url: str) -> None:
    with connect(url) as admin, connect(url) as holder, connect(url) as capturer:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        admin.execute("INSERT INTO steward.query_capture_settings (lock_timeout) VALUES ('300 ms')")
        capture, _ = behind_lock(admin, holder, "LOCK TABLE steward.query_stats_snapshot IN SHARE ROW EXCLUSIVE MODE",
                                 capturer, "SELECT * FROM steward.capture_query_stats()",
                                 "steward.query_stats_snapshot", "ShareRowExclusiveLock", release_first=False)
        assert isinstance(capture.error, errors.LockNotAvailable), capture.error
        assert "capture_query_stats: a lock was not available within 300 ms, 1 attempt" in str(capture.error)
        assert capture.elapsed < 10
        assert admin.execute("SELECT count(*) FROM steward.query_stats_snapshot").fetchone() == (0,)
        assert capturer.execute("SELECT baseline FROM steward.capture_query_stats()").fetchone() == (True,)
        with pytest.raises(errors.CheckViolation):
            admin.execute("UPDATE steward.query_capture_settings SET lock_timeout = '0'")


# --- a non-superuser owner needs only the documented grants -------------------------------------------------------


def test_an_owners_runs_work_with_the_documented_grants_and_record_only_its_own(url: str) -> None:
    with connect(url) as admin, connect(url, "lockout_owner") as owner, connect(url, "lockout_other") as other:
        managed(owner, "mine")
        managed(other, "theirs")
        assert owner.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall() == [
            ("mine", "create", True), ("mine", "create", True), ("theirs", "error", False)]
        notices: list[str] = []
        owner.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        owner.execute("UPDATE steward.partition_config SET premake = 3 WHERE parent = 'mine'::regclass")
        owner.execute("CALL steward.run_maintenance()")  # no error: the other owner's table is not this role's
        assert any("1 of 2 tables due belong to owners this role is not a member of" in n for n in notices), notices
        assert (partitions(admin, "mine"), partitions(admin, "theirs")) == (5, 2)
        assert admin.execute("SELECT procedure, run_by::text, tables_due, failures, other_owners "
                             "FROM steward.maintenance_runs ORDER BY run_id").fetchall() == [
            ("maintain_partitions", "lockout_owner", 2, 0, 1), ("run_maintenance", "lockout_owner", 2, 0, 1)]
        # Runs that left another owner's table are not complete runs of the database.
        check = health_check(admin)
        assert "no complete maintenance run" in check["detail"] and "0 of 2 tables failed, 1 left to their owners" \
            in check["detail"]
        # Its rows carry its own name and the clock, whatever it writes; it cannot finish another role's run.
        owner.execute("INSERT INTO steward.maintenance_runs (procedure) VALUES ('run_maintenance')")
        with pytest.raises(errors.InsufficientPrivilege):
            owner.execute("INSERT INTO steward.maintenance_runs (procedure, run_by, started_at) "
                          "VALUES ('run_maintenance', 'postgres', now() - interval '1 day')")
        with pytest.raises(errors.InsufficientPrivilege):
            owner.execute("UPDATE steward.maintenance_runs SET started_at = now()")
        admin.execute("INSERT INTO steward.maintenance_runs (procedure) VALUES ('run_maintenance')")
        with pytest.raises(errors.InsufficientPrivilege, match="cannot be changed"):
            other.execute("UPDATE steward.maintenance_runs SET failures = 0 WHERE run_by = 'postgres'")
        with pytest.raises(errors.InsufficientPrivilege, match="cannot be changed"):
            owner.execute("UPDATE steward.maintenance_runs SET failures = 0 WHERE run_id = 1")
        with pytest.raises(errors.InsufficientPrivilege):
            owner.execute("DELETE FROM steward.maintenance_runs")
        owner.execute("UPDATE steward.maintenance_runs SET failures = 0, tables_due = 1 "
                      "WHERE finished_at IS NULL AND run_by = 'lockout_owner'")
        assert admin.execute("SELECT run_by::text, finished_at >= started_at FROM steward.maintenance_runs "
                             "WHERE run_id = 3").fetchone() == ("lockout_owner", True)
