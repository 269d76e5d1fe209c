"""Reports and plan analysis of a partitioned table do not wait behind a partition held ACCESS EXCLUSIVE.

A second session locks one partition in an open transaction; while the caller
runs a report, a watcher polls the caller's backend in pg_locks: a lock it waits
for fails the test at once (and the call is cancelled), the call's end passes it.
pg_partition_tree() itself is seen waiting, so the test proves the walk, not a
lock that was never there.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import errors

from support.reports import rows


@pytest.fixture
def locked_partition(conn: psycopg.Connection):
    conn.execute("CREATE TABLE ev (id int, k int) PARTITION BY RANGE (k)")
    conn.execute("CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM (0) TO (10)")
    conn.execute("CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM (10) TO (20)")
    conn.execute("CREATE INDEX ev_id ON ev (id)")
    conn.execute("INSERT INTO ev SELECT g, g % 20 FROM generate_series(1, 200) AS g")
    conn.execute("ANALYZE ev")
    conn.execute("SELECT * FROM steward.version()")  # the session's runtime is loaded before the lock
    with psycopg.connect(conn.info.dsn) as holder:  # not autocommit: the lock lasts until the end
        holder.execute("LOCK TABLE ev_2 IN ACCESS EXCLUSIVE MODE")
        held = conn.execute("SELECT count(*) FROM pg_catalog.pg_locks WHERE relation = 'ev_2'::regclass "
                            "AND mode = 'AccessExclusiveLock' AND granted").fetchone()[0]
        assert held == 1
        yield conn
        holder.rollback()


def _watch(conn: psycopg.Connection, sql: str) -> tuple[str | None, dict[str, object]]:
    """Run ``sql`` on ``conn`` in a thread while a watcher polls its backend; the lock it was seen waiting for
    (then the call is cancelled), or None, and the call's rows or error. No timing: the state decides."""
    pid = conn.info.backend_pid
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            outcome["rows"] = rows(conn, sql)
        except Exception as error:  # reported below, with the lock the call waited for, if any
            outcome["error"] = error

    worker = threading.Thread(target=call)
    with psycopg.connect(conn.info.dsn, autocommit=True) as watcher:
        worker.start()
        waited = None
        while worker.is_alive() and waited is None:
            waited = watcher.execute(
                "SELECT l.relation::regclass::text || ' ' || l.mode FROM pg_catalog.pg_locks AS l "
                "WHERE l.pid = %s AND NOT l.granted", [pid]).fetchone()
        if waited is not None:
            watcher.execute("SELECT pg_catalog.pg_cancel_backend(%s)", [pid])
        worker.join()
    return (waited[0] if waited else None), outcome


def _never_waits(conn: psycopg.Connection, sql: str) -> list[dict]:
    waited, outcome = _watch(conn, sql)
    assert waited is None, f"{sql} waited for {waited}"
    assert "error" not in outcome, outcome.get("error")
    return outcome["rows"]  # type: ignore[return-value]


def test_pg_partition_tree_itself_waits(locked_partition: psycopg.Connection) -> None:
    waited, outcome = _watch(locked_partition, "SELECT count(*) FROM pg_catalog.pg_partition_tree('ev')")
    assert waited == "ev_2 AccessShareLock"
    assert isinstance(outcome.get("error"), errors.QueryCanceled)


def test_index_reports_do_not_wait(locked_partition: psycopg.Connection) -> None:
    _never_waits(locked_partition, "SELECT * FROM steward.index_report()")
    usage = _never_waits(locked_partition, "SELECT * FROM steward.partition_index_usage('ev')")
    assert {u["partition"] for u in usage} == {"public.ev_1", "public.ev_2"}
    hot = _never_waits(locked_partition, "SELECT * FROM steward.hot_partitions('ev')")
    assert {h["partition"]: h["size_bytes"] is None for h in hot} == {"public.ev_1": False, "public.ev_2": True}
    tree = _never_waits(locked_partition, "SELECT * FROM steward.partitions('ev')")
    assert len(tree) == 3


def test_plan_analysis_does_not_wait(locked_partition: psycopg.Connection) -> None:
    nodes = _never_waits(locked_partition,
                         "SELECT * FROM steward.analyze_query_performance('SELECT * FROM ev WHERE k = 1')")
    assert any(n["relation"] and "ev_1" in n["relation"] for n in nodes)
