"""pg_dump / pg_restore of a database with managed tables: pg_steward's configuration and logs come back
unchanged, the managed tables' rows too, and maintenance goes on in the restored copy."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg

from pg_steward.localserver import LocalServer, bindir


def steward_tables(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Every table of schema steward: its row count and an md5 of its rows in a stable order."""
    names = [r[0] for r in conn.execute(
        "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'steward'::regnamespace "
        "AND c.relkind = 'r' ORDER BY 1")]
    out = {}
    for name in names:
        out[name] = conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM steward.{name} t"
        ).fetchone()
    return out


def user_rows(conn: psycopg.Connection) -> tuple:
    return conn.execute("SELECT count(*), sum(v), md5(string_agg(d::text || ':' || v, ',' ORDER BY d, v)) "
                        "FROM sales").fetchone()


def test_dump_and_restore_keep_configuration_logs_and_maintenance(
        server: LocalServer, new_database: Callable[..., str], tmp_path: Path) -> None:
    source, target = new_database(), new_database(extension=False)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE sales (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                     "CREATE TABLE sales_default PARTITION OF sales DEFAULT;"
                     "INSERT INTO sales SELECT current_date - g, g FROM generate_series(0, 400) g")
        conn.execute("SELECT * FROM steward.manage('sales', '1 month', premake => 2, retention => '6 months', "
                     "retention_mode => 'detach', lock_timeout => '300 ms')")
        conn.execute("SELECT * FROM steward.maintain_partitions('sales')")  # retention: manage() only previews it
        conn.execute("CREATE TABLE ev (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
        conn.execute("SELECT * FROM steward.manage('ev', '1 day', premake => 1, time_zone => 'Europe/Paris')")
        before, rows = steward_tables(conn), user_rows(conn)
        assert before["partition_config"][0] == 2 and before["partition_maintenance_log"][0] > 0

    dump = tmp_path / "steward.dump"
    subprocess.run([str(bindir() / "pg_dump"), "--format=custom", f"--file={dump}", source], check=True)
    result = subprocess.run([str(bindir() / "pg_restore"), "--exit-on-error", f"--dbname={target}", str(dump)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    with psycopg.connect(target, autocommit=True) as conn:
        assert steward_tables(conn) == before
        assert user_rows(conn) == rows
        assert conn.execute("SELECT parent::text, premake, retention_mode, time_zone::text "
                            "FROM steward.partition_config ORDER BY 1").fetchall() == [
            ("ev", 1, "drop", "Europe/Paris"), ("sales", 2, "detach", "UTC")]
        # Maintenance works in the copy, and the log's ids go on after the restored ones.
        last_id = conn.execute("SELECT max(id) FROM steward.partition_maintenance_log").fetchone()[0]
        conn.execute("UPDATE steward.partition_config SET premake = 4 WHERE parent = 'sales'::regclass")
        done = conn.execute("SELECT action, ok FROM steward.maintain_partitions()").fetchall()
        # and the parents whose partitions changed are analyzed (test_partitions_parent_stats.py)
        assert [row for row in done if row[0] != "analyze parent"] == [("create", True), ("create", True)]
        assert conn.execute("SELECT min(id) > %s FROM steward.partition_maintenance_log WHERE id > %s",
                            [last_id, last_id]).fetchone() == (True,)
        assert conn.execute("SELECT * FROM steward.maintain_partitions() "
                            "WHERE action <> 'analyze parent'").fetchall() == []
