"""steward.table_bloat / steward.index_bloat: catalog and statistics in, one row per relation out.

The estimate reads pg_class, pg_attribute, pg_stats and pg_stat_all_tables and
hands them to reports/bloat_model.py. The exact mode asks pgstattuple (tables up to
``exact_max_bytes``, pgstattuple_approx above) and pgstatindex (B-tree indexes up
to ``exact_max_bytes``); each relation is measured in its own subtransaction so that
one it cannot read leaves the others measured.
"""

from __future__ import annotations

from typing import Any

from pg_steward.catalog_filters import USER_SCHEMA
from pg_steward.db import Database, Row
from pg_steward.errors import (
    INVALID_PARAMETER_VALUE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    StewardError,
    error_first_line,
)
from pg_steward.reports import bloat_model as model
from pg_steward.reports.bloat_verdict import (
    FRESH_FRACTION,
    Verdict,
    partition_total,
    row_count_verdict,
    sample_verdict,
    stats_verdict,
    table_fix,
)
from pg_steward.sqltext import qualified

# The relations named by $1 that hold data: itself, or every leaf of the partitioned
# table or index it names (all levels of sub-partitions).
LEAVES = """ARRAY(SELECT $1::text::regclass::oid
               UNION SELECT t.relid FROM pg_catalog.pg_partition_tree($1::text::regclass) AS t WHERE t.isleaf)"""

# The activity counters of pg_stat_all_tables (counted_by_vacuum: pg_class.reltuples was last set by a
# VACUUM rather than by an ANALYZE), read with the functions that view calls (it would
# also add up the index scans of every table, which nothing here needs). They count 0 for a
# relation without statistics, as the view does; a table without TOAST has NULL for its TOAST.
COUNTERS = """
pg_catalog.pg_stat_get_live_tuples({c}.oid) AS n_live_tup, pg_catalog.pg_stat_get_dead_tuples({c}.oid) AS n_dead_tup,
pg_catalog.pg_stat_get_mod_since_analyze({c}.oid) AS n_mod_since_analyze,
coalesce(GREATEST(pg_catalog.pg_stat_get_last_vacuum_time({c}.oid),
                  pg_catalog.pg_stat_get_last_autovacuum_time({c}.oid))
         > coalesce(GREATEST(pg_catalog.pg_stat_get_last_analyze_time({c}.oid),
                             pg_catalog.pg_stat_get_last_autoanalyze_time({c}.oid)), '-infinity'),
         false) AS counted_by_vacuum,
(pg_catalog.pg_stat_get_last_analyze_time({c}.oid) IS NOT NULL
 OR pg_catalog.pg_stat_get_last_autoanalyze_time({c}.oid) IS NOT NULL OR {c}.reltuples >= 0) AS analyzed,
CASE WHEN {c}.reltoastrelid <> 0 THEN pg_catalog.pg_stat_get_live_tuples({c}.reltoastrelid) END AS toast_live,
CASE WHEN {c}.reltoastrelid <> 0 THEN pg_catalog.pg_stat_get_dead_tuples({c}.reltoastrelid) END AS toast_dead
"""

# One row per table, its sizes read once (pg_relation_size opens the relation), those below min_bytes left
# out before any column is looked at. {scope} is "" or a list of oids (leaves_scope): no parameter.
_TABLES_FROM = """
SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples, c.reltoastrelid, c.reloptions, z.size_bytes, z.toast_bytes
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pg_catalog.pg_relation_size(c.oid) AS size_bytes,
                           CASE WHEN c.reltoastrelid <> 0 THEN pg_catalog.pg_relation_size(c.reltoastrelid) END
                               AS toast_bytes) AS z
WHERE c.relkind IN ('r', 'm') AND {user_schema}{scope} AND z.size_bytes >= {min_bytes}
OFFSET 0
"""

_TABLE_COLUMNS = f"""
SELECT c.oid::bigint AS oid, c.nspname AS schema, c.relname AS name,
       c.size_bytes, c.size_bytes AS table_bytes, c.relpages, c.reltuples::float8 AS reltuples,
       NULLIF(c.reltoastrelid, 0)::bigint AS toast_oid, c.toast_bytes,
       CASE WHEN c.reloptions IS NULL THEN 100
            ELSE coalesce((SELECT o.option_value::int FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                           WHERE o.option_name = 'fillfactor'), 100) END AS fillfactor,
       {COUNTERS.format(c="c")},
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS can_select"""


def leaves_scope(db: Database, relation: str | None, columns: tuple[str, ...] = ("c.oid",)) -> str:
    """The SQL condition that keeps the relations named by ``relation`` (LEAVES), as a list of oids.

    The oids are written into the statement (no parameter), and a row is kept when any of ``columns`` is one
    of them. A statement run with a parameter gets a saved plan whose generic version, chosen after a few
    calls in one session, cannot know the scope: it joins every table's statistics by nested loop.
    """
    if relation is None:
        return ""
    oids = db.query(f"SELECT {LEAVES} AS oids", relation)[0]["oids"]
    listed = f"'{{{','.join(str(int(o)) for o in oids)}}}'::pg_catalog.oid[]"
    return " AND (" + " OR ".join(f"{column} = ANY ({listed})" for column in columns) + ")"


def tables_sql(columns: str, scope: str, min_bytes: int, more: str = "") -> str:
    """The statement over the tables in scope: ``columns`` (over ``c``, _TABLES_FROM's row) and ``more`` joins."""
    source = _TABLES_FROM.format(user_schema=USER_SCHEMA, scope=scope, min_bytes=int(min_bytes))
    return f"{columns}\nFROM ({source}) AS c\n{more}"


# A short string column whose sampled values (most common values and histogram
# bounds) all have the same length is taken as constant width: its alignment
# padding is then known exactly instead of averaged.
CONSTANT_WIDTH = """
CASE WHEN {stats}.avg_width <= 126
      AND (SELECT t.typcategory = 'S' FROM pg_catalog.pg_type AS t WHERE t.oid = {type})
     THEN coalesce((SELECT pg_catalog.min(pg_catalog.octet_length(v)) = pg_catalog.max(pg_catalog.octet_length(v))
                    FROM pg_catalog.unnest(coalesce({stats}.most_common_vals::text::text[], '{{}}')
                                           OPERATOR(pg_catalog.||)
                                           coalesce({stats}.histogram_bounds::text::text[], '{{}}')) AS v), false)
     ELSE false END
"""

# Where the columns' statistics come from, joined once for all the columns of every table in scope. Other
# roles than a superuser read pg_stats, which shows only the columns they may SELECT (and no row of a
# table whose row security applies to them). A superuser may read every statistic: pg_statistic itself,
# what pg_stats would show it, without the view's privilege check of every column of the database.
_STATS_VIEW = """
LEFT JOIN (SELECT v.schemaname, v.tablename, v.attname, v.avg_width, v.null_frac, v.most_common_vals,
                  v.histogram_bounds
           FROM pg_catalog.pg_stats AS v WHERE NOT v.inherited) AS s
       ON s.schemaname = c.nspname AND s.tablename = c.relname AND s.attname = a.attname"""


def _slot(kind: int) -> str:
    return "CASE " + " ".join(f"WHEN st.stakind{i} = {kind} THEN st.stavalues{i}" for i in range(1, 6)) + " END"


_STATS_TABLE = f"""
LEFT JOIN (SELECT st.starelid, st.staattnum, st.stawidth AS avg_width, st.stanullfrac AS null_frac,
                  {_slot(1)} AS most_common_vals, {_slot(2)} AS histogram_bounds
           FROM pg_catalog.pg_statistic AS st WHERE NOT st.stainherit) AS s
       ON s.starelid = a.attrelid AND s.staattnum = a.attnum"""

# The constant-width test of CONSTANT_WIDTH, split between SQL and Python. For a short string column the
# statement returns the text forms of its most common values and histogram bounds, one after the other
# (w.vals, written once: these text forms cost more than the rest of the statement). When nothing in them is
# quoted (array_out quotes a value holding a comma, a brace, a quote, a backslash or a space, or an empty one)
# and every character is one byte, the values are the pieces between the commas and same_length() compares
# them in Python (col_constant_width NULL). Otherwise the statement takes the arrays apart itself, as
# CONSTANT_WIDTH does.
_WIDTH_TEXT = """
CASE WHEN s.avg_width <= 126 AND ty.typcategory = 'S'
     THEN coalesce(s.most_common_vals::text, '{}') OPERATOR(pg_catalog.||) coalesce(s.histogram_bounds::text, '{}')
     END"""

_CONSTANT_WIDTH_SPLIT = """
CASE WHEN w.vals IS NULL THEN false
     WHEN pg_catalog.strpos(w.vals, '"') = 0 AND pg_catalog.octet_length(w.vals) = pg_catalog.length(w.vals)
     THEN NULL
     ELSE coalesce((SELECT pg_catalog.min(pg_catalog.octet_length(v)) = pg_catalog.max(pg_catalog.octet_length(v))
                    FROM pg_catalog.unnest(coalesce(w.most_common_vals::text, '{}')::text[]
                                           OPERATOR(pg_catalog.||)
                                           coalesce(w.histogram_bounds::text, '{}')::text[]) AS v), false) END"""


def same_length(values: str) -> bool:
    """Whether the values of two arrays' text forms, one after the other ("{a,b}{c}"), all have one length.

    The caller makes sure that no value is quoted and that a character is a byte (_CONSTANT_WIDTH_SPLIT): a
    value is then what stands between two commas or braces, never empty. No value at all is not constant.
    """
    body = ",".join(part for part in values[1:-1].split("}{") if part)
    if not body:
        return False
    n = body.count(",") + 1
    first = body.find(",")
    width = first if first >= 0 else len(body)
    # n values of one width: the text is n * (width + 1) - 1 long and its commas stand every width + 1.
    return len(body) == n * (width + 1) - 1 and body[width::width + 1] == "," * (n - 1)


# The columns of every table in scope in one pass: pg_attribute, the statistics and pg_type joined once
# (c, the tables, is computed once: MATERIALIZED), then one row per table with its columns as parallel
# arrays in attnum order. The aggregates read the rows in the order of the sorted subquery (a group
# aggregate over it), so none of them sorts its own input.
_COLUMNS_CTE = f"""
cols AS (
    SELECT o.attrelid, pg_catalog.array_agg(o.attname) AS col_names, pg_catalog.array_agg(o.typlen) AS col_typlen,
           pg_catalog.array_agg(o.typalign) AS col_typalign, pg_catalog.array_agg(o.dropped) AS col_dropped,
           pg_catalog.array_agg(o.avg_width) AS col_avg_width, pg_catalog.array_agg(o.null_frac) AS col_null_frac,
           pg_catalog.array_agg(o.constant_width) AS col_constant_width,
           pg_catalog.array_agg(CASE WHEN o.constant_width IS NULL THEN o.vals END) AS col_values
    FROM (SELECT w.attrelid, w.attnum, w.attname, w.typlen, w.typalign, w.dropped, w.avg_width, w.null_frac, w.vals,
                 {_CONSTANT_WIDTH_SPLIT} AS constant_width
          FROM (SELECT a.attrelid, a.attnum, a.attname::text AS attname, a.attlen::int AS typlen,
                       a.attalign::text AS typalign, a.attisdropped AS dropped, s.avg_width::float8 AS avg_width,
                       s.null_frac::float8 AS null_frac, s.most_common_vals, s.histogram_bounds,
                       {_WIDTH_TEXT} AS vals
                FROM c
                JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0
                LEFT JOIN pg_catalog.pg_type AS ty ON ty.oid = a.atttypid
                {{stats}}
                OFFSET 0) AS w
          ORDER BY w.attrelid, w.attnum) AS o
    GROUP BY o.attrelid)"""

_ESTIMATE_COLUMNS = f"""{_TABLE_COLUMNS},
       cols.col_names, cols.col_typlen, cols.col_typalign, cols.col_dropped, cols.col_avg_width,
       cols.col_null_frac, cols.col_constant_width, cols.col_values"""


def estimate_sql(scope: str, min_bytes: int, superuser: bool) -> str:
    """Every table in scope and its columns' statistics in one statement, each catalog read once for all."""
    source = _TABLES_FROM.format(user_schema=USER_SCHEMA, scope=scope, min_bytes=int(min_bytes))
    stats = _STATS_TABLE if superuser else _STATS_VIEW
    return (f"WITH c AS MATERIALIZED ({source}),\n{_COLUMNS_CTE.replace('{stats}', stats)}\n"
            f"{_ESTIMATE_COLUMNS}\nFROM c LEFT JOIN cols ON cols.attrelid = c.oid")


Shape = tuple[tuple[int, str, float | None, float | None, bool, bool], ...]


class _Shapes:
    """The page-layout arithmetic of each distinct column shape, done once: tables made alike share it."""

    def __init__(self) -> None:
        self._columns: dict[Shape, list[model.Column]] = {}
        self._tuple_bytes: dict[Shape, float] = {}

    def shape_of(self, row: Row) -> Shape:
        if not row["col_names"]:
            return ()
        constant = row["col_constant_width"]
        if None in constant:
            constant = [same_length(v) if c is None else c for c, v in zip(constant, row["col_values"], strict=True)]
        return tuple(zip(row["col_typlen"], row["col_typalign"], row["col_avg_width"], row["col_null_frac"],
                         row["col_dropped"], constant, strict=True))

    def columns(self, shape: Shape) -> list[model.Column]:
        found = self._columns.get(shape)
        if found is None:
            found = self._columns[shape] = [model.Column(*c) for c in shape]
        return found

    def tuple_bytes(self, shape: Shape) -> float:
        found = self._tuple_bytes.get(shape)
        if found is None:
            found = self._tuple_bytes[shape] = model.heap_tuple_bytes(self.columns(shape))
        return found


def _named_columns(row: Row, columns: list[model.Column]) -> dict[str, model.Column]:
    """The columns by name, as stats_verdict reads them: only built when a statistic is missing."""
    if all(c.dropped or c.avg_width is not None for c in columns):
        return {}
    return dict(zip(row["col_names"], columns, strict=True))


def block_size_of(db: Database) -> int:
    return int(db.query("SELECT pg_catalog.current_setting('block_size') AS b")[0]["b"])


def current_role(db: Database) -> str:
    return str(db.query("SELECT current_user::text AS r")[0]["r"])


def is_superuser(db: Database) -> bool:
    """Whether the current role (the one pg_stats checks privileges for) is a superuser."""
    rows = db.query("SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname OPERATOR(pg_catalog.=) "
                    "current_user")
    return bool(rows and rows[0]["rolsuper"])


def pgstattuple_schema(db: Database) -> str | None:
    rows = db.query("SELECT n.nspname::text AS schema FROM pg_catalog.pg_extension AS e "
                    "JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'")
    return rows[0]["schema"] if rows else None


def require_pgstattuple(db: Database) -> str:
    schema = pgstattuple_schema(db)
    if schema is None:
        raise StewardError("exact mode needs the pgstattuple extension", OBJECT_NOT_IN_PREREQUISITE_STATE,
                           hint="CREATE EXTENSION pgstattuple; (it ships with PostgreSQL), "
                                "or call with exact => false.")
    return schema


def live_rows(row: Row, block_size: int) -> float:
    """Live rows now: reltuples while few rows changed since it was computed, else the smaller of two guesses.

    reltuples is what the last VACUUM or ANALYZE counted. Since then, n_live_tup
    follows every commit, but on PostgreSQL 15 a session that ANALYZEs right after
    loading may flush its inserts after ANALYZE and count them twice; the planner's
    own guess (reltuples' density times the pages now) cannot see deletes. The
    first errs high only in that race, the second only after deletes: take the smaller.
    """
    reltuples = float(row["reltuples"])
    fresh = row["n_mod_since_analyze"] is None or row["n_mod_since_analyze"] <= FRESH_FRACTION * max(reltuples, 1.0)
    if reltuples >= 0 and fresh:
        return reltuples
    density = reltuples / row["relpages"] * (int(row["table_bytes"]) / block_size) \
        if reltuples >= 0 and row["relpages"] > 0 else None
    counter = float(row["n_live_tup"]) if row["n_live_tup"] is not None else None
    if counter is None or (counter == 0 and not row["n_dead_tup"] and density):
        return density if density is not None else max(reltuples, 0.0)  # statistics reset: the counter is empty
    return min(counter, density) if density is not None else counter


def _result(row: Row, relation: str, kind: str, expected: int | None, method: str, verdict: Verdict,
            fix: str | None, waste: tuple[int, float] | None = None) -> Row:
    """One row of the report; ``waste`` is model.waste(size, expected) when the caller has it already."""
    size = int(row["size_bytes"])
    wasted, percent = waste or (model.waste(size, expected) if expected is not None else (None, None))
    return {"schema": row["schema"], "table_name": row["name"], "relation": relation, "kind": kind,
            "size_bytes": size, "expected_bytes": expected, "waste_bytes": wasted, "waste_percent": percent,
            "method": method, "trustworthy": verdict.trustworthy, "reason": verdict.reason,
            "toast_bytes": row.get("toast_bytes"), "dead_tuples": row.get("n_dead_tup"), "fix": fix}


def _estimate_table(row: Row, shapes: _Shapes, block_size: int, role: str) -> list[Row]:
    relation = qualified(row["schema"], row["name"])
    shape = shapes.shape_of(row)
    columns = shapes.columns(shape)
    verdict = stats_verdict(_named_columns(row, columns), can_select=row["can_select"], analyzed=row["analyzed"],
                            role=role, relation=relation) or row_count_verdict(
        reltuples=row["reltuples"], relpages=row["relpages"], counter=row["n_live_tup"],
        changed=row["n_mod_since_analyze"], counted_by_vacuum=row["counted_by_vacuum"], relation=relation)
    if verdict is not None:
        out = [_result(row, relation, "table", None, "estimate", verdict, verdict.fix)]
    else:
        rows = live_rows(row, block_size)
        expected = model.heap_expected_from_tuple(rows, shapes.tuple_bytes(shape), row["fillfactor"], block_size)
        verdict = sample_verdict(rows=rows, reltuples=row["reltuples"], changed=row["n_mod_since_analyze"],
                                 pages=row["size_bytes"] // block_size, relation=relation)
        wasted, percent = model.waste(int(row["size_bytes"]), expected)
        out = [_result(row, relation, "table", expected, "estimate", verdict,
                       table_fix(relation, percent, wasted, row["n_dead_tup"], rows), (wasted, percent))]
    if row["toast_bytes"]:
        out.append(_estimate_toast(row, relation))
    return out


def _estimate_toast(row: Row, relation: str) -> Row:
    """The TOAST relation's size, apart: no statistics describe its chunks, so its waste is not guessed."""
    toast = dict(row, size_bytes=row["toast_bytes"], toast_bytes=None, n_dead_tup=row["toast_dead"])
    verdict = Verdict(False, False, "TOAST waste is not estimated (no statistics describe its chunks) and not "
                                    "included in the table's row: exact => true measures it with pgstattuple")
    live = float(row["toast_live"]) if row["toast_live"] is not None else None
    return _result(toast, relation, "toast", None, "estimate", verdict,
                   table_fix(relation, None, None, row["toast_dead"], live))


def _exact_heap(db: Database, schema: str, oid: int, size: int, max_bytes: int) -> tuple[str, Row]:
    if size <= max_bytes:
        method = "pgstattuple"
        sql = (f"SELECT table_len, tuple_len, tuple_count, dead_tuple_len, dead_tuple_count, free_space "
               f"FROM {qualified(schema, 'pgstattuple')}"
               f"($1::bigint::oid::regclass)")
    else:
        method = "pgstattuple_approx"
        sql = (f"SELECT table_len, approx_tuple_len AS tuple_len, approx_tuple_count AS tuple_count, "
               f"dead_tuple_len, dead_tuple_count, approx_free_space AS free_space "
               f"FROM {qualified(schema, 'pgstattuple_approx')}($1::bigint::oid::regclass)")
    with db.subtransaction():
        return method, db.query(sql, oid)[0]


def _exact_expected(stat: Row, fillfactor: int, block_size: int) -> int:
    return model.exact_heap_expected(int(stat["tuple_len"]), int(stat["tuple_count"]), fillfactor, block_size)


def _exact_table(db: Database, schema: str, row: Row, block_size: int, max_bytes: int) -> list[Row]:
    relation = qualified(row["schema"], row["name"])
    out = []
    try:
        method, stat = _exact_heap(db, schema, row["oid"], int(row["size_bytes"]), max_bytes)
    except Exception as error:  # one unreadable relation must not hide the others
        return [_result(row, relation, "table", None, "pgstattuple",
                        Verdict(False, False, f"pgstattuple failed: {error_first_line(error)}"), None)]
    expected = _exact_expected(stat, row["fillfactor"], block_size)
    wasted, percent = model.waste(int(row["size_bytes"]), expected)
    dead = dict(row, n_dead_tup=int(stat["dead_tuple_count"]))
    out.append(_result(dead, relation, "table", expected, method, Verdict(True, True, None),
                       table_fix(relation, percent, wasted, dead["n_dead_tup"], float(stat["tuple_count"]))))
    if row["toast_oid"] is not None and row["toast_bytes"]:
        out.append(_exact_toast(db, schema, row, relation, block_size, max_bytes))
    return out


def _exact_toast(db: Database, schema: str, row: Row, relation: str, block_size: int, max_bytes: int) -> Row:
    """The TOAST relation of a table, measured apart: its chunks are rows like any other."""
    toast = dict(row, size_bytes=row["toast_bytes"], toast_bytes=None)
    try:
        method, stat = _exact_heap(db, schema, row["toast_oid"], int(row["toast_bytes"]), max_bytes)
    except Exception as error:
        return _result(toast, relation, "toast", None, "pgstattuple",
                       Verdict(False, False, f"pgstattuple failed: {error_first_line(error)}"), None)
    expected = _exact_expected(stat, 100, block_size)
    wasted, percent = model.waste(int(toast["size_bytes"]), expected)
    toast["n_dead_tup"] = int(stat["dead_tuple_count"])
    return _result(toast, relation, "toast", expected, method, Verdict(True, True, None),
                   table_fix(relation, percent, wasted, toast["n_dead_tup"], float(stat["tuple_count"])))


def size_guard(exact_max_bytes: int | None) -> int:
    """The exact mode's size limit: NULL means none; a negative one is a mistake."""
    if exact_max_bytes is None:
        return 2**63 - 1
    if exact_max_bytes < 0:
        raise StewardError("exact_max_bytes must not be negative", INVALID_PARAMETER_VALUE,
                           hint="NULL reads every relation whatever its size.")
    return int(exact_max_bytes)


def table_bloat(db: Database, exact: bool, relation: Any, min_bytes: int | None,
                exact_max_bytes: int | None) -> list[Row]:
    """Rows of steward.table_bloat, the most waste first."""
    max_bytes = size_guard(exact_max_bytes)
    oid = str(relation) if relation is not None else None
    schema = require_pgstattuple(db) if exact else None
    block_size = block_size_of(db)
    role = current_role(db)
    scope = leaves_scope(db, oid)
    sql = tables_sql(_TABLE_COLUMNS, scope, min_bytes or 0) if exact else \
        estimate_sql(scope, min_bytes or 0, is_superuser(db))
    tables = db.query(sql)
    shapes = _Shapes()
    out: list[Row] = []
    for i, row in enumerate(tables):
        if exact and schema is not None:
            out.extend(_exact_table(db, schema, row, block_size, max_bytes))
            if (i + 1) % 100 == 0:
                db.notice(f"pg_steward: measured {i + 1} of {len(tables)} tables")
        else:
            out.extend(_estimate_table(row, shapes, block_size, role))
    out.sort(key=lambda r: (r["waste_bytes"] is None, -(r["waste_bytes"] or 0), r["relation"]))
    return _partitioned_total(db, oid, out, "pgstattuple" if exact else "estimate") + out


_PARTITIONED_SQL = """
SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.oid = $1::text::regclass AND c.relkind = 'p'
"""


def _partitioned_total(db: Database, oid: str | None, leaves: list[Row], method: str) -> list[Row]:
    """The row of a partitioned table asked for by name: its leaves' main forks added up (TOAST apart)."""
    if oid is None:
        return []
    found = db.query(_PARTITIONED_SQL, oid)
    if not found:
        return []
    parts = [r for r in leaves if r["kind"] == "table"]
    size, expected, verdict = partition_total([(r["size_bytes"], r["expected_bytes"], r["trustworthy"])
                                               for r in parts])
    methods = sorted({r["method"] for r in parts})
    total = dict(found[0], size_bytes=size, toast_bytes=sum(r["toast_bytes"] or 0 for r in parts),
                 n_dead_tup=sum(r["dead_tuples"] or 0 for r in parts))
    return [_result(total, qualified(total["schema"], total["name"]), "partitioned", expected,
                    "+".join(methods) or method, verdict, None)]
