"""``pg-steward demo``: the seed tables in a throwaway server, shown by pg_steward."""

from __future__ import annotations

from contextlib import ExitStack

import psycopg
from rich.console import Console

from pg_steward.cli.output import human_bytes, print_rows
from pg_steward.workloads import sql as workload_sql

PARTITION_COLUMNS = ["partition", "level", "strategy", "range_from", "range_to", "list_values",
                     "is_default", "size", "estimated_rows"]


def run(console: Console, dsn: str | None) -> None:
    with ExitStack() as stack:
        if dsn is None:
            from pg_steward.localserver import LocalServer

            with console.status("starting a throwaway PostgreSQL server"):
                server = stack.enter_context(LocalServer())
            dsn = server.url
            console.print(f"[bold]throwaway server[/] {dsn} (removed when the demo ends)")
        conn = stack.enter_context(psycopg.connect(dsn, autocommit=True))
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_steward CASCADE")
        console.print("[bold]CREATE EXTENSION pg_steward CASCADE[/]: done")
        version = conn.execute("SELECT * FROM steward.version()").fetchone()
        console.print(f"pg_steward SQL {version[0]}, Python package {version[1]}, pglast {version[3]}")

        exists = conn.execute("SELECT to_regclass('public.sales_analytics') IS NOT NULL").fetchone()[0]
        if not exists:
            with console.status("creating the seed tables (sales_analytics, user_analytics, ...)"):
                with conn.transaction():
                    conn.execute(workload_sql("seed_tables"))
        for table in ("sales_analytics", "transaction_log"):
            show_partitions(console, conn, table)
        manage_sales(console, conn)


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
