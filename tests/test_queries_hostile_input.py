"""Hostile input to the query functions: fingerprints, the slow-query log and its captures, and the three
plan-analysis functions, whose text argument is a statement the server runs (and rolls back).

Every call either works or fails with a clear error of a known SQLSTATE, changes nothing when it fails, and
never crashes the server. The plan-analysis functions must leave everything as it was even when they work.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from support.hostile import (
    BIGINT,
    EXAMPLES,
    EXPECTED_CLASSES,
    FEW_EXAMPLES,
    INTERVAL,
    NUMERIC,
    TEXT,
    call,
    check_error,
    make_victim,
    state,
)

pytestmark = pytest.mark.usefixtures("same_postmaster")

# Statements a caller might hand to the plan-analysis functions: several statements, DDL and DML, transaction
# control, nested EXPLAIN, parameters, comments and dollar quotes hiding a second statement, and texts whose
# meaning depends on standard_conforming_strings (pglast reads them with it on).
STATEMENTS = st.sampled_from([
    "SELECT 1; DROP TABLE victim", "SELECT 1;", "DROP TABLE victim", "TRUNCATE victim", "DELETE FROM victim",
    "UPDATE victim SET x = 2", "INSERT INTO victim VALUES (2)", "MERGE INTO victim v USING victim w ON false "
    "WHEN NOT MATCHED THEN INSERT VALUES (3)", "WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d",
    "SELECT * INTO sneaky FROM victim", "CREATE TABLE sneaky AS SELECT * FROM victim",
    "SELECT * FROM victim FOR UPDATE", "COMMIT", "ROLLBACK", "SELECT 1; COMMIT", "BEGIN; DELETE FROM victim",
    "EXPLAIN SELECT 1", "EXPLAIN ANALYZE DELETE FROM victim", "SELECT $1", "SELECT * FROM victim WHERE x = $1",
    "SELECT 1 /* unclosed", "SELECT $$a$$ -- c", "SELECT $x$; DROP TABLE victim; $x$",
    "/* ; DROP TABLE victim; */ SELECT 1", "SELECT 1 -- ; DROP TABLE victim", "SELEC 1", "", " ", ";", "SELECT",
    "VACUUM victim", "ANALYZE victim", "LOCK victim", "PREPARE p AS SELECT 1", "EXECUTE p", "DEALLOCATE ALL",
    "DO $$BEGIN DELETE FROM victim; END$$", "CALL steward.run_maintenance()", "COPY victim TO STDOUT",
    "SET search_path = evil", "RESET ALL", "SELECT set_config('search_path', 'evil', false)",
    "SELECT * FROM steward.unmanage('victim')", "SELECT steward.log_slow_query('x', 1)", "TABLE victim",
    "VALUES (1)", "SELECT * FROM victim; SELECT 2", "SELECT 'a\\'; DROP TABLE victim; --'",
    "SELECT E'\\'; DROP TABLE victim; --'", "SELECT 'x\\', $$'; INSERT INTO victim VALUES (2); SELECT 1 -- $$",
    "SELECT 'x\\', $$'; EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM victim -- $$",
    "SELECT 'x\\', $$' INTO sneaky -- $$", "SELECT 'x\\', $$' FROM victim FOR UPDATE -- $$",
    "SELECT ☃", "SELECT 'ümlaut ☃'", "SELECT * FROM \"we'ird ☃ table\"", "SELECT * FROM missing_table",
    "SELECT 1/0", "SELECT repeat('x', 100000)", "SELECT " + "1 + " * 20000 + "1", "SELECT " + "(" * 5000 + "1"
    + ")" * 5000, "SELECT 1 " + "UNION ALL SELECT 1 " * 2000, "SELECT '" + "x" * 100_000 + "'",
    "\\! rm -rf /", "SELECT 1 \\g", "SELECT pg_sleep(0)", "SELECT * FROM pg_stat_activity",
])
QUERY = st.one_of(STATEMENTS, TEXT)


@pytest.fixture
def qconn(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    make_victim(conn)
    conn.execute('CREATE TABLE "we\'ird ☃ table" (k int)')
    conn.execute("CREATE EXTENSION pg_stat_statements")
    yield conn


@EXAMPLES
@given(text=QUERY)
def test_fingerprint_and_normalize_never_fail(qconn: psycopg.Connection, text: str) -> None:
    # Both are documented to return NULL for a text that does not parse: no error at all. (A very long
    # expression can get a fingerprint and no normalized text: the two walk the tree differently.)
    row = qconn.execute("SELECT steward.query_fingerprint(%s), steward.normalize_query(%s)", [text, text])
    assert all(value is None or isinstance(value, str) for value in row.fetchone())


@pytest.mark.parametrize("function", ["query_fingerprint", "normalize_query"])
def test_fingerprint_of_null_and_deep_nesting(qconn: psycopg.Connection, function: str) -> None:
    deep = "SELECT " + "(" * 100_000 + "1" + ")" * 100_000
    assert qconn.execute(f"SELECT steward.{function}(NULL)").fetchone() == (None,)
    assert call(qconn, f"SELECT steward.{function}(%s)", [deep]) == [(None,)]


@EXAMPLES
@given(query=st.one_of(st.none(), QUERY), ms=NUMERIC, examined=BIGINT, returned=BIGINT)
def test_log_slow_query_arguments(qconn: psycopg.Connection, query: str | None, ms: str | None,
                                  examined: int | None, returned: int | None) -> None:
    call(qconn, "SELECT steward.log_slow_query(%s, %s::text::numeric, %s, %s)", [query, ms, examined, returned])


@pytest.mark.parametrize("ms", ["NaN", "Infinity", "-Infinity"])
def test_log_slow_query_refuses_a_time_that_is_not_a_number(qconn: psycopg.Connection, ms: str) -> None:
    finite = r"^pg_steward: execution_time_ms must be a finite number"
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=finite):
        qconn.execute("SELECT steward.log_slow_query('SELECT 1', %s::numeric)", [ms])
    assert qconn.execute("SELECT count(*) FROM steward.query_performance_log").fetchone() == (0,)


@FEW_EXAMPLES
@given(mean=NUMERIC, total=NUMERIC)
def test_capture_query_stats_thresholds(qconn: psycopg.Connection, mean: str | None, total: str | None) -> None:
    call(qconn, "SELECT * FROM steward.capture_query_stats(%s::text::numeric, %s::text::numeric)", [mean, total])


@pytest.mark.parametrize("which", ["min_mean_time_ms", "min_total_time_ms"])
def test_capture_query_stats_refuses_nan(qconn: psycopg.Connection, which: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=rf"^pg_steward: {which} must be a number"):
        qconn.execute(f"SELECT * FROM steward.capture_query_stats({which} => 'NaN')")
    assert qconn.execute("SELECT count(*) FROM steward.query_stats_snapshot").fetchone() == (0,)


@FEW_EXAMPLES
@given(threshold=INTERVAL, everywhere=st.one_of(st.none(), st.booleans()))
def test_capture_long_running_arguments(qconn: psycopg.Connection, threshold: str | None,
                                        everywhere: bool | None) -> None:
    call(qconn, "SELECT * FROM steward.capture_long_running(%s::text::interval, %s)", [threshold, everywhere])


@EXAMPLES
@given(since=INTERVAL, limit=st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
       order_by=st.one_of(st.none(), st.sampled_from(["total_time", "calls", "TOTAL_TIME"]), TEXT),
       source=st.one_of(st.none(), st.just("manual"), TEXT))
def test_slow_queries_arguments(qconn: psycopg.Connection, since: str | None, limit: int | None,
                                order_by: str | None, source: str | None) -> None:
    qconn.execute("SELECT steward.log_slow_query('SELECT 1', 5)")
    call(qconn, "SELECT * FROM steward.slow_queries(%s::text::interval, %s, %s, %s)",
         [since, limit, order_by, source])


def analysis_state(conn: psycopg.Connection) -> tuple:
    """``state`` without steward.analysis_seq_scans, whose counts an analysis adds to, of relations that exist."""
    relations_now, digests = state(conn, '"we\'ird ☃ table"')
    counted = conn.execute("SELECT count(*) FROM steward.analysis_seq_scans AS a "
                           "WHERE NOT EXISTS (SELECT FROM pg_class AS c WHERE c.oid = a.relid)").fetchone()[0]
    assert counted == 0, "a scan counted for a relation that does not exist"
    return relations_now, [(t, d) for t, d in digests if t != "steward.analysis_seq_scans"]


def explains(conn: psycopg.Connection, function: str, query: str | None, analyze: bool | None,
             allow_writes: bool | None, search_path: str | None) -> None:
    """The call works or fails cleanly, and either way nothing is left changed (it always rolls back), but for
    the count of the sequential scans it really made (steward.analysis_seq_scans, which only counts them)."""
    with conn.transaction(force_rollback=True):
        before = analysis_state(conn)
        try:
            with conn.transaction():
                conn.execute(f"SELECT * FROM steward.{function}(%s, %s, %s, %s)",
                             [query, analyze, allow_writes, search_path])
        except psycopg.Error as error:
            check_error(error, (*EXPECTED_CLASSES, "26"))  # 26000: EXECUTE of a name the session never prepared
        assert analysis_state(conn) == before
        # The caller's settings are the caller's: nothing the statement set survives the call.
        assert conn.execute("SHOW search_path").fetchone() == ('"$user", public',)


@EXAMPLES
@given(function=st.sampled_from(["analyze_query_performance", "query_advice", "check_pruning"]), query=QUERY,
       analyze=st.one_of(st.none(), st.booleans()), allow_writes=st.one_of(st.none(), st.booleans()),
       search_path=st.one_of(st.none(), st.just("public"), TEXT), conforming=st.booleans())
@example(function="analyze_query_performance", query="SELECT * FROM victim", analyze=True, allow_writes=False,
         search_path="public", conforming=True)  # a real sequential scan, counted in steward.analysis_seq_scans
def test_plan_analysis_changes_nothing(qconn: psycopg.Connection, function: str, query: str,
                                       analyze: bool | None, allow_writes: bool | None,
                                       search_path: str | None, conforming: bool) -> None:
    qconn.execute(f"SET standard_conforming_strings = {'on' if conforming else 'off'}")
    try:
        explains(qconn, function, query, analyze, allow_writes, search_path)
    finally:
        qconn.execute("RESET standard_conforming_strings")


@pytest.mark.parametrize("query", [
    "SELECT 'x\\', $$'; INSERT INTO victim VALUES (2) RETURNING 1; SELECT 1 -- $$",
    "SELECT 'x\\', $$' INTO sneaky FROM victim -- $$",
])
def test_a_write_hidden_from_the_classifier_by_backslashes_is_not_run(qconn: psycopg.Connection,
                                                                      query: str) -> None:
    # With standard_conforming_strings off the server would read 'x\' as an open string and run what pglast
    # saw as the inside of a dollar quote; the statement must be read the way it was classified.
    qconn.execute("SET standard_conforming_strings = off")
    qconn.execute("CREATE TEMP TABLE ran (n int)")
    plan = qconn.execute("SELECT operation FROM steward.analyze_query_performance(%s)", [query]).fetchall()
    assert plan == [("Result",)]  # the plain SELECT of two constants that pglast classified
    assert qconn.execute("SELECT * FROM steward.check_pruning(%s)", [query]).fetchall() == []
    assert qconn.execute("SELECT count(*), to_regclass('sneaky') FROM victim").fetchone() == (1, None)


def test_terminating_ones_own_backend_ends_only_that_session(qconn: psycopg.Connection) -> None:
    # A plain SELECT may call any function; pg_terminate_backend ends the caller's session as it would
    # without pg_steward, and nothing else: the server keeps running (same_postmaster checks at the end).
    with psycopg.connect(qconn.info.dsn, autocommit=True) as victim_session:
        with pytest.raises(psycopg.OperationalError):
            victim_session.execute("SELECT * FROM steward.analyze_query_performance("
                                   "'SELECT pg_terminate_backend(pg_backend_pid())')")
    assert qconn.execute("SELECT count(*) FROM victim").fetchone() == (1,)
