"""pg-steward maintain / report / check against real servers, as a DBA runs them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from pg_steward.localserver import LocalServer
from test_cli import run


def expiring_table(conn: psycopg.Connection, name: str, default: bool = False) -> None:
    """A table with two partitions far past a one-year retention in detach mode, not yet maintained."""
    conn.execute(f"CREATE TABLE {name} (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
    for months_ago in (30, 29):
        conn.execute("SELECT steward.create_monthly_partition(%s, (current_date - %s * interval '1 month')::date)",
                     [name, months_ago])
    if default:
        conn.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
    conn.execute(f"INSERT INTO {name} SELECT n, date_trunc('month', current_date - interval '30 months')::date "
                 "+ n % 50 FROM generate_series(1, 200) n")  # 50 days: both months get rows
    # Registered without the first maintenance run manage() would do, so the client finds work.
    conn.execute("INSERT INTO steward.partition_config (parent, span, retention, retention_mode) "
                 "VALUES (%s::regclass, '1 month', '1 year', 'detach')", [name])


def attached(conn: psycopg.Connection, parent: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits "
                                       "WHERE inhparent = %s::regclass", [parent]).fetchall()}


def test_help_on_every_command() -> None:
    for command in ("demo", "maintain", "report", "check", "partition-existing"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage: pg-steward " + command in result.stdout, result.stderr
    assert "--concurrently" in run("maintain", "--help").stdout
    convert = run("partition-existing", "--help").stdout
    for option in ("--key", "--span", "--dry-run", "--resume", "--swap", "--undo", "--finish"):
        assert option in convert
    report = run("report", "--help").stdout
    for name in ("partitions", "slow-queries", "bloat", "indexes", "health", "--html", "--format"):
        assert name in report


def test_maintain_detaches_concurrently(new_database: Callable[..., str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        expiring_table(conn, "events")
        old = {p for p in attached(conn, "events") if "p20" in p}
        result = run("maintain", "--concurrently", "--format", "json", "--dsn", url)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        detached = {r["partition"] for r in rows if r["action"] == "detach concurrently" and r["ok"]}
        assert detached == old and len(old) == 2
        assert not attached(conn, "events") & old
        for name in old:  # detached, not dropped: the rows are still there
            assert conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] > 0
        assert any(r["action"] == "create" for r in rows)  # then the usual maintenance ran
        logged = conn.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                              "WHERE action = 'detach concurrently' AND ok").fetchone()[0]
        assert logged == 2
        again = json.loads(run("maintain", "--concurrently", "--format", "json", "--dsn", url).stdout)
        assert again == []


def test_maintain_finishes_an_interrupted_detach(new_database: Callable[..., str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url) as reader:
        expiring_table(conn, "events")
        victim = sorted(p for p in attached(conn, "events"))[0]
        reader.execute("SELECT count(*) FROM events")  # an open transaction the detach must wait for
        conn.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(f"ALTER TABLE events DETACH PARTITION {victim} CONCURRENTLY")
        conn.execute("RESET statement_timeout")
        reader.rollback()
        pending = conn.execute("SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = %s::regclass",
                               [victim]).fetchone()
        assert pending == (True,)
        rows = json.loads(run("maintain", "--concurrently", "--format", "json", "--dsn", url).stdout)
        assert {"action": "detach finalize", "partition": victim, "ok": True}.items() <= next(
            r for r in rows if r["action"] == "detach finalize").items()
        assert victim not in attached(conn, "events")


def test_maintain_with_a_default_partition_detaches_inside(new_database: Callable[..., str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        expiring_table(conn, "events", default=True)
        rows = json.loads(run("maintain", "--concurrently", "--format", "json", "--dsn", url).stdout)
        assert any(r["action"] == "note" and "DEFAULT" in r["detail"] for r in rows)
        assert sum(r["action"] == "detach" and r["ok"] for r in rows) == 2
        assert attached(conn, "events") >= {"events_default"}


def test_maintain_errors_are_one_line(new_database: Callable[..., str]) -> None:
    url = new_database()
    for args, message in ((["--table", "nowhere"], "table nowhere does not exist"),
                          (["--table", "steward.partition_config"], "is not managed by pg_steward")):
        result = run("maintain", *args, "--dsn", url)
        assert result.returncode == 1 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_server_error_shows_its_detail_and_hint(new_database: Callable[..., str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                RAISE EXCEPTION 'maintenance is frozen' USING DETAIL = 'change window 7 is closed',
                    HINT = 'wait for the window to open';
            END $$;
            CREATE TRIGGER frozen BEFORE INSERT ON steward.maintenance_runs FOR EACH ROW EXECUTE FUNCTION frozen();
        """)
    result = run("maintain", "--dsn", url)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.strip().endswith("maintenance is frozen (detail: change window 7 is closed) "
                                          "(hint: wait for the window to open)"), result.stderr


def test_report_partitions_formats(seed_url: str) -> None:
    with psycopg.connect(seed_url, autocommit=True) as conn:
        # Autovacuum of the freshly loaded seed tables adds their free-space and visibility maps, which would
        # change the sizes between the reads below: vacuumed now, it has nothing left to do to them.
        conn.execute("VACUUM (ANALYZE) sales_analytics")
        expected = conn.execute("SELECT partition::text, total_bytes FROM steward.partitions('sales_analytics')"
                                ).fetchall()
    as_json = run("report", "partitions", "--format", "json", "--dsn", seed_url)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [(r["partition"], r["size_bytes"]) for r in rows if r["table"] == "sales_analytics"] == expected
    assert {r["table"] for r in rows} >= {"sales_analytics", "user_analytics", "regional_sales", "transaction_log"}
    as_csv = run("report", "partitions", "--format", "csv", "--dsn", seed_url)
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["partition"], int(r["size_bytes"])) for r in parsed if r["table"] == "sales_analytics"] == expected
    table = run("report", "partitions", "--dsn", seed_url)
    assert table.returncode == 0 and "sales_analytics_2024_01" in table.stdout and "partitions (" in table.stdout


def test_reports_not_in_this_version_are_one_line(seed_url: str) -> None:
    with psycopg.connect(seed_url) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'steward'::regnamespace").fetchall()}
    for name, function in (("slow-queries", "slow_queries"), ("bloat", "table_bloat"),
                           ("indexes", "index_report"), ("health", "health")):
        result = run("report", name, "--format", "json", "--dsn", seed_url)
        if function in present:
            assert result.returncode == 0, result.stderr
            assert isinstance(json.loads(result.stdout), list)
        else:
            assert result.returncode == 1 and f"needs steward.{function}()" in result.stderr


def test_missing_extension_is_one_line(new_database: Callable[..., str]) -> None:
    url = new_database(extension=False)
    for args in (["report", "partitions"], ["maintain"], ["report", "--html", "/dev/null"]):
        result = run(*args, "--dsn", url)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip().endswith("run CREATE EXTENSION pg_steward CASCADE there (or try: pg-steward "
                                              "demo)"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = run("check", "--dsn", url)
    assert result.returncode == 3 and result.stdout.startswith("PG_STEWARD UNKNOWN - ")


@pytest.fixture(scope="module")
def fleet(server: LocalServer) -> Iterator[list[str]]:
    """Three servers with pg_steward and a managed table; the third is stopped."""
    extra = [LocalServer(), LocalServer()]
    try:
        urls = [server.url_for("fleet_a"), extra[0].url, extra[1].url]
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS fleet_a")
            admin.execute("CREATE DATABASE fleet_a")
        for url in urls:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_steward CASCADE")
                conn.execute("CREATE TABLE sales (id bigint, sold date NOT NULL) PARTITION BY RANGE (sold)")
                conn.execute("SELECT * FROM steward.manage('sales', '1 month', premake => 2)")
        extra[1].stop()
        yield urls
    finally:
        for srv in extra:
            srv.stop()


def test_fleet_with_one_server_down(fleet: list[str], tmp_path: Path) -> None:
    down = fleet[2]
    result = run("report", "partitions", "--format", "json", *[a for u in fleet for a in ("--dsn", u)])
    assert result.returncode == 1
    databases = {r["database"] for r in json.loads(result.stdout)}
    assert len(databases) == 2 and all(r.endswith(("/fleet_a", "/test")) for r in databases)
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "cannot connect to" in errors[0] and str(psycopg.conninfo.conninfo_to_dict(
        down)["port"]) in errors[0]
    dsn_file = tmp_path / "fleet.txt"
    dsn_file.write_text("# the fleet\n" + "\n".join(fleet) + "\n")
    maintained = run("maintain", "--format", "json", "--dsn-file", str(dsn_file))
    assert maintained.returncode == 1
    assert {r["database"] for r in json.loads(maintained.stdout)} <= databases  # nothing to do is no rows
    assert "cannot connect to" in maintained.stderr
    on_terminal = run("maintain", "--dsn-file", str(dsn_file), terminal=True)
    assert on_terminal.returncode == 1 and "maintaining" in on_terminal.stderr  # the fleet's progress bar
    assert "Traceback" not in on_terminal.stderr and "cannot connect to" in on_terminal.stderr
    checked = run("check", "--dsn-file", str(dsn_file))
    assert checked.returncode == 2 and checked.stdout.startswith("PG_STEWARD CRITICAL - 3 databases: ")


def test_report_jobs(server: LocalServer, new_database: Callable[..., str]) -> None:
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")  # the test server's cron.database_name
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        without = run("report", "jobs", "--dsn", url)
        assert without.returncode == 1 and "needs dblink" in without.stderr
        assert len(without.stderr.strip().splitlines()) == 1
        conn.execute("CREATE EXTENSION dblink")
        conn.execute("SELECT steward.schedule('maintenance', '0 4 * * *')")
        try:
            rows = json.loads(run("report", "jobs", "--format", "json", "--dsn", url).stdout)
            assert [(r["job"], r["schedule"], r["command"]) for r in rows] == [
                ("maintenance", "0 4 * * *", "CALL steward.run_maintenance()")]
        finally:
            conn.execute("SELECT steward.unschedule('maintenance')")


def test_maintain_one_failing_table_leaves_the_others(new_database: Callable[..., str]) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        expiring_table(conn, "events")
        conn.execute("CREATE TABLE readings (id bigint NOT NULL) PARTITION BY RANGE (id)")
        # An integer key with a time retention: the retention step cannot apply to it.
        conn.execute("INSERT INTO steward.partition_config (parent, integer_span, retention, retention_mode) "
                     "VALUES ('readings', 1000, '1 year', 'detach')")
        result = run("maintain", "--concurrently", "--format", "json", "--dsn", url)
        rows = json.loads(result.stdout)
        assert result.returncode == 1  # a failed action
        assert any(r["table"] == "readings" and not r["ok"] for r in rows)
        assert sum(r["table"] == "events" and r["action"] == "detach concurrently" and r["ok"] for r in rows) == 2
        # The run is recorded (steward.record_run_start / record_run_end) with its failure, for health().
        runs = conn.execute("SELECT procedure, tables_due, failures, finished_at IS NOT NULL "
                            "FROM steward.maintenance_runs").fetchall()
        assert runs == [("pg-steward maintain", 2, 1, True)]


def test_maintain_records_a_complete_run_for_health(new_database: Callable[..., str]) -> None:
    """A database maintained only by pg-steward maintain is not reported as never maintained."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        expiring_table(conn, "events")
        assert run("maintain", "--concurrently", "--dsn", url).returncode == 0
        assert run("maintain", "--table", "events", "--dsn", url).returncode == 0  # one table: no run recorded
        runs = conn.execute("SELECT procedure, tables_due, failures, actions > 0 "
                            "FROM steward.maintenance_runs").fetchall()
        assert runs == [("pg-steward maintain", 1, 0, True)]
        check = conn.execute("SELECT status, detail FROM steward.health() "
                             "WHERE check_name = 'maintenance_runs'").fetchone()
        assert check[0] == "ok" and "pg-steward maintain" in check[1], check


def check_of(url: str) -> tuple[int, str]:
    result = run("check", "--dsn", url)
    assert len(result.stdout.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result
    return result.returncode, result.stdout.strip()


def test_check_exit_codes(new_database: Callable[..., str]) -> None:
    url = new_database()
    code, line = check_of(url)  # a fresh database: nothing wrong
    assert code == 0 and line.startswith("PG_STEWARD OK - "), line
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE order_no AS integer")
        conn.execute("SELECT setval('order_no', 2040109465)")  # 95 % of its range handed out
        code, line = check_of(url)
        assert code == 2 and line.startswith("PG_STEWARD CRITICAL - ") and "sequences=95 % used critical" in line
        conn.execute("SELECT setval('order_no', 1)")
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1), (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):  # leaves an invalid index behind
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_x ON t (x)")
        code, line = check_of(url)
        assert code == 1 and line.startswith("PG_STEWARD WARNING - ") and "invalid_indexes=1" in line
        # A check the DBA disabled or relaxed no longer fires.
        conn.execute("INSERT INTO steward.health_thresholds (check_name, enabled) VALUES ('invalid_indexes', false)")
        assert check_of(url)[0] == 0
    code, line = check_of(new_database(extension=False))
    assert code == 3 and line.startswith("PG_STEWARD UNKNOWN - ") and "not installed" in line
