"""``pg-steward demo``: the seed workload in a throwaway server, maintained, scheduled and reported on."""

from __future__ import annotations

import argparse
import re
from contextlib import ExitStack
from typing import Any

import psycopg
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from pg_steward.cli import reports
from pg_steward.cli.connect import Client, connect, describe, has_functions, label
from pg_steward.cli.output import data, human_bytes, print_rows, printable
from pg_steward.workloads import sql as workload_sql

PARTITION_COLUMNS = ["partition", "bounds", "size", "rows"]  # the tree in 80 columns
# The seed's tables are made in schema public of the demo's database (a throwaway one, or the one named by
# --dsn): their scripts run with this search_path, in their transaction only.
WORKLOAD_SEARCH_PATH = "public, pg_catalog"
# Statements slow enough to stand out in the query reports.
SLOW_QUERIES = (
    "SELECT region, count(*), sum(total_amount) FROM public.sales_analytics WHERE customer_id % 7 = 3 "
    "GROUP BY region",
    "SELECT count(*) FROM public.order_events WHERE payload LIKE '%y%' OR status = 'lost'",
    "SELECT s.region, count(*) FROM public.sales_analytics s JOIN public.sales_analytics t "
    "ON t.customer_id = s.customer_id AND t.sale_date = s.sale_date WHERE s.sale_date < '2024-01-15' "
    "GROUP BY s.region",
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="show pg_steward on the seed tables in a throwaway local server",
        description="Start a throwaway local PostgreSQL (or use --dsn), install the extension, create the "
        "seed documents' workload (sales_analytics with rows stranded in DEFAULT, a duplicate index, "
        "bloat), manage and maintain it, schedule jobs, and print what was done and the reports.")
    parser.add_argument("--dsn", help="use this database instead of a throwaway server")


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    demo(console, args.dsn)
    return 0


def statements(script: str) -> list[str]:
    """The statements of a workload script (ours: no semicolon inside a literal, none but at a line's end)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE) if s.strip()]


def demo(console: Console, dsn: str | None) -> None:
    with ExitStack() as stack:
        if dsn is None:
            from pg_steward.localserver import LocalServer

            with console.status("starting a throwaway PostgreSQL server"):
                server = stack.enter_context(LocalServer())
            dsn = server.url
            console.print(Text.assemble(("throwaway server", "bold"), " ", data(dsn), " (removed when the demo ends)"))
        db = stack.enter_context(connect(dsn))
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        console.print("[bold]CREATE EXTENSION pg_steward CASCADE[/]: done")
        version = db.query("SELECT * FROM steward.version()")[0]
        console.print(data(f"pg_steward SQL {version['sql_version']}, Python package {version['python_version']}, "
                           f"pglast {version['pglast_version']}"))

        if not db.value("SELECT pg_catalog.to_regclass('public.sales_analytics') IS NOT NULL"):
            with console.status("creating the seed workload (sales_analytics, user_analytics, ...)"):
                with db.subtransaction():
                    db.query("SELECT pg_catalog.set_config('search_path', $1, true)", WORKLOAD_SEARCH_PATH)
                    for name in ("seed_tables", "demo_problems"):
                        for statement in statements(workload_sql(name)):
                            db.execute(statement)
                db.execute("ANALYZE")  # after the commit: statistics as autovacuum would leave them
            console.print("created the seed tables, a duplicate index on sales_analytics and a bloated "
                          "order_events table")
        for table in ("sales_analytics", "transaction_log"):
            show_partitions(console, db, table)
        manage_sales(console, db)
        run_slow_queries(console, db)
        schedule_jobs(console, db)
        show_reports(console, db)
        console.print(f"\ndemo done in {escape(printable(label(dsn)))}. On your databases: "
                      "[bold]pg-steward report --html report.html --dsn DSN[/], [bold]pg-steward check --dsn DSN[/], "
                      "[bold]pg-steward maintain --concurrently "
                      "--dsn DSN[/] (repeat --dsn for a fleet)")


def manage_sales(console: Console, db: Client) -> None:
    """Register sales_analytics: its DEFAULT rows are rescued, months premade, old ones retired."""
    count = "SELECT pg_catalog.count(*) FROM public.sales_analytics_default"
    stranded = db.value(count)
    sql = ("SELECT * FROM steward.manage('sales_analytics', '1 month', premake => 3, retention => '3 years', "
           "retention_mode => 'detach')")
    with console.status("steward.manage('sales_analytics'): maintaining"):
        actions = db.query(sql.replace("'sales_analytics'", "'public.sales_analytics'", 1))
    for action in actions:
        action["parent"] = "sales_analytics"
    print_rows(console, sql, actions, ["action", "partition", "ok", "detail"])
    left = db.value(count)
    console.print(f"rows in sales_analytics_default: {stranded} before, {left} after "
                  f"(moved into their partitions); a second run does "
                  f"{len(db.query('SELECT * FROM steward.maintain_partitions()'))} actions")


def run_slow_queries(console: Console, db: Client) -> None:
    """A few slow statements, captured by pg_steward where this version can."""
    found = has_functions(db, ("capture_query_stats", "log_slow_query"))
    if "capture_query_stats" in found:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")
        db.query("SELECT * FROM steward.capture_query_stats()")
    with console.status("running a few slow queries"):
        for query in SLOW_QUERIES:
            started = db.value("SELECT pg_catalog.clock_timestamp()")
            rows = db.query(query)
            elapsed = db.value("SELECT extract(epoch FROM pg_catalog.clock_timestamp() - $1::pg_catalog.timestamptz) "
                               "* 1000", started)
            if "log_slow_query" in found:
                db.query("SELECT steward.log_slow_query($1, $2, NULL, $3)", query, elapsed, len(rows))
    if "capture_query_stats" in found:
        db.query("SELECT * FROM steward.capture_query_stats()")
    console.print(f"ran {len(SLOW_QUERIES)} slow queries"
                  + ("" if found else " (this version of pg_steward has no query capture yet)"))


def schedule_jobs(console: Console, db: Client) -> None:
    """Maintenance and log purging in pg_cron, where this server has it."""
    try:
        if db.value("SELECT pg_catalog.current_setting('cron.database_name', true) = pg_catalog.current_database()"):
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        captures = has_functions(db, ("capture_query_stats", "capture_long_running"))
        for job in ("maintenance", "capture_query_stats", "capture_long_running", "purge_logs"):
            if job.startswith("capture") and job not in captures:
                continue  # this version of pg_steward has no such capture
            db.query("SELECT * FROM steward.schedule($1)", job)
        rows = db.query("SELECT job, schedule, command, last_status FROM steward.jobs")
        print_rows(console, "SELECT * FROM steward.jobs", rows, ["job", "schedule", "command", "last_status"])
    except psycopg.Error as error:
        console.print(Text.assemble(("not scheduled", "yellow"), ": ", data(describe(error))))


def show_reports(console: Console, db: Client) -> None:
    for name in ("health", "bloat", "indexes", "slow-queries"):
        report = reports.REPORTS[name]
        if not reports.available(db, report):
            console.print(f"report {name}: not in this version of pg_steward")
            continue
        for table in reports.fetch(db, name):
            columns, rows = reports.display(table)
            shown = _worth_showing(name, rows)
            more = f", {len(rows) - len(shown)} more in the full report" if len(shown) < len(rows) else ""
            heading = f"pg-steward report {name} · {table.title} ({len(shown)} rows{more})"
            if columns:
                print_rows(console, heading, shown, columns)
            else:
                console.print(data(heading))
            if table.note:
                console.print(data(f"{table.title}: {table.note}"))


def _worth_showing(name: str, rows: list[dict]) -> list[dict]:
    """The demo shows findings: health checks that are not ok, bloat that has a fix; at most 8 rows."""
    if name == "health":
        rows = [r for r in rows if r.get("status") != "ok"]
    elif name == "bloat":
        rows = [r for r in rows if r.get("fix")]
    return rows[:8]


def show_partitions(console: Console, db: Client, table: str) -> None:
    rows = db.query("SELECT *, partition::pg_catalog.oid::pg_catalog.int8 AS oid "
                    "FROM steward.partitions(('public.' || $1::pg_catalog.text)::pg_catalog.regclass)", table)
    names = db.names(r["oid"] for r in rows)
    for row in rows:
        row["partition"] = "  " * row["level"] + names.get(row["oid"], str(row["partition"]))
        row["size"] = human_bytes(row["total_bytes"])
        row["bounds"] = _bounds(row)
        row["rows"] = row["estimated_rows"]
    print_rows(console, f"SELECT * FROM steward.partitions('{table}')", rows, PARTITION_COLUMNS)


def _bounds(row: dict) -> str:
    """One partition's bounds in a few words: ``DEFAULT``, ``FROM to TO`` or the list values."""
    if row["is_default"]:
        return "DEFAULT"
    if row["range_from"] is not None or row["range_to"] is not None:
        return f"{row['range_from']} to {row['range_to']}"
    return ", ".join(str(v) for v in row["list_values"] or [])
