"""The reports of ``pg-steward report``: which SQL each runs, and what it needs installed.

Each report reads pg_steward's SQL API; the command line adds no logic of its
own, so a report reads the same in psql. A report whose functions this
database's pg_steward does not have is refused with one line that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pg_steward.cli.connect import Client, CliError, describe, has_functions
from pg_steward.cli.output import human_bytes
from pg_steward.sqltext import quote_ident


@dataclass(frozen=True)
class Source:
    title: str
    sql: str
    needs: tuple[str, ...]  # steward functions (by name) the SQL calls
    terminal: tuple[str, ...] = ()  # the columns a terminal table shows (JSON and CSV get all)
    filters: tuple[str, ...] = ()  # filters the command line may pass (FILTERS): named arguments in {args},
    # or, in SQL of our own, the expression at each {name}
    optional: bool = False  # where this pg_steward lacks the functions (or they fail), the report goes on
    # without this source, and its table says why


@dataclass(frozen=True)
class Report:
    name: str
    what: str
    sources: tuple[Source, ...]

    @property
    def filters(self) -> set[str]:
        return {f for s in self.sources for f in s.filters}


FILTERS = {"min_bytes": "pg_catalog.pg_size_bytes($1::pg_catalog.text)", "since": "$1::pg_catalog.interval",
           "search_path": "$1::pg_catalog.text"}
"""Each filter of the command line as the SQL argument it becomes: the server parses a size (``10MB``) and an
interval (``7 days``). ``search_path`` is not the user's: ``fetch`` passes it to the sources that take it."""


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    terminal: tuple[str, ...] = ()
    note: str = ""  # what the rows do not say: the source is missing or failed, its figures are not measured

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

SUGGESTIONS = "suggested indexes"
SUGGESTION_COLUMNS = ("table_name", "columns", "create_statement", "estimated_bytes", "calls", "cost_before",
                      "cost_after", "est_ms_saved_per_day", "write_cost", "verified", "reason",
                      "makes_redundant", "drop_statements")  # the last two where this pg_steward returns them
NOT_MEASURED = "not measured"

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
    Report("indexes", "unused, duplicate, redundant and invalid indexes with their fix, then the indexes the "
                      "captured workload needs (steward.suggest_indexes)",
           (Source("index problems", "SELECT * FROM steward.index_report()", ("index_report",),
                   ("problem", "severity", "table", "index", "size_bytes", "fix")),
            Source(SUGGESTIONS, "SELECT * FROM steward.suggest_indexes({args})", ("suggest_indexes",),
                   SUGGESTION_COLUMNS, ("since", "search_path"), optional=True))),
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
    return not any(missing_functions(db, s.needs) for s in report.sources if not s.optional)


def statement_search_path(schemas: Sequence[str]) -> str:
    """The search_path the workload's statements are planned with: the database's own schemas (as
    ``current_schemas(true)`` lists them), so that their unqualified table names resolve as the application's
    do, but pg_catalog first, where PostgreSQL puts it when a path does not name it. A path that lists a
    schema before pg_catalog (``evil, pg_catalog, public``) would otherwise have the statements call that
    schema's operators and functions while they are planned, with the rights of whoever runs pg-steward.
    The session's temporary schema is left out: its tables are not the application's."""
    rest = [s for s in schemas if s != "pg_catalog" and not s.startswith("pg_temp_")]
    return ", ".join(quote_ident(s) for s in ["pg_catalog", *rest])


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


# The columns a steward function returns (RETURNS TABLE), in order, as this database's pg_steward defines it.
_RESULT_COLUMNS_SQL = """
SELECT a.name
FROM pg_catalog.pg_proc AS p
CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(p.proargnames),
                              pg_catalog.unnest(p.proargmodes::pg_catalog.text[])) WITH ORDINALITY
     AS a (name, mode, position)
WHERE p.pronamespace = 'steward'::pg_catalog.regnamespace AND p.proname::pg_catalog.text = $1::pg_catalog.text
  AND a.mode IN ('t', 'o')
ORDER BY p.oid, a.position
"""
_HYPOPG_SQL = "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'hypopg') AS installed"


def result_columns(db: Client, function: str) -> list[str]:
    return list(dict.fromkeys(r["name"] for r in db.query(_RESULT_COLUMNS_SQL, function)))


def fetch(db: Client, name: str, filters: dict[str, str | None] | None = None) -> list[Table]:
    """The tables of one report; a CliError when this database's pg_steward lacks the functions of a source
    the report needs. A source the report may go without (``optional``) that is missing or fails (other
    than for bad input, such as an interval that is not one) is a table without rows whose note says why."""
    report = REPORTS[name]
    tables = []
    for source in report.sources:
        missing = missing_functions(db, source.needs)
        if missing and source.optional:
            tables.append(Table(source.title, [], [], source.terminal,
                                f"not available: the pg_steward installed in database {db.dbname} has no "
                                f"steward.{missing[0]}() (an older version); upgrade it with ALTER EXTENSION "
                                "pg_steward UPDATE"))
            continue
        if missing:
            raise CliError(f"report {name} needs steward.{missing[0]}(), which the pg_steward installed in "
                           f"database {db.dbname} does not have")
        given = dict(filters or {})
        if "search_path" in source.filters:
            given["search_path"] = statement_search_path(db.schemas)
        sql, params = sql_of(source, given)
        note = ""
        try:
            with db.warnings() as warned:
                rows = db.query(sql, *params)
        except psycopg.Error as error:
            if not source.optional or (error.sqlstate or "").startswith("22"):
                raise
            rows, note = [], f"not available: {describe(error)}"
        if not rows:
            columns = result_columns(db, source.needs[0]) or list(source.terminal)
        else:
            columns = list(rows[0])
        if source.title == SUGGESTIONS and not note:
            note = suggestions_note(rows, bool(db.value(_HYPOPG_SQL)))
        note = "; ".join(n for n in (note, *warned) if n)  # what the function said it left undone
        relations = RELATION_COLUMNS.get(source.title, ())
        if relations:
            names = db.names(r[c] for r in rows for c in relations)
            rows = [{**r, **{c: names.get(r[c], str(r[c])) for c in relations if r[c] is not None}} for r in rows]
            rows.sort(key=lambda r: str(r["table"]))  # by name, as the database's search_path shows it
        tables.append(Table(source.title, columns, rows, source.terminal, note))
    return tables


def suggestions_note(rows: Sequence[dict[str, Any]], hypopg: bool) -> str:
    """What the suggestions' table says beside its rows: whether they were measured."""
    unverified = sum(1 for r in rows if r.get("verified") is not True)
    if not hypopg:
        return ("hypopg is not installed in this database: the suggestions are candidates from the statements' "
                "parse trees, not measured (verified: no); CREATE EXTENSION hypopg to measure them")
    if unverified:
        return f"{unverified} of {len(rows)} suggestion(s) not measured (verified: no)"
    if rows:
        return ""
    return "no suggestion for the workload captured in the window (its statements on tables this role may not " \
           "read are left out)"


def suggestion_view(row: dict[str, Any]) -> dict[str, Any]:
    """A suggestion as a person reads it (terminal and HTML page; JSON keeps the function's values): the
    recipe of a partitioned table on one line, what an unverified suggestion lacks said as not measured, and
    a row without a CREATE INDEX (drop an existing redundant index instead) said so."""
    shown = dict(row)
    drops = row.get("drop_statements")
    if isinstance(drops, list):
        shown["drop_statements"] = " ".join(str(d) for d in drops if d is not None)
    statement = row.get("create_statement")
    if statement is None:
        shown["create_statement"] = "none: drop the redundant index instead" if drops else ""
    else:
        shown["create_statement"] = " ".join(line.strip() for line in str(statement).splitlines() if line.strip())
    if row.get("verified") is not True:
        shown["verified"] = f"no ({NOT_MEASURED})"
        for column in ("cost_after", "est_ms_saved_per_day"):
            if row.get(column) is None:
                shown[column] = NOT_MEASURED
    else:
        shown["verified"] = "yes"
    return shown


def display(table: Table) -> tuple[list[str], list[dict[str, Any]]]:
    """Terminal view: byte counts readable, the partition tree indented."""
    rows = []
    for row in table.rows:
        shown = suggestion_view(row) if table.title == SUGGESTIONS else dict(row)
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
