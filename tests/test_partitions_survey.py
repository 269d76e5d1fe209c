"""The survey that lets maintenance skip idle tables: it skips exactly the tables the full path finds nothing for,
and anything it cannot judge (integer keys, a locked DEFAULT) goes to the full path."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest


def due(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT oid::regclass::text FROM steward._tables_due() AS oid")]


def managed(conn: psycopg.Connection, name: str, key: str = "date", default: bool = True, **options: str) -> None:
    conn.execute(f"CREATE TABLE {name} (k {key} NOT NULL, v int) PARTITION BY RANGE (k)")
    if default:
        conn.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
    args = "".join(f", {k} => {v}" for k, v in options.items())
    conn.execute(f"SELECT * FROM steward.manage('{name}'{args})")
    # The survey decides which tables get partition work; the parents' analysis after it is another pass
    # (test_partitions_parent_stats.py), off here so that a run's rows are the survey's doing alone.
    conn.execute(f"UPDATE steward.partition_config SET analyze_parent = false WHERE parent = '{name}'::regclass")


CASES = {
    "covered": ("", False),
    "premake_raised": ("UPDATE steward.partition_config SET premake = 5 WHERE parent = 't'::regclass", True),
    "default_row": ("INSERT INTO t VALUES (current_date + 4000, 1)", True),
    # A DEFAULT with a block but no live row: not empty by its size, and its EXISTS finds nothing.
    "default_row_deleted": ("INSERT INTO t VALUES (current_date + 4000, 1); DELETE FROM t_default", False),
    "rows_in_partitions_only": ("INSERT INTO t SELECT current_date + g, 1 FROM generate_series(0, 40) g", False),
    "gap": ("DROP TABLE t_p{gap}", True),
    "expired": ("CREATE TABLE t_old PARTITION OF t FOR VALUES FROM ('2001-01-01') TO ('2001-02-01');"
                "UPDATE steward.partition_config SET retention = '1 year' WHERE parent = 't'::regclass", True),
    "disabled_and_due": ("UPDATE steward.partition_config SET premake = 5, enabled = false "
                         "WHERE parent = 't'::regclass", False),
}


@pytest.mark.parametrize("case", CASES)
def test_survey_agrees_with_the_full_path(conn: psycopg.Connection, case: str) -> None:
    managed(conn, "t", premake="2")
    middle = conn.execute("SELECT to_char(current_date + interval '1 month', 'YYYY_MM')").fetchone()[0]
    change, expected_due = CASES[case]
    if change:
        conn.execute(change.format(gap=middle))
    assert due(conn) == (["t"] if expected_due else [])
    done = conn.execute("SELECT action, ok FROM steward.maintain_partitions()").fetchall()
    assert bool(done) == expected_due and all(ok for _, ok in done), done
    assert due(conn) == []  # and the full path left nothing for the next run


def test_a_partitioned_default_with_rows_is_due(conn: psycopg.Connection) -> None:
    # A partitioned DEFAULT has no storage of its own (its size is 0): its rows are below it, read by EXISTS.
    conn.execute("CREATE TABLE p (k date NOT NULL, v int) PARTITION BY RANGE (k);"
                 "CREATE TABLE p_default PARTITION OF p DEFAULT PARTITION BY LIST (v);"
                 "CREATE TABLE p_default_any PARTITION OF p_default DEFAULT")
    conn.execute("SELECT * FROM steward.manage('p', premake => 2)")
    assert due(conn) == []
    conn.execute("INSERT INTO p VALUES (current_date + 4000, 1)")
    assert due(conn) == ["p"]


def test_integer_keys_always_take_the_full_path(conn: psycopg.Connection) -> None:
    managed(conn, "i", key="bigint", integer_span="1000", premake="1")
    conn.execute("SELECT * FROM steward.maintain_partitions()")
    assert due(conn) == ["i"]
    assert conn.execute("SELECT * FROM steward.maintain_partitions()").fetchall() == []


def test_many_idle_tables_cost_no_log_rows(conn: psycopg.Connection) -> None:
    for n in range(30):
        managed(conn, f"m{n:02d}", key="timestamptz", default=n % 2 == 0)
    conn.execute("UPDATE steward.partition_config SET premake = 4 WHERE parent = 'm07'::regclass")
    logged = conn.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone()[0]
    assert due(conn) == ["m07"]
    assert [r[0] for r in conn.execute("SELECT parent::text FROM steward.maintain_partitions()")] == ["m07"]
    conn.execute("CALL steward.run_maintenance()")
    assert conn.execute("SELECT count(*) FROM steward.partition_maintenance_log").fetchone()[0] == logged + 1


def test_a_locked_default_is_left_to_the_full_path_within_the_timeout(conn: psycopg.Connection) -> None:
    managed(conn, "a", lock_timeout="'200 ms'", lock_retries="0")
    managed(conn, "b", lock_timeout="'200 ms'", lock_retries="0")
    url = conn.info.dsn
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("BEGIN; LOCK TABLE a_default IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert due(conn) == ["a", "b"]  # b shared a's batch, which could not be read: both to the full path
        rows = conn.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall()
        assert time.monotonic() - started < 3
        holder.execute("ROLLBACK")
    assert rows == [("a", "error", False)]
    assert due(conn) == []



def test_the_survey_waits_on_no_lock_of_another_table(conn: psycopg.Connection) -> None:
    # The empty DEFAULTs are known by their size: only theirs is read. A size evaluated in the filter of a scan
    # over pg_class (ordered before the comparison with the oids, which costs more) opened every table of the
    # database: a lock held on any of them kept the survey waiting for its lock_timeout.
    for n in range(12):
        managed(conn, f"s{n:02d}", key="timestamptz", lock_timeout="'10 s'")
    conn.execute("CREATE TABLE bystander (v int)")
    url = conn.info.dsn
    waits = ("SELECT count(*) FROM pg_locks WHERE relation = 'bystander'::regclass AND NOT granted")
    with psycopg.connect(url, autocommit=True) as holder, psycopg.connect(url, autocommit=True) as surveyor:
        holder.execute("BEGIN; LOCK TABLE bystander IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            survey = pool.submit(due, surveyor)
            waited = 0
            while not survey.done() and not waited:
                waited = conn.execute(waits).fetchone()[0]
            holder.execute("ROLLBACK")
            assert survey.result() == []
    assert waited == 0
