"""steward.suggest_indexes on real tables: hypopg costing, the workload-wide choice, partitioned parents,
the path without hypopg, and statements that must be refused or must not run."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

COLUMNS = ("table_name, columns, create_statement, estimated_bytes, fingerprints, calls, cost_before, cost_after, "
           "est_ms_saved_per_day, write_cost, verified, reason, makes_redundant, drop_statements")


def suggest(conn: psycopg.Connection, statements: list[str] | None = None) -> list[dict]:
    cur = conn.execute(f"SELECT {COLUMNS} FROM steward.suggest_indexes(statements => %s)", [statements])
    return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]


def real_indexes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")]


@pytest.fixture
def shop(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, "
                 "created_at timestamptz NOT NULL, total numeric NOT NULL)")
    conn.execute("INSERT INTO orders SELECT g, g % 2000, CASE WHEN g % 50 = 0 THEN 'open' ELSE 'done' END, "
                 "'2026-01-01'::timestamptz + g * interval '1 minute', g % 97 FROM generate_series(1, 60000) g")
    conn.execute("ANALYZE orders")
    return conn


@pytest.fixture
def hypopg(shop: psycopg.Connection) -> psycopg.Connection:
    shop.execute("CREATE EXTENSION hypopg")
    return shop


SHAPES = [
    "SELECT * FROM orders WHERE customer_id = 42",
    "SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10",
    "SELECT * FROM orders WHERE customer_id = 42 AND created_at > '2026-01-20'",
]


def test_one_index_serves_the_three_shapes_and_none_is_created(hypopg: psycopg.Connection) -> None:
    before = real_indexes(hypopg)
    found = suggest(hypopg, SHAPES)
    assert len(found) == 1, found
    row = found[0]
    assert row["table_name"] == "public.orders"
    assert row["columns"][0] == "customer_id"
    assert row["verified"] is True and len(row["fingerprints"]) == 3 and row["calls"] == 3
    assert row["cost_after"] < row["cost_before"] / 5
    assert row["estimated_bytes"] > 0
    assert row["create_statement"].startswith("CREATE INDEX CONCURRENTLY ")
    assert real_indexes(hypopg) == before
    assert hypopg.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone()[0] == 0
    # the statement shown works, and afterwards nothing is left to suggest
    hypopg.execute(row["create_statement"])
    assert suggest(hypopg, SHAPES) == []


def test_parameters_are_costed_with_values_from_pg_stats(hypopg: psycopg.Connection) -> None:
    found = suggest(hypopg, ["SELECT total FROM orders WHERE customer_id = $1 AND status = $2"])
    assert found and found[0]["verified"]
    assert set(found[0]["columns"]) <= {"customer_id", "status"}


def test_a_constant_filter_gets_a_partial_index(hypopg: psycopg.Connection) -> None:
    found = suggest(hypopg, ["SELECT id FROM orders WHERE status = 'open' ORDER BY created_at LIMIT 20"])
    assert found and found[0]["verified"]
    assert "WHERE \"status\" = 'open'" in found[0]["create_statement"] or found[0]["columns"][0] == "status"


def test_an_existing_index_with_the_same_leading_columns_covers_the_shape(hypopg: psycopg.Connection) -> None:
    hypopg.execute("CREATE INDEX ON orders (customer_id, created_at)")
    assert suggest(hypopg, ["SELECT * FROM orders WHERE customer_id = 7"]) == []


def test_without_hypopg_candidates_are_unverified(shop: psycopg.Connection) -> None:
    found = suggest(shop, SHAPES[:1])
    assert found and all(not r["verified"] and r["reason"] == "hypopg not installed" for r in found)
    assert all(r["cost_after"] is None and r["est_ms_saved_per_day"] is None for r in found)
    assert found[0]["columns"] == ["customer_id"]


def test_partitioned_parent_gets_the_recipe(hypopg: psycopg.Connection) -> None:
    hypopg.execute("CREATE TABLE events (id bigint, account int, at date NOT NULL) PARTITION BY RANGE (at)")
    hypopg.execute("CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')")
    hypopg.execute("CREATE TABLE events_2026_02 PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')")
    hypopg.execute("INSERT INTO events SELECT g, g % 3000, '2026-01-01'::date + g % 59 "
                   "FROM generate_series(1, 60000) g")
    hypopg.execute("ANALYZE events")
    found = suggest(hypopg, ["SELECT * FROM events WHERE account = 5"])
    assert len(found) == 1 and found[0]["verified"], found
    recipe = found[0]["create_statement"].splitlines()
    assert recipe[0] == 'CREATE INDEX "events_account_idx" ON ONLY public.events ("account");'
    assert recipe[1].startswith('CREATE INDEX CONCURRENTLY "events_2026_01_account_idx" ON public.events_2026_01')
    assert recipe[2] == 'ALTER INDEX public."events_account_idx" ATTACH PARTITION public."events_2026_01_account_idx";'
    assert len(recipe) == 5
    for step in recipe:  # the recipe runs as shown
        hypopg.execute(step)
    assert hypopg.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_account_idx'::regclass"
                          ).fetchone()[0]


def test_the_captured_workload_is_read_from_the_log(hypopg: psycopg.Connection) -> None:
    hypopg.execute("SELECT pg_stat_force_next_flush()")  # the load's counts reach the shared statistics first
    hypopg.execute("SELECT pg_stat_reset_single_table_counters('orders'::regclass)")  # the load is not the workload
    hypopg.execute("SELECT steward.log_slow_query('SELECT * FROM orders WHERE customer_id = 42', 120)")
    hypopg.execute("SELECT steward.log_slow_query('CREATE TABLE x (a int)', 120)")  # nothing to index: left out
    found = hypopg.execute("SELECT columns, calls, est_ms_saved_per_day > 0 FROM steward.suggest_indexes()").fetchall()
    assert found == [(["customer_id"], 1, True)]


def test_captured_statements_that_no_longer_plan_are_left_out_and_said(hypopg: psycopg.Connection) -> None:
    """A logged statement on a table dropped since, or on one the caller may not read, is not costed: the
    suggestions of the rest come back, and a WARNING says how many were left out and why."""
    warned: list[str] = []
    hypopg.add_notice_handler(lambda d: warned.append(d.message_primary or "")
                              if d.severity_nonlocalized == "WARNING" else None)
    hypopg.execute("SELECT pg_stat_force_next_flush()")  # the load's counts reach the shared statistics first
    hypopg.execute("SELECT pg_stat_reset_single_table_counters('orders'::regclass)")  # the load is not the workload
    hypopg.execute("CREATE TABLE gone (id int)")
    hypopg.execute("CREATE TABLE secret (id int, v int)")
    hypopg.execute("CREATE ROLE steward_suggest_reader")
    try:
        hypopg.execute("GRANT SELECT ON orders, steward.query_performance_log TO steward_suggest_reader")
        for statement in ("SELECT * FROM orders WHERE customer_id = 42", "SELECT * FROM gone WHERE id = 1",
                          "SELECT * FROM secret WHERE v = 3"):
            hypopg.execute("SELECT steward.log_slow_query(%s, 120)", [statement])
        hypopg.execute("DROP TABLE gone")
        hypopg.execute("SET ROLE steward_suggest_reader")
        found = hypopg.execute("SELECT columns FROM steward.suggest_indexes()").fetchall()
        hypopg.execute("RESET ROLE")
        assert found == [(["customer_id"],)], warned
        assert warned == ['2 of 3 captured statement shapes left out of the suggestions: 1 on tables this role '
                          'may not read (permission denied for table secret); 1 that no longer plan '
                          '(relation "gone" does not exist)'], warned
        warned.clear()
        hypopg.execute("SELECT * FROM steward.suggest_indexes()").fetchall()  # the owner may read secret
        assert [w for w in warned if "left out" in w] == [
            '1 of 3 captured statement shapes left out of the suggestions: 1 that no longer plan '
            '(relation "gone" does not exist)']
    finally:
        hypopg.execute("RESET ROLE")
        hypopg.execute("DROP OWNED BY steward_suggest_reader")
        hypopg.execute("DROP ROLE steward_suggest_reader")


def test_a_rare_read_of_a_write_heavy_table_gets_nothing(hypopg: psycopg.Connection) -> None:
    # 60,000 rows written within the hour outweigh one 120 ms read a week
    hypopg.execute("SELECT pg_stat_force_next_flush()")  # the load's counts reach the shared statistics
    hypopg.execute("SELECT steward.log_slow_query('SELECT * FROM orders WHERE customer_id = 42', 120)")
    assert hypopg.execute("SELECT count(*) FROM steward.suggest_indexes()").fetchone()[0] == 0


@pytest.mark.parametrize("statement", [
    "SELECT 1; DROP TABLE orders",
    "DROP TABLE orders",
    "CREATE INDEX ON orders (status)",
    "EXPLAIN ANALYZE SELECT * FROM orders",
    "SELECT * INTO copy FROM orders",
    "CREATE TABLE copy AS SELECT * FROM orders",
    "EXECUTE p",
    "VACUUM orders",
])
def test_anything_but_one_query_or_write_is_refused(hypopg: psycopg.Connection, statement: str) -> None:
    with pytest.raises(errors.InvalidParameterValue):
        suggest(hypopg, [statement])
    assert hypopg.execute("SELECT count(*) FROM orders").fetchone()[0] == 60000
    assert hypopg.execute("SELECT to_regclass('copy')").fetchone()[0] is None


def test_bad_arguments(hypopg: psycopg.Connection) -> None:
    with pytest.raises(errors.NullValueNotAllowed):
        suggest(hypopg, [None])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidParameterValue):
        suggest(hypopg, [])
    with pytest.raises(errors.InvalidParameterValue):
        hypopg.execute("SELECT * FROM steward.suggest_indexes('-1 day')")
    with pytest.raises(errors.SyntaxError):
        suggest(hypopg, ["SELEC 1"])
    with pytest.raises(errors.UndefinedTable):
        suggest(hypopg, ["SELECT * FROM nowhere WHERE a = 1"])


def test_statements_are_explained_never_executed(hypopg: psycopg.Connection) -> None:
    hypopg.execute("CREATE TABLE side (n int)")
    hypopg.execute("CREATE FUNCTION touch(int) RETURNS int VOLATILE LANGUAGE sql AS "
                   "'INSERT INTO side VALUES ($1) RETURNING $1'")
    suggest(hypopg, ["SELECT touch(id) FROM orders WHERE customer_id = 3",
                     "DELETE FROM orders WHERE customer_id = 3",
                     "UPDATE orders SET total = 0 WHERE customer_id = 4",
                     "WITH gone AS (DELETE FROM orders WHERE customer_id = 5 RETURNING id) SELECT * FROM gone"])
    assert hypopg.execute("SELECT count(*) FROM side").fetchone()[0] == 0
    assert hypopg.execute("SELECT count(*), sum(total) FROM orders").fetchone() == \
        hypopg.execute("SELECT 60000::bigint, sum(g % 97) FROM generate_series(1, 60000) g").fetchone()


def test_a_captured_constant_filter_gets_its_partial_index_from_the_slow_query_log(
        hypopg: psycopg.Connection) -> None:
    # pg_stat_statements keeps the statement with $1 for 'open'; the slow-query log keeps it as it ran, and the
    # constant is what makes the partial index right.
    hypopg.execute("SELECT pg_stat_force_next_flush()")
    hypopg.execute("SELECT pg_stat_reset_single_table_counters('orders'::regclass)")  # the load is not the workload
    query = "SELECT id FROM orders WHERE status = 'open' ORDER BY created_at LIMIT 20"
    hypopg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    hypopg.execute("SELECT steward.capture_query_stats(0, 0)")
    for _ in range(3):
        hypopg.execute(query).fetchall()
    hypopg.execute("SELECT steward.capture_query_stats(0, 0)")
    assert hypopg.execute("SELECT count(*) FROM steward.query_performance_log WHERE source = 'pg_stat_statements' "
                          "AND query_text LIKE '%status = $1%'").fetchone()[0] == 1
    hypopg.execute("SELECT steward.log_slow_query(%s, 120)", [query])
    found = hypopg.execute("SELECT create_statement, calls FROM steward.suggest_indexes()").fetchall()
    assert len(found) == 1 and "WHERE \"status\" = 'open'" in found[0][0], found
    assert found[0][1] == 4  # three captured calls and the logged one


def test_time_saved_per_day_counts_the_days_the_log_covers_not_the_window_asked(
        hypopg: psycopg.Connection) -> None:
    # A log begun minutes ago holds minutes of reads, not a week's: divided by 7 days they would look 168 times
    # rarer than they are, and 2,000 rows written this hour would wrongly outweigh them.
    hypopg.execute("SELECT pg_stat_force_next_flush()")
    hypopg.execute("SELECT pg_stat_reset_single_table_counters('orders'::regclass)")
    hypopg.execute("UPDATE orders SET total = total + 1 WHERE id <= 2000")
    hypopg.execute("SELECT pg_stat_force_next_flush()")
    hypopg.execute("SELECT steward.log_slow_query('SELECT * FROM orders WHERE customer_id = 42', 120)")
    found = hypopg.execute("SELECT columns, est_ms_saved_per_day, write_cost "
                           "FROM steward.suggest_indexes('7 days')").fetchall()
    assert len(found) == 1 and found[0][0] == ["customer_id"], found
    assert found[0][1] > 24 * 100 and found[0][2] == 2000 * 24 * 0.01  # both per day of an hour's observations


def test_a_suggested_index_serving_every_use_of_an_existing_one_names_its_drop(hypopg: psycopg.Connection) -> None:
    hypopg.execute("CREATE TABLE items (id int, shop int NOT NULL, at int NOT NULL, v int)")
    hypopg.execute("INSERT INTO items SELECT g, g % 10, g, g % 7 FROM generate_series(1, 100000) g")
    hypopg.execute("CREATE INDEX items_shop ON items (shop)")
    hypopg.execute("CREATE UNIQUE INDEX items_id ON items (id)")  # unique: never made redundant
    hypopg.execute("ANALYZE items")
    shapes = ["SELECT * FROM items WHERE shop = 3 AND at > 99000"]
    [row] = suggest(hypopg, shapes)
    assert row["columns"] == ["shop", "at"] and row["verified"], row
    assert row["makes_redundant"] == ['"public"."items_shop"']
    assert row["drop_statements"] == ['DROP INDEX CONCURRENTLY "public"."items_shop";']
    assert "once it is built and valid" in row["reason"] and "ms per day of writes" in row["reason"]
    # the orders table (no redundant index) gets empty arrays
    [plain] = suggest(hypopg, SHAPES[:1])
    assert plain["makes_redundant"] == [] and plain["drop_statements"] == []
    # followed in order (build, then drop), the advice leaves nothing to suggest
    hypopg.execute(row["create_statement"])
    for statement in row["drop_statements"]:
        hypopg.execute(statement)
    assert suggest(hypopg, shapes) == []
    assert hypopg.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'items'").fetchone()[0] == 2


def test_a_duplicate_or_an_unneeded_prefix_is_dropped_instead(shop: psycopg.Connection) -> None:
    # no hypopg needed: the existing indexes and the workload's plans tell it
    shop.execute("CREATE INDEX orders_cust_at ON orders (customer_id, created_at)")
    shop.execute("CREATE INDEX orders_cust_at_copy ON orders (customer_id, created_at)")
    shop.execute("CREATE INDEX orders_cust ON orders (customer_id)")
    shop.execute("ANALYZE orders")
    ordered = "SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10"
    found = suggest(shop, [ordered])
    assert {r["makes_redundant"][0]: r["create_statement"] for r in found} == {
        '"public"."orders_cust_at_copy"': None, '"public"."orders_cust"': None}, found
    for r in found:
        assert r["reason"].startswith("drop this existing index instead of adding one: ") and r["verified"]
        assert r["write_cost"] <= 0 and r["cost_after"] == r["cost_before"] and r["calls"] == 1
        assert r["drop_statements"] == [f"DROP INDEX CONCURRENTLY {r['makes_redundant'][0]};"]
    # a prefix the workload is planned with stays
    plain = "SELECT * FROM orders WHERE customer_id = 42"
    assert " orders_cust " in "\n".join(r[0] for r in shop.execute(f"EXPLAIN {plain}"))
    kept = suggest(shop, [ordered, plain])
    assert [r["makes_redundant"] for r in kept] == [['"public"."orders_cust_at_copy"']], kept
    for r in found:
        shop.execute(r["drop_statements"][0])
    assert suggest(shop, [ordered, plain]) == []
    assert [r[0] for r in shop.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1")
            ] == ["orders_cust_at", "orders_pkey"]
