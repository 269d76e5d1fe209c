"""``pg-steward demo``: the seed workload in a throwaway server, maintained, scheduled and reported on."""

from __future__ import annotations

from contextlib import ExitStack

import psycopg
from rich.console import Console

from pg_steward.cli import reports
from pg_steward.cli.connect import connect, describe, label
from pg_steward.cli.output import human_bytes, print_rows
from pg_steward.workloads import sql as workload_sql

PARTITION_COLUMNS = ["partition", "level", "strategy", "range_from", "range_to", "list_values",
                     "is_default", "size", "estimated_rows"]
# Statements slow enough to stand out in the query reports.
SLOW_QUERIES = (
    "SELECT region, count(*), sum(total_amount) FROM sales_analytics WHERE customer_id % 7 = 3 GROUP BY region",
    "SELECT count(*) FROM order_events WHERE payload LIKE '%y%' OR status = 'lost'",
    "SELECT s.region, count(*) FROM sales_analytics s JOIN sales_analytics t ON t.customer_id = s.customer_id "
    "AND t.sale_date = s.sale_date WHERE s.sale_date < '2024-01-15' GROUP BY s.region",
)


def run(console: Console, dsn: str | None) -> None:
    with ExitStack() as stack:
        if dsn is None:
            from pg_steward.localserver import LocalServer

            with console.status("starting a throwaway PostgreSQL server"):
                server = stack.enter_context(LocalServer())
            dsn = server.url
            console.print(f"[bold]throwaway server[/] {dsn} (removed when the demo ends)")
        conn = stack.enter_context(connect(dsn))
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        console.print("[bold]CREATE EXTENSION pg_steward CASCADE[/]: done")
        version = conn.execute("SELECT * FROM steward.version()").fetchone()
        console.print(f"pg_steward SQL {version[0]}, Python package {version[1]}, pglast {version[3]}")

        exists = conn.execute("SELECT to_regclass('public.sales_analytics') IS NOT NULL").fetchone()[0]
        if not exists:
            with console.status("creating the seed workload (sales_analytics, user_analytics, ...)"):
                with conn.transaction():
                    conn.execute(workload_sql("seed_tables"))
                    conn.execute(workload_sql("demo_problems"))
                conn.execute("ANALYZE")  # after the commit: statistics as autovacuum would leave them
            console.print("created the seed tables, a duplicate index on sales_analytics and a bloated "
                          "order_events table")
        for table in ("sales_analytics", "transaction_log"):
            show_partitions(console, conn, table)
        manage_sales(console, conn)
        run_slow_queries(console, conn)
        schedule_jobs(console, conn)
        show_reports(console, conn)
        console.print(f"\ndemo done in {label(dsn)}. On your databases: [bold]pg-steward report --html report.html "
                      "--dsn DSN[/], [bold]pg-steward check --dsn DSN[/], [bold]pg-steward maintain --concurrently "
                      "--dsn DSN[/] (repeat --dsn for a fleet)")


def manage_sales(console: Console, conn: psycopg.Connection) -> None:
    """Register sales_analytics: its DEFAULT rows are rescued, months premade, old ones retired."""
    stranded = conn.execute("SELECT count(*) FROM sales_analytics_default").fetchone()[0]
    sql = ("SELECT * FROM steward.manage('sales_analytics', '1 month', premake => 3, retention => '3 years', "
           "retention_mode => 'detach')")
    with console.status("steward.manage('sales_analytics'): maintaining"):
        cur = conn.execute(sql)
        columns = [c.name for c in cur.description]
        actions = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    for action in actions:
        action["parent"] = "sales_analytics"
    print_rows(console, sql, actions, ["action", "partition", "ok", "detail"])
    left = conn.execute("SELECT count(*) FROM sales_analytics_default").fetchone()[0]
    console.print(f"rows in sales_analytics_default: {stranded} before, {left} after "
                  f"(moved into their partitions); a second run does "
                  f"{len(conn.execute('SELECT * FROM steward.maintain_partitions()').fetchall())} actions")


def run_slow_queries(console: Console, conn: psycopg.Connection) -> None:
    """A few slow statements, captured by pg_steward where this version can."""
    has = {name: _has(conn, name) for name in ("capture_query_stats", "log_slow_query")}
    if has["capture_query_stats"]:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT * FROM steward.capture_query_stats()")
    with console.status("running a few slow queries"):
        for query in SLOW_QUERIES:
            timing = conn.execute("SELECT clock_timestamp()").fetchone()[0]
            rows = conn.execute(query).fetchall()
            elapsed = conn.execute("SELECT extract(epoch FROM clock_timestamp() - %s) * 1000", [timing]).fetchone()[0]
            if has["log_slow_query"]:
                conn.execute("SELECT steward.log_slow_query(%s, %s, NULL, %s)", [query, elapsed, len(rows)])
    if has["capture_query_stats"]:
        conn.execute("SELECT * FROM steward.capture_query_stats()")
    console.print(f"ran {len(SLOW_QUERIES)} slow queries"
                  + ("" if any(has.values()) else " (this version of pg_steward has no query capture yet)"))


def schedule_jobs(console: Console, conn: psycopg.Connection) -> None:
    """Maintenance and log purging in pg_cron, where this server has it."""
    try:
        in_cron_database = conn.execute(
            "SELECT current_setting('cron.database_name', true) = current_database()").fetchone()[0]
        if in_cron_database:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        for job in ("maintenance", "capture_query_stats", "capture_long_running", "purge_logs"):
            if job.startswith("capture") and not _has(conn, job):
                continue  # this version of pg_steward has no such capture
            conn.execute("SELECT * FROM steward.schedule(%s)", [job])
        cur = conn.execute("SELECT job, schedule, command, last_status FROM steward.jobs")
        columns = [c.name for c in cur.description or []]
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        print_rows(console, "SELECT * FROM steward.jobs", rows, columns)
    except psycopg.Error as error:
        console.print(f"[yellow]not scheduled[/]: {describe(error)}")


def show_reports(console: Console, conn: psycopg.Connection) -> None:
    from pg_steward.cli.commands import display

    for name in ("health", "bloat", "indexes", "slow-queries"):
        report = reports.REPORTS[name]
        if not reports.available(conn, report):
            console.print(f"report {name}: not in this version of pg_steward")
            continue
        for table in reports.fetch(conn, name):
            columns, rows = display(table)
            shown = _worth_showing(name, rows)
            more = f", {len(rows) - len(shown)} more in the full report" if len(shown) < len(rows) else ""
            print_rows(console, f"pg-steward report {name} · {table.title} ({len(shown)} rows{more})", shown, columns)


def _worth_showing(name: str, rows: list[dict]) -> list[dict]:
    """The demo shows findings: health checks that are not ok, bloat that has a fix; at most 8 rows."""
    if name == "health":
        rows = [r for r in rows if r.get("status") != "ok"]
    elif name == "bloat":
        rows = [r for r in rows if r.get("fix")]
    return rows[:8]


def _has(conn: psycopg.Connection, function: str) -> bool:
    return not reports.missing_functions(conn, (function,))


def show_partitions(console: Console, conn: psycopg.Connection, table: str) -> None:
    cur = conn.execute(
        "SELECT *, partition::text AS name FROM steward.partitions(%s::regclass)", [table]
    )
    columns = [c.name for c in cur.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    for row in rows:
        row["partition"] = "  " * row["level"] + row["name"]
        row["size"] = human_bytes(row["total_bytes"])
    print_rows(console, f"SELECT * FROM steward.partitions('{table}')", rows, PARTITION_COLUMNS)
