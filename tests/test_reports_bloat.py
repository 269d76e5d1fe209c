"""steward.table_bloat / steward.index_bloat on bloat made for real (UPDATE/DELETE with autovacuum off)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.plans import plans_of_calls
from support.reports import flush_stats, rows


def make_table(conn: psycopg.Connection, name: str = "orders", n: int = 60000, fillfactor: int = 100) -> None:
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, customer int, note text, amount numeric, flag bool) "
                 f"WITH (autovacuum_enabled = off, fillfactor = {fillfactor})")
    conn.execute(f"INSERT INTO {name} SELECT g, g % 500, CASE WHEN g % 4 = 0 THEN NULL ELSE md5(g::text) END, "
                 f"g * 1.25, g % 2 = 0 FROM generate_series(1, {n}) g")
    conn.execute(f"CREATE INDEX {name}_customer ON {name} (customer)")
    flush_stats(conn)
    conn.execute(f"ANALYZE {name}")


def bloat_of(conn: psycopg.Connection, table: str, exact: bool = False) -> dict:
    found = rows(conn, "SELECT * FROM steward.table_bloat(exact => %s, relation => %s::regclass) "
                       "WHERE kind = 'table'", [exact, table])
    assert len(found) == 1
    return found[0]


def index_bloat_of(conn: psycopg.Connection, index: str, exact: bool = False) -> dict:
    found = rows(conn, "SELECT * FROM steward.index_bloat(exact => %s) WHERE index_name = %s", [exact, index])
    assert len(found) == 1
    return found[0]


def test_fresh_table_has_no_waste_and_deletes_are_found(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    make_table(conn)
    fresh = bloat_of(conn, "orders")
    assert fresh["trustworthy"] and fresh["reason"] is None
    assert fresh["waste_percent"] < 3 and fresh["fix"] is None
    conn.execute("DELETE FROM orders WHERE id % 10 < 6")  # 60 % of the rows
    flush_stats(conn)
    conn.execute("ANALYZE orders")
    est, exact = bloat_of(conn, "orders"), bloat_of(conn, "orders", exact=True)
    assert exact["method"] == "pgstattuple" and exact["dead_tuples"] == 36000
    assert 55 <= exact["waste_percent"] <= 65
    assert abs(est["waste_percent"] - exact["waste_percent"]) <= 5
    assert est["trustworthy"]
    assert "VACUUM FULL" in est["fix"] and "pg_repack" in est["fix"]
    # REINDEX gives back what the index estimate says was lost to the deleted rows.
    idx = index_bloat_of(conn, "orders_pkey")
    assert idx["trustworthy"] and 50 <= idx["waste_percent"] <= 65
    assert idx["fix"] == 'REINDEX INDEX CONCURRENTLY "public"."orders_pkey";'
    before = idx["size_bytes"]
    conn.execute("REINDEX INDEX orders_pkey")
    after = conn.execute("SELECT pg_relation_size('orders_pkey')").fetchone()[0]
    assert abs((before - after) - idx["waste_bytes"]) <= 0.05 * before


def test_updates_and_fillfactor(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    make_table(conn, "packed", fillfactor=70)
    fresh = bloat_of(conn, "packed")
    assert fresh["waste_percent"] < 3  # the fillfactor reserve is not waste
    # Half the rows updated once fit in the pages' reserved 30 % (HOT): no waste after VACUUM.
    conn.execute("UPDATE packed SET amount = amount + 1 WHERE id % 2 = 0")
    flush_stats(conn)
    conn.execute("VACUUM packed")
    conn.execute("ANALYZE packed")
    assert bloat_of(conn, "packed", exact=True)["waste_percent"] < 5
    assert bloat_of(conn, "packed")["waste_percent"] < 5
    # Every row updated twice more overflows the reserve into new pages.
    conn.execute("UPDATE packed SET amount = amount + 1")
    conn.execute("UPDATE packed SET amount = amount + 1")
    flush_stats(conn)
    conn.execute("VACUUM packed")  # dead rows become free space: still waste until a rewrite
    conn.execute("ANALYZE packed")
    est, exact = bloat_of(conn, "packed"), bloat_of(conn, "packed", exact=True)
    assert exact["waste_percent"] > 20
    assert abs(est["waste_percent"] - exact["waste_percent"]) <= 5


def test_never_analyzed_is_unknown_not_a_guess(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE raw (a int, b text) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO raw SELECT g, 'x' FROM generate_series(1, 5000) g")
    row = bloat_of(conn, "raw")
    assert row["waste_bytes"] is None and row["waste_percent"] is None and not row["trustworthy"]
    assert row["reason"] == 'never analyzed: run ANALYZE "public"."raw"'
    conn.execute("CREATE INDEX raw_a ON raw (a)")
    assert index_bloat_of(conn, "raw_a")["waste_bytes"] is None


def make_toasted(conn: psycopg.Connection) -> None:
    """Table docs whose values live in TOAST, half of them deleted and analyzed (not vacuumed)."""
    conn.execute("CREATE EXTENSION pgstattuple")
    conn.execute("CREATE TABLE docs (id int, body text) WITH (autovacuum_enabled = off)")
    conn.execute("ALTER TABLE docs ALTER body SET STORAGE EXTERNAL")
    conn.execute("INSERT INTO docs SELECT g, repeat(md5(g::text), 200) FROM generate_series(1, 2000) g")
    conn.execute("DELETE FROM docs WHERE id % 2 = 0")
    flush_stats(conn)
    conn.execute("ANALYZE docs")


def test_toast_is_reported_apart(conn: psycopg.Connection) -> None:
    make_toasted(conn)
    found = rows(conn, "SELECT kind, waste_percent, toast_bytes, method FROM steward.table_bloat(true, 'docs')")
    kinds = {r["kind"]: r for r in found}
    assert set(kinds) == {"table", "toast"}
    assert kinds["toast"]["waste_percent"] >= 40
    estimate = bloat_of(conn, "docs")
    assert estimate["toast_bytes"] > 10 * estimate["size_bytes"]  # the main fork holds only TOAST pointers


def test_exact_mode_needs_pgstattuple_and_honours_the_size_guard(conn: psycopg.Connection) -> None:
    make_table(conn, n=5000)
    with pytest.raises(errors.ObjectNotInPrerequisiteState, match="pg_steward: exact mode needs the pgstattuple"):
        conn.execute("SELECT * FROM steward.table_bloat(exact => true)")
    conn.execute("CREATE EXTENSION pgstattuple")
    guarded = rows(conn, "SELECT * FROM steward.table_bloat(true, 'orders', exact_max_bytes => 0)")
    assert guarded[0]["method"] == "pgstattuple_approx"
    idx = rows(conn, "SELECT * FROM steward.index_bloat(true, 'orders', exact_max_bytes => 0)")
    assert idx and all(r["waste_bytes"] is None and "exact_max_bytes" in r["reason"] for r in idx)


def test_bad_input_is_a_clean_error(conn: psycopg.Connection) -> None:
    with pytest.raises(errors.UndefinedTable):
        conn.execute("SELECT * FROM steward.table_bloat(relation => 'no_such_table')")
    conn.execute("CREATE EXTENSION pgstattuple")
    for function in ("table_bloat", "index_bloat"):
        with pytest.raises(errors.InvalidParameterValue, match="pg_steward: exact_max_bytes must not be negative"):
            conn.execute(f"SELECT * FROM steward.{function}(true, exact_max_bytes => -1)")
    conn.execute("CREATE TABLE t (a int)")
    unlimited = rows(conn, "SELECT method FROM steward.table_bloat(true, 't', exact_max_bytes => NULL)")
    assert unlimited == [{"method": "pgstattuple"}]


def test_a_partitioned_table_answers_with_its_leaves_and_their_total(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    conn.execute("CREATE TABLE m (k int, v int, note text) PARTITION BY RANGE (k)")
    conn.execute("CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (1000) PARTITION BY LIST (v)")
    conn.execute("CREATE TABLE m1a PARTITION OF m1 FOR VALUES IN (0) WITH (autovacuum_enabled = off)")
    conn.execute("CREATE TABLE m1b PARTITION OF m1 DEFAULT WITH (autovacuum_enabled = off)")
    conn.execute("CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (1000) TO (2000) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO m SELECT g % 2000, g % 3, md5(g::text) FROM generate_series(1, 60000) g")
    conn.execute("CREATE INDEX m_k ON m (k)")
    conn.execute("DELETE FROM m WHERE k >= 1000 AND k % 10 < 6")  # 60 % of m2
    flush_stats(conn)
    conn.execute("ANALYZE m")
    for exact in (False, True):
        found = rows(conn, "SELECT * FROM steward.table_bloat(%s, 'm') WHERE kind <> 'toast'", [exact])
        assert [r["relation"] for r in found[:2]] == ['"public"."m"', '"public"."m2"']  # the total, then the most waste
        assert {r["table_name"]: r["kind"] for r in found} == {"m": "partitioned", "m1a": "table", "m1b": "table",
                                                              "m2": "table"}
        total, leaves = found[0], found[1:]
        assert total["size_bytes"] == sum(r["size_bytes"] for r in leaves)
        assert total["waste_bytes"] == sum(r["waste_bytes"] for r in leaves) > 0 and total["fix"] is None
        assert 55 <= leaves[0]["waste_percent"] <= 65 and "VACUUM FULL" in leaves[0]["fix"]
        # A sub-partitioned level answers with its own leaves.
        sub = rows(conn, "SELECT table_name, kind FROM steward.table_bloat(%s, 'm1') WHERE kind <> 'toast'", [exact])
        assert sorted((r["table_name"], r["kind"]) for r in sub) == [("m1", "partitioned"), ("m1a", "table"),
                                                                     ("m1b", "table")]
        # index_bloat of the table and of its partitioned index: the leaf indexes and the total.
        for relation in ("m", "m_k"):
            idx = rows(conn, "SELECT * FROM steward.index_bloat(%s, %s)", [exact, relation])
            assert idx[0]["index_name"] == "m_k" and idx[0]["measured_by"].startswith("partitions (")
            assert sorted(r["table_name"] for r in idx[1:]) == ["m1a", "m1b", "m2"]
            assert idx[0]["size_bytes"] == sum(r["size_bytes"] for r in idx[1:])
            assert idx[0]["waste_bytes"] == sum(r["waste_bytes"] for r in idx[1:])
    # A whole-database report lists the leaves once and no totals (its sums count each byte once).
    everything = rows(conn, "SELECT table_name, kind FROM steward.table_bloat() "
                            "WHERE kind <> 'toast' AND schema = 'public'")
    assert sorted(r["table_name"] for r in everything) == ["m1a", "m1b", "m2"]


def test_a_row_count_left_wrong_by_delete_then_vacuum_is_not_trusted(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    make_table(conn)
    conn.execute("DELETE FROM orders WHERE id % 10 < 7")
    conn.execute("VACUUM orders")  # before this session's counts reach the statistics: n_live_tup ends at 0
    flush_stats(conn)
    exact = bloat_of(conn, "orders", exact=True)
    assert 65 <= exact["waste_percent"] <= 75
    est = bloat_of(conn, "orders")
    assert est["waste_bytes"] is None and est["waste_percent"] is None and not est["trustworthy"]
    assert est["reason"].startswith("live rows unknown: VACUUM counted 18000 after the last ANALYZE, "
                                    "n_live_tup says 0")
    assert est["fix"] == 'ANALYZE "public"."orders";'
    idx = index_bloat_of(conn, "orders_pkey")
    assert idx["waste_bytes"] is None and idx["fix"] == 'ANALYZE "public"."orders";'
    conn.execute("ANALYZE orders")  # the fix given
    est = bloat_of(conn, "orders")
    assert est["trustworthy"] and abs(est["waste_percent"] - exact["waste_percent"]) <= 5


def test_toast_waste_is_said_not_estimated_and_measured_exactly(conn: psycopg.Connection) -> None:
    make_toasted(conn)
    est = {r["kind"]: r for r in rows(conn, "SELECT * FROM steward.table_bloat(relation => 'docs')")}
    assert set(est) == {"table", "toast"}
    toast = est["toast"]
    assert toast["size_bytes"] == est["table"]["toast_bytes"] > 0
    assert toast["waste_bytes"] is None and not toast["trustworthy"]
    assert toast["reason"].startswith("TOAST waste is not estimated") and "exact => true" in toast["reason"]
    assert toast["dead_tuples"] >= 4000 and toast["fix"] == 'VACUUM (ANALYZE) "public"."docs";'  # dead chunks
    exact = {r["kind"]: r for r in rows(conn, "SELECT * FROM steward.table_bloat(true, 'docs')")}
    assert exact["toast"]["waste_percent"] >= 40 and exact["toast"]["size_bytes"] == toast["size_bytes"]


@pytest.mark.parametrize("report", ["table_bloat", "index_bloat"])
@pytest.mark.parametrize("mode", ["auto", "force_generic_plan"])
def test_the_reports_statements_are_planned_for_each_call_never_as_a_generic_plan(
        conn: psycopg.Connection, report: str, mode: str) -> None:
    """A saved plan's generic version (the default after five calls in a session) joins every table's statistics
    by nested loop: the statements over the catalog and the statistics take no parameter, so each call is
    planned for what it asks, however many calls a session makes and whatever plan_cache_mode says."""
    for i in range(3):
        make_table(conn, f"orders{i}", n=2000)
    conn.execute(f"SET plan_cache_mode = {mode}")
    for relation in (None, "orders1"):
        plans = plans_of_calls(conn, f"SELECT * FROM steward.{report}(relation => %s::regclass)", 8,
                                         [relation])
        # The statements that read the relations' sizes or their columns (the small look-ups of a name
        # may have parameters: their plans do not depend on the scope).
        big = [p for p in plans if "pg_relation_size" in p or "pg_attribute" in p]
        assert big, plans
        assert not [p for p in big if "$1" in p], f"a statement over the catalog ran with a parameter ({relation=})"
