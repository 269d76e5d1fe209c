"""steward.detach_steps() and steward.record_detach(): the concurrent detach a client runs, planned and logged."""

from __future__ import annotations

import re

import psycopg
import pytest

from test_cli_commands import attached, expiring_table

STEP_COLUMNS = "parent_table::text, partition::text, step, statement, lock_timeout, detail"


def steps(conn: psycopg.Connection, parent: str | None) -> list[tuple]:
    return conn.execute(f"SELECT {STEP_COLUMNS} FROM steward.detach_steps(%s::regclass)", [parent]).fetchall()


def test_plan_for_expired_partitions(conn: psycopg.Connection) -> None:
    expiring_table(conn, "events")
    old = sorted(attached(conn, "events"))
    assert len(old) == 2
    plan = steps(conn, "events")
    assert [(p[0], p[1], p[2], p[4]) for p in plan] == [("events", name, "detach concurrently", "2000ms")
                                                        for name in old]  # oldest first
    for (_, name, _, statement, _, detail) in plan:
        assert statement == f'ALTER TABLE "public"."events" DETACH PARTITION "public"."{name}" CONCURRENTLY'
        assert re.fullmatch(r"\d{4}-\d\d-01 to \d{4}-\d\d-01, older than \d{4}-\d\d-\d\d", detail), detail
    assert steps(conn, None) == plan  # every managed table in detach mode: this one
    conn.execute("UPDATE steward.partition_config SET lock_timeout = '750ms'")
    assert {p[4] for p in steps(conn, "events")} == {"750ms"}
    # The plan is what a client runs, as it is: afterwards nothing is left to detach.
    for (_, _, _, statement, _, _) in plan:
        conn.execute(statement)
    assert not attached(conn, "events") & set(old)
    assert steps(conn, "events") == []
    # Only tables managed in detach mode with a retention have steps.
    expiring_table(conn, "dropped")
    conn.execute("UPDATE steward.partition_config SET retention_mode = 'drop' WHERE parent = 'dropped'::regclass")
    assert steps(conn, "dropped") == [] and steps(conn, None) == []


def test_plan_finishes_a_pending_detach_first(conn: psycopg.Connection) -> None:
    expiring_table(conn, "events")
    victim, other = sorted(attached(conn, "events"))
    url = conn.info.dsn
    with psycopg.connect(url) as reader:
        reader.execute("SELECT count(*) FROM events")  # an open transaction the detach must wait for
        conn.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(f"ALTER TABLE events DETACH PARTITION {victim} CONCURRENTLY")
        conn.execute("RESET statement_timeout")
    plan = steps(conn, "events")
    assert [(p[1], p[2]) for p in plan] == [(victim, "detach finalize"), (other, "detach concurrently")]
    assert plan[0][3] == f'ALTER TABLE "public"."events" DETACH PARTITION "public"."{victim}" FINALIZE'


def test_plan_with_a_default_partition_is_a_note(conn: psycopg.Connection) -> None:
    expiring_table(conn, "events", default=True)
    plan = steps(conn, "events")
    assert len(plan) == 1
    parent, partition, step, statement, lock_timeout, detail = plan[0]
    assert (parent, partition, step, statement, lock_timeout) == ("events", None, "note", None, None)
    assert "DEFAULT" in detail and "maintain_partitions" in detail


def test_record_writes_one_log_row_as_the_caller(conn: psycopg.Connection) -> None:
    expiring_table(conn, "events")
    role = f"recorder_{conn.info.backend_pid}"
    conn.execute(f"CREATE ROLE {role}")
    try:
        conn.execute(f"GRANT INSERT ON steward.partition_maintenance_log TO {role}")
        conn.execute(f"GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {role}")
        before = conn.execute("SELECT coalesce(max(id), 0) FROM steward.partition_maintenance_log").fetchone()[0]
        conn.execute(f"SET ROLE {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner of table"):
            conn.execute("SELECT steward.record_detach('events', 'public.events_p2000_01', 'detach concurrently', "
                         "false, 'forged')")
        conn.execute("RESET ROLE")
        conn.execute(f"ALTER TABLE events OWNER TO {role}")  # the log takes rows about one's own tables only
        conn.execute(f"SET ROLE {role}")
        conn.execute("SELECT steward.record_detach('events', 'public.events_p2000_01', 'detach concurrently', "
                     "false, 'lock not available')")
        conn.execute("RESET ROLE")
        rows = conn.execute("SELECT parent, action, partition, ok, detail, username "
                            "FROM steward.partition_maintenance_log WHERE id > %s", [before]).fetchall()
        assert rows == [("public.events", "detach concurrently", "public.events_p2000_01", False,
                         "lock not available", role)]
    finally:
        conn.execute("RESET ROLE")
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize(("sql", "sqlstate"), [
    ("SELECT * FROM steward.detach_steps('nowhere')", "42P01"),
    ("SELECT * FROM steward.detach_steps('plain')", "42809"),
    ("SELECT * FROM steward.detach_steps('plain_view')", "42809"),
    ("SELECT steward.record_detach(NULL, 'p', 'detach finalize', true)", "22004"),
    ("SELECT steward.record_detach('nowhere', 'p', 'detach finalize', true)", "42P01"),
    ("SELECT steward.record_detach('plain', 'p', 'detach finalize', true)", "42809"),
    ("SELECT steward.record_detach('events', NULL, 'detach finalize', true)", "22004"),
    ("SELECT steward.record_detach('events', 'p', NULL, true)", "22004"),
    ("SELECT steward.record_detach('events', 'p', 'detach finalize', NULL)", "22004"),
    ("SELECT steward.record_detach('events', 'p', 'drop', true)", "22023"),
])
def test_bad_input_has_a_proper_sqlstate(conn: psycopg.Connection, sql: str, sqlstate: str) -> None:
    conn.execute("CREATE TABLE plain (id int)")
    conn.execute("CREATE VIEW plain_view AS SELECT 1 AS one")
    conn.execute("CREATE TABLE events (at date) PARTITION BY RANGE (at)")
    logged = conn.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone()
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql)
    assert caught.value.sqlstate == sqlstate, caught.value
    assert conn.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone() == logged
