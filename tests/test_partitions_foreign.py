"""Foreign partitions (postgres_fdw, a loopback server to a second database of the test server): maintenance never
moves rows into or out of them, retention detaches them instead of dropping, and the reports read the tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from pg_steward.localserver import LocalServer


@pytest.fixture
def fdw(conn: psycopg.Connection, new_database: Callable[..., str],
        server: LocalServer) -> Iterator[psycopg.Connection]:
    """``conn`` with server ``loop``: postgres_fdw to a second database of the same server (``conn.remote_url``)."""
    remote_url = new_database(extension=False)
    remote_db = psycopg.conninfo.conninfo_to_dict(remote_url)["dbname"]
    with psycopg.connect(remote_url, autocommit=True) as remote:
        remote.execute("CREATE TABLE ev_remote (at date NOT NULL, v int)")
        remote.execute("INSERT INTO ev_remote SELECT DATE '2020-01-01' + n % 31, n FROM generate_series(1, 300) n")
        remote.execute("CREATE TABLE ev_remote_default (at date NOT NULL, v int)")
    conn.execute("CREATE EXTENSION postgres_fdw")
    conn.execute(f"CREATE SERVER loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '{server.host}', "
                 f"port '{server.port}', dbname '{remote_db}')")
    conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER loop OPTIONS (user 'postgres')")
    conn.remote_url = remote_url  # type: ignore[attr-defined]
    yield conn


def remote_count(conn: psycopg.Connection, table: str) -> int:
    with psycopg.connect(conn.remote_url, autocommit=True) as remote:  # type: ignore[attr-defined]
        return remote.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def make_table(conn: psycopg.Connection, foreign_default: bool = False) -> None:
    conn.execute("CREATE TABLE ev (at date NOT NULL, v int) PARTITION BY RANGE (at)")
    conn.execute("CREATE INDEX ev_at ON ev (at)")
    conn.execute("CREATE FOREIGN TABLE ev_2020_01 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2020-02-01') "
                 "SERVER loop OPTIONS (table_name 'ev_remote')")
    if foreign_default:
        conn.execute("CREATE FOREIGN TABLE ev_default PARTITION OF ev DEFAULT "
                     "SERVER loop OPTIONS (table_name 'ev_remote_default')")
    else:
        conn.execute("CREATE TABLE ev_default PARTITION OF ev DEFAULT")


def test_retention_detaches_a_foreign_partition(fdw: psycopg.Connection) -> None:
    make_table(fdw)
    rows = fdw.execute("SELECT partition, action FROM steward.drop_old_partitions('ev', '1 year', dry_run => true)"
                       ).fetchall()
    assert rows == [("public.ev_2020_01", "would detach")]
    actions = fdw.execute("SELECT action, partition, detail FROM steward.manage('ev', '1 month', premake => 1, "
                          "retention => '1 year')").fetchall()
    assert ("would detach", "public.ev_2020_01") in [a[:2] for a in actions]
    done = fdw.execute("SELECT action, partition, detail FROM steward.maintain_partitions('ev') "
                       "WHERE partition = 'public.ev_2020_01'").fetchall()
    assert [d[:2] for d in done] == [("detach", "public.ev_2020_01")]
    assert "detached, never dropped" in done[0][2]
    assert fdw.execute("SELECT relkind FROM pg_class WHERE relname = 'ev_2020_01'").fetchone() == ("f",)
    assert fdw.execute("SELECT count(*) FROM pg_inherits WHERE inhrelid = 'ev_2020_01'::regclass").fetchone() == (0,)
    assert remote_count(fdw, "ev_remote") == 300
    rows = fdw.execute("SELECT partition, action FROM steward.drop_old_partitions('ev', '1 month')").fetchall()
    assert ("public.ev_2020_01", "detach") not in rows


def test_drop_old_partitions_detaches_a_partition_holding_foreign_tables(fdw: psycopg.Connection) -> None:
    fdw.execute("CREATE TABLE ev (at date NOT NULL, region text NOT NULL) PARTITION BY RANGE (at)")
    fdw.execute("CREATE TABLE ev_2020 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2021-01-01') "
                "PARTITION BY LIST (region)")
    fdw.execute("CREATE TABLE ev_2020_local PARTITION OF ev_2020 FOR VALUES IN ('EU')")
    fdw.execute("CREATE FOREIGN TABLE ev_2020_far PARTITION OF ev_2020 FOR VALUES IN ('US') "
                "SERVER loop OPTIONS (table_name 'ev_remote')")
    fdw.execute("INSERT INTO ev_2020_local VALUES ('2020-05-01', 'EU')")
    rows = fdw.execute("SELECT partition, action FROM steward.drop_old_partitions('ev', '1 year')").fetchall()
    assert rows == [("public.ev_2020", "detach")]
    assert fdw.execute("SELECT count(*) FROM ev_2020_local").fetchone() == (1,)


def test_maintenance_never_moves_rows_out_of_a_foreign_default(fdw: psycopg.Connection) -> None:
    make_table(fdw, foreign_default=True)
    with psycopg.connect(fdw.remote_url, autocommit=True) as remote:  # type: ignore[attr-defined]
        remote.execute("INSERT INTO ev_remote_default SELECT current_date + n, n FROM generate_series(0, 9) n")
    warnings: list[str] = []
    fdw.add_notice_handler(lambda d: warnings.append(d.message_primary) if d.severity == "WARNING" else None)
    actions = fdw.execute("SELECT action, partition, ok, detail FROM steward.manage('ev', '1 month', premake => 2)"
                          ).fetchall()
    assert ("warning", "public.ev_default", True) in [a[:3] for a in actions]
    assert [a for a in actions if a[0] == "create"]
    assert remote_count(fdw, "ev_remote_default") == 10  # nothing moved out
    assert any("foreign table" in w for w in warnings)
    logged = fdw.execute("SELECT count(*) FROM steward.partition_maintenance_log WHERE action = 'warning' "
                         "AND partition = 'public.ev_default'").fetchone()[0]
    assert logged >= 1
    # A direct creation warns too, and moves nothing.
    warnings.clear()
    fdw.execute("SELECT steward.create_partition('ev', (current_date + 365)::text, '1 month')")
    assert any("never moves rows out of a foreign table" in w for w in warnings)
    assert remote_count(fdw, "ev_remote_default") == 10


def test_no_row_is_moved_into_a_foreign_partition(fdw: psycopg.Connection) -> None:
    """Rows of a foreign partition's range that sit in a local DEFAULT stay there: its range has a partition."""
    make_table(fdw)
    fdw.execute("INSERT INTO ev_default VALUES ('2019-12-31', 1)")
    fdw.execute("SELECT * FROM steward.manage('ev', '1 month', premake => 1)")
    assert remote_count(fdw, "ev_remote") == 300
    assert fdw.execute("SELECT count(*) FROM ev WHERE at = '2019-12-31'").fetchone() == (1,)


def test_reports_read_a_tree_with_foreign_partitions(fdw: psycopg.Connection) -> None:
    make_table(fdw, foreign_default=True)
    fdw.execute("CREATE TABLE ev_2020_02 PARTITION OF ev FOR VALUES FROM ('2020-02-01') TO ('2020-03-01')")
    fdw.execute("INSERT INTO ev_2020_02 SELECT DATE '2020-02-01' + n % 28, n FROM generate_series(1, 100) n")
    fdw.execute("ANALYZE ev_2020_02")
    tree = fdw.execute("SELECT partition::text, is_leaf, is_default, total_bytes FROM steward.partitions('ev') "
                       "ORDER BY level, partition::text").fetchall()
    assert [t[0] for t in tree] == ["ev", "ev_2020_01", "ev_2020_02", "ev_default"]
    for sql in ("SELECT count(*) FROM steward.health()",
                "SELECT count(*) FROM steward.table_bloat()",
                "SELECT count(*) FROM steward.index_bloat()",
                "SELECT count(*) FROM steward.index_report()",
                "SELECT count(*) FROM steward.partition_index_usage('ev')",
                "SELECT count(*) FROM steward.partition_index_usage()",
                "SELECT count(*) FROM steward.hot_partitions('ev')",
                "SELECT count(*) FROM steward.hot_partitions()"):
        fdw.execute(sql).fetchone()
