"""steward.health(): each check driven into warning or critical for real, thresholds from the settings table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors

from pg_steward.localserver import LocalServer
from support.reports import flush_stats, rows


def health(conn: psycopg.Connection) -> dict[str, dict]:
    return {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}


@pytest.fixture(scope="module")
def quiet_url() -> Iterator[str]:
    """A fresh database on a server of its own: no cluster-wide state (sessions, prepared transactions,
    replication slots, old transaction ids) that other tests leave can reach its health checks."""
    with LocalServer() as srv:
        with psycopg.connect(srv.url, autocommit=True) as admin:
            admin.execute('CREATE DATABASE "quiet"')
        with psycopg.connect(srv.url_for("quiet"), autocommit=True) as quiet:
            quiet.execute("CREATE EXTENSION pg_steward CASCADE")
        yield srv.url_for("quiet")


def test_clean_database_is_healthy(quiet_url: str) -> None:
    with psycopg.connect(quiet_url, autocommit=True) as conn:
        checks = health(conn)
    assert set(checks) == {"vacuum", "analyze", "xid_wraparound", "multixact_wraparound", "sequences",
                           "cache_hit_ratio", "connections", "idle_in_transaction", "long_running_queries",
                           "blocked_queries", "invalid_indexes", "database_size", "temp_files", "checkpoints",
                           "maintenance_runs", "cron_job_failures", "cron_job_connections",
                           "disabled_triggers", "not_valid_constraints",
                           "tables_without_primary_key",
                           "index_problems",
                           "default_partition_rows",
                           "prepared_transactions",
                           "replication_slots",
                           "table_bloat",
                           "index_bloat",
                           "premake_runway",
                           "partition_exports",
                           }
    assert {c["status"] for c in checks.values()} <= {"ok", "unknown"}, checks
    assert checks["cron_job_failures"]["status"] == "ok"  # no dblink here: no job can be scheduled from it
    for name in ("index_problems", "default_partition_rows", "prepared_transactions", "replication_slots",
                 "table_bloat", "index_bloat"):
        assert checks[name]["status"] == "ok", checks[name]
    assert all(c["fix"] is None and c["threshold"] for c in checks.values())
    assert checks["database_size"]["value"].endswith("MB")


def test_sequences_near_overflow_of_their_type(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE small (id smallserial, v int)")
    conn.execute("SELECT setval('small_id_seq', 31130)")  # 95 % of smallint
    checks = health(conn)
    assert checks["sequences"]["status"] == "critical"
    assert checks["sequences"]["value"] == "95 % used"
    assert '"public"."small_id_seq" at 31130 of 32767' in checks["sequences"]["detail"]
    assert checks["sequences"]["fix"].startswith('ALTER TABLE "public"."small" ALTER COLUMN "id" TYPE bigint; '
                                                 'ALTER SEQUENCE "public"."small_id_seq" AS bigint')
    # A bigint sequence feeding an int column overflows at the column's limit.
    conn.execute("SELECT setval('small_id_seq', 1)")
    conn.execute("CREATE SEQUENCE wide")
    conn.execute("CREATE TABLE narrow (id int DEFAULT nextval('wide'))")
    conn.execute("ALTER SEQUENCE wide OWNED BY narrow.id")
    conn.execute("SELECT setval('wide', 1717986918)")  # 80 % of int4
    checks = health(conn)
    assert checks["sequences"]["status"] == "warning"
    assert "of 2147483647" in checks["sequences"]["detail"]
    # Thresholds come from steward.health_thresholds.
    conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) VALUES ('sequences', 85, 99)")
    checks = health(conn)
    assert checks["sequences"]["status"] == "ok"
    assert checks["sequences"]["threshold"] == "warning >= 85, critical >= 99 % used"
    conn.execute("UPDATE steward.health_thresholds SET enabled = false WHERE check_name = 'sequences'")
    assert "sequences" not in health(conn)
    with pytest.raises(errors.CheckViolation):
        conn.execute("INSERT INTO steward.health_thresholds (check_name) VALUES ('no_such_check')")


def test_sequences_measured_against_the_narrowest_column_they_feed(conn: psycopg.Connection) -> None:
    """Issue 18, case 12: a bigint sequence feeding an int column by DEFAULT nextval() without OWNED BY was 0 %
    used at 93 % of the column's range, and the detail named only the top three."""
    conn.execute("CREATE TABLE tiny (id smallserial)")
    conn.execute("SELECT setval('tiny_id_seq', 31130)")  # 95 % of smallint: sequence and column are smallint
    conn.execute("CREATE SEQUENCE shared_ids")  # bigint, never OWNED BY
    conn.execute("CREATE TABLE orders (id int DEFAULT nextval('shared_ids'))")
    conn.execute("CREATE TABLE archive (id bigint DEFAULT nextval('shared_ids'))")  # the wider of the two
    conn.execute("SELECT setval('shared_ids', 1997159793)")  # 93 % of int4
    conn.execute("CREATE SEQUENCE lone AS integer")  # feeds no column: its own maximum bounds it
    conn.execute("SELECT setval('lone', 1825361101)")  # 85 %
    conn.execute("CREATE TABLE plain (id bigint)")  # a view's default is no column a fix can change
    conn.execute("CREATE VIEW plain_view AS SELECT id::int AS id FROM plain")
    conn.execute("ALTER VIEW plain_view ALTER COLUMN id SET DEFAULT nextval('lone')")
    conn.execute("CREATE SEQUENCE measure_ids")
    conn.execute("CREATE TABLE measures (id int DEFAULT nextval('measure_ids'), at date) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    conn.execute("SELECT setval('measure_ids', 1717986918)")  # 80 %
    conn.execute("CREATE SEQUENCE calm")
    conn.execute("CREATE TABLE calm_rows (id bigint DEFAULT nextval('calm'))")
    conn.execute("SELECT setval('calm', 1997159793)")  # far from bigint's end
    check = health(conn)["sequences"]
    assert check["status"] == "critical" and check["value"] == "95 % used", check
    detail = check["detail"]
    shown = ['"public"."tiny_id_seq" at 31130 of 32767',
             '"public"."shared_ids" at 1997159793 of 2147483647 (93.0%), the limit of integer column '
             '"public"."orders"."id"',
             '"public"."lone" at 1825361101 of 2147483647 (85.0%)',
             '"public"."measure_ids" at 1717986918 of 2147483647 (80.0%), the limit of integer column '
             '"public"."measures"."id"']
    places = [detail.find(text) for text in shown]
    assert -1 not in places and places == sorted(places), detail  # every one over the threshold, worst first
    assert "calm" not in detail and "measures_2026" not in detail
    fix = check["fix"]
    for statement in ['ALTER TABLE "public"."tiny" ALTER COLUMN "id" TYPE bigint;',
                      'ALTER SEQUENCE "public"."tiny_id_seq" AS bigint NO MAXVALUE;',
                      'ALTER TABLE "public"."orders" ALTER COLUMN "id" TYPE bigint;',
                      'ALTER SEQUENCE "public"."lone" AS bigint NO MAXVALUE;',
                      'ALTER TABLE "public"."measures" ALTER COLUMN "id" TYPE bigint;']:
        assert statement in fix, fix
    for wrong in ('"archive"', '"measures_2026"', '"plain_view"', 'SEQUENCE "public"."shared_ids"',
                  'SEQUENCE "public"."measure_ids"', '"calm'):
        assert wrong not in fix, fix
    assert "rewrites" in fix and "ACCESS EXCLUSIVE" in fix
    # The fix, run as given, leaves no sequence near its end.
    conn.execute(fix)
    after = health(conn)["sequences"]
    assert after["status"] == "ok" and after["fix"] is None, after


def test_dead_tuples_past_the_autovacuum_trigger(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE churn (id int) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO churn SELECT generate_series(1, 20000)")
    conn.execute("ANALYZE churn")
    conn.execute("DELETE FROM churn WHERE id % 2 = 0")
    flush_stats(conn)
    vacuum = health(conn)["vacuum"]
    assert vacuum["status"] == "warning"  # 10000 dead against a trigger of 50 + 20 % of 20000: 2.5 times
    assert '"public"."churn": 10000 rows against a trigger of 4050' in vacuum["detail"]
    assert "autovacuum disabled for it" in vacuum["detail"]
    assert vacuum["fix"] == 'VACUUM (ANALYZE) "public"."churn";'
    conn.execute(vacuum["fix"])
    flush_stats(conn)
    assert health(conn)["vacuum"]["status"] == "ok"


def _wait_until(check: Callable[[], bool]) -> None:
    for _ in range(600):
        if check():
            return
        threading.Event().wait(0.05)
    raise AssertionError("the condition never came true")


def test_blocking_lock_and_idle_transaction(conn: psycopg.Connection, new_database: Callable[..., str]) -> None:
    url = conn.info.dsn
    conn.execute("CREATE TABLE hot (id int)")
    conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                 "VALUES ('blocked_queries', 0.001, NULL), ('idle_in_transaction', 0.001, NULL)")
    holder = psycopg.connect(url)
    holder.execute("LOCK TABLE hot IN ACCESS EXCLUSIVE MODE")  # and stays idle in its transaction
    holder_pid = holder.info.backend_pid
    waiter = psycopg.connect(url, autocommit=True)
    blocked = threading.Thread(target=lambda: waiter.execute("SELECT count(*) FROM hot"))
    blocked.start()
    try:
        _wait_until(lambda: conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock' "
            "AND pg_catalog.clock_timestamp() - query_start > interval '2 ms'",  # older than the threshold
            [waiter.info.backend_pid]).fetchone()[0] == 1)
        checks = health(conn)
        assert checks["blocked_queries"]["status"] == "warning", checks["blocked_queries"]
        assert f"for pid(s) [{holder_pid}]" in checks["blocked_queries"]["detail"]
        assert checks["blocked_queries"]["fix"].startswith(f"SELECT pg_catalog.pg_terminate_backend({holder_pid})")
        assert checks["idle_in_transaction"]["status"] == "warning", checks["idle_in_transaction"]
        assert f"pid {holder_pid}" in checks["idle_in_transaction"]["detail"]
        assert checks["idle_in_transaction"]["fix"].startswith(f"SELECT pg_catalog.pg_terminate_backend({holder_pid})")
    finally:
        holder.rollback()
        blocked.join()
        holder.close()
        waiter.close()
    assert health(conn)["blocked_queries"]["status"] == "ok"


def test_invalid_index_is_a_health_warning(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE dup (v int)")
    conn.execute("INSERT INTO dup VALUES (1), (1)")
    with pytest.raises(errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)")
    check = health(conn)["invalid_indexes"]
    assert check["status"] == "warning" and check["detail"] == "public.dup_v"


def test_requested_checkpoints_read_from_the_view_of_the_server(conn: psycopg.Connection) -> None:
    """Checkpoint counters are in pg_stat_checkpointer from PostgreSQL 17 (pg_stat_bgwriter lost them), in
    pg_stat_bgwriter before: health reads the one the server has, and many requested checkpoints are critical."""
    view, requested = (("pg_stat_checkpointer", "num_requested") if conn.info.server_version >= 170000
                       else ("pg_stat_bgwriter", "checkpoints_req"))
    conn.execute("SELECT pg_stat_reset_shared(%s)", [view.removeprefix("pg_stat_")])
    few = health(conn)["checkpoints"]
    assert few["status"] == "unknown" and "too few checkpoints to judge" in few["detail"]
    assert f"({view})" in few["detail"]
    try:
        for _ in range(12):
            conn.execute("CHECKPOINT")
        # The checkpointer counts a checkpoint when it has finished it: the last one may not be counted yet.
        counted = conn.execute(f"SELECT {requested} FROM {view}").fetchone()[0]
        assert counted >= 11
        check = health(conn)["checkpoints"]
        assert check["status"] == "critical" and check["value"].endswith("% requested")
        shown = int(check["detail"].split(" requested and ")[0])
        assert 11 <= counted <= shown <= 12 and f"({view})" in check["detail"]
        wal = conn.execute("SELECT pg_size_bytes(current_setting('max_wal_size'))").fetchone()[0]
        assert check["fix"].startswith(f"ALTER SYSTEM SET max_wal_size = '{2 * wal // 2**20}MB';")
        # Its thresholds can be set like any check's: none at all makes it informational.
        conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                     "VALUES ('checkpoints', NULL, NULL)")
        assert health(conn)["checkpoints"]["status"] == "ok"
    finally:  # the counters are the server's: the tests after this one must not find 12 requested checkpoints
        conn.execute("SELECT pg_stat_reset_shared(%s)", [view.removeprefix("pg_stat_")])


def _wait_for_lock(conn: psycopg.Connection, pid: int) -> None:
    _wait_until(lambda: conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid]).fetchone()[0] == 1)


def _blocked_check(conn: psycopg.Connection, url: str, hold: Callable[[psycopg.Connection], None],
                   settle: Callable[[], None] = lambda: None) -> dict:
    """health()'s blocked_queries row while ``hold`` holds the row a waiter wants to update; then its fix run as
    given must free the waiter. ``settle`` runs after that, before the holder's connection is closed."""
    conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
    conn.execute("INSERT INTO accounts VALUES (1, 100)")
    conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                 "VALUES ('blocked_queries', 0.001, NULL)")
    holder = psycopg.connect(url)
    waiter = psycopg.connect(url, autocommit=True)
    holder.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
    hold(holder)
    done = threading.Event()
    blocked = threading.Thread(target=lambda: (waiter.execute("UPDATE accounts SET balance = 0 WHERE id = 1"),
                                               done.set()))
    blocked.start()
    try:
        _wait_for_lock(conn, waiter.info.backend_pid)
        check = health(conn)["blocked_queries"]
        assert check["status"] == "warning", check
        conn.execute(check["fix"])
        blocked.join(timeout=30)  # the fix frees the waiter, whose UPDATE then completes
        assert done.is_set(), "the waiter is still blocked after the fix"
        settle()
        return check
    finally:
        holder.close()
        blocked.join()
        waiter.close()


def test_an_idle_in_transaction_blocker_is_terminated_not_cancelled(conn: psycopg.Connection) -> None:
    """Issue 18, case 13: the fix cancelled an idle-in-transaction blocker, which does nothing (no statement runs
    to cancel) and left the waiter blocked; it terminates such a blocker, and says why."""
    pids: list[int] = []
    check = _blocked_check(conn, conn.info.dsn, lambda holder: pids.append(holder.info.backend_pid))
    assert check["fix"].startswith(f"SELECT pg_catalog.pg_terminate_backend({pids[0]});"), check
    assert "pg_cancel_backend" not in check["fix"]
    assert f"pid {pids[0]} is idle in transaction" in check["detail"], check
    assert "cancelling it would not end its transaction" in check["detail"]
    assert health(conn)["blocked_queries"]["status"] == "ok"


def test_an_active_blocker_is_cancelled(conn: psycopg.Connection) -> None:
    """A blocker running a statement in its transaction is cancelled: the statement's error aborts the transaction,
    which releases its locks."""
    pids: list[int] = []
    outcome: list[BaseException | None] = []
    runners: list[threading.Thread] = []

    def run(holder: psycopg.Connection) -> None:
        try:
            holder.execute("SELECT pg_sleep(30)")
            outcome.append(None)
        except psycopg.Error as error:
            outcome.append(error)

    def hold(holder: psycopg.Connection) -> None:
        pids.append(holder.info.backend_pid)
        runners.append(threading.Thread(target=run, args=(holder,)))
        runners[0].start()
        _wait_until(lambda: conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s",
                                         [pids[0]]).fetchone()[0] == "active")

    # the cancelled statement's error reaches its thread after the waiter was freed: wait for it
    check = _blocked_check(conn, conn.info.dsn, hold, settle=lambda: runners[0].join())
    assert check["fix"].startswith(f"SELECT pg_catalog.pg_cancel_backend({pids[0]});"), check
    assert "pg_terminate_backend" not in check["fix"]
    assert f"pid {pids[0]} is active" in check["detail"], check
    assert len(outcome) == 1 and isinstance(outcome[0], errors.QueryCanceled), outcome


def test_disabled_user_trigger_is_a_warning_with_its_fix(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE audited (id int PRIMARY KEY, v int)")
    conn.execute("CREATE TABLE child (id int REFERENCES audited)")  # its constraint triggers are not counted
    conn.execute("CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
    conn.execute("CREATE TRIGGER audit_it BEFORE INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit()")
    conn.execute("ALTER TABLE child DISABLE TRIGGER ALL")  # internal foreign-key triggers: excluded
    conn.execute("ALTER TABLE child ENABLE TRIGGER USER")
    assert health(conn)["disabled_triggers"]["status"] == "ok"
    conn.execute("ALTER TABLE audited DISABLE TRIGGER audit_it")
    check = health(conn)["disabled_triggers"]
    assert check["status"] == "warning" and check["value"] == "1 triggers", check
    assert check["detail"] == '"audit_it" on "public"."audited"'
    assert check["fix"].startswith('ALTER TABLE "public"."audited" ENABLE TRIGGER "audit_it";')
    conn.execute(check["fix"])
    assert health(conn)["disabled_triggers"]["status"] == "ok"


def test_not_valid_constraint_is_a_warning_with_validate(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE parent_t (id int PRIMARY KEY)")
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, qty int, parent_id int)")
    conn.execute("ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID")
    conn.execute("ALTER TABLE orders ADD CONSTRAINT to_parent FOREIGN KEY (parent_id) REFERENCES parent_t NOT VALID")
    check = health(conn)["not_valid_constraints"]
    assert check["status"] == "warning" and check["value"] == "2 constraints", check
    assert 'check "qty_positive" on "public"."orders"' in check["detail"]
    assert 'foreign key "to_parent" on "public"."orders"' in check["detail"]
    assert 'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "qty_positive";' in check["fix"]
    assert "SHARE UPDATE EXCLUSIVE" in check["fix"]
    conn.execute(check["fix"].split("  --")[0])
    assert health(conn)["not_valid_constraints"]["status"] == "ok"


def test_tables_without_primary_key_are_listed_not_warned(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE keyed (id int PRIMARY KEY)")
    conn.execute("CREATE TABLE loose (v int)")
    conn.execute("CREATE TABLE loose_parts (d date) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE loose_parts_1 PARTITION OF loose_parts FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')")
    check = health(conn)["tables_without_primary_key"]
    assert check["status"] == "ok" and check["fix"] is None, check
    assert check["threshold"] == "none (informational)"
    assert check["detail"] == '"public"."loose", "public"."loose_parts"'  # a partition is its parent's
    assert check["value"] == "2 tables"


def test_wraparound_measured_against_autovacuum_freeze_max_age(conn: psycopg.Connection) -> None:
    """The value is the share of the setting (a restart setting, so the threshold is lowered to plant the
    warning), the detail the share of 2^31."""
    for check, setting in (("xid_wraparound", "autovacuum_freeze_max_age"),
                           ("multixact_wraparound", "autovacuum_multixact_freeze_max_age")):
        current = health(conn)[check]
        assert current["threshold"].endswith(f"% of {setting}") and current["status"] == "ok", current
        assert f"against {setting}" in current["detail"] and "of 2^31" in current["detail"]
    conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                 "VALUES ('xid_wraparound', 0, NULL)")
    check = health(conn)["xid_wraparound"]
    assert check["status"] == "warning" and check["fix"].startswith("VACUUM (FREEZE) "), check


def test_duplicate_index_is_an_index_problem_with_its_drop(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int)")
    conn.execute("CREATE INDEX orders_customer ON orders (customer)")
    conn.execute("CREATE INDEX orders_customer_again ON orders (customer)")
    check = health(conn)["index_problems"]
    assert check["status"] == "warning", check
    assert check["detail"].startswith('duplicate "public"."orders_customer_again" on "public"."orders" ('), check
    # The fix is the query of the findings' own fixes (each run on its own): the duplicate's DROP is there.
    fixes = [r["fix"] for r in rows(conn, check["fix"])]
    assert any("DROP INDEX" in f and "orders_customer" in f for f in fixes), fixes


def test_rows_in_a_default_partition_are_named_managed_or_not(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE events (at date NOT NULL, v int) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    conn.execute("CREATE TABLE quiet (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE quiet_default PARTITION OF quiet DEFAULT")
    assert health(conn)["default_partition_rows"]["status"] == "ok"
    conn.execute("INSERT INTO events VALUES ('2020-01-05', 1)")
    check = health(conn)["default_partition_rows"]
    assert check["status"] == "warning" and check["value"] == "1 partitions", check
    assert "public.events_default of public.events (not managed)" in check["detail"]
    assert "quiet_default" not in check["detail"]
    assert "steward.create_partition('public.events'" in check["fix"]


def test_default_partition_behind_a_lock_is_skipped_not_waited_for(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    with psycopg.connect(conn.info.dsn) as holder:
        holder.execute("LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE")
        try:
            check = health(conn)["default_partition_rows"]
        finally:
            holder.rollback()
    assert check["status"] == "skipped", check
    assert "lock_timeout" in check["detail"]


def test_default_partition_the_role_cannot_read_is_skipped_with_the_grant(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    role = f"health_reader_{conn.info.backend_pid}"
    conn.execute(f"CREATE ROLE {role}")
    try:
        conn.execute(f"SET ROLE {role}")
        check = health(conn)["default_partition_rows"]
        conn.execute("RESET ROLE")
    finally:
        conn.execute("RESET ROLE")
        conn.execute(f"DROP ROLE {role}")
    assert check["status"] == "skipped", check
    assert "SELECT on the DEFAULT partitions" in check["detail"]


def test_old_prepared_transaction_is_named_with_its_rollback(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO steward.health_thresholds (check_name, warning, critical) "
                 "VALUES ('prepared_transactions', 0.001, NULL)")
    gid = f"steward_health_{conn.info.backend_pid}"
    with psycopg.connect(conn.info.dsn) as preparer:
        preparer.execute("SELECT 1")  # opens the transaction to prepare
        preparer.execute(f"PREPARE TRANSACTION '{gid}'")
        try:
            while not conn.execute("SELECT pg_catalog.clock_timestamp() - prepared > interval '2 ms' "
                                   "FROM pg_catalog.pg_prepared_xacts WHERE gid = %s", [gid]).fetchone()[0]:
                pass  # until it is older than the threshold: a state, not a sleep
            check = health(conn)["prepared_transactions"]
        finally:
            conn.execute(f"ROLLBACK PREPARED '{gid}'")
    assert check["status"] == "warning", check
    assert f"'{gid}'" in check["detail"]
    assert check["fix"].startswith(f"ROLLBACK PREPARED '{gid}';")
    assert health(conn)["prepared_transactions"]["status"] == "ok"


def test_inactive_replication_slot_is_named_with_the_wal_it_keeps(conn: psycopg.Connection) -> None:
    slot = f"steward_health_{conn.info.backend_pid}"
    conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", [slot])
    try:
        check = health(conn)["replication_slots"]
    finally:
        conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
    assert check["status"] == "warning", check
    assert f"physical slot {slot}" in check["detail"] and "of WAL" in check["detail"]
    assert check["fix"] == (f"SELECT pg_catalog.pg_drop_replication_slot('{slot}');  "
                            "-- only once its consumer is gone for good: a dropped slot cannot be resumed")
    assert health(conn)["replication_slots"]["status"] == "ok"


def test_bloated_table_and_index_over_the_size_floor_are_named_with_their_fix(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE churn (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO churn SELECT n, repeat('x', 200) FROM generate_series(1, 60000) AS n")
    conn.execute("DELETE FROM churn WHERE id % 10 <> 0")  # nine rows in ten dead: the heap keeps its size
    conn.execute("VACUUM churn")  # the space is free for reuse, not returned: the waste a rewrite would recover
    conn.execute("ANALYZE churn")
    checks = health(conn)
    table = checks["table_bloat"]
    assert table["status"] == "critical", table
    assert table["detail"].startswith('"public"."churn": '), table
    assert any("churn" in r["fix"] for r in rows(conn, table["fix"])), table  # the query of the top fixes
    assert checks["index_bloat"]["status"] in ("ok", "warning", "critical")
