"""steward.log_slow_query and steward.slow_queries: grouping by parse-tree fingerprint."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.partitions import digest


def log(conn: psycopg.Connection, query: str, ms: float = 10, examined: int | None = 100,
        returned: int | None = 1) -> int:
    return conn.execute("SELECT steward.log_slow_query(%s, %s::numeric, %s, %s)",
                        [query, ms, examined, returned]).fetchone()[0]


def groups(conn: psycopg.Connection, **args: object) -> list[tuple]:
    named = "".join(f', "{k}" => %({k})s' for k in args)  # "limit" is a reserved word
    return conn.execute(f"SELECT fingerprint, query, calls, total_time_ms, mean_time_ms, max_time_ms, entries "
                        f"FROM steward.slow_queries(since => '1 hour'{named})", args).fetchall()


def test_same_shape_groups_together_different_shapes_do_not(conn: psycopg.Connection) -> None:
    log(conn, "SELECT * FROM orders WHERE id = 1", 10)
    log(conn, "select *  from orders where id = 42 -- again", 30)
    log(conn, "SELECT * FROM orders WHERE id IN (1, 2)", 5)
    log(conn, "SELECT * FROM orders WHERE id IN (1, 2, 3)", 7)
    log(conn, "SELECT * FROM orders WHERE customer_id = 1", 100)
    log(conn, "SELECT * FROM orders WHERE id > 1", 3)
    rows = groups(conn)
    # libpg_query gives "id = 1" and "id IN (...)" one fingerprint: the same test on the same column.
    assert [(r[2], r[3], r[6]) for r in rows] == [(1, 100, 1), (4, 52, 4), (1, 3, 1)]
    in_lists = next(r for r in rows if r[2] == 4)
    assert in_lists[4:6] == (13, 30)  # mean, max
    assert len({r[0] for r in rows}) == 3
    fingerprints = conn.execute(
        "SELECT count(DISTINCT fingerprint) FROM steward.query_performance_log WHERE query_text ~* 'where id (=|in)'")
    assert fingerprints.fetchone() == (1,)


def test_text_that_does_not_parse_is_logged_and_grouped_by_its_text(conn: psycopg.Connection) -> None:
    log(conn, "SELEC garbage FROM", 5, None, None)
    log(conn, "SELEC garbage FROM", 6)
    log(conn, "another ) broken", 7)
    stored = conn.execute("SELECT fingerprint, normalized_query, query_hash = md5(query_text), group_key "
                          "FROM steward.query_performance_log ORDER BY log_id").fetchall()
    assert all(r[0] is None and r[1] is None and r[2] for r in stored)
    assert stored[0][3] == stored[1][3] != stored[2][3] and stored[0][3].startswith("text:")
    assert sorted((r[1], r[2]) for r in groups(conn)) == [("SELEC garbage FROM", 2), ("another ) broken", 1)]


def test_seed_columns_are_stored(conn: psycopg.Connection) -> None:
    log_id = log(conn, "SELECT 1", 12.5, 1000, 10)
    row = conn.execute("SELECT query_hash, query_text, execution_time_ms, rows_examined, rows_returned, "
                       "execution_date <= now() + interval '1 s', source, calls "
                       "FROM steward.query_performance_log WHERE log_id = %s", [log_id]).fetchone()
    assert row[1:] == ("SELECT 1", 12.5, 1000, 10, True, "manual", 1)


@pytest.mark.parametrize(("args", "error", "match"), [
    ((None, 1, 1, 1), errors.NullValueNotAllowed, "must not be NULL"),
    (("SELECT 1", None, 1, 1), errors.NullValueNotAllowed, "must not be NULL"),
    (("  ", 1, 1, 1), errors.InvalidParameterValue, "must not be empty"),
    (("SELECT 1", -1, 1, 1), errors.InvalidParameterValue, "execution_time_ms must not be negative"),
    (("SELECT 1", 1, -5, 1), errors.InvalidParameterValue, "rows_examined must not be negative"),
    (("SELECT 1", 1, 1, -5), errors.InvalidParameterValue, "rows_returned must not be negative"),
])
def test_bad_input_logs_nothing(conn: psycopg.Connection, args: tuple, error: type, match: str) -> None:
    before = digest(conn, "steward.query_performance_log")
    with pytest.raises(error, match=match):
        conn.execute("SELECT steward.log_slow_query(%s, %s::numeric, %s, %s)", list(args))
    assert digest(conn, "steward.query_performance_log") == before


def test_slow_queries_window_order_limit_and_source(conn: psycopg.Connection) -> None:
    for i in range(5):
        log(conn, f"SELECT * FROM t{i} WHERE x = {i}", 10 * (i + 1))
    for _ in range(20):
        log(conn, "SELECT * FROM t0 WHERE x = 7", 2)
    conn.execute("UPDATE steward.query_performance_log SET execution_date = now() - interval '2 days' "
                 "WHERE query_text = 'SELECT * FROM t4 WHERE x = 4'")
    assert [r[1] for r in groups(conn, limit=2)] == ["SELECT * FROM t0 WHERE x = $1", "SELECT * FROM t3 WHERE x = $1"]
    assert groups(conn, order_by="calls")[0][2] == 21
    assert groups(conn, order_by="mean_time")[0][1] == "SELECT * FROM t3 WHERE x = $1"
    assert groups(conn, source="pg_stat_statements") == []
    total = conn.execute("SELECT count(*) FROM steward.slow_queries(since => '3 days')").fetchone()
    assert total == (5,)


@pytest.mark.parametrize(("sql", "match"), [
    ("SELECT * FROM steward.slow_queries(since => '-1 day')", "since must be a positive interval"),
    ("SELECT * FROM steward.slow_queries(\"limit\" => 0)", "limit must be at least 1"),
    ("SELECT * FROM steward.slow_queries(order_by => 'nope')", "order_by must be"),
])
def test_slow_queries_bad_arguments(conn: psycopg.Connection, sql: str, match: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match=f"pg_steward: {match}"):
        conn.execute(sql)


def test_the_log_is_for_pg_read_all_stats_members(conn: psycopg.Connection) -> None:
    log(conn, "SELECT * FROM secrets WHERE password = 'hunter2'", 10)
    conn.execute("CREATE ROLE q_plain; CREATE ROLE q_monitor IN ROLE pg_monitor")
    try:
        conn.execute("SET ROLE q_plain")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM steward.slow_queries()")
        conn.execute("RESET ROLE; SET ROLE q_monitor")
        assert len(conn.execute("SELECT * FROM steward.slow_queries()").fetchall()) == 1
    finally:
        conn.execute("RESET ROLE")
        conn.execute("DROP ROLE q_plain; DROP ROLE q_monitor")
