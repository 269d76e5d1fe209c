"""steward.table_bloat / steward.index_bloat on bloat made for real (UPDATE/DELETE with autovacuum off)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

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


def test_toast_is_reported_apart(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    conn.execute("CREATE TABLE docs (id int, body text) WITH (autovacuum_enabled = off)")
    conn.execute("ALTER TABLE docs ALTER body SET STORAGE EXTERNAL")
    conn.execute("INSERT INTO docs SELECT g, repeat(md5(g::text), 200) FROM generate_series(1, 2000) g")
    conn.execute("DELETE FROM docs WHERE id % 2 = 0")
    flush_stats(conn)
    conn.execute("ANALYZE docs")
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
