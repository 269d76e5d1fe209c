"""The partition tree of a partitioned table, read from the catalog.

Bounds come from ``pg_class.relpartbound``, never from partition names.
Sizes and row estimates of a partitioned node are the sums over its leaves;
an estimate is ``None`` (unknown) when a leaf holding data was never analyzed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pg_steward.db import Database, Row
from pg_steward.partitions.bounds import PartitionBound, Ranks, parse_bound, sort_key, value_text, values_text
from pg_steward.partitions.catalog import partitioned_oid

STRATEGIES = {"r": "range", "l": "list", "h": "hash"}

def partition_walk(root: str) -> str:
    """The partition tree below ``root`` (an SQL expression of an oid), as a table without taking a lock.

    Columns ``relid``, ``parentrelid``, ``level`` and ``isleaf``, as
    ``pg_partition_tree()`` has them; but that function locks every partition
    (ACCESS SHARE) and so waits behind a session holding ACCESS EXCLUSIVE on
    any one of them. This walks ``pg_inherits``, which holds partitioned
    indexes' children as well. ``root`` may refer to the outer query.
    """
    return f"""(
    WITH RECURSIVE walk AS (
        SELECT ({root})::pg_catalog.oid AS relid, NULL::pg_catalog.oid AS parentrelid, 0 AS level
        UNION ALL
        SELECT i.inhrelid, i.inhparent, walk.level + 1
        FROM pg_catalog.pg_inherits AS i JOIN walk ON i.inhparent = walk.relid
    )
    SELECT walk.relid, walk.parentrelid, walk.level, k.relkind NOT IN ('p', 'I') AS isleaf
    FROM walk JOIN pg_catalog.pg_class AS k ON k.oid = walk.relid
)"""


# Relations another session holds or waits for in ACCESS EXCLUSIVE mode (a long ALTER, a TRUNCATE):
# pg_relation_size() would queue behind them.
BUSY_SQL = """
SELECT l.relation FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_catalog.pg_backend_pid()
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = pg_catalog.current_database())
"""


def measurable(table: str, busy: str = "busy") -> str:
    """Whether the sizes of ``table`` (a pg_class alias) can be read now: a plain table none of whose heap,
    TOAST or indexes is in ``busy`` (a CTE over ``BUSY_SQL``)."""
    return (f"({table}.relkind = 'r' AND NOT EXISTS ("
            f"SELECT FROM {busy} WHERE {busy}.relation = {table}.oid OR {busy}.relation = {table}.reltoastrelid "
            f"OR {busy}.relation IN (SELECT x.indexrelid FROM pg_catalog.pg_index AS x "
            f"WHERE x.indrelid = {table}.oid)))")


# The tree comes from partition_walk(), and sizes are not read for a relation that is busy: such a leaf's
# total_bytes is unknown (NULL), its heap size comes from relpages. Everything else read here takes no lock.
_TREE_SQL = f"""
WITH tree AS (SELECT * FROM {partition_walk("$1::bigint")} AS w), busy AS ({BUSY_SQL})
SELECT tree.relid::bigint AS oid,
       tree.parentrelid::bigint AS parent_oid,
       tree.level,
       c.relkind::text AS relkind,
       pg_catalog.pg_get_expr(c.relpartbound, 0) AS bound,
       parent_key.partstrat::text AS parent_strategy,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partitioned_by,
       CASE WHEN sized.readable THEN pg_catalog.pg_total_relation_size(c.oid) END AS total_bytes,
       CASE WHEN sized.readable THEN pg_catalog.pg_relation_size(c.oid)
            WHEN c.relkind = 'r' THEN c.relpages::bigint * pg_catalog.current_setting('block_size')::bigint
       END AS heap_bytes,
       c.reltuples::float8 AS reltuples,
       c.relpages
FROM tree
JOIN pg_catalog.pg_class AS c ON c.oid = tree.relid
CROSS JOIN LATERAL (SELECT {measurable("c")} AS readable) AS sized
-- The root's own parent too, when the root is itself a partition: its strategy is that of its bound.
LEFT JOIN pg_catalog.pg_partitioned_table AS parent_key ON parent_key.partrelid = COALESCE(
    tree.parentrelid, (SELECT i.inhparent FROM pg_catalog.pg_inherits AS i WHERE i.inhrelid = tree.relid))
"""

# How each range or list key column of the partitioned nodes of the tree orders its values, as PostgreSQL
# orders the partitions: the key's type (a domain's base type, so that no CHECK of the domain runs), its
# collation and the "<" of its operator class. Only built-in-shaped types (base and enum, not arrays) are
# sorted by the database; values of other types keep the text order of sort_key().
_KEY_ORDER_SQL = f"""
SELECT pt.partrelid::bigint AS oid, (k.n - 1)::int AS position,
       -- With its typmod: format_type(bpchar, NULL) is "character", i.e. char(1), which would cut values.
       pg_catalog.format_type(t.oid, CASE WHEN declared.typtype = 'd' THEN declared.typtypmod
                                          ELSE COALESCE(a.atttypmod, -1) END) AS sort_type,
       CASE WHEN k.coll <> 0 THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS sort_collation,
       'OPERATOR(' || pg_catalog.quote_ident(opn.nspname) || '.' || op.oprname || ')' AS sort_operator
FROM {partition_walk("$1::bigint")} AS tree
JOIN pg_catalog.pg_partitioned_table AS pt ON pt.partrelid = tree.relid AND pt.partstrat IN ('r', 'l')
CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(pt.partattrs::pg_catalog.int2[]),
                              pg_catalog.unnest(pt.partclass::pg_catalog.oid[]),
                              pg_catalog.unnest(pt.partcollation::pg_catalog.oid[]))
     WITH ORDINALITY AS k(attnum, opclass, coll, n)
JOIN pg_catalog.pg_opclass AS oc ON oc.oid = k.opclass
LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum AND k.attnum > 0
JOIN pg_catalog.pg_type AS declared ON declared.oid = COALESCE(a.atttypid, oc.opcintype)
JOIN pg_catalog.pg_type AS t
  ON t.oid = CASE WHEN declared.typtype = 'd' THEN declared.typbasetype ELSE declared.oid END
JOIN pg_catalog.pg_amop AS amop
  ON amop.amopfamily = oc.opcfamily AND amop.amopmethod = oc.opcmethod AND amop.amopstrategy = 1
 AND amop.amoplefttype = oc.opcintype AND amop.amoprighttype = oc.opcintype
JOIN pg_catalog.pg_operator AS op ON op.oid = amop.amopopr
JOIN pg_catalog.pg_namespace AS opn ON opn.oid = op.oprnamespace
LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = k.coll
LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
WHERE t.typtype IN ('b', 'e') AND t.typcategory <> 'A'
"""


def _place_sql(group: int, sort_type: str, collation: str | None, operator: str) -> str:
    """Each distinct value of parameter ``$group`` (text as the catalog prints it) with its place in the order."""
    collate = f" COLLATE {collation}" if collation else ""
    return (f"SELECT {group} AS grp, d.v AS value, (pg_catalog.rank() OVER "
            f"(ORDER BY d.v::{sort_type}{collate} USING {operator}))::int AS place "
            f"FROM (SELECT DISTINCT u.v FROM pg_catalog.unnest(${group}::pg_catalog.text[]) AS u(v)) AS d")


def key_ranks(db: Database, parent: int, rows: list[Row], bounds: dict[int, PartitionBound | None]) -> dict[int, Ranks]:
    """Per partitioned node of the tree, its key columns' bound values ranked in the key's order.

    The database sorts them, one statement for the whole tree (a group per type, collation and operator).
    """
    values: dict[tuple[int, int], set[str]] = defaultdict(set)
    for row in rows:
        bound = bounds[row["oid"]]
        if bound is None or row["level"] == 0:
            continue
        listed = [(i, v) for i, v in enumerate(bound.range_from)] + [(0, v) for v in bound.list_values]
        for position, value in listed:
            if isinstance(value, str):
                values[(row["parent_oid"], position)].add(value)
    if not values:
        return {}
    columns = db.query(_KEY_ORDER_SQL, parent)
    groups: dict[tuple[str, str | None, str], list[tuple[int, int]]] = defaultdict(list)
    for column in columns:
        if (column["oid"], column["position"]) in values:
            groups[(column["sort_type"], column["sort_collation"], column["sort_operator"])].append(
                (column["oid"], column["position"]))
    if not groups:
        return {}
    keys = list(groups)
    params = [sorted(set().union(*(values[c] for c in groups[key]))) for key in keys]
    sql = " UNION ALL ".join(_place_sql(i + 1, *key) for i, key in enumerate(keys))
    places: dict[int, dict[str, int]] = defaultdict(dict)
    for place in db.query(sql, *params):
        places[place["grp"] - 1][place["value"]] = place["place"]
    ranks: dict[int, list[dict[str, int]]] = {}
    for i, key in enumerate(keys):
        for oid, position in groups[key]:
            per_column = ranks.setdefault(oid, [])
            per_column.extend({} for _ in range(position + 1 - len(per_column)))
            per_column[position] = places[i]
    return ranks



def leaf_row_estimate(reltuples: float, relpages: int, heap_bytes: int | None) -> int | None:
    """Rows in a leaf from its statistics, or None when they cannot be trusted.

    ``reltuples`` is -1 (PostgreSQL 14+) or 0 (before) until the first
    VACUUM or ANALYZE; an empty heap is known to hold nothing.
    """
    if heap_bytes is None:
        return None
    if reltuples > 0:
        return round(reltuples)
    if heap_bytes == 0 or (reltuples == 0 and relpages > 0):
        return 0
    return None


def _sum_known(values: list[int | None]) -> int | None:
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def build_tree(rows: list[Row], ranks: dict[int, Ranks] | None = None) -> list[dict[str, Any]]:
    """Catalog rows into output rows: depth first, siblings in bound order."""
    children: dict[int, list[Row]] = defaultdict(list)
    root = None
    for row in rows:
        if row["level"] == 0:
            root = row
        else:
            children[row["parent_oid"]].append(row)
    if root is None:
        return []

    bounds = parsed_bounds(rows)
    totals: dict[int, tuple[int | None, int | None]] = {}

    def measure(row: Row) -> tuple[int | None, int | None]:
        kids = children.get(row["oid"], [])
        if row["relkind"] == "p":
            sizes = [measure(kid) for kid in kids]
            result = (_sum_known([s[0] for s in sizes]), _sum_known([s[1] for s in sizes]))
        else:
            result = (
                row["total_bytes"],
                leaf_row_estimate(row["reltuples"], row["relpages"], row["heap_bytes"]),
            )
        totals[row["oid"]] = result
        return result

    measure(root)
    out: list[dict[str, Any]] = []

    def visit(row: Row) -> None:
        bound = bounds[row["oid"]]
        total_bytes, estimated_rows = totals[row["oid"]]
        out.append(
            {
                "partition": row["oid"],
                "partition_of": row["parent_oid"] if row["level"] > 0 else None,
                "level": row["level"],
                "is_leaf": row["relkind"] != "p",
                "is_default": bound is not None and bound.kind == "default",
                "strategy": STRATEGIES.get(row["parent_strategy"]) if bound is not None else None,
                "bound": row["bound"],
                "range_from": values_text(bound.range_from) if bound else None,
                "range_to": values_text(bound.range_to) if bound else None,
                "list_values": [value_text(v) for v in bound.list_values] if bound and bound.kind == "list" else None,
                "hash_modulus": bound.modulus if bound else None,
                "hash_remainder": bound.remainder if bound else None,
                "partitioned_by": row["partitioned_by"],
                "total_bytes": total_bytes,
                "estimated_rows": estimated_rows,
            }
        )
        order = (ranks or {}).get(row["oid"])
        for kid in sorted(children.get(row["oid"], []), key=lambda r: sort_key(bounds[r["oid"]], order)):
            visit(kid)

    visit(root)
    return out


def partition_tree(db: Database, parent: str | None) -> list[dict[str, Any]]:
    """Rows of ``steward.partitions(parent)``."""
    root = partitioned_oid(db, parent, hint="Pass the partitioned (parent) table, or a sub-partitioned partition.")
    rows = db.query(_TREE_SQL, root)  # by oid: a schema the role may not use is no obstacle (the catalog is open)
    return build_tree(rows, key_ranks(db, root, rows, parsed_bounds(rows)))


def parsed_bounds(rows: list[Row]) -> dict[int, PartitionBound | None]:
    return {row["oid"]: parse_bound(row["bound"]) if row["bound"] else None for row in rows}
