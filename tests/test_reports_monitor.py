"""Every report run by a member of pg_monitor that is not a superuser and holds no table privileges."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from pg_steward.localserver import DATABASE, LocalServer
from pg_steward.reports.health_checks import CHECKS
from support.reports import flush_stats, monitor_role, rows
from test_cli import run


def test_reports_as_pg_monitor(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgstattuple")
    conn.execute("CREATE TABLE secret (id int, a int, note text) WITH (autovacuum_enabled = off)")
    conn.execute("INSERT INTO secret SELECT g, g % 10, md5(g::text) FROM generate_series(1, 20000) g")
    conn.execute("CREATE INDEX secret_a ON secret (a)")
    conn.execute("CREATE INDEX secret_a_copy ON secret (a)")
    conn.execute("CREATE FUNCTION secret_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
    conn.execute("CREATE TRIGGER secret_t BEFORE INSERT ON secret FOR EACH ROW EXECUTE FUNCTION secret_noop()")
    conn.execute("ALTER TABLE secret DISABLE TRIGGER secret_t")
    conn.execute("ALTER TABLE secret ADD CONSTRAINT secret_a_small CHECK (a < 10) NOT VALID")
    conn.execute("DELETE FROM secret WHERE id % 2 = 0")
    flush_stats(conn)
    conn.execute("ANALYZE secret")
    with monitor_role(conn) as role:
        conn.execute(f'SET ROLE "{role}"')
        try:
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
            estimate = rows(conn, "SELECT * FROM steward.table_bloat(relation => 'secret')")[0]
            # pg_stats hides the columns of a table the role may not read: unknown, and why.
            assert estimate["waste_bytes"] is None and not estimate["trustworthy"]
            assert estimate["reason"].startswith(f"statistics not visible to role {role}")
            index_estimate = rows(conn, "SELECT * FROM steward.index_bloat(relation => 'secret')")
            assert index_estimate and all(r["waste_bytes"] is None for r in index_estimate)
            # pgstattuple is granted to pg_stat_scan_tables, which pg_monitor includes: exact works.
            exact = rows(conn, "SELECT * FROM steward.table_bloat(true, 'secret') WHERE kind = 'table'")[0]
            assert exact["method"] == "pgstattuple" and exact["waste_percent"] > 40
            assert all(r["waste_bytes"] is not None
                       for r in rows(conn, "SELECT * FROM steward.index_bloat(true, 'secret')"))
            problems = {(r["problem"], r["index"]) for r in rows(conn, "SELECT * FROM steward.index_report()")}
            assert ("duplicate", "secret_a_copy") in problems
            checks = {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}
            assert len(checks) == len(CHECKS)  # every check, none hidden from pg_monitor
            assert not any(c["detail"] and c["detail"].startswith("could not run") for c in checks.values())
            assert "not visible" not in checks["connections"]["detail"]  # pg_read_all_stats sees every session
            assert checks["vacuum"]["status"] in ("warning", "critical")
            assert '"public"."secret"' in checks["vacuum"]["detail"]
            # The catalog checks read pg_catalog alone: a table the role cannot read is still listed.
            assert checks["tables_without_primary_key"]["status"] == "ok"
            assert '"public"."secret"' in checks["tables_without_primary_key"]["detail"]
            assert checks["disabled_triggers"]["status"] == "warning"
            assert checks["not_valid_constraints"]["status"] == "warning"
        finally:
            conn.execute("RESET ROLE")


def test_a_role_that_cannot_see_other_sessions_gets_unknown(conn: psycopg.Connection) -> None:
    conn.execute("CREATE ROLE steward_plain LOGIN")
    other = psycopg.connect(conn.info.dsn)  # a superuser's session, idle in a transaction
    other.execute("SELECT 1")
    try:
        conn.execute("SET ROLE steward_plain")
        checks = {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}
        idle = checks["idle_in_transaction"]
        assert idle["status"] == "unknown", idle
        assert "not visible (needs pg_read_all_stats)" in idle["detail"]
        assert "not visible" in checks["connections"]["detail"]
    finally:
        conn.execute("RESET ROLE")
        other.close()
        conn.execute("DROP ROLE steward_plain")


def test_every_other_read_function_as_pg_monitor(conn: psycopg.Connection) -> None:
    """The reads test_reports_as_pg_monitor does not cover: each returns rows to a pg_monitor member that holds
    no table privileges (steward.jobs: tests/test_schedule_privileges.py, in pg_cron's database)."""
    conn.execute("CREATE TABLE events (d date NOT NULL, v int) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE events_2030 PARTITION OF events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')")
    conn.execute("CREATE INDEX ON events (d)")
    conn.execute("INSERT INTO events VALUES ('2030-05-05', 1)")
    conn.execute("SELECT count(*) FROM events WHERE d = '2030-05-05'")
    conn.execute("SELECT steward.log_slow_query('SELECT * FROM events WHERE v = 42', 500)")
    flush_stats(conn)
    reads = {
        "partitions": "SELECT * FROM steward.partitions('events')",
        "partition_index_usage": "SELECT * FROM steward.partition_index_usage('events')",
        "hot_partitions": "SELECT * FROM steward.hot_partitions('events')",
        "index_bloat": "SELECT * FROM steward.index_bloat()",
        "slow_queries": "SELECT * FROM steward.slow_queries()",
        "query_performance_log": "SELECT * FROM steward.query_performance_log",
        "query_fingerprint": "SELECT steward.query_fingerprint('SELECT 1')",
        "normalize_query": "SELECT steward.normalize_query('SELECT 1')",
        "version": "SELECT * FROM steward.version()",
    }
    with monitor_role(conn, "steward_monitor_reads") as role:
        conn.execute(f'SET ROLE "{role}"')
        try:
            empty = [name for name, sql in reads.items() if not rows(conn, sql)]
        finally:
            conn.execute("RESET ROLE")
    assert empty == []


def test_partitions_of_a_schema_the_role_may_not_use(conn: psycopg.Connection) -> None:
    """steward.partitions reads the tree by oid: no USAGE on the schema is needed (the catalog is open to all)."""
    conn.execute("CREATE SCHEMA vault")
    conn.execute("CREATE TABLE vault.ledger (d date NOT NULL, v int) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE vault.ledger_2030 PARTITION OF vault.ledger "
                 "FOR VALUES FROM ('2030-01-01') TO ('2031-01-01') PARTITION BY LIST (v)")
    conn.execute("CREATE TABLE vault.ledger_2030_1 PARTITION OF vault.ledger_2030 FOR VALUES IN (1, 2)")
    conn.execute("CREATE TABLE vault.ledger_default PARTITION OF vault.ledger DEFAULT")
    conn.execute("INSERT INTO vault.ledger VALUES ('2030-05-05', 1), ('2040-01-01', 7)")
    conn.execute("ANALYZE vault.ledger")
    oid = conn.execute("SELECT 'vault.ledger'::regclass::oid::int8").fetchone()[0]  # the role cannot name it
    tree = f"SELECT * FROM steward.partitions({oid}::oid::regclass)"
    expected = rows(conn, tree)
    with monitor_role(conn, "steward_monitor_vault") as role:
        conn.execute(f'SET ROLE "{role}"')
        try:
            assert not conn.execute("SELECT has_schema_privilege('vault', 'USAGE')").fetchone()[0]
            got = rows(conn, tree)
            sub = rows(conn, "SELECT * FROM steward.partitions(%s::oid::regclass)",
                       [conn.execute("SELECT partition::oid::int8 FROM steward.partitions(%s::oid::regclass) "
                                     "WHERE level = 1 AND NOT is_default", [oid]).fetchone()[0]])
        finally:
            conn.execute("RESET ROLE")
    assert got == expected and len(got) == 4
    assert [r["strategy"] for r in sub] == ["range", "list"] and sub[1]["list_values"] == ["1", "2"]
    assert [r["range_from"] for r in got if r["level"] == 1 and not r["is_default"]] == ["2030-01-01"]


def test_reports_and_the_page_as_pg_monitor(server: LocalServer, new_database: Callable[..., str],
                                           tmp_path: Path) -> None:
    """pg-steward report partitions, jobs and --html as a pg_monitor member: every report answers; what the role
    may not read is marked (a table it cannot SELECT, pg_cron's jobs through dblink), not an error."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION dblink")  # pg_cron is in another database: reached through dblink
        conn.execute("CREATE SCHEMA vault")
        conn.execute("CREATE TABLE vault.ledger (d date NOT NULL) PARTITION BY RANGE (d)")
        conn.execute("CREATE TABLE vault.ledger_2030 PARTITION OF vault.ledger "
                     "FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')")
        conn.execute("CREATE TABLE public.open_events (d date NOT NULL) PARTITION BY RANGE (d)")
        conn.execute("CREATE TABLE public.open_events_2030 PARTITION OF public.open_events "
                     "FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')")
        with monitor_role(conn, "steward_monitor_cli") as role:
            conn.execute(f'GRANT SELECT ON public.open_events TO "{role}"')
            as_role = make_conninfo(url, user=role)
            partitions = run("report", "partitions", "--format", "json", "--dsn", as_role)
            assert partitions.returncode == 0, partitions.stderr
            readable = {(r["table"], r["partition"]): r["readable"] for r in json.loads(partitions.stdout)}
            assert readable == {("open_events", "open_events"): True, ("open_events", "open_events_2030"): True,
                                ("vault.ledger", "vault.ledger"): False,
                                ("vault.ledger", "vault.ledger_2030"): False}
            jobs = run("report", "jobs", "--format", "json", "--dsn", as_role)
            assert jobs.returncode == 0, jobs.stderr
            [job] = json.loads(jobs.stdout)
            assert job["last_status"] == "not visible" and job["jobid"] is None
            assert f"not visible to role {role}" in job["last_message"]
            assert f'GRANT USAGE ON SCHEMA cron TO "{role}" in database {DATABASE}' in job["last_message"]
            page = tmp_path / "report.html"
            written = run("report", "--html", str(page), "--dsn", as_role)
            assert written.returncode == 0, written.stderr
            text = page.read_text()
            assert f"(as role {role})" in text
            notes = re.findall(r'<p class="note">([^<]*)</p>', text)
            assert not any(n.startswith(("partitions:", "jobs:", "health:")) for n in notes), notes  # no failure
            marked = re.findall(r'<tr class="hidden-from-role"><td[^>]*>([^<]*)<span class="mark">', text)
            assert marked.count("vault.ledger ") == 2 and "open_events " not in marked  # a row each, by table
            health = text[text.index('id="health-0"'):text.index('id="details-0"')]
            assert re.search(r"cron_job_failures <span class=\"mark\">.*?skipped", health)
