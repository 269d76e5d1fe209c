"""steward.index_bloat: B-tree indexes against the size a fresh build would give them.

Keys come from the index's own pg_attribute rows (so expressions are covered);
their statistics from pg_stats on the table (plain columns) or on the index
(expressions). Deduplication is assumed where PostgreSQL applies it on a build:
a non-unique B-tree without INCLUDE columns, ``deduplicate_items`` not off, and
every key's operator class offering an equality-image function (support 4).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pg_steward.catalog_filters import USER_SCHEMA
from pg_steward.db import Database, Row
from pg_steward.errors import error_first_line
from pg_steward.reports import bloat_model as model
from pg_steward.reports.bloat import (
    CONSTANT_WIDTH,
    COUNTERS,
    block_size_of,
    current_role,
    leaves_scope,
    live_rows,
    require_pgstattuple,
    size_guard,
)
from pg_steward.reports.bloat_verdict import (
    Verdict,
    index_fix,
    partition_total,
    row_count_verdict,
    sample_verdict,
    stats_verdict,
)
from pg_steward.sqltext import qualified

# The indexes in scope: {scope} is "" or the leaves_scope condition over the table and the index, so that
# neither statement has a parameter (see leaves_scope).
_SCOPE = f"{USER_SCHEMA}{{scope}}"
_SCOPE_COLUMNS = ("i.indrelid", "i.indexrelid")

_INDEXES_SQL = f"""
SELECT ci.oid::bigint AS oid, n.nspname AS schema, ct.relname AS table_name, ci.relname AS name,
       am.amname::text AS method, pg_catalog.pg_relation_size(ci.oid) AS size_bytes,
       ci.reltuples::float8 AS index_reltuples, ct.reltuples::float8 AS reltuples, ct.relpages,
       pg_catalog.pg_relation_size(ct.oid) AS table_bytes,
       {COUNTERS.format(c="ct")},
       i.indisunique AS is_unique, i.indisvalid AS is_valid, i.indpred IS NOT NULL AS partial,
       i.indnatts <> i.indnkeyatts AS has_include,
       coalesce((SELECT o.option_value::int FROM pg_catalog.pg_options_to_table(ci.reloptions) AS o
                 WHERE o.option_name = 'fillfactor'), 90) AS fillfactor,
       coalesce((SELECT o.option_value::bool FROM pg_catalog.pg_options_to_table(ci.reloptions) AS o
                 WHERE o.option_name = 'deduplicate_items'), true) AS deduplicate_items,
       pg_catalog.has_table_privilege(ct.oid, 'SELECT') AS can_select
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ci ON ci.oid = i.indexrelid
JOIN pg_catalog.pg_class AS ct ON ct.oid = i.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = ct.relnamespace
JOIN pg_catalog.pg_am AS am ON am.oid = ci.relam
WHERE ci.relkind = 'i' AND ct.relkind IN ('r', 'm') AND {_SCOPE}
"""

# One row per key column: storage from the index, statistics from the table
# column it indexes, or from the index itself for an expression.
_KEYS_SQL = f"""
SELECT i.indexrelid::bigint AS oid, k.n AS position, ia.attname::text AS name, ia.attlen::int AS typlen,
       ia.attalign::text AS typalign,
       coalesce(ts.avg_width, xs.avg_width)::float8 AS avg_width,
       coalesce(ts.null_frac, xs.null_frac)::float8 AS null_frac,
       coalesce(ts.n_distinct, xs.n_distinct)::float8 AS n_distinct,
       CASE WHEN ts.attname IS NOT NULL THEN {CONSTANT_WIDTH.format(stats="ts", type="ia.atttypid")}
            ELSE {CONSTANT_WIDTH.format(stats="xs", type="ia.atttypid")} END AS constant_width,
       EXISTS (SELECT FROM pg_catalog.pg_opclass AS oc
               JOIN pg_catalog.pg_amproc AS p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 4
                    AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
               WHERE oc.oid = i.indclass[k.n - 1]) AS equal_image
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ct ON ct.oid = i.indrelid
JOIN pg_catalog.pg_class AS ci ON ci.oid = i.indexrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = ct.relnamespace
CROSS JOIN LATERAL pg_catalog.generate_series(1, i.indnkeyatts) AS k(n)
JOIN pg_catalog.pg_attribute AS ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.n
LEFT JOIN pg_catalog.pg_attribute AS ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[k.n - 1]
LEFT JOIN pg_catalog.pg_stats AS ts ON ts.schemaname = n.nspname AND ts.tablename = ct.relname
     AND ts.attname = ta.attname AND NOT ts.inherited
LEFT JOIN pg_catalog.pg_stats AS xs ON i.indkey[k.n - 1] = 0 AND xs.schemaname = n.nspname
     AND xs.tablename = ci.relname AND xs.attname = ia.attname
WHERE ci.relkind = 'i' AND ct.relkind IN ('r', 'm') AND {_SCOPE}
ORDER BY 1, 2
"""


def _distinct(keys: list[Row], rows: float) -> float | None:
    """Distinct key combinations: the product of the columns' n_distinct, at most the rows."""
    total = 1.0
    for key in keys:
        nd = key["n_distinct"]
        if nd is None:
            return None
        total *= -nd * rows if nd < 0 else nd
    return min(total, rows)


def _index_rows(row: Row, block_size: int) -> float:
    if row["partial"]:
        return max(row["index_reltuples"], 0.0)
    return live_rows(row, block_size)


def _result(row: Row, expected: int | None, method: str, verdict: Verdict) -> Row:
    size = int(row["size_bytes"])
    index = qualified(row["schema"], row["name"])
    wasted, percent = model.waste(size, expected) if expected is not None else (None, None)
    return {"schema": row["schema"], "table_name": row["table_name"], "index_name": row["name"],
            "index": index, "method": row["method"], "size_bytes": size, "expected_bytes": expected,
            "waste_bytes": wasted, "waste_percent": percent, "measured_by": method,
            "trustworthy": verdict.trustworthy, "reason": verdict.reason,
            "fix": index_fix(index, percent, wasted) if verdict.estimable else verdict.fix}


def _not_modelled(row: Row) -> Verdict | None:
    if not row["is_valid"]:
        return Verdict(False, False, "invalid index (a failed CREATE INDEX CONCURRENTLY): see steward.index_report()")
    if row["method"] != "btree":
        return Verdict(False, False, f"{row['method']} indexes are not modelled; only B-tree")
    return None


def _estimate(row: Row, keys: list[Row], block_size: int, role: str) -> Row:
    verdict = _not_modelled(row)
    if verdict is None:
        columns = {k["name"]: model.Column(k["typlen"], k["typalign"], k["avg_width"], k["null_frac"],
                                           constant_width=bool(k["constant_width"])) for k in keys}
        table = qualified(row["schema"], row["table_name"])
        verdict = stats_verdict(columns, can_select=row["can_select"], analyzed=row["analyzed"], role=role,
                                relation=table) or row_count_verdict(
            reltuples=row["reltuples"], relpages=row["relpages"], counter=row["n_live_tup"],
            changed=row["n_mod_since_analyze"], counted_by_vacuum=row["counted_by_vacuum"], relation=table)
    if verdict is not None:
        return _result(row, None, "estimate", verdict)
    rows = _index_rows(row, block_size)
    dedup = (not row["is_unique"] and not row["has_include"] and row["deduplicate_items"]
             and all(k["equal_image"] for k in keys))
    shape = model.BtreeShape(rows=rows, keys=list(columns.values()), distinct=_distinct(keys, rows),
                             deduplicate=dedup, fillfactor=row["fillfactor"], block_size=block_size)
    expected = model.btree_expected_bytes(shape)
    verdict = sample_verdict(rows=rows, reltuples=row["reltuples"], changed=row["n_mod_since_analyze"],
                             pages=int(row["size_bytes"]) // block_size,
                             relation=qualified(row["schema"], row["table_name"]))
    return _result(row, expected, "estimate", verdict)


def _exact(db: Database, schema: str, row: Row, block_size: int, max_bytes: int) -> Row:
    verdict = _not_modelled(row)
    if verdict is not None:
        return _result(row, None, "pgstatindex", verdict)
    if int(row["size_bytes"]) > max_bytes:
        return _result(row, None, "pgstatindex", Verdict(
            False, False, f"larger than exact_max_bytes ({max_bytes}): not read; raise it or use the estimate"))
    try:
        with db.subtransaction():
            stat = db.query(f"SELECT leaf_pages, internal_pages, avg_leaf_density::float8 AS density "
                            f"FROM {qualified(schema, 'pgstatindex')}($1::bigint::oid::regclass)", row["oid"])[0]
    except Exception as error:  # one unreadable index must not hide the others
        reason = f"pgstatindex failed: {error_first_line(error)}"
        return _result(row, None, "pgstatindex", Verdict(False, False, reason))
    density = stat["density"] if stat["density"] == stat["density"] else 0.0  # NaN on an empty index
    expected = model.exact_btree_expected(int(stat["leaf_pages"]), int(stat["internal_pages"]), density,
                                          row["fillfactor"], block_size)
    return _result(row, expected, "pgstatindex", Verdict(True, True, None))


def index_bloat(db: Database, exact: bool, relation: Any, min_bytes: int | None,
                exact_max_bytes: int | None) -> list[Row]:
    """Rows of steward.index_bloat, the most waste first."""
    max_bytes = size_guard(exact_max_bytes)
    name = str(relation) if relation is not None else None
    schema = require_pgstattuple(db) if exact else None
    block_size = block_size_of(db)
    role = current_role(db)
    scope = leaves_scope(db, name, _SCOPE_COLUMNS)
    indexes = [r for r in db.query(_INDEXES_SQL.replace("{scope}", scope)) if int(r["size_bytes"]) >= (min_bytes or 0)]
    keys: dict[int, list[Row]] = defaultdict(list)
    if not exact:
        for key in db.query(_KEYS_SQL.replace("{scope}", scope)):
            keys[key["oid"]].append(key)
    by_oid: dict[int, Row] = {}
    for row in indexes:
        if exact and schema is not None:
            by_oid[row["oid"]] = _exact(db, schema, row, block_size, max_bytes)
        else:
            by_oid[row["oid"]] = _estimate(row, keys.get(row["oid"], []), block_size, role)
    out = sorted(by_oid.values(), key=lambda r: (r["waste_bytes"] is None, -(r["waste_bytes"] or 0), r["index"]))
    return _partitioned_totals(db, name, by_oid, "pgstatindex" if exact else "estimate") + out


# The partitioned indexes of a partitioned table (or the partitioned index) $1 names,
# each with its leaf indexes.
_PARTITIONED_SQL = """
SELECT ci.oid::bigint AS oid, n.nspname AS schema, ct.relname AS table_name, ci.relname AS name,
       am.amname::text AS method, pg_catalog.array_agg(t.relid::bigint) AS leaves
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ci ON ci.oid = i.indexrelid
JOIN pg_catalog.pg_class AS ct ON ct.oid = i.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = ct.relnamespace
JOIN pg_catalog.pg_am AS am ON am.oid = ci.relam
CROSS JOIN LATERAL pg_catalog.pg_partition_tree(ci.oid) AS t
WHERE ci.relkind = 'I' AND t.isleaf AND (i.indrelid = $1::text::regclass OR i.indexrelid = $1::text::regclass)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 4
"""


def _partitioned_totals(db: Database, name: str | None, by_oid: dict[int, Row], method: str) -> list[Row]:
    """One row per partitioned index asked for by name: its leaf indexes (those listed) added up."""
    if name is None:
        return []
    out = []
    for parent in db.query(_PARTITIONED_SQL, name):
        parts = [by_oid[oid] for oid in parent["leaves"] if oid in by_oid]
        size, expected, verdict = partition_total([(r["size_bytes"], r["expected_bytes"], r["trustworthy"])
                                                   for r in parts])
        measured = "partitions (" + ("+".join(sorted({r["measured_by"] for r in parts})) or method) + ")"
        total = _result(dict(parent, size_bytes=size), expected, measured, verdict)
        out.append(dict(total, fix=None))  # the leaves' rows carry the fixes
    return out
