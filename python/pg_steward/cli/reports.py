"""The reports of ``pg-steward report``: which SQL each runs, and what it needs installed.

Each report reads pg_steward's SQL API; the command line adds no logic of its
own, so a report reads the same in psql. A report whose functions this
database's pg_steward does not have is refused with one line that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pg_steward.cli.connect import Client, CliError, has_functions
from pg_steward.cli.output import human_bytes


@dataclass(frozen=True)
class Source:
    title: str
    sql: str
    needs: tuple[str, ...]  # steward functions (by name) the SQL calls
    terminal: tuple[str, ...] = ()  # the columns a terminal table shows (JSON and CSV get all)
    filters: tuple[str, ...] = ()  # filters the command line may pass (FILTERS): named arguments in {args},
    # or, in SQL of our own, the expression at each {name}


@dataclass(frozen=True)
class Report:
    name: str
    what: str
    sources: tuple[Source, ...]

    @property
    def filters(self) -> set[str]:
        return {f for s in self.sources for f in s.filters}


FILTERS = {"min_bytes": "pg_catalog.pg_size_bytes($1::pg_catalog.text)"}
"""Each filter of the command line as the SQL argument it becomes: the server parses a size (``10MB``)."""


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


# Every partitioned table that is not itself a partition, with its whole tree; WITH ORDINALITY keeps
# steward.partitions' tree order. Tables come as oids, named afterwards as in the database's search_path.
# The tree is the catalog's, which every role reads; "readable" says whether the role may also read the rows
# (USAGE on the schema and SELECT on the table), so a report can mark the tables it may not.
PARTITIONS_SQL = """
WITH tree AS (
SELECT r.root::pg_catalog.oid::pg_catalog.int8 AS "table", p.partition::pg_catalog.oid::pg_catalog.int8 AS partition,
       p.level, p.is_leaf, p.strategy, p.range_from, p.range_to, p.list_values, p.is_default,
       p.total_bytes AS size_bytes, p.estimated_rows, (c.parent IS NOT NULL) AS managed, r.readable,
       r.root::pg_catalog.oid AS root_oid, p.ordinality,
       pg_catalog.max(p.total_bytes) FILTER (WHERE p.level = 0) OVER (PARTITION BY r.root) AS tree_bytes
FROM (SELECT k.oid::pg_catalog.regclass AS root,
             pg_catalog.has_schema_privilege(k.relnamespace, 'USAGE')
               AND pg_catalog.has_table_privilege(k.oid, 'SELECT') AS readable
      FROM pg_catalog.pg_class AS k
      WHERE k.relkind = 'p' AND NOT k.relispartition
        AND k.relnamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace,
                                   'information_schema'::pg_catalog.regnamespace)) AS r
CROSS JOIN LATERAL steward.partitions(r.root) WITH ORDINALITY AS p
LEFT JOIN steward.partition_config AS c ON c.parent = r.root)
SELECT "table", partition, level, is_leaf, strategy, range_from, range_to, list_values, is_default, size_bytes,
       estimated_rows, managed, readable
FROM tree
WHERE {min_bytes} = 0 OR tree_bytes >= {min_bytes}  -- a tree whose size is unknown (busy) is not left out
   OR tree_bytes IS NULL
ORDER BY root_oid, ordinality
"""
# oids in the SQL, names in the report
RELATION_COLUMNS = {"partitions": ("table", "partition"), "awaiting export": ("table", "partition")}

REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("partitions", "every partitioned table's tree: bounds, sizes, estimated rows, managed or not",
           (Source("partitions", PARTITIONS_SQL, ("partitions",),
                   ("table", "partition", "level", "is_leaf", "strategy", "range_from", "range_to", "list_values",
                    "is_default", "size_bytes", "estimated_rows", "managed", "readable"), ("min_bytes",)),)),
    Report("exports", "partitions awaiting export (retention mode export) and the record of those exported",
           (Source("awaiting export", "SELECT parent_table::pg_catalog.oid::pg_catalog.int8 AS \"table\", "
                   "partition::pg_catalog.oid::pg_catalog.int8 AS partition, range_from, range_to, detail "
                   "FROM steward.export_candidates()", ("export_candidates",),
                   ("table", "partition", "range_from", "range_to")),
            Source("exported", "SELECT parent AS \"table\", partition, range_from, range_to, row_count, sha256, "
                   "location, retired_as, exported_by, exported_at FROM steward.partition_exports "
                   "ORDER BY exported_at DESC, id DESC", ("export_candidates",),
                   ("table", "partition", "range_from", "range_to", "row_count", "location", "retired_as",
                    "exported_at")))),
    Report("slow-queries", "top statements of the last day from pg_steward's query log",
           (Source("slow queries", "SELECT * FROM steward.slow_queries()", ("slow_queries",),
                   ("query", "calls", "total_time_ms", "mean_time_ms", "max_time_ms", "rows_returned", "sources")),)),
    Report("bloat", "table and index bloat (estimates) with the command that fixes each",
           (Source("table bloat", "SELECT * FROM steward.table_bloat({args})", ("table_bloat",),
                   ("relation", "size_bytes", "waste_bytes", "waste_percent", "trustworthy", "fix"), ("min_bytes",)),
            Source("index bloat", "SELECT * FROM steward.index_bloat({args})", ("index_bloat",),
                   ("index", "size_bytes", "waste_bytes", "waste_percent", "trustworthy", "fix"), ("min_bytes",)))),
    Report("indexes", "unused, duplicate, redundant and invalid indexes with their fix",
           (Source("index problems", "SELECT * FROM steward.index_report()", ("index_report",),
                   ("problem", "severity", "table", "index", "size_bytes", "fix")),)),
    Report("health", "every health check: status, value, threshold and fix",
           (Source("health", "SELECT * FROM steward.health()", ("health",),
                   ("check_name", "status", "value", "threshold", "fix")),)),
    Report("jobs", "pg_steward's pg_cron jobs and their last run",
           (Source("jobs", "SELECT * FROM steward.jobs", ("job_status",)),)),
)}


def missing_functions(db: Client, names: tuple[str, ...]) -> list[str]:
    found = has_functions(db, names)
    return [n for n in names if n not in found]


def available(db: Client, report: Report) -> bool:
    return not any(missing_functions(db, s.needs) for s in report.sources)


def sql_of(source: Source, filters: dict[str, str | None]) -> tuple[str, list[str]]:
    """The statement of a source and its parameters: the filters given (not None) as named arguments, so
    the function's own defaults apply to the others."""
    given = [(f, v) for f, v in filters.items() if v is not None and f in source.filters]
    args = ", ".join(f"{f} => {FILTERS[f].replace('$1', f'${n}')}" for n, (f, _) in enumerate(given, 1))
    sql = source.sql.replace("{args}", args)
    for n, (f, _) in enumerate(given, 1):  # SQL of our own takes a filter where it says {name}
        sql = sql.replace("{" + f + "}", FILTERS[f].replace("$1", f"${n}"))
    for f in source.filters:  # and a filter not given as 0: nothing left out
        sql = sql.replace("{" + f + "}", "0")
    return sql, [v for _, v in given]


def fetch(db: Client, name: str, filters: dict[str, str | None] | None = None) -> list[Table]:
    """The tables of one report; a CliError when this database's pg_steward lacks its functions."""
    report = REPORTS[name]
    tables = []
    for source in report.sources:
        missing = missing_functions(db, source.needs)
        if missing:
            raise CliError(f"report {name} needs steward.{missing[0]}(), which the pg_steward installed in "
                           f"database {db.dbname} does not have")
        sql, params = sql_of(source, filters or {})
        rows = db.query(sql, *params)
        columns = list(rows[0]) if rows else list(source.terminal)
        relations = RELATION_COLUMNS.get(source.title, ())
        if relations:
            names = db.names(r[c] for r in rows for c in relations)
            rows = [{**r, **{c: names.get(r[c], str(r[c])) for c in relations if r[c] is not None}} for r in rows]
            rows.sort(key=lambda r: str(r["table"]))  # by name, as the database's search_path shows it
        tables.append(Table(source.title, columns, rows, source.terminal))
    return tables


def display(table: Table) -> tuple[list[str], list[dict[str, Any]]]:
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
    if table.title == "partitions":  # "readable" only where the role may not read a table: those are marked
        every = all(r.get("readable") is not False for r in table.rows)
        columns = [c for c in table.columns if c not in ("is_leaf", "table") and not (c == "readable" and every)]
    else:
        columns = table.shown_columns
    return columns, rows
