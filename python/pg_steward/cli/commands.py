"""The work of each ``pg-steward`` command on one database, and how results are printed.

Every command runs per DSN through ``fleet.run_all`` (one database or many
in parallel); these functions get one DSN and return plain rows, so the
printing is the same for one database and a fleet.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from pg_steward.cli import check as checks
from pg_steward.cli import html, reports
from pg_steward.cli.connect import CliError, connect, describe, label, require_extension
from pg_steward.cli.fleet import Outcome, progress_bar, run_all
from pg_steward.cli.output import human_bytes, print_rows, write_csv, write_json


def report_rows(dsn: str, name: str) -> list[reports.Table]:
    with connect(dsn) as conn:
        require_extension(conn)
        return reports.fetch(conn, name)


def display(table: reports.Table) -> tuple[list[str], list[dict[str, Any]]]:
    """Terminal view: byte counts readable, the partition tree indented."""
    rows = []
    for row in table.rows:
        shown = dict(row)
        for column in table.columns:
            if column.endswith("_bytes") and isinstance(row.get(column), int):
                shown[column] = human_bytes(row[column])
        if "level" in row and "partition" in row:
            shown["partition"] = "  " * (row["level"] or 0) + str(row["partition"])
        rows.append(shown)
    columns = [c for c in table.columns if c not in ("is_leaf", "table")] if table.title == "partitions" \
        else table.shown_columns
    return columns, rows


def flat_rows(outcomes: Sequence[Outcome[list[reports.Table]]], several_sources: bool) -> list[dict[str, Any]]:
    out = []
    for outcome in outcomes:
        for table in outcome.value or []:
            for row in table.rows:
                extra = {"database": outcome.database}
                if several_sources:
                    extra["source"] = table.title
                out.append({**extra, **row})
    return out


def print_report(console: Console, name: str, outcomes: Sequence[Outcome[list[reports.Table]]], fmt: str) -> None:
    several = len(reports.REPORTS[name].sources) > 1
    if fmt == "json":
        write_json(sys.stdout, flat_rows(outcomes, several))
    elif fmt == "csv":
        write_csv(sys.stdout, flat_rows(outcomes, several))
    else:
        for outcome in outcomes:
            for table in outcome.value or []:
                columns, rows = display(table)
                print_rows(console, f"{outcome.database} · {table.title} ({len(rows)} rows)", rows, columns)


def html_section(dsn: str) -> html.Section:
    """Everything the page shows for one database: charts first, then the reports it has."""
    with connect(dsn) as conn:
        require_extension(conn)
        section = html.Section(label(dsn))
        got: dict[str, list[reports.Table]] = {}
        for name, report in reports.REPORTS.items():
            if not reports.available(conn, report):
                section.notes.append(f"{name}: not available in this database's pg_steward")
                continue
            try:
                got[name] = reports.fetch(conn, name)
            except Exception as error:  # one report failing (e.g. no pg_cron for jobs) leaves the others
                section.notes.append(f"{name}: {describe(error)}")
        section.charts = charts(got)
        for tables in got.values():
            section.tables += [(t.title, t.columns, t.rows) for t in tables]
        return section


def charts(got: dict[str, list[reports.Table]]) -> list[html.Chart]:
    out = []
    parts = [r for t in got.get("partitions", []) for r in t.rows if r.get("is_leaf")]
    out.append(html.Chart("Partition sizes (largest leaves)",
                          html.items(parts, lambda r: str(r["partition"]), "size_bytes"), html.size_unit))
    bloat = [r for t in got.get("bloat", []) for r in t.rows]
    column = html.numeric_column(bloat, ("waste_bytes", "bloat_bytes", "wasted_bytes"))
    out.append(html.Chart("Bloat, top tables and indexes",
                          html.items(bloat, _relation_label, column), html.size_unit))
    slow = [r for t in got.get("slow-queries", []) for r in t.rows]
    column = html.numeric_column(slow, ("total_time_ms", "total_exec_time_ms", "total_ms", "total_time",
                                        "mean_time_ms", "execution_time_ms"))
    out.append(html.Chart("Slow queries, top by total time",
                          html.items(slow, lambda r: str(r.get("query") or r.get("fingerprint") or "?"), column),
                          html.milliseconds))
    return out


def _relation_label(row: dict[str, Any]) -> str:
    for key in ("relation", "index"):  # already qualified by the report
        if row.get(key):
            return str(row[key])
    for key in ("index_name", "table_name", "table"):
        if row.get(key):
            schema = row.get("schema") or row.get("schema_name")
            return f"{schema}.{row[key]}" if schema else str(row[key])
    return "?"


def health_verdict(dsn: str) -> checks.Verdict:
    with connect(dsn) as conn:
        require_extension(conn)
        if reports.missing_functions(conn, ("health",)):
            return checks.Verdict(checks.UNKNOWN, f"steward.health() is not available in database "
                                                  f"{conn.info.dbname}", {})
        cur = conn.execute("SELECT * FROM steward.health()")
        columns = [c.name for c in cur.description or []]
        return checks.evaluate([dict(zip(columns, r, strict=True)) for r in cur.fetchall()])


def check_outcome(outcome: Outcome[checks.Verdict]) -> checks.Verdict:
    if outcome.value is not None:
        return outcome.value
    error = outcome.error or "failed"
    code = checks.CRITICAL if error.startswith("cannot connect") else checks.UNKNOWN
    return checks.Verdict(code, error, {})


def maintain_rows(dsn: str, parent: str | None, concurrently: bool, console: Console,
                  bar_per_table: bool) -> list[dict[str, Any]]:
    """Maintenance of one database; a bar over its tables unless a fleet bar is shown already."""
    from pg_steward.cli import maintain

    with connect(dsn) as conn:
        require_extension(conn)
        if not bar_per_table:  # rich shows one live display at a time: the fleet's
            return maintain.run(conn, parent, concurrently)
        with progress_bar(console, f"maintaining {conn.info.dbname}") as bar:
            task = bar.add_task(f"maintaining {conn.info.dbname}", total=None)

            def advance(total: int, table: str) -> None:
                bar.update(task, total=total, advance=1, description=f"maintained {table}")

            return maintain.run(conn, parent, concurrently, advance)


def report_errors(outcomes: Sequence[Outcome[Any]]) -> int:
    """Failed databases on stderr, one line each; the exit status (1 if any failed)."""
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        prefix = "" if outcome.error and outcome.database in outcome.error else f"{outcome.database}: "
        print(f"pg-steward: error: {prefix}{outcome.error}", file=sys.stderr)
    return 1 if failed else 0


def fleet(dsns: Sequence[str], work: Any, jobs: int, console: Console, what: str) -> list[Outcome[Any]]:
    if not dsns:
        raise CliError("no database given: use --dsn (repeatable) or --dsn-file")
    return run_all(dsns, work, jobs=jobs, console=console, description=what)
