"""steward.suggest_indexes(): index advice for a workload, costed with hypopg's hypothetical indexes.

The workload is the statements of ``steward.query_performance_log`` (what
``capture_query_stats`` logged from pg_stat_statements, and ``log_slow_query``'s
entries) over a window, grouped by fingerprint and weighted by calls, or an
explicit array of statements. Candidates come from the parse trees
(index_candidates.py). With hypopg installed each candidate is created as a
hypothetical index and every statement on its table is EXPLAINed (never
executed, never ANALYZEd) again; a greedy choice over the whole workload then
keeps the candidates that lower the calls-weighted cost most, one at a time,
so one index serving three shapes wins over three that serve one each. All of
it runs in a subtransaction that is rolled back, and ``hypopg_reset()`` drops
the hypothetical indexes whatever happens. No index is ever created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pg_steward import server
from pg_steward.db import Database, Row
from pg_steward.errors import (
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    NULL_VALUE_NOT_ALLOWED,
    PROGRAM_LIMIT_EXCEEDED,
    STATEMENT_TOO_COMPLEX,
    StewardError,
)
from pg_steward.partitions.tree import partition_walk
from pg_steward.queries.explain import rolled_back
from pg_steward.queries.fingerprint import fingerprint
from pg_steward.queries.index_candidates import Candidate, candidates, covered, parameters, substitute
from pg_steward.queries.statements import classify
from pg_steward.reports import index_findings
from pg_steward.reports.index_findings import IndexInfo
from pg_steward.reports.indexes import indexes_of
from pg_steward.sqltext import quote_ident

# A shape counts as helped when its cost falls by at least this share (smaller gains are within the planner's
# noise and do not pay for an index).
MIN_COST_SAVING = 0.2
# Keeping one more index up to date costs about this much per row written (insert, update, delete): a rough
# figure for a B-tree insertion in shared buffers, used only to weigh write-heavy tables against read gains.
WRITE_MS_PER_ROW = 0.01
MAX_SHAPES = 500  # the most frequent shapes of the window are costed, the rest are left out
NOT_INSTALLED = "hypopg not installed"
T = TypeVar("T")


@dataclass
class Shape:
    text: str  # what is EXPLAINed: parameters substituted on PostgreSQL 15
    fingerprint: str
    calls: int
    total_ms: float | None
    generic: bool = False  # EXPLAIN (GENERIC_PLAN): $n left in, PostgreSQL 16+
    base: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)  # the indexes its plan reads, by name, before any hypothetical one


@dataclass
class Existing:
    """A table's indexes as index_findings reads them, its column names, and each column's attnum, default
    B-tree operator class and collation (what an index on it would get)."""

    indexes: list[IndexInfo]
    names: dict[tuple[int, int], str]
    classes: dict[str, tuple[int, str | None, str]]


@dataclass
class Table:
    oid: int
    quoted: str
    name: str
    partitioned: bool
    reltuples: float
    indexes: list[tuple[tuple[str, ...], bool]]
    writes_per_day: float
    existing: Existing | None = None

    def index_write_cost(self) -> float:
        """ms per day to keep one index of this table up to date."""
        return self.writes_per_day * WRITE_MS_PER_ROW


@dataclass
class Option:
    candidate: Candidate
    table: Table
    costs: dict[int, float]  # shape index -> cost with this index alone
    size: int | None
    shapes: list[int] = field(default_factory=list)  # the shapes that produced it
    redundant: list[IndexInfo] = field(default_factory=list)  # existing indexes it would serve every use of
    replaces: list[IndexInfo] = field(default_factory=list)  # those left for it to drop, once it is chosen


def _refuse(message: str, hint: str | None = None) -> StewardError:
    return StewardError(message, INVALID_PARAMETER_VALUE,
                        hint=hint or "Pass single SELECT, INSERT, UPDATE, DELETE or MERGE statements: they are only "
                                     "EXPLAINed, never executed.")


def check_statement(text: str | None) -> None:
    """Refuse (22023) what suggest_indexes would not EXPLAIN: anything but one SELECT or data-modifying statement."""
    if text is None or not text.strip():
        raise StewardError("statements must not hold NULL or empty entries", NULL_VALUE_NOT_ALLOWED)
    try:
        statement = classify(text)
    except StewardError as error:
        if error.sqlstate in (PROGRAM_LIMIT_EXCEEDED, STATEMENT_TOO_COMPLEX) or "does not parse" in str(error):
            raise
        raise _refuse(f"cannot suggest indexes for this statement: {error}") from None
    if statement.prepared is not None:
        raise _refuse("cannot suggest indexes for EXECUTE: pass the prepared statement's text")
    if statement.kind == "CreateTableAsStmt" or any("creates a table" in w for w in statement.writes):
        raise _refuse("cannot suggest indexes for a statement that creates a table")


# A shape's text: one the slow-query log kept as it ran (its constants tell a partial index's predicate and are
# costed as they are), else pg_stat_statements' text with $n.
_LOG = """
SELECT l.fingerprint,
       COALESCE(pg_catalog.min(l.query_text) FILTER (WHERE l.source OPERATOR(pg_catalog.=) 'manual'),
                pg_catalog.min(l.query_text)) AS text,
       pg_catalog.sum(l.calls)::bigint AS calls,
       pg_catalog.sum(l.execution_time_ms)::float8 AS total_ms
FROM steward.query_performance_log AS l
WHERE l.execution_date OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) $1::pg_catalog.interval)
  AND l.source OPERATOR(pg_catalog.<>) 'pg_stat_activity' AND l.fingerprint IS NOT NULL
GROUP BY l.fingerprint
ORDER BY pg_catalog.sum(l.execution_time_ms) DESC, l.fingerprint
LIMIT $2
"""


def _workload(db: Database, since: str, statements: list[str | None] | None) -> list[Shape]:
    if statements is not None:
        shapes: dict[str, Shape] = {}
        for text in statements:
            check_statement(text)
            assert text is not None
            fp = fingerprint(text) or text
            if fp in shapes:
                shapes[fp].calls += 1
            else:
                shapes[fp] = Shape(text, fp, 1, None)
        return list(shapes.values())
    found = []
    rows = db.query(_LOG, since, MAX_SHAPES + 1)
    if len(rows) > MAX_SHAPES:
        db.warning(f"the window holds more than {MAX_SHAPES} statement shapes: only the {MAX_SHAPES} "
                   "that took the most time are costed")
        rows = rows[:MAX_SHAPES]
    for row in rows:
        try:
            check_statement(row["text"])
        except StewardError:
            continue  # DDL and the like in the log: nothing to index
        found.append(Shape(row["text"], row["fingerprint"], int(row["calls"]), row["total_ms"]))
    return found


_TABLE = f"""
SELECT c.oid::int8 AS oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS quoted, c.relname::text AS name,
       c.relkind = 'p' AS partitioned,
       GREATEST(c.reltuples, 0)::float8 AS reltuples,
       ARRAY(SELECT pg_catalog.array_to_string(ARRAY(
                 SELECT a.attname::text FROM pg_catalog.unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(n, o)
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                 ORDER BY k.o), ',', '?') OPERATOR(pg_catalog.||) CASE WHEN i.indpred IS NULL THEN '' ELSE ';p' END
             FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
             JOIN pg_catalog.pg_am AS am ON am.oid = ic.relam
             WHERE i.indrelid = c.oid AND am.amname = 'btree' AND i.indisvalid) AS indexes,
       (SELECT pg_catalog.sum(pg_catalog.pg_stat_get_tuples_inserted(t.relid)
                              + pg_catalog.pg_stat_get_tuples_updated(t.relid)
                              + pg_catalog.pg_stat_get_tuples_deleted(t.relid))
        FROM {partition_walk("c.oid")} AS t WHERE t.isleaf)::float8 AS writes,
       (SELECT extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-)
                COALESCE(d.stats_reset, pg_catalog.pg_postmaster_start_time()))::float8
        FROM pg_catalog.pg_stat_database AS d
        WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) AS seconds
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind IN ('r', 'p', 'm')
"""


# The span the window's entries cover: a log begun an hour ago holds an hour of reads, whatever the window asked.
_SPAN = """
SELECT extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-)
           pg_catalog.min(COALESCE(l.window_start, l.execution_date)))::float8 AS seconds
FROM steward.query_performance_log AS l
WHERE l.execution_date OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) $1::pg_catalog.interval)
  AND l.source OPERATOR(pg_catalog.<>) 'pg_stat_activity' AND l.fingerprint IS NOT NULL
"""


def observed_days(window_days: float, span_seconds: float | None) -> float:
    """Days of workload the log holds: its span, at least an hour (as for the tables' write rates), at most the
    window asked for."""
    return min(window_days, max(span_seconds or 0.0, 3600.0) / 86400.0)


def _table(db: Database, name: tuple[str | None, str], cache: dict) -> Table | None:
    if name in cache:
        return cache[name]
    text = ".".join(quote_ident(p) for p in name if p is not None)
    rows = db.query(_TABLE, text)
    table = None
    if rows:
        row = rows[0]
        indexes = []
        for item in row["indexes"] or []:
            columns, _sep, partial = item.partition(";")
            indexes.append((tuple(columns.split(",")), partial == "p"))
        days = max(float(row["seconds"] or 0.0), 3600.0) / 86400.0  # at least an hour of statistics
        table = Table(int(row["oid"]), row["quoted"], row["name"], row["partitioned"], row["reltuples"], indexes,
                      float(row["writes"] or 0.0) / days)
    cache[name] = table
    return table


_STATS_VALUE = """
SELECT COALESCE((s.most_common_vals::text::text[])[1],
                (s.histogram_bounds::text::text[])[
                    pg_catalog.array_length(s.histogram_bounds::text::text[], 1) / 2 + 1]) AS value
FROM pg_catalog.pg_stats AS s JOIN pg_catalog.pg_class AS c ON c.relname = s.tablename
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
WHERE c.oid = ANY ($1::pg_catalog.oid[]) AND s.attname = $2
ORDER BY s.null_frac LIMIT 1
"""


def _with_values(db: Database, text: str, oids: list[int]) -> str:
    """PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN): each ``$n`` becomes a common value of its column (from
    pg_stats: the most common value, or the middle of the histogram), NULL where there is none."""
    values = {}
    for offset, _length, column in parameters(text):
        value = None
        if column is not None and oids:
            rows = db.query(_STATS_VALUE, [str(o) for o in oids], column)
            value = rows[0]["value"] if rows else None
        values[offset] = "NULL" if value is None else "'" + value.replace("'", "''") + "'"
    return substitute(text, values)


def _plan(db: Database, shape: Shape) -> dict:
    options = "GENERIC_PLAN, FORMAT JSON" if shape.generic else "FORMAT JSON"
    output = db.query(f"EXPLAIN ({options}) {shape.text}")[0]["QUERY PLAN"]
    plan = json.loads(output) if isinstance(output, str) else output
    return plan[0]["Plan"]


def _cost(db: Database, shape: Shape) -> float:
    return float(_plan(db, shape)["Total Cost"])


def plan_indexes(plan: dict) -> set[str]:
    """The names of the indexes a plan (EXPLAIN's JSON node) reads, in any of its nodes."""
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= plan_indexes(child)
    return found


def _hypopg_schema(db: Database) -> str | None:
    rows = db.query("SELECT n.nspname::text AS schema FROM pg_catalog.pg_extension AS e "
                    "JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'")
    return rows[0]["schema"] if rows else None


def _leaves(db: Database, table: Table) -> list[str]:
    rows = db.query(f"SELECT pg_catalog.format('%I.%I', n.nspname, k.relname) AS quoted "
                    f"FROM {partition_walk('$1::pg_catalog.int8::pg_catalog.oid')} AS t "
                    "JOIN pg_catalog.pg_class AS k ON k.oid = t.relid "
                    "JOIN pg_catalog.pg_namespace AS n ON n.oid = k.relnamespace WHERE t.isleaf ORDER BY 1",
                    table.oid)
    return [r["quoted"] for r in rows]


def _hypothetical(db: Database, schema: str, option: Option) -> int:
    """Create the option's hypothetical index (on every leaf partition of a partitioned table); its size."""
    targets = _leaves(db, option.table) if option.table.partitioned else [option.table.quoted]
    size = 0
    for target in targets:
        rows = db.query(f"SELECT h.indexrelid::int8 AS oid FROM {quote_ident(schema)}.hypopg_create_index($1) AS h",
                        f"CREATE INDEX ON {target} {option.candidate.definition()}")
        size += int(db.query(f"SELECT {quote_ident(schema)}.hypopg_relation_size($1::pg_catalog.int8::pg_catalog.oid)"
                             " AS size", rows[0]["oid"])[0]["size"])
    return size


def _guessed_size(db: Database, option: Option) -> int:
    """Without hypopg: rows times the average width of the key and included columns, plus tuple overhead."""
    columns = list(option.candidate.columns + option.candidate.include)
    rows = db.query("SELECT COALESCE(pg_catalog.sum(s.avg_width), 0)::float8 AS width FROM pg_catalog.pg_stats s "
                    "JOIN pg_catalog.pg_class c ON c.relname = s.tablename "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname "
                    "WHERE c.oid = $1::pg_catalog.int8::pg_catalog.oid AND s.attname = ANY ($2::text[])",
                    option.table.oid, columns)
    width = float(rows[0]["width"]) or 8.0 * len(columns)
    return int(option.table.reltuples * (width + 16) / 0.9)  # 16: item pointer and tuple header; 90% fill


def _ms_saved(shapes: list[Shape], current: list[float], costs: dict[int, float], days: float) -> float | None:
    saved = 0.0
    for index, cost in costs.items():
        shape = shapes[index]
        if shape.total_ms is None:
            return None
        if current[index] > 0:
            saved += shape.total_ms / days * (current[index] - cost) / current[index]
    return saved


def _helped(current: list[float], option: Option) -> dict[int, float]:
    return {i: c for i, c in option.costs.items() if c <= (1 - MIN_COST_SAVING) * current[i]}


def _replaces(option: Option, claimed: set[int]) -> list[IndexInfo]:
    return [i for i in option.redundant if i.oid not in claimed]


def choose(shapes: list[Shape], options: list[Option], days: float,
           claimed: frozenset[int] = frozenset()) -> list[tuple[Option, dict[int, float], float]]:
    """Greedy choice over the workload: the option that lowers the calls-weighted cost most, then the next one
    given those already chosen; an option whose write cost outweighs the time it saves is left out. Its write
    cost is its table's, less that of the existing indexes it makes redundant (each one's drop saves as much),
    those already to be dropped (``claimed``, and those of the options chosen before) left out; the chosen
    option's ``replaces`` lists the ones it is to drop. Returns (option, the costs before of the shapes it helps,
    cost they had) with the costs it brings."""
    current = [s.base for s in shapes]
    taken = set(claimed)
    chosen: list[tuple[Option, dict[int, float], float]] = []
    left = list(options)
    while left:
        best, best_gain, best_rank = None, 0.0, (0.0, 0, 0)
        for option in left:
            helped = _helped(current, option)
            gain = sum(shapes[i].calls * (current[i] - c) for i, c in helped.items())
            saved = _ms_saved(shapes, current, helped, days)
            write = option.table.index_write_cost() * (1 - len(_replaces(option, taken)))
            if saved is not None and write >= saved:
                continue
            rank = (gain, -len(option.candidate.columns + option.candidate.include), -(option.size or 0))
            if gain > 0 and (best is None or rank > best_rank):
                best, best_gain, best_rank = option, gain, rank
        if best is None or best_gain <= 0:
            break
        helped = _helped(current, best)
        before = {i: current[i] for i in helped}
        best.replaces = _replaces(best, taken)
        taken |= {i.oid for i in best.replaces}
        for i, c in helped.items():
            current[i] = c
        chosen.append((best, before, sum(shapes[i].calls * before[i] for i in helped)))
        left.remove(best)
    return chosen


def _index_name(table: str, candidate: Candidate) -> str:
    name = "_".join([table, *candidate.columns, "idx"])
    while len(name.encode("utf-8")) > 63:
        name = name[:-1]
    return name


def create_statement(db: Database, option: Option) -> str:
    """The statement (or, on a partitioned table, the recipe) that creates the index without blocking writes."""
    definition = option.candidate.definition()
    name = _index_name(option.table.name, option.candidate)
    if not option.table.partitioned:
        return f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {option.table.quoted} {definition};"
    # CONCURRENTLY is refused on a partitioned table: the parent's index is created on it ONLY (invalid until
    # every partition has its own attached), each partition's concurrently, then attached.
    rows = db.query("SELECT t.relid::int8 AS relid, t.parentrelid::int8 AS parent, t.isleaf, k.relname::text AS name, "
                    "pg_catalog.format('%I.%I', n.nspname, k.relname) AS quoted, "
                    "pg_catalog.quote_ident(n.nspname) AS nsp "
                    f"FROM {partition_walk('$1::pg_catalog.int8::pg_catalog.oid')} AS t "
                    "JOIN pg_catalog.pg_class AS k ON k.oid = t.relid "
                    "JOIN pg_catalog.pg_namespace AS n ON n.oid = k.relnamespace "
                    "ORDER BY t.level, k.relname", option.table.oid)
    steps = []
    names: dict[int, str] = {}
    for row in rows:
        index = name if row["parent"] is None else _index_name(row["name"], option.candidate)
        names[row["relid"]] = f"{row['nsp']}.{quote_ident(index)}"
        if row["isleaf"]:
            steps.append(f"CREATE INDEX CONCURRENTLY {quote_ident(index)} ON {row['quoted']} {definition};")
        else:
            steps.append(f"CREATE INDEX {quote_ident(index)} ON ONLY {row['quoted']} {definition};")
        if row["parent"] is not None:
            steps.append(f"ALTER INDEX {names[row['parent']]} ATTACH PARTITION {names[row['relid']]};")
    return "\n".join(steps)


def suggest_indexes(db: Database, since: str | None = "7 days", statements: list[str | None] | None = None,
                    search_path: str | None = None) -> list[Row]:
    if since is None:
        raise StewardError("since must not be NULL", NULL_VALUE_NOT_ALLOWED)
    if statements is not None and not statements:
        raise StewardError("statements must hold at least one statement", INVALID_PARAMETER_VALUE)
    seconds = db.query("SELECT extract(epoch FROM $1::pg_catalog.interval)::float8 AS s", since)[0]["s"]
    if seconds is None or seconds <= 0:
        raise StewardError(f"since must be a positive interval, got {since}", INVALID_PARAMETER_VALUE)
    days = seconds / 86400.0
    shapes = _workload(db, since, statements)
    if not shapes:
        return []
    if statements is None:  # reads per day over the days logged, as writes are per day over the days counted
        days = observed_days(days, db.query(_SPAN, since)[0]["seconds"])
    generic = server.version_num(db) >= 160000
    # The statements' names resolve as the caller's do, and the server reads their text as pglast did.
    return rolled_back(db, search_path, lambda: _measure(db, shapes, statements is not None, generic, days))


def left_out_warning(errors: list[tuple[str | None, str]], shapes: int) -> str | None:
    """What suggest_indexes says of the captured shapes it could not plan (SQLSTATE, message of each), or None:
    those on tables the caller may not read apart from those that no longer plan (a dropped table or column),
    with the first message of each kind."""
    if not errors:
        return None
    denied = [m for code, m in errors if code == INSUFFICIENT_PRIVILEGE]
    failed = [m for code, m in errors if code != INSUFFICIENT_PRIVILEGE]
    parts = []
    if denied:
        parts.append(f"{len(denied)} on tables this role may not read ({denied[0]})")
    if failed:
        parts.append(f"{len(failed)} that no longer plan ({failed[0]})")
    return (f"{len(errors)} of {shapes} captured statement shapes left out of the suggestions: "
            + "; ".join(parts))


def _measure(db: Database, shapes: list[Shape], explicit: bool, generic: bool, days: float) -> list[Row]:
    tables: dict = {}
    usable: list[Shape] = []
    errors: list[tuple[str | None, str]] = []
    for shape in shapes:
        try:
            with db.subtransaction():
                found = candidates(shape.text)
                oids = [t.oid for t in (_table(db, c.table, tables) for c in found) if t is not None]
                if parameters(shape.text):
                    if generic:
                        shape.generic = True
                    else:
                        shape.text = _with_values(db, shape.text, sorted(set(oids)))
                plan = _plan(db, shape)
                shape.base = float(plan["Total Cost"])
                shape.uses = plan_indexes(plan)
                shape.candidates = found
        except Exception as error:  # a logged statement that no longer plans (a dropped table): left out, said
            if explicit:
                raise
            errors.append((getattr(error, "sqlstate", None), str(error).splitlines()[0] if str(error) else
                           type(error).__name__))
            continue
        usable.append(shape)
    warning = left_out_warning(errors, len(shapes))
    if warning:
        db.warning(warning)
    options: dict[Candidate, Option] = {}
    for index, shape in enumerate(usable):
        for candidate in shape.candidates:
            table = _table(db, candidate.table, tables)
            if table is None or covered(candidate, table.indexes):
                continue
            key = Candidate((None, table.quoted), candidate.columns, candidate.where, candidate.include)
            option = options.setdefault(key, Option(key, table, {}, None))
            option.shapes.append(index)
    drops = _drop_rows(db, usable, tables)
    claimed = frozenset(oid for _row_, oid in drops)
    for option in options.values():
        option.redundant = made_redundant(option.candidate, option.table, _existing(db, option.table))
    schema = _hypopg_schema(db)
    if schema is None:
        return _unverified(db, usable, options, claimed) + [r for r, _oid in drops]
    try:
        for option in options.values():
            option.size = _hypothetical(db, schema, option)
            for index in dict.fromkeys(i for i, s in enumerate(usable) if _touches(s, option.table, tables)):
                option.costs[index] = _cost(db, usable[index])
            db.execute(f"SELECT {quote_ident(schema)}.hypopg_reset()")
    finally:
        db.execute(f"SELECT {quote_ident(schema)}.hypopg_reset()")
    rows = []
    for option, before, cost_before in choose(usable, list(options.values()), days, claimed):
        after = {i: option.costs[i] for i in before}
        saved = _ms_saved(usable, [before.get(i, s.base) for i, s in enumerate(usable)], after, days)
        rows.append(_row(db, option, usable, sorted(before), cost_before,
                         sum(usable[i].calls * after[i] for i in before), saved, True,
                         f"lowers the cost of {len(before)} statement shape(s) by at least "
                         f"{MIN_COST_SAVING:.0%} (measured with a hypothetical index)"))
    return rows + [r for r, _oid in drops]


def _touches(shape: Shape, table: Table, tables: dict) -> bool:
    return any(tables.get(c.table) is table for c in shape.candidates)


def _unverified(db: Database, shapes: list[Shape], options: dict[Candidate, Option],
                claimed: frozenset[int]) -> list[Row]:
    """Without hypopg: each shape's first candidate on each table, unmeasured."""
    taken = set(claimed)
    firsts: set[Candidate] = set()
    for index in range(len(shapes)):
        seen = set()
        for option in options.values():
            if index in option.shapes and option.table.oid not in seen:
                seen.add(option.table.oid)
                firsts.add(option.candidate)
    rows = []
    for option in options.values():
        if option.candidate not in firsts:
            continue
        option.size = _guessed_size(db, option)
        option.replaces = _replaces(option, taken)
        taken |= {i.oid for i in option.replaces}
        indexes = sorted(set(option.shapes))
        rows.append(_row(db, option, shapes, indexes, sum(shapes[i].calls * shapes[i].base for i in indexes), None,
                         None, False, NOT_INSTALLED))
    return rows


def _row(db: Database, option: Option, shapes: list[Shape], indexes: list[int], cost_before: float,
         cost_after: float | None, saved: float | None, verified: bool, reason: str) -> Row:
    if option.replaces:
        names = ", ".join(i.qualified for i in option.replaces)
        saving = option.table.index_write_cost() * len(option.replaces)
        reason += (f"; it serves every use of {names} (same leading columns in the same order): once it is built "
                   f"and valid, drop {'them' if len(option.replaces) > 1 else 'it'} (drop_statements), which saves "
                   f"about {saving:.3f} ms per day of writes")
    return {
        "table_name": option.table.quoted,
        "columns": list(option.candidate.columns),
        "create_statement": create_statement(db, option),
        "estimated_bytes": option.size,
        "fingerprints": [shapes[i].fingerprint for i in indexes],
        "calls": sum(shapes[i].calls for i in indexes),
        "cost_before": round(cost_before, 2),
        "cost_after": None if cost_after is None else round(cost_after, 2),
        "est_ms_saved_per_day": None if saved is None else round(saved, 3),
        "write_cost": round(option.table.writes_per_day * WRITE_MS_PER_ROW, 3),
        "verified": verified,
        "reason": reason,
        "makes_redundant": [i.qualified for i in option.replaces],
        "drop_statements": [index_findings.drop_statement(i) for i in option.replaces],
    }


# Each column's attnum, and what an index on it gets by default: the type's default B-tree operator class
# (the domain's base type's; one the type is binary-coercible to), the column's collation. None where no class.
_COLUMN_CLASSES = """
SELECT a.attname::text AS name, a.attnum::int AS attnum, a.attcollation::int8::text AS collation,
       (SELECT o.oid FROM pg_catalog.pg_opclass AS o JOIN pg_catalog.pg_am AS m ON m.oid = o.opcmethod
        WHERE m.amname = 'btree' AND o.opcdefault
          AND (o.opcintype = t.base OR EXISTS (SELECT FROM pg_catalog.pg_cast AS k
                                               WHERE k.castsource = t.base AND k.casttarget = o.opcintype
                                                 AND k.castmethod = 'b'))
        ORDER BY o.opcintype = t.base DESC, o.oid LIMIT 1)::int8::text AS opclass
FROM pg_catalog.pg_attribute AS a
CROSS JOIN LATERAL (SELECT CASE WHEN y.typtype = 'd' THEN y.typbasetype ELSE y.oid END AS base
                    FROM pg_catalog.pg_type AS y WHERE y.oid = a.atttypid) AS t
WHERE a.attrelid = $1::pg_catalog.int8::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped
"""


def _catalog_read(db: Database, work: Callable[[], T]) -> T:
    """``work()`` with search_path pg_catalog, pg_temp (the measurement runs with the caller's), then back."""
    path = db.query("SELECT pg_catalog.current_setting('search_path') AS path")[0]["path"]
    db.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)")
    try:
        return work()
    finally:
        db.execute("SELECT pg_catalog.set_config('search_path', $1, true)", path)


def _existing(db: Database, table: Table) -> Existing:
    if table.existing is None:
        def read() -> Existing:
            indexes, names = indexes_of(db, table.oid)
            classes = {r["name"]: (r["attnum"], r["opclass"], r["collation"])
                       for r in db.query(_COLUMN_CLASSES, table.oid)}
            return Existing(indexes, names, classes)
        table.existing = _catalog_read(db, read)
    return table.existing


def as_index(candidate: Candidate, table: Table, classes: dict[str, tuple[int, str | None, str]]) -> IndexInfo | None:
    """The index a candidate would create, as index_findings describes indexes (None when a column has no
    default B-tree class): what the redundancy test compares with the existing ones."""
    columns = candidate.columns + candidate.include
    if any(c not in classes or classes[c][1] is None for c in columns):
        return None
    keys = len(candidate.columns)
    return IndexInfo(
        oid=0, schema="", table=table.name, table_oid=table.oid, name="(suggested)", method="btree",
        columns=tuple(classes[c][0] for c in columns), key_count=keys,
        opclasses=tuple(str(classes[c][1]) for c in candidate.columns),
        collations=tuple(classes[c][2] for c in candidate.columns), options=("0",) * keys, expressions=None,
        # the candidate's predicate text is not pg_get_expr's: a partial candidate never matches an index's
        predicate=candidate.where, unique=False, constraint=False, replica_identity=False, valid=True,
        partitioned=table.partitioned, child=False, size_bytes=0, scans=None)


def made_redundant(candidate: Candidate, table: Table, existing: Existing) -> list[IndexInfo]:
    """The existing indexes the candidate would make redundant: index_findings.redundant() with the candidate as
    the only longer index (a plain B-tree, neither unique nor a constraint's nor the replica identity, whose
    keys are a left prefix of the candidate's, with the same predicate)."""
    suggested = as_index(candidate, table, existing.classes)
    if suggested is None:
        return []
    others = frozenset(i.oid for i in existing.indexes)
    found = index_findings.redundant([*existing.indexes, suggested], existing.names, others)
    return [f.index for f in found if f.index is not suggested]


def _leaf_names(db: Database, index: IndexInfo) -> set[str]:
    """The names a plan gives the index: its own, or a partitioned index's partitions' indexes."""
    if not index.partitioned:
        return {index.name}
    rows = _catalog_read(db, lambda: db.query(
        f"SELECT k.relname::text AS name FROM {partition_walk('$1::pg_catalog.int8::pg_catalog.oid')} AS t "
        "JOIN pg_catalog.pg_class AS k ON k.oid = t.relid", index.oid))
    return {r["name"] for r in rows}


def _drop_rows(db: Database, shapes: list[Shape], tables: dict) -> list[tuple[Row, int]]:
    """Existing indexes of the workload's tables that index_findings finds duplicate or a left prefix of another
    (the longer one staying), droppable, and that no statement of the workload is planned with (a duplicate's
    twin serves its plans as they are): the rows that say to drop one instead of adding an index, each with the
    dropped index's oid."""
    out: list[tuple[Row, int]] = []
    seen: set[int] = set()
    for table in tables.values():
        if table is None or table.oid in seen:
            continue
        seen.add(table.oid)
        touching = [i for i, s in enumerate(shapes) if _touches(s, table, tables)]
        if not touching:
            continue
        existing = _existing(db, table)
        dups = index_findings.duplicates(existing.indexes)
        duplicated = frozenset(d.index.oid for d in dups)
        redundant = [r for r in index_findings.redundant(existing.indexes, existing.names, duplicated)
                     if r.index.oid not in duplicated]
        for finding in dups + redundant:
            index = finding.index
            if not finding.fix.startswith("DROP INDEX"):
                continue  # a constraint's index: the finding's advice, not a drop
            if finding.problem == "redundant" and any(_leaf_names(db, index) & s.uses for s in shapes):
                continue  # the workload is planned with it: the longer index would serve, at a cost not measured
            saving = table.index_write_cost()
            timed = all(shapes[i].total_ms is not None for i in touching)
            cost = round(sum(shapes[i].calls * shapes[i].base for i in touching), 2)
            reason = (f"drop this existing index instead of adding one: {finding.detail}; "
                      + ("no statement of the workload is planned with it"
                         if finding.problem == "redundant" else "the workload's plans are served the same") +
                      f"; dropping it saves about {saving:.3f} ms per day of writes")
            out.append(({
                "table_name": table.quoted,
                "columns": [existing.names.get((index.table_oid, c), "expression")
                            for c in index.columns[:index.key_count]],
                "create_statement": None,
                "estimated_bytes": index.size_bytes,
                "fingerprints": [shapes[i].fingerprint for i in touching],
                "calls": sum(shapes[i].calls for i in touching),
                "cost_before": cost,
                "cost_after": cost,
                "est_ms_saved_per_day": 0.0 if timed else None,
                "write_cost": -round(saving, 3),
                "verified": True,
                "reason": reason,
                "makes_redundant": [index.qualified],
                "drop_statements": [finding.fix],
            }, index.oid))
    return out

