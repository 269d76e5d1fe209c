"""steward.analyze_query_performance, query_advice and check_pruning on real plans.

Every advice case is built for real: stale statistics, a sort spilling with a
tiny work_mem, a missing index, an unpruned partitioned query, an index-only
scan visiting the heap. Where advice carries a fix, the fix is applied and
shown to work.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import errors

from support.partitions import digest

COLUMNS = ("node_id, parent_id, depth, operation, relation, index_name, time_ms, exclusive_time_ms, rows_estimate, "
           "rows_actual, accuracy_ratio, loops, shared_hit_blocks, shared_read_blocks, temp_read_blocks, "
           "temp_written_blocks, rows_removed_by_filter, detail, advice")


def nodes(conn: psycopg.Connection, query: str, **args: object) -> list[dict]:
    quoted = {"analyze": '"analyze"'}  # a reserved word: named notation needs it quoted
    named = "".join(f", {quoted.get(k, k)} => %({k})s" for k in args)
    cur = conn.execute(f"SELECT {COLUMNS} FROM steward.analyze_query_performance(%(q)s{named})",
                       {"q": query, **args})
    return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]


def advice(conn: psycopg.Connection, query: str) -> list[dict]:
    cur = conn.execute("SELECT problem, node_id, relation, detail, fix FROM steward.query_advice(%s)", [query])
    return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def shop(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("CREATE TABLE customers (id int PRIMARY KEY, region text NOT NULL)")
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, "
                 "total numeric NOT NULL) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO customers SELECT g, CASE WHEN g % 4 = 0 THEN 'north' ELSE 'south' END "
                 "FROM generate_series(1, 2000) g")
    conn.execute("INSERT INTO orders SELECT g, 1 + g % 2000, CASE WHEN g % 500 = 0 THEN 'open' ELSE 'done' END, "
                 "g % 97 FROM generate_series(1, 60000) g")
    conn.execute("ANALYZE customers, orders")
    return conn


def test_one_row_per_plan_node_with_the_real_numbers(shop: psycopg.Connection) -> None:
    query = ("SELECT c.region, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
             "WHERE o.total < 10 GROUP BY c.region")
    rows = nodes(shop, query)
    ids = {r["node_id"] for r in rows}
    assert [r["node_id"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["parent_id"] is None and all(r["parent_id"] in ids for r in rows[1:])
    assert rows[0]["rows_actual"] == 2  # two regions
    scan = next(r for r in rows if r["relation"] == "public.orders")
    expected = shop.execute("SELECT count(*) FROM orders WHERE total < 10").fetchone()[0]
    assert scan["rows_actual"] == expected and scan["loops"] == 1
    assert scan["rows_removed_by_filter"] == 60000 - expected
    assert scan["shared_hit_blocks"] + scan["shared_read_blocks"] > 0
    assert float(scan["accuracy_ratio"]) == pytest.approx(scan["rows_actual"] / scan["rows_estimate"], rel=1e-3)
    for r in rows:
        assert 0 <= r["exclusive_time_ms"] <= r["time_ms"]
    assert float(sum(r["exclusive_time_ms"] for r in rows)) == pytest.approx(float(rows[0]["time_ms"]), abs=0.05)


def test_loops_multiply_inner_time(shop: psycopg.Connection) -> None:
    shop.execute("SET enable_hashjoin = off; SET enable_mergejoin = off")
    rows = nodes(shop, "SELECT * FROM customers c JOIN orders o ON o.id = c.id WHERE c.id <= 50")
    inner = next(r for r in rows if r["index_name"] == "orders_pkey")
    assert inner["loops"] == 50 and inner["rows_actual"] == 1


def test_data_modifying_cte_is_refused_and_nothing_deleted(shop: psycopg.Connection) -> None:
    query = "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d"
    for function in ("analyze_query_performance", "query_advice", "check_pruning"):
        with pytest.raises(errors.FeatureNotSupported, match=r"not a plain query.*DELETE"):
            shop.execute(f"SELECT * FROM steward.{function}(%s, allow_writes => false)", [query])
    with pytest.raises(errors.FeatureNotSupported):
        shop.execute("SELECT * FROM steward.analyze_query_performance(%s, \"analyze\" => false)", [query])
    assert shop.execute("SELECT count(*) FROM orders").fetchone() == (60000,)


@pytest.mark.parametrize("query", [
    "DELETE FROM orders", "UPDATE orders SET total = 0", "INSERT INTO orders SELECT * FROM orders",
    "SELECT * INTO copy FROM orders", "CREATE TABLE copy AS SELECT * FROM orders",
    "SELECT * FROM orders FOR UPDATE", "SELECT 1; DELETE FROM orders",
])
def test_writes_and_several_statements_are_refused(shop: psycopg.Connection, query: str) -> None:
    before = digest(shop, "orders")
    with pytest.raises((errors.FeatureNotSupported, errors.SyntaxError)):
        shop.execute("SELECT * FROM steward.analyze_query_performance(%s)", [query])
    assert digest(shop, "orders") == before
    assert shop.execute("SELECT to_regclass('copy')").fetchone() == (None,)


def test_allowed_write_is_rolled_back(shop: psycopg.Connection) -> None:
    before = digest(shop, "orders")
    rows = nodes(shop, "WITH d AS (DELETE FROM orders WHERE status = 'open' RETURNING *) SELECT count(*) FROM d",
                 allow_writes=True)
    delete = next(r for r in rows if r["operation"] == "ModifyTable")
    assert delete["rows_actual"] == 120
    with shop.transaction():  # also inside the caller's transaction: its own work stays
        shop.execute("INSERT INTO customers VALUES (9999, 'east')")
        nodes(shop, "UPDATE orders SET total = 0", allow_writes=True)
        nodes(shop, "CREATE TABLE copy AS SELECT * FROM orders", allow_writes=True)
    assert digest(shop, "orders") == before
    assert shop.execute("SELECT count(*) FROM customers WHERE id = 9999").fetchone() == (1,)
    assert shop.execute("SELECT to_regclass('copy')").fetchone() == (None,)


def test_analyze_false_plans_without_executing(shop: psycopg.Connection) -> None:
    shop.execute("CREATE SEQUENCE s")
    rows = nodes(shop, "SELECT nextval('s') FROM orders", analyze=False)
    assert rows[0]["rows_estimate"] == 60000 and rows[0]["rows_actual"] is None and rows[0]["time_ms"] is None
    assert shop.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


def test_names_resolve_with_the_callers_search_path(shop: psycopg.Connection) -> None:
    shop.execute("CREATE SCHEMA app; CREATE TABLE app.things AS SELECT 1 AS x; SET search_path = app, public")
    assert nodes(shop, "SELECT * FROM things")[0]["relation"] == "app.things"
    assert shop.execute("SHOW search_path").fetchone() == ("app, public",)


def test_bad_input(shop: psycopg.Connection) -> None:
    with pytest.raises(errors.SyntaxError, match="does not parse"):
        shop.execute("SELECT * FROM steward.analyze_query_performance('SELEC 1')")
    with pytest.raises(errors.FeatureNotSupported, match="cannot analyze a DROP"):
        shop.execute("SELECT * FROM steward.analyze_query_performance('DROP TABLE orders', allow_writes => true)")
    with pytest.raises(errors.NullValueNotAllowed):
        shop.execute("SELECT * FROM steward.analyze_query_performance(NULL)")
    with pytest.raises(errors.UndefinedTable):
        shop.execute("SELECT * FROM steward.analyze_query_performance('SELECT * FROM nowhere')")
    with pytest.raises(errors.StatementTooComplex, match="nested too deeply"):
        shop.execute("SELECT * FROM steward.analyze_query_performance('SELECT ' || repeat('1+', 5000) || '1')")
    assert shop.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone() == (True,)


def test_runs_with_the_callers_privileges(shop: psycopg.Connection) -> None:
    shop.execute("CREATE ROLE q_reader; GRANT USAGE ON SCHEMA public TO q_reader")
    shop.execute("SET ROLE q_reader")
    try:
        with pytest.raises(errors.InsufficientPrivilege):
            shop.execute("SELECT * FROM steward.analyze_query_performance('SELECT * FROM orders')")
    finally:
        shop.execute("RESET ROLE")
        shop.execute("DROP OWNED BY q_reader; DROP ROLE q_reader")


# --- advice, each case built for real ---------------------------------------

def test_stale_statistics_give_a_misestimate_and_analyze_fixes_it(shop: psycopg.Connection) -> None:
    shop.execute("UPDATE orders SET status = 'late' WHERE id % 3 = 0")  # statistics never saw 'late'
    found = [a for a in advice(shop, "SELECT * FROM orders WHERE status = 'late'") if a["problem"] == "row misestimate"]
    assert len(found) == 1 and found[0]["fix"] == "ANALYZE public.orders;"
    assert "rows changed since it was last analyzed" in found[0]["detail"]
    shop.execute(found[0]["fix"])
    assert not [a for a in advice(shop, "SELECT * FROM orders WHERE status = 'late'")
                if a["problem"] == "row misestimate"]


def test_sort_spilling_gets_a_work_mem_that_fits(shop: psycopg.Connection) -> None:
    shop.execute("SET work_mem = '64kB'")
    query = "SELECT * FROM orders ORDER BY status, total, id"
    [found] = [a for a in advice(shop, query) if a["problem"] == "sort spills to disk"]
    assert found["fix"].startswith("SET work_mem = '")
    shop.execute(found["fix"].split(";")[0])
    sort = next(r for r in nodes(shop, query) if r["operation"] == "Sort")
    assert "Memory" in sort["detail"] and sort["temp_written_blocks"] == 0
    assert not [a for a in advice(shop, query) if a["problem"] == "sort spills to disk"]


def test_advice_on_a_plan_without_tables_quotes_the_sessions_work_mem(shop: psycopg.Connection) -> None:
    """The settings the advice quotes are read in the statement that reads the scanned tables' facts: a plan
    that scans no table still gets them."""
    shop.execute("SET work_mem = '64kB'")
    query = "SELECT g FROM generate_series(1, 50000) g ORDER BY g DESC"
    assert not [r for r in nodes(shop, query) if r["relation"]]
    [found] = [a for a in advice(shop, query) if a["problem"] == "sort spills to disk"]
    assert "work_mem is 64kB" in found["detail"]


def test_analysis_in_a_read_only_transaction_records_no_scans(shop: psycopg.Connection) -> None:
    """transaction_read_only is read with the facts: the analysis leaves its own scans unrecorded there."""
    recorded = "SELECT count(*) FROM steward.analysis_seq_scans"
    query = "SELECT * FROM orders WHERE status = 'open' AND total > 5"
    with shop.transaction():
        shop.execute("SET TRANSACTION READ ONLY")
        found = [a["problem"] for a in advice(shop, query)]
        assert "sequential scan discards most rows" in found
        assert shop.execute(recorded).fetchone()[0] == 0
    advice(shop, query)
    assert shop.execute(recorded).fetchone()[0] == 1


def test_hash_spilling_gets_a_work_mem_that_fits(shop: psycopg.Connection) -> None:
    shop.execute("SET work_mem = '64kB'; SET enable_mergejoin = off; SET enable_nestloop = off")
    shop.execute("SET max_parallel_workers_per_gather = 0")
    query = "SELECT count(*) FROM orders a JOIN orders b ON a.customer_id = b.id"
    [found] = [a for a in advice(shop, query) if a["problem"] == "hash spills to disk"]
    shop.execute(found["fix"].split(";")[0])
    assert not [a for a in advice(shop, query) if a["problem"] == "hash spills to disk"]


def test_missing_index_is_found_and_the_index_is_used(shop: psycopg.Connection) -> None:
    query = "SELECT * FROM orders WHERE status = 'open' AND total > 5"
    [found] = [a for a in advice(shop, query) if a["problem"] == "sequential scan discards most rows"]
    assert found["fix"] == 'CREATE INDEX CONCURRENTLY ON public.orders ("status", "total");'
    assert "discarded" in found["detail"] and found["relation"] == "public.orders"
    shop.execute(found["fix"])
    assert any(r["index_name"] for r in nodes(shop, query))
    assert not [a for a in advice(shop, query) if a["problem"] == "sequential scan discards most rows"]


def test_heap_fetches_ask_for_vacuum(shop: psycopg.Connection) -> None:
    shop.execute("CREATE INDEX orders_customer ON orders (customer_id)")
    shop.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
    query = "SELECT customer_id FROM orders WHERE customer_id < 500"
    [found] = [a for a in advice(shop, query) if a["problem"] == "index-only scan visits the heap"]
    assert found["fix"] == "VACUUM (ANALYZE) public.orders;"
    shop.execute(found["fix"])
    assert not [a for a in advice(shop, query) if a["problem"] == "index-only scan visits the heap"]


def test_index_scans_show_their_index_searches_where_the_server_counts_them(shop: psycopg.Connection) -> None:
    """PostgreSQL 18 prints Index Searches (an = ANY list of values on different leaf pages descends more than
    once), and ANALYZE has buffers by default; the rows are the same on every major, with the searches in the
    detail from 18 on."""
    shop.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
    rows = nodes(shop, "SELECT * FROM orders WHERE id IN (3, 300, 30000)")
    [scan] = [r for r in rows if r["index_name"] == "orders_pkey"]
    assert scan["operation"] == "Index Scan" and scan["rows_actual"] == 3
    assert scan["shared_hit_blocks"] + scan["shared_read_blocks"] > 0
    if shop.info.server_version >= 180000:
        searches = re.search(r"Index Searches: (\d+)", scan["detail"])
        assert searches and 2 <= int(searches.group(1)) <= 3
    else:
        assert "Index Searches" not in scan["detail"]


@pytest.fixture
def sales(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("CREATE TABLE sales (id int, sold date NOT NULL, amount int) PARTITION BY RANGE (sold)")
    for month in range(1, 7):
        conn.execute(f"CREATE TABLE sales_{month} PARTITION OF sales "
                     f"FOR VALUES FROM ('2024-{month:02}-01') TO ('2024-{month + 1:02}-01')")
    conn.execute("INSERT INTO sales SELECT g, date '2024-01-01' + g % 180, g % 100 FROM generate_series(1, 30000) g")
    conn.execute("ANALYZE sales")
    return conn


def pruning(conn: psycopg.Connection, query: str, analyze: bool = False) -> list[tuple]:
    return conn.execute("SELECT partitioned_table, partition_key, partitions_total, partitions_in_plan, "
                        "subplans_removed, partitions_executed, pruned, fix IS NOT NULL "
                        "FROM steward.check_pruning(%s, \"analyze\" => %s)", [query, analyze]).fetchall()


def test_unpruned_partitioned_query_gets_the_key_to_filter_on(sales: psycopg.Connection) -> None:
    query = "SELECT sum(amount) FROM sales WHERE amount = 7"
    [found] = [a for a in advice(sales, query) if a["problem"] == "partitions not pruned"]
    assert found["detail"].startswith("6 of 6 partitions of public.sales scanned")
    assert "(sold)" in found["fix"] and "sold >= ..." in found["fix"]
    assert pruning(sales, query) == [("public.sales", "RANGE (sold)", 6, 6, 0, None, False, True)]


def test_pruning_at_planning_at_start_up_and_during_execution(sales: psycopg.Connection) -> None:
    assert pruning(sales, "SELECT * FROM sales WHERE sold >= '2024-03-01' AND sold < '2024-04-01'") == [
        ("public.sales", "RANGE (sold)", 6, 1, 0, None, True, False)]
    # A stable expression is compared at executor start-up: "Subplans Removed".
    stable = "SELECT * FROM sales WHERE sold >= '2024-05-01'::text::date"
    assert pruning(sales, stable) == [("public.sales", "RANGE (sold)", 6, 2, 4, None, True, False)]
    # A value known only while running prunes during execution: partitions never executed.
    during = "SELECT * FROM sales WHERE sold = (SELECT date '2024-02-10')"
    assert pruning(sales, during, analyze=True) == [("public.sales", "RANGE (sold)", 6, 6, 0, 1, True, False)]
    assert not [a for a in advice(sales, during) if a["problem"] == "partitions not pruned"]


def test_a_writes_target_is_not_a_scanned_partition(sales: psycopg.Connection) -> None:
    """The node of an INSERT (UPDATE, DELETE, MERGE) names its target partition; only the scans below count."""
    copy = ("INSERT INTO sales_1 SELECT id, sold - 31, amount FROM sales "
            "WHERE sold >= '2024-02-01' AND sold < '2024-02-10'")
    assert pruning_of_writes(sales, copy) == [("public.sales", "RANGE (sold)", 6, 1, 0, None, True, False)]
    assert pruning_of_writes(sales, copy, analyze=True) == [("public.sales", "RANGE (sold)", 6, 1, 0, 1, True, False)]
    # Nothing of sales is read at all: no row (it was "1 of 6 scanned, pruned").
    assert pruning_of_writes(sales, "INSERT INTO sales_1 VALUES (0, '2024-01-02', 0)") == []
    merge = ("MERGE INTO sales_3 AS s USING (SELECT id FROM sales_2 WHERE id = 40) AS v ON s.id = v.id "
             "WHEN MATCHED THEN DELETE")
    assert pruning_of_writes(sales, merge) == [("public.sales", "RANGE (sold)", 6, 2, 0, None, True, False)]


def pruning_of_writes(conn: psycopg.Connection, query: str, analyze: bool = False) -> list[tuple]:
    return conn.execute("SELECT partitioned_table, partition_key, partitions_total, partitions_in_plan, "
                        "subplans_removed, partitions_executed, pruned, fix IS NOT NULL FROM steward.check_pruning("
                        "%s, \"analyze\" => %s, allow_writes => true)", [query, analyze]).fetchall()


def test_explain_execute_shows_the_run_time_pruning_of_a_generic_plan(sales: psycopg.Connection) -> None:
    """A prepared statement of the caller's session is explained as EXECUTE explains it: a generic plan prunes
    at executor start-up (Subplans Removed)."""
    sales.execute("SELECT 1; PREPARE by_day(date) AS SELECT sum(amount) FROM sales WHERE sold = $1; SELECT 2")
    sales.execute("SET plan_cache_mode = force_generic_plan")
    assert pruning(sales, "EXECUTE by_day('2024-02-10')") == [
        ("public.sales", "RANGE (sold)", 6, 1, 5, None, True, False)]
    assert pruning(sales, "EXECUTE by_day('2024-02-10')", analyze=True) == [
        ("public.sales", "RANGE (sold)", 6, 1, 5, 1, True, False)]
    assert [n["operation"] for n in nodes(sales, "EXECUTE by_day('2024-02-10')")][:2] == ["Aggregate", "Append"]


def test_explain_execute_follows_the_rules_of_the_prepared_statement(sales: psycopg.Connection) -> None:
    sales.execute("PREPARE wipe(date) AS DELETE FROM sales WHERE sold = $1")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="not a plain query: it is a DELETE"):
        pruning(sales, "EXECUTE wipe('2024-02-10')", analyze=True)
    assert pruning_of_writes(sales, "EXECUTE wipe('2024-02-10')", analyze=True)[0][3] == 1
    assert sales.execute("SELECT count(*) FROM sales WHERE sold = '2024-02-10'").fetchone()[0] > 0  # rolled back
    with pytest.raises(psycopg.errors.InvalidSqlStatementName, match='prepared statement "nope" does not exist'):
        pruning(sales, "EXECUTE nope(1)")
    sales.execute("PREPARE twice AS SELECT 1; DEALLOCATE twice; PREPARE twice AS DELETE FROM sales")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match='cannot tell what prepared statement "twice"'):
        pruning_of_writes(sales, "EXECUTE twice")
