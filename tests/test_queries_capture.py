"""steward.capture_query_stats and capture_long_running against a real pg_stat_statements.

Deltas must stay right when pg_stat_statements is reset between snapshots,
when an entry disappears and comes back, and across restarts; and capture
must never reset pg_stat_statements itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors

from pg_steward.localserver import LocalServer

WORKLOAD = "SELECT count(*) FROM work WHERE id < %s"


@pytest.fixture
def pgss(new_database: Callable[..., str]) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """(capturing connection, workload connection) on a database with pg_stat_statements."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as admin, psycopg.connect(url, autocommit=True) as app:
        admin.execute("CREATE EXTENSION pg_stat_statements")
        admin.execute("CREATE TABLE work AS SELECT g AS id FROM generate_series(1, 1000) g")
        yield admin, app


def capture(conn: psycopg.Connection) -> dict:
    """A capture that logs every statement that ran (both thresholds zero)."""
    cur = conn.execute("SELECT * FROM steward.capture_query_stats(0, 0)")
    return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def run(app: psycopg.Connection, times: int, value: int = 10) -> None:
    for _ in range(times):
        app.execute(WORKLOAD, [value])


def logged_calls(conn: psycopg.Connection, snapshot_id: int | None = None) -> int:
    """Calls of the workload logged by one capture (the latest when not given)."""
    row = conn.execute(
        "SELECT coalesce(sum(l.calls), 0) FROM steward.query_performance_log l "
        "WHERE l.source = 'pg_stat_statements' AND l.query_text LIKE 'SELECT count(*) FROM work%%' "
        "AND l.execution_date = (SELECT captured_at FROM steward.query_stats_snapshot "
        "                        WHERE snapshot_id = coalesce(%s, (SELECT max(snapshot_id) "
        "                                                          FROM steward.query_stats_snapshot)))",
        [snapshot_id]).fetchone()
    return int(row[0])


def reset_time(conn: psycopg.Connection) -> object:
    return conn.execute("SELECT stats_reset FROM pg_stat_statements_info").fetchone()[0]


def test_not_installed_says_how_to_enable_it(conn: psycopg.Connection) -> None:
    with pytest.raises(errors.ObjectNotInPrerequisiteState, match="pg_stat_statements is not installed") as err:
        conn.execute("SELECT * FROM steward.capture_query_stats()")
    assert "CREATE EXTENSION pg_stat_statements" in err.value.diag.message_hint
    assert conn.execute("SELECT count(*) FROM steward.query_stats_snapshot").fetchone() == (0,)


def test_first_capture_is_a_baseline_then_deltas_are_exact(pgss) -> None:
    admin, app = pgss
    run(app, 3)
    first = capture(admin)
    assert first["baseline"] and first["logged"] == 0
    run(app, 5)
    second = capture(admin)
    assert not second["baseline"] and second["previous_captured_at"] == first["captured_at"]
    assert logged_calls(admin) == 5
    run(app, 2, value=500)  # other constants, same statement
    capture(admin)
    assert logged_calls(admin) == 2
    capture(admin)
    assert logged_calls(admin) == 0  # nothing ran: nothing logged
    # Only the latest snapshot's entries are kept, as the next baseline.
    kept = admin.execute("SELECT count(DISTINCT snapshot_id) FROM steward.query_stats_snapshot_entry").fetchone()
    assert kept == (1,)


def test_logged_row_carries_fingerprint_and_counters(pgss) -> None:
    admin, app = pgss
    capture(admin)
    run(app, 4)
    capture(admin)
    row = admin.execute(
        "SELECT fingerprint, normalized_query, calls, rows_returned, execution_time_ms >= 0, queryid IS NOT NULL, "
        "database_name = current_database(), window_start < execution_date FROM steward.query_performance_log "
        "WHERE query_text LIKE 'SELECT count(*) FROM work%'").fetchone()
    assert row[0] == admin.execute("SELECT steward.query_fingerprint(%s)", [WORKLOAD % 1]).fetchone()[0]
    assert row[1] == "SELECT count(*) FROM work WHERE id < $1"
    assert row[2:] == (4, 4, True, True, True, True)


def test_capture_never_resets_pg_stat_statements(pgss) -> None:
    admin, app = pgss
    run(app, 3)
    before = reset_time(admin)
    capture(admin)
    capture(admin)
    assert reset_time(admin) == before
    calls = admin.execute("SELECT sum(calls) FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM work%' "
                          "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
    assert calls.fetchone()[0] == 3


def test_reset_between_snapshots_counters_go_down(pgss) -> None:
    admin, app = pgss
    capture(admin)
    run(app, 5)
    capture(admin)
    run(app, 3)  # lost with the reset: pg_stat_statements forgets them too
    admin.execute("SELECT pg_stat_statements_reset()")
    run(app, 2)
    after = capture(admin)
    assert after["full_reset"] and logged_calls(admin) == 2


def test_reset_between_snapshots_with_more_calls_after_it(pgss) -> None:
    admin, app = pgss
    capture(admin)
    run(app, 2)
    capture(admin)
    admin.execute("SELECT pg_stat_statements_reset()")
    run(app, 6)  # counters end higher than before the reset: only the reset time tells
    after = capture(admin)
    assert after["full_reset"] and logged_calls(admin) == 6


def queryid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM work%' "
                        "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]


def evict(conn: psycopg.Connection) -> None:
    """Remove the workload's entry alone, as pg_stat_statements does to make room."""
    conn.execute("SELECT pg_stat_statements_reset(0, 0, %s)", [queryid(conn)])


def test_entry_evicted_and_back_with_fewer_calls(pgss) -> None:
    admin, app = pgss
    capture(admin)
    run(app, 5)
    capture(admin)
    evict(admin)
    gone = capture(admin)
    assert gone["evicted"] >= 1 and logged_calls(admin) == 0
    run(app, 3)
    back = capture(admin)
    assert back["new_entries"] >= 1 and logged_calls(admin) == 3


def test_entry_evicted_and_back_with_more_calls_than_before(pgss) -> None:
    admin, app = pgss
    capture(admin)
    app.execute("SELECT count(*) FROM work, pg_sleep(%s) WHERE id < 1", [0.2])  # one slow call: a high maximum
    for _ in range(4):
        app.execute("SELECT count(*) FROM work, pg_sleep(%s) WHERE id < 1", [0.0])
    capture(admin)
    assert logged_calls(admin) == 5
    evict(admin)
    for _ in range(7):  # back with more calls than before, all fast: its maximum went down
        app.execute("SELECT count(*) FROM work, pg_sleep(%s) WHERE id < 1", [0.0])
    back = capture(admin)
    assert back["started_again"] == 1 and not back["full_reset"]
    assert logged_calls(admin) == 7


def test_thresholds_decide_what_is_slow(pgss) -> None:
    admin, app = pgss
    admin.execute("SELECT steward.capture_query_stats()")
    app.execute("SELECT pg_sleep(0.15)")
    run(app, 3)
    admin.execute("SELECT steward.capture_query_stats()")  # defaults: mean >= 100 ms or total >= 1 s
    texts = [r[0] for r in admin.execute("SELECT query_text FROM steward.query_performance_log "
                                         "WHERE query_text NOT LIKE '%steward.%'").fetchall()]
    assert texts == ["SELECT pg_sleep($1)"]
    admin.execute("INSERT INTO steward.query_capture_settings (slow_mean_time_ms) VALUES (1000)")
    app.execute("SELECT pg_sleep(0.15)")
    admin.execute("SELECT steward.capture_query_stats()")
    slept = admin.execute("SELECT count(*) FROM steward.query_performance_log WHERE query_text = 'SELECT pg_sleep($1)'")
    assert slept.fetchone() == (1,)  # 150 ms is no longer slow
    with pytest.raises(errors.InvalidParameterValue, match="must not be negative"):
        admin.execute("SELECT steward.capture_query_stats(-1)")


def test_defaults_match_the_settings_table(conn: psycopg.Connection) -> None:
    from pg_steward.queries.capture import DEFAULT_SETTINGS

    conn.execute("INSERT INTO steward.query_capture_settings DEFAULT VALUES")
    row = conn.execute("SELECT slow_mean_time_ms::float8, slow_total_time_ms::float8, long_running_threshold::text, "
                       "(extract(epoch FROM lock_timeout) * 1000)::float8 FROM steward.query_capture_settings"
                       ).fetchone()
    assert row == tuple(DEFAULT_SETTINGS.values())


@pytest.fixture
def own_server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def test_capture_across_clean_and_crash_restarts(own_server: LocalServer) -> None:
    url = own_server.url
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE EXTENSION pg_stat_statements")
        c.execute("CREATE EXTENSION pg_steward CASCADE")
        c.execute("CREATE TABLE work AS SELECT g AS id FROM generate_series(1, 1000) g")
        run(c, 4)
        capture(c)
        run(c, 2)
    own_server.restart()  # clean: pg_stat_statements keeps its counters on disk
    with psycopg.connect(url, autocommit=True) as c:
        run(c, 3)
        after = capture(c)
        assert after["server_restarted"] and logged_calls(c) == 2 + 3
    own_server.restart(immediate=True)  # a crash: the counters are lost
    with psycopg.connect(url, autocommit=True) as c:
        run(c, 1)
        after = capture(c)
        assert after["server_restarted"] and logged_calls(c) == 1


def test_long_running_statements_are_logged_once_and_refreshed(pgss, server: LocalServer) -> None:
    admin, app = pgss
    # The statement runs until it is cancelled below, so that however slow the machine, it is still running
    # when the second capture looks (a fixed pg_sleep could end between the two).
    pid = app.info.backend_pid

    def long_one() -> None:
        with pytest.raises(errors.QueryCanceled):
            app.execute("SELECT pg_sleep(600) /* long one */")

    sleeper = threading.Thread(target=long_one)
    sleeper.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            rows = admin.execute("SELECT pid, query, log_id, new_entry FROM steward.capture_long_running('0.5 s')"
                                 ).fetchall()
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [r[1] for r in rows] == ["SELECT pg_sleep(600) /* long one */"] and rows[0][3] is True
        again = admin.execute("SELECT log_id, new_entry FROM steward.capture_long_running('0.5 s')").fetchall()
        assert again == [(rows[0][2], False)]
        assert admin.execute("SELECT steward.capture_long_running('1 hour')").fetchall() == []
    finally:
        while sleeper.is_alive():  # until the statement has started and been cancelled
            admin.execute("SELECT pg_cancel_backend(%s)", [pid])
            sleeper.join(0.5)
    log = admin.execute("SELECT count(*), min(execution_time_ms) >= 500, min(source), min(pid) "
                        "FROM steward.query_performance_log").fetchone()
    assert log == (1, True, "pg_stat_activity", rows[0][0])
    with pytest.raises(errors.InvalidParameterValue, match="must not be negative"):
        admin.execute("SELECT steward.capture_long_running('-1 s')")


def test_real_eviction_by_pg_stat_statements_max() -> None:
    """A server keeping only 100 entries: a flood of other statements evicts the workload's entry."""
    with LocalServer({"pg_stat_statements.max": "100"}) as srv, psycopg.connect(srv.url, autocommit=True) as c:
        c.execute("CREATE EXTENSION pg_stat_statements")
        c.execute("CREATE EXTENSION pg_steward CASCADE")
        c.execute("CREATE TABLE work AS SELECT g AS id FROM generate_series(1, 1000) g")
        run(c, 5)
        capture(c)
        dealloc = c.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()[0]
        for i in range(300):  # distinct shapes, each run more often than the workload: it goes first
            for _ in range(8):
                c.execute("SELECT id" + " + id" * (i % 30) + " * 2" * (i // 30) + " FROM work WHERE id = 1")
        assert c.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()[0] > dealloc
        present = c.execute("SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM work%'")
        assert present.fetchone() == (0,), "the workload's entry was expected to be evicted"
        run(c, 3)
        after = capture(c)
        assert after["new_entries"] >= 1 and logged_calls(c) == 3


def test_a_known_text_reuses_its_logged_fingerprint(pgss) -> None:
    admin, app = pgss
    capture(admin)
    run(app, 2)
    capture(admin)
    # A fingerprint found in the log is taken as is: the parser is not needed again.
    admin.execute("UPDATE steward.query_performance_log SET fingerprint = 'from-the-log' "
                  "WHERE query_text LIKE 'SELECT count(*) FROM work%'")
    run(app, 2)
    capture(admin)
    fingerprints = admin.execute("SELECT DISTINCT fingerprint FROM steward.query_performance_log "
                                 "WHERE query_text LIKE 'SELECT count(*) FROM work%'").fetchall()
    assert fingerprints == [("from-the-log",)]


def test_entry_re_created_with_more_calls_and_wider_extremes(pgss) -> None:
    """Evicted and back between two snapshots, with more calls, a higher maximum and a lower minimum.

    From PostgreSQL 17 its new stats_since says it started again: all its calls are logged, in a window that
    starts at that stats_since. Before 17 nothing in its counters tells it from an entry that went on: the
    window is undercounted (the calls beyond the old count), never negative.
    """
    admin, app = pgss
    slow = "SELECT count(*) FROM work, pg_sleep(%s) WHERE id < 1"
    capture(admin)
    for _ in range(3):
        app.execute(slow, [0.01])
    capture(admin)
    assert logged_calls(admin) == 3
    evict(admin)
    app.execute(slow, [0.0])  # a lower minimum
    app.execute(slow, [0.05])  # a higher maximum
    for _ in range(4):
        app.execute(slow, [0.01])
    back = capture(admin)
    row = admin.execute(
        "SELECT l.calls, l.window_start, e.stats_since FROM steward.query_performance_log l "
        "JOIN steward.query_stats_snapshot_entry e ON e.snapshot_id = %s AND e.queryid = l.queryid AND e.toplevel "
        "WHERE l.execution_date = %s AND l.query_text LIKE 'SELECT count(*) FROM work%%'",
        [back["snapshot_id"], back["captured_at"]]).fetchone()
    if admin.info.server_version >= 170000:
        assert back["started_again"] == 1
        assert row[0] == 6
        assert row[1] == row[2] and row[1] > back["previous_captured_at"]  # counted since its stats_since
    else:
        assert back["started_again"] == 0
        assert row[0] == 3  # 6 calls now less 3 before: the calls since the re-creation beyond the old count
        assert row[1] == back["previous_captured_at"]


def test_minmax_reset_alone_is_not_a_new_start(pgss) -> None:
    """PostgreSQL 17's minmax_only reset lowers an entry's maximum; the entry went on and its delta is exact."""
    admin, app = pgss
    if admin.info.server_version < 170000:
        pytest.skip("pg_stat_statements_reset(..., minmax_only) exists from PostgreSQL 17")
    slow = "SELECT count(*) FROM work, pg_sleep(%s) WHERE id < 1"
    capture(admin)
    app.execute(slow, [0.2])
    app.execute(slow, [0.0])
    capture(admin)
    admin.execute("SELECT pg_stat_statements_reset(0, 0, %s, true)", [queryid(admin)])
    for _ in range(2):
        app.execute(slow, [0.0])
    after = capture(admin)
    assert after["started_again"] == 0
    calls, max_ms = admin.execute(
        "SELECT calls, max_time_ms FROM steward.query_performance_log WHERE execution_date = %s "
        "AND query_text LIKE 'SELECT count(*) FROM work%%'", [after["captured_at"]]).fetchone()
    # The maximum since the reset is one of the window's calls (fast ones, not the 200 ms before it).
    assert calls == 2 and max_ms is not None and max_ms < 150


def test_nested_statements_are_logged_and_grouped_apart(pgss) -> None:
    """The same statement run directly and inside a function: two entries (toplevel true and false) of
    pg_stat_statements, two log rows, two groups of slow_queries (the nested one marked)."""
    admin, app = pgss
    admin.execute("CREATE FUNCTION count_work() RETURNS bigint LANGUAGE plpgsql AS "
                  "$$ DECLARE r bigint; BEGIN EXECUTE 'SELECT count(*) FROM work WHERE id < 7' INTO r; "
                  "RETURN r; END $$")
    app.execute("SET pg_stat_statements.track = 'all'")
    capture(admin)
    for _ in range(2):
        app.execute("SELECT count(*) FROM work WHERE id < 5")
    for _ in range(3):
        app.execute("SELECT count_work()")
    capture(admin)
    rows = admin.execute(
        "SELECT toplevel, calls, group_key FROM steward.query_performance_log "
        "WHERE source = 'pg_stat_statements' AND query_text ILIKE '%count(*) FROM work WHERE id <%' "
        "ORDER BY toplevel").fetchall()
    assert [(top, calls) for top, calls, _ in rows] == [(False, 3), (True, 2)]
    assert rows[0][2] == rows[1][2] + " (nested)"
    groups = {r[0]: r[1] for r in admin.execute(
        "SELECT fingerprint, calls FROM steward.slow_queries(since => '1 hour', \"limit\" => 100)")}
    assert groups[rows[1][2]] == 2 and groups[rows[0][2]] == 3


def test_io_wal_and_parallel_counters_by_version(pgss) -> None:
    """Block I/O time on every version; WAL buffers full and parallel workers from PostgreSQL 18, NULL before."""
    admin, app = pgss
    for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                    "max_parallel_workers_per_gather = 2"):
        app.execute(f"SET {setting}")
    capture(admin)
    plan = app.execute("EXPLAIN (FORMAT JSON) SELECT count(*) FROM work WHERE id < 900").fetchone()[0]
    assert "Gather" in str(plan), "the workload was expected to run in parallel"
    for _ in range(2):
        app.execute("SELECT count(*) FROM work WHERE id < 900")
    capture(admin)
    io_read, io_write, wal_full, planned, launched = admin.execute(
        "SELECT blk_read_time_ms, blk_write_time_ms, wal_buffers_full, parallel_workers_to_launch, "
        "parallel_workers_launched FROM steward.query_performance_log "
        "WHERE source = 'pg_stat_statements' AND query_text LIKE 'SELECT count(*) FROM work WHERE id < %%'"
    ).fetchone()
    assert io_read is not None and io_read >= 0 and io_write is not None and io_write >= 0
    if admin.info.server_version >= 180000:
        assert wal_full == 0
        assert planned == 4 and 0 <= launched <= planned  # 2 workers planned per call, 2 calls
    else:
        assert (wal_full, planned, launched) == (None, None, None)


def in_list(length: int) -> str:
    """The one shape of these tests: a short sleep under an IN list of ``length`` constants."""
    return f"SELECT pg_sleep(%s) WHERE 1 IN ({', '.join(str(v) for v in range(1, length + 1))})"


def logged_shapes(conn: psycopg.Connection, snapshot_id: int) -> list[tuple[str, int]]:
    """(fingerprint, calls) of the IN-list shape logged by one capture."""
    return [(r[0], int(r[1])) for r in conn.execute(
        "SELECT l.group_key, sum(l.calls) FROM steward.query_performance_log l "
        "JOIN steward.query_stats_snapshot s ON s.captured_at = l.execution_date "
        "WHERE s.snapshot_id = %s AND l.source = 'pg_stat_statements' AND l.query_text LIKE 'SELECT pg_sleep%%' "
        "GROUP BY l.group_key", [snapshot_id]).fetchall()]


def test_a_shape_spread_over_many_entries_is_slow_as_a_whole(pgss) -> None:
    """Issue 18 case 14: twenty IN-list lengths are twenty pg_stat_statements entries before PostgreSQL 18, each
    far under the total threshold; their sum crosses it, and the shape is logged once, with every call."""
    admin, app = pgss
    admin.execute("SELECT steward.capture_query_stats()")
    for length in range(1, 21):
        app.execute(in_list(length), [0.006])  # 20 x 6 ms = 120 ms at least
    snapshot = admin.execute("SELECT snapshot_id FROM steward.capture_query_stats(1000000, 100)").fetchone()[0]
    shapes = logged_shapes(admin, snapshot)
    assert len(shapes) == 1 and shapes[0][1] == 20
    fingerprint = admin.execute("SELECT steward.query_fingerprint(%s)", [in_list(3) % "0.006"]).fetchone()[0]
    assert shapes[0][0] == fingerprint


def test_a_shape_near_the_mean_threshold_is_logged_whole_on_every_run(pgss) -> None:
    """Issue 18 case 14: calls of one shape on either side of the mean threshold (5 ms and 40 ms, mean 22.5 ms
    against 20 ms) were logged entry by entry, a share of them that changed from run to run; the shape's mean
    decides, so each run logs all 30 calls."""
    admin, app = pgss
    admin.execute("SELECT steward.capture_query_stats()")
    for _ in range(3):
        for length in range(1, 31):
            app.execute(in_list(length), [0.005 if length % 2 else 0.040])
        snapshot = admin.execute("SELECT snapshot_id FROM steward.capture_query_stats(20, 1000000)").fetchone()[0]
        assert [calls for _, calls in logged_shapes(admin, snapshot)] == [30]
