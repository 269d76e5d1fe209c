"""What pg_steward reads about a partitioned table: key, partitions with typed bounds, names, grants."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pg_steward.arguments import not_null
from pg_steward.db import Database
from pg_steward.errors import (
    FEATURE_NOT_SUPPORTED,
    UNDEFINED_TABLE,
    WRONG_OBJECT_TYPE,
    StewardError,
)
from pg_steward.partitions.bounds import parse_bound
from pg_steward.partitions.model import Parent, RangePartition
from pg_steward.partitions.spans import INTEGER_KEYS, TIME_KEYS
from pg_steward.partitions.values import from_text

STRATEGIES = {"r": "range", "l": "list", "h": "hash"}


_PARENT_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.pg_get_userbyid(c.relowner)::text AS owner, c.relkind::text AS relkind,
       pt.partstrat::text AS strategy, pt.partnatts AS key_count, pt.partdefid::bigint AS default_oid,
       a.attname::text AS key_column, pg_catalog.format_type(a.atttypid, NULL) AS key_type
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_partitioned_table AS pt ON pt.partrelid = c.oid
LEFT JOIN pg_catalog.pg_attribute AS a
       ON a.attrelid = c.oid AND pt.partnatts = 1 AND a.attnum = pt.partattrs[0] AND a.attnum > 0
"""

_RANGES_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.pg_get_expr(c.relpartbound, 0) AS bound, c.relkind = 'p' AS is_partitioned,
       c.relkind = 'f' OR (c.relkind = 'p' AND EXISTS (
           SELECT FROM pg_catalog.pg_partition_tree(c.oid) AS t JOIN pg_catalog.pg_class AS l ON l.oid = t.relid
           WHERE l.relkind = 'f')) AS is_foreign
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE i.inhparent = $1::bigint::oid
"""


def read_parent(db: Database, parent: str | int | None) -> Parent:
    """The partitioned table named by a regclass text, or by its oid."""
    not_null("parent", parent)
    where = "WHERE c.oid = $1::bigint::oid" if isinstance(parent, int) else "WHERE c.oid = $1::regclass"
    rows = db.query(_PARENT_SQL + where, parent)
    if not rows:
        raise StewardError(f"relation with oid {parent} does not exist", UNDEFINED_TABLE)
    _require_partitioned(rows[0])
    return _parent(rows[0])


def _require_partitioned(row: dict, hint: str | None = None) -> None:
    if row["relkind"] != "p":
        raise StewardError(f"{row['schema']}.{row['name']} is not a partitioned table", WRONG_OBJECT_TYPE, hint=hint)


# The relation a regclass argument names, found by the text PostgreSQL printed for it (PL/Python hands a
# function its regclass arguments as text, printed under the function's own search_path). Read back with the
# same output function, never through the regclass input: that resolves the schema by name, which needs USAGE
# on it, so a pg_monitor member would be refused a table whose schema it may not use although the catalog
# shows it to every role.
_REGCLASS_OID_SQL = """
SELECT c.oid::pg_catalog.int8 AS oid FROM pg_catalog.pg_class AS c
WHERE c.relname OPERATOR(pg_catalog.=) (SELECT x.parts[pg_catalog.array_upper(x.parts, 1)]
                                        FROM (SELECT pg_catalog.parse_ident($1::pg_catalog.text) AS parts) AS x)
  AND c.oid::pg_catalog.regclass::pg_catalog.text OPERATOR(pg_catalog.=) $1::pg_catalog.text
"""


def regclass_oid(db: Database, relation: str) -> int:
    """The oid of the relation a regclass argument's text names, without resolving its schema by name.

    Every name qualified: a procedure calls it under its caller's search_path. A text that names no relation (a
    caller's own text, not a regclass argument) goes through the regclass input, which raises PostgreSQL's own
    error (42P01, or 42501 for a schema the role may not use).
    """
    if relation.isdigit():  # the output of a regclass whose relation is gone
        return int(relation)
    found = db.query(_REGCLASS_OID_SQL, relation)
    if len(found) == 1:
        return int(found[0]["oid"])
    return int(db.query("SELECT $1::pg_catalog.text::pg_catalog.regclass::pg_catalog.oid::pg_catalog.int8 AS oid",
                        relation)[0]["oid"])


def partitioned_oid(db: Database, relation: str | None, hint: str | None = None) -> int:
    """The oid of the partitioned table (or sub-partitioned partition) a regclass text names; the one error if not.

    A name that resolves to nothing fails in the regclass cast (42P01), as PostgreSQL says it. The schema needs
    no USAGE (``regclass_oid``): the tree is read from the catalog, which every role may read.
    """
    not_null("parent", relation)
    oid = regclass_oid(db, str(relation))
    rows = db.query("SELECT c.oid::bigint AS oid, c.relkind::text AS relkind, n.nspname::text AS schema, "
                    "c.relname::text AS name FROM pg_catalog.pg_class AS c "
                    "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1::bigint::oid",
                    oid)
    if not rows:
        raise StewardError(f"relation with oid {oid} does not exist", UNDEFINED_TABLE)
    row = rows[0]
    _require_partitioned(row, hint)
    return int(row["oid"])


def _parent(row: dict) -> Parent:
    return Parent(
        oid=row["oid"], schema=row["schema"], name=row["name"], owner=row["owner"],
        strategy=STRATEGIES[row["strategy"]], key_column=row["key_column"], key_type=row["key_type"],
        default_oid=row["default_oid"] or None,
    )


def read_parents(db: Database, oids: list[int]) -> list[Parent]:
    """The partitioned tables among ``oids``, in one query (oids of other or dropped relations are left out)."""
    rows = db.query(_PARENT_SQL + "WHERE c.oid = ANY($1::bigint[]::oid[]) AND c.relkind = 'p'", oids)
    return [_parent(row) for row in rows]


def require_range(parent: Parent, time_only: bool = False) -> None:
    """Refuse tables whose layout pg_steward cannot cut into ranges of one key column."""
    if parent.strategy != "range":
        raise StewardError(
            f"{parent.label} is partitioned by {parent.strategy.upper()}, not by RANGE",
            WRONG_OBJECT_TYPE,
            hint="Range functions need a table partitioned BY RANGE on one date, timestamp or integer column.",
        )
    if parent.key_column is None:
        raise StewardError(
            f"{parent.label} has a multi-column or expression partition key",
            FEATURE_NOT_SUPPORTED,
        )
    allowed = TIME_KEYS if time_only else TIME_KEYS + INTEGER_KEYS
    if parent.key_type not in allowed:
        raise StewardError(
            f"the partition key {parent.key_column} of {parent.label} is of type {parent.key_type}",
            WRONG_OBJECT_TYPE,
            hint="Supported keys: date, timestamp, timestamptz" + ("" if time_only else ", smallint, integer, bigint."),
        )


def range_partitions(db: Database, parent: Parent) -> list[RangePartition]:
    """Direct range partitions with typed bounds (the DEFAULT partition is not among them)."""
    out = []
    for row in db.query(_RANGES_SQL, parent.oid):
        bound = parse_bound(row["bound"])
        if bound.kind != "range":
            continue
        assert parent.key_type is not None
        out.append(RangePartition(
            oid=row["oid"], schema=row["schema"], name=row["name"],
            start=from_text(bound.range_from[0], parent.key_type),
            end=from_text(bound.range_to[0], parent.key_type),
            is_partitioned=row["is_partitioned"], is_foreign=row["is_foreign"],
        ))
    return out


def relation_exists(db: Database, schema: str, name: str) -> bool:
    return bool(db.query(
        "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        schema, name,
    ))


def free_relation_names(db: Database, schema: str, names: list[str]) -> set[str]:
    """Those of ``names`` that no relation of ``schema`` has, in one statement (``relation_exists`` for many)."""
    if not names:
        return set()
    # Each name by the (relname, relnamespace) index, in a scalar subquery: a NOT EXISTS would become an anti
    # join, and a generic plan may hash all of the schema's pg_class rows for it, every call.
    return {r["name"] for r in db.query(
        "SELECT w.name FROM pg_catalog.unnest($2::text[]) AS w(name) WHERE (SELECT c.oid FROM pg_catalog.pg_class c "
        "WHERE c.relname = w.name::pg_catalog.name AND c.relnamespace = "
        "(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)) IS NULL", schema, names)}


def relation_name(db: Database, oid: int) -> tuple[str, str]:
    row = db.query(
        "SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::bigint::oid",
        oid,
    )[0]
    return row["schema"], row["name"]


def insertable_columns(db: Database, parent: Parent) -> list[str]:
    """Columns a row can be copied through (not dropped, not generated), in the parent's order."""
    rows = db.query(
        "SELECT attname::text AS name FROM pg_catalog.pg_attribute "
        "WHERE attrelid = $1::bigint::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
        "ORDER BY attnum",
        parent.oid,
    )
    return [r["name"] for r in rows]


def grants(db: Database, parent: Parent) -> list[tuple[str | None, str, bool]]:
    """The parent's table privileges other than its owner's: (grantee or None for PUBLIC, privilege, grantable)."""
    rows = db.query(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee, "
        "a.privilege_type AS privilege, a.is_grantable AS grantable "
        "FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a "
        "WHERE c.oid = $1::bigint::oid AND a.grantee <> c.relowner",
        parent.oid,
    )
    return [(r["grantee"], r["privilege"], r["grantable"]) for r in rows]


# What a creation copies from the parent and needs of its DEFAULT, read once under the table's change lock.
@dataclass(frozen=True)
class ChangeFacts:
    """The parent's storage parameters and privileges (as ``grants`` reads them), its DEFAULT's name and kind,
    and whether the DEFAULT is a plain table without a block (reading its size opens it, AccessShareLock, as
    reading its rows would: the caller bounds the wait; a foreign or partitioned DEFAULT is never empty)."""

    reloptions: tuple[str, ...]
    grants: list[tuple[str | None, str, bool]]
    default_name: tuple[str, str] | None
    default_kind: str | None
    default_empty: bool = False


def change_facts(db: Database, parent: Parent) -> ChangeFacts:
    """``ChangeFacts`` of ``parent``, read in one statement."""
    row = db.query(
        "SELECT c.reloptions AS reloptions, dn.nspname::pg_catalog.text AS default_schema, "
        "d.relname::pg_catalog.text AS default_name, d.relkind::pg_catalog.text AS default_kind, "
        "CASE WHEN d.relkind OPERATOR(pg_catalog.=) 'r' THEN pg_catalog.pg_relation_size(d.oid) "
        "OPERATOR(pg_catalog.=) 0 ELSE false END AS default_empty, "
        "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 "
        "THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END, a.privilege_type, "
        "a.is_grantable))::pg_catalog.text "
        "FROM pg_catalog.aclexplode(c.relacl) AS a WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner) AS grants "
        "FROM pg_catalog.pg_class AS c "
        "LEFT JOIN pg_catalog.pg_class AS d ON d.oid OPERATOR(pg_catalog.=) "
        "$2::pg_catalog.int8::pg_catalog.oid "
        "LEFT JOIN pg_catalog.pg_namespace AS dn ON dn.oid OPERATOR(pg_catalog.=) d.relnamespace "
        "WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid",
        parent.oid, parent.default_oid)[0]
    grants = [(g, p, bool(o)) for g, p, o in json.loads(row["grants"] or "[]")]
    default = (row["default_schema"], row["default_name"]) if row["default_name"] is not None else None
    return ChangeFacts(tuple(row["reloptions"] or ()), grants, default, row["default_kind"],
                       bool(row["default_empty"]))
