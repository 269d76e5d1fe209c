"""``pg-steward report``: one report as a table, JSON or CSV, or every report as one HTML page with charts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from pg_steward.cli import html, reports
from pg_steward.cli.connect import CliError, connect, describe, label, require_extension
from pg_steward.cli.fleet import Outcome, add_targets, over, report_errors
from pg_steward.cli.output import FORMATS, data, human_bytes, print_rows, write_flat


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="print a report, or write all of them as one HTML page with charts",
        description="Reports: " + "; ".join(f"{r.name}: {r.what}" for r in reports.REPORTS.values()) + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", choices=list(reports.REPORTS), metavar="NAME",
                        help=f"one of: {', '.join(reports.REPORTS)}")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--html", metavar="FILE",
                        help="write every report as one self-contained HTML page with charts")
    parser.add_argument("--min-bytes", metavar="SIZE",
                        help="bloat: only tables and indexes of at least this size; partitions: only trees of at "
                             "least this size (bytes, or 10MB, 1GB, ...)")
    parser.add_argument("--since", metavar="INTERVAL",
                        help="indexes: the window of captured workload the suggested indexes serve (an interval: "
                             "'7 days', '12 hours'; default 7 days)")
    add_targets(parser)


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    filters = {"min_bytes": args.min_bytes, "since": args.since}
    if args.html:
        return write_page(args, filters, err)
    if not args.name:
        raise CliError("give a report NAME or --html FILE (see pg-steward report --help)")
    for given in (f for f, v in filters.items() if v is not None):
        if given not in reports.REPORTS[args.name].filters:
            takes = [r.name for r in reports.REPORTS.values() if given in r.filters]
            raise CliError(f"--{given.replace('_', '-')} applies to report{'s' if len(takes) > 1 else ''} "
                           f"{', '.join(takes)}, not {args.name}")
    outcomes = over(args, lambda dsn: report_rows(dsn, args.name, filters), err, f"reading {args.name}")
    print_report(console, args.name, [o for o in outcomes if o.ok], args.format, err)
    return report_errors(outcomes)


def write_page(args: argparse.Namespace, filters: dict[str, str | None], err: Console) -> int:
    outcomes = over(args, lambda dsn: html_section(dsn, filters), err, "reading reports")
    sections = [o.value for o in outcomes if o.value is not None]
    if not sections:
        return report_errors(outcomes)  # nothing to show: no page
    sections += [html.Section(o.database, notes=[o.error or ""]) for o in outcomes if o.value is None]
    try:
        with open(args.html, "w", encoding="utf-8") as out:
            out.write(html.page(sections))
    except OSError as error:
        raise CliError(f"cannot write {args.html}: {error.strerror}") from None
    err.print(data(f"wrote {args.html}"))
    return report_errors(outcomes)


def report_rows(dsn: str, name: str, filters: dict[str, str | None]) -> list[reports.Table]:
    with connect(dsn) as db:
        require_extension(db)
        return reports.fetch(db, name, filters)


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


def print_report(console: Console, name: str, outcomes: Sequence[Outcome[list[reports.Table]]], fmt: str,
                 err: Console) -> None:
    """The tables of each database; a table's note follows its rows (in the machine formats, on stderr: the
    rows on stdout stay rows)."""
    several = len(reports.REPORTS[name].sources) > 1
    if fmt != "table":
        write_flat(sys.stdout, fmt, flat_rows(outcomes, several))
        for outcome in outcomes:
            for table in outcome.value or []:
                if table.note:
                    err.print(data(f"pg-steward: note: {outcome.database} · {table.title}: {table.note}"))
    else:
        for outcome in outcomes:
            for table in outcome.value or []:
                columns, rows = reports.display(table)
                heading = f"{outcome.database} · {table.title} ({len(rows)} rows)"
                if columns:
                    print_rows(console, heading, rows, columns)
                else:  # a source this database's pg_steward does not have: its note says so
                    console.print(data(heading))
                if table.note:
                    console.print(data(f"{table.title}: {table.note}"))


def html_section(dsn: str, filters: dict[str, str | None]) -> html.Section:
    """Everything the page shows for one database: a summary, the health checks, then charts and the reports."""
    with connect(dsn) as db:
        require_extension(db)
        section = html.Section(label(dsn), role=str(db.value("SELECT current_user")))
        got: dict[str, list[reports.Table]] = {}
        for name, report in reports.REPORTS.items():
            if not reports.available(db, report):
                section.notes.append(f"{name}: not available in this database's pg_steward")
                continue
            try:
                got[name] = reports.fetch(db, name, filters)
            except Exception as error:  # one report failing (e.g. no pg_cron for jobs) leaves the others
                section.notes.append(f"{name}: {describe(error)}")
        section.health = [r for t in got.pop("health", []) for r in t.rows]
        section.summary = summary(got)
        section.charts = charts(got)
        for tables in got.values():
            section.tables += [(t.title, t.columns, _page_rows(t), t.note) for t in tables]
        return section


def _page_rows(table: reports.Table) -> list[dict[str, Any]]:
    return [reports.suggestion_view(r) for r in table.rows] if table.title == reports.SUGGESTIONS else table.rows


def summary(got: dict[str, list[reports.Table]]) -> dict[str, str]:
    """One line of the page's summary table for a database: sizes and counts of what its reports found."""
    def rows(name: str) -> list[dict[str, Any]]:
        return [r for t in got.get(name, []) for r in t.rows]

    out: dict[str, str] = {}
    if "partitions" in got:
        roots = [r for r in rows("partitions") if r.get("level") == 0]
        size = sum(r.get("size_bytes") or 0 for r in roots)
        out["partitioned tables"] = (f"{len(roots)} ({sum(1 for r in rows('partitions') if r.get('is_leaf'))} "
                                     f"partitions, {human_bytes(size)})")
    if "indexes" in got:
        tables = {t.title: t for t in got["indexes"]}
        out["index problems"] = str(len(tables["index problems"].rows)) if "index problems" in tables else ""
        suggested = tables.get(reports.SUGGESTIONS)
        if suggested is not None:
            measured = sum(1 for r in suggested.rows if r.get("verified") is True)
            out[reports.SUGGESTIONS] = ("not available" if suggested.note.startswith("not available")
                                        else f"{len(suggested.rows)} ({measured} measured)")
    if "bloat" in got:
        waste = [r.get("waste_bytes") for r in rows("bloat")]
        unknown = sum(1 for w in waste if w is None)
        out["estimated bloat"] = human_bytes(sum(w for w in waste if w is not None)) + (
            f" ({unknown} not estimated)" if unknown else "")
    if "slow-queries" in got:
        out["slow queries"] = str(len(rows("slow-queries")))
    if "jobs" in got:
        jobs = rows("jobs")
        out["pg_cron jobs"] = html.NOT_VISIBLE if any(html.hidden(j) for j in jobs) else str(len(jobs))
    marked = sum(1 for tables in got.values() for t in tables for r in t.rows if html.hidden(r))
    out[html.NOT_VISIBLE] = str(marked)
    return out


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
