"""What a maintenance session loads: registering a table, creating its partitions, rescuing rows from DEFAULT
and running maintenance import neither pglast nor the report and query modules, nor the standard library's
heavier modules that only other areas need (each import is paid again by every new session: every pg_cron
run)."""

from __future__ import annotations

import json

import psycopg

NOT_FOR_MAINTENANCE = ("pglast", "pg_steward.pglast_loader", "pg_steward.queries", "pg_steward.reports",
                       "pg_steward.cli", "pg_steward.workloads", "importlib.metadata", "secrets", "hashlib")


def loaded_modules(conn: psycopg.Connection) -> list[str]:
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("DO LANGUAGE plpython3u $$\nimport json, sys\nplpy.notice(json.dumps(sorted(sys.modules)))\n$$")
    return json.loads(notices[-1])


def test_a_maintenance_session_imports_no_pglast(new_database) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE m (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                      "CREATE TABLE m_default PARTITION OF m DEFAULT;"
                      "INSERT INTO m VALUES (current_date + 100, 1)")
    with psycopg.connect(url, autocommit=True) as conn:  # a fresh session: nothing of pg_steward loaded yet
        created = conn.execute("SELECT count(*) FROM steward.manage('m', '1 month', premake => 2)").fetchone()
        conn.execute("UPDATE steward.partition_config SET premake = 5")
        conn.execute("CALL steward.run_maintenance()")
        conn.execute("SELECT count(*) FROM steward.maintain_partitions()")
        modules = loaded_modules(conn)
        moved = conn.execute("SELECT count(*) FROM m_default").fetchone()
    assert created[0] >= 3 and moved == (0,)  # the work was done, DEFAULT rescued included
    assert "pg_steward.partitions.maintain" in modules
    assert [m for m in modules if m.startswith(NOT_FOR_MAINTENANCE)] == []


def test_the_version_check_imports_no_pglast(new_database) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        row = conn.execute("SELECT pglast_version FROM steward.version()").fetchone()
        modules = loaded_modules(conn)
    assert row[0]  # read from the installed metadata directory's name
    assert [m for m in modules if m.startswith(NOT_FOR_MAINTENANCE)] == []
