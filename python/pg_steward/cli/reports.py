"""The reports of ``pg-steward report``: which SQL each runs, and what it needs installed.

Each report reads pg_steward's SQL API; the command line adds no logic of its
own, so a report reads the same in psql. A report whose functions this
database's pg_steward does not have is refused with one line that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from pg_steward.cli.connect import CliError


@dataclass(frozen=True)
class Source:
    title: str
    sql: str
    needs: tuple[str, ...]  # steward functions (by name) the SQL calls
    terminal: tuple[str, ...] = ()  # the columns a terminal table shows (JSON and CSV get all)


@dataclass(frozen=True)
class Report:
    name: str
    what: str
    sources: tuple[Source, ...]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    terminal: tuple[str, ...] = ()

    @property
    def shown_columns(self) -> list[str]:
        """Columns for a terminal: the report's choice where the function has them, else all."""
        chosen = [c for c in self.terminal if c in self.columns]
        return chosen or self.columns


# Every partitioned table that is not itself a partition, with its whole tree;
# WITH ORDINALITY keeps steward.partitions' tree order.
PARTITIONS_SQL = """
SELECT r.root::text AS "table", p.partition::text AS partition, p.level, p.is_leaf, p.strategy,
       p.range_from, p.range_to, p.list_values, p.is_default, p.total_bytes AS size_bytes, p.estimated_rows,
       (c.parent IS NOT NULL) AS managed
FROM (SELECT k.oid::regclass AS root FROM pg_catalog.pg_class AS k
      WHERE k.relkind = 'p' AND NOT k.relispartition
        AND k.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)) AS r
CROSS JOIN LATERAL steward.partitions(r.root) WITH ORDINALITY AS p
LEFT JOIN steward.partition_config AS c ON c.parent = r.root
ORDER BY r.root::text, p.ordinality
"""

REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("partitions", "every partitioned table's tree: bounds, sizes, estimated rows, managed or not",
           (Source("partitions", PARTITIONS_SQL, ("partitions",)),)),
    Report("slow-queries", "top statements of the last day from pg_steward's query log",
           (Source("slow queries", "SELECT * FROM steward.slow_queries()", ("slow_queries",),
                   ("query", "calls", "total_time_ms", "mean_time_ms", "max_time_ms", "rows_returned", "sources")),)),
    Report("bloat", "table and index bloat (estimates) with the command that fixes each",
           (Source("table bloat", "SELECT * FROM steward.table_bloat()", ("table_bloat",),
                   ("relation", "size_bytes", "waste_bytes", "waste_percent", "trustworthy", "fix")),
            Source("index bloat", "SELECT * FROM steward.index_bloat()", ("index_bloat",),
                   ("index", "size_bytes", "waste_bytes", "waste_percent", "trustworthy", "fix")))),
    Report("indexes", "unused, duplicate, redundant and invalid indexes with their fix",
           (Source("index problems", "SELECT * FROM steward.index_report()", ("index_report",),
                   ("problem", "severity", "table", "index", "size_bytes", "fix")),)),
    Report("health", "every health check: status, value, threshold and fix",
           (Source("health", "SELECT * FROM steward.health()", ("health",),
                   ("check_name", "status", "value", "threshold", "fix")),)),
    Report("jobs", "pg_steward's pg_cron jobs and their last run",
           (Source("jobs", "SELECT * FROM steward.jobs", ("job_status",)),)),
)}


def missing_functions(conn: psycopg.Connection, names: tuple[str, ...]) -> list[str]:
    found = {r[0] for r in conn.execute(
        "SELECT proname::text FROM pg_catalog.pg_proc WHERE pronamespace = 'steward'::regnamespace "
        "AND proname::text = ANY(%s)", [list(names)]).fetchall()}
    return [n for n in names if n not in found]


def available(conn: psycopg.Connection, report: Report) -> bool:
    return not any(missing_functions(conn, s.needs) for s in report.sources)


def fetch(conn: psycopg.Connection, name: str) -> list[Table]:
    """The tables of one report; a CliError when this database's pg_steward lacks its functions."""
    report = REPORTS[name]
    tables = []
    for source in report.sources:
        missing = missing_functions(conn, source.needs)
        if missing:
            raise CliError(f"report {name} needs steward.{missing[0]}(), which the pg_steward installed in "
                           f"database {conn.info.dbname} does not have")
        cur = conn.execute(source.sql)
        columns = [c.name for c in cur.description or []]
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        tables.append(Table(source.title, columns, rows, source.terminal))
    return tables
