"""Hash and list layouts: all the hash partitions of a modulus in one call, a list partition for new values.

Both make their partitions exactly as range partitions are made (``create.attach_new_partition``: a standalone
table like the parent, ATTACH, the parent's owner and grants, its indexes through ATTACH), under the same
locks (``create.lock_for_change``) and ``lock_timeout`` with retries, and a list partition takes its rows out of
the DEFAULT partition by the same move (``create.with_default_rescue``): every row is either still in DEFAULT
or in the new partition, never lost, never in both. A hash-partitioned table has no DEFAULT partition, and a
missing remainder holds no row (PostgreSQL refuses rows for it), so nothing is moved for hash.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pg_steward.arguments import not_null
from pg_steward.db import Database
from pg_steward.errors import (
    DUPLICATE_TABLE,
    FEATURE_NOT_SUPPORTED,
    INVALID_PARAMETER_VALUE,
    NAME_TOO_LONG,
    STRING_DATA_RIGHT_TRUNCATION,
    WRONG_OBJECT_TYPE,
    StewardError,
    error_message,
    error_sqlstate,
)
from pg_steward.partitions import catalog
from pg_steward.partitions.bounds import parse_bound
from pg_steward.partitions.create import (
    Created,
    NewPartition,
    attach_new_partition,
    lock_for_change,
    with_default_rescue,
)
from pg_steward.partitions.locking import with_lock_retries
from pg_steward.partitions.model import Parent, PartitionOptions
from pg_steward.partitions.naming import NAMEDATALEN, partition_name
from pg_steward.sqltext import qualified, quote_literal

MAX_MODULUS = 1024  # one call's partitions: each is a table, and one transaction locks them all

_CHILDREN_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.pg_get_expr(c.relpartbound, 0) AS bound
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE i.inhparent = $1::bigint::oid
ORDER BY c.relname
"""


def _require_strategy(parent: Parent, strategy: str, function: str) -> None:
    if parent.strategy != strategy:
        raise StewardError(f"{parent.label} is partitioned by {parent.strategy.upper()}, not by {strategy.upper()}",
                           WRONG_OBJECT_TYPE, hint=f"{function} needs a table partitioned BY {strategy.upper()}.")


def _children(db: Database, parent: Parent) -> list[dict[str, Any]]:
    rows = db.query(_CHILDREN_SQL, parent.oid)
    for row in rows:
        row["parsed"] = parse_bound(row["bound"])
    return rows


def create_hash_partitions(db: Database, parent_name: str | None, modulus: int | None) -> list[dict[str, Any]]:
    """``steward.create_hash_partitions(parent, modulus)``: the partitions of remainders 0 to modulus - 1.

    Existing partitions of that modulus are kept (the call is idempotent); a parent with partitions of another
    modulus is refused. One row per remainder: the partition, its remainder, whether it was created now."""
    not_null("modulus", modulus)
    assert modulus is not None
    parent = catalog.read_parent(db, parent_name)
    _require_strategy(parent, "hash", "steward.create_hash_partitions")
    if modulus < 1 or modulus > MAX_MODULUS:
        raise StewardError(f"modulus must be between 1 and {MAX_MODULUS}, not {modulus}", INVALID_PARAMETER_VALUE)
    options = PartitionOptions()

    def attempt() -> list[dict[str, Any]]:
        lock_for_change(db, parent)
        existing: dict[int, int] = {}
        for row in _children(db, parent):
            bound = row["parsed"]
            if bound.kind != "hash":
                continue
            if bound.modulus != modulus:
                raise StewardError(
                    f"{parent.label} has partitions of modulus {bound.modulus}, not {modulus}",
                    INVALID_PARAMETER_VALUE,
                    detail=f"{row['schema']}.{row['name']} is {row['bound']}.",
                    hint="Every partition made by steward.create_hash_partitions has the same modulus; "
                         "change the modulus of a table by converting it into a new one.")
            assert bound.remainder is not None
            existing[bound.remainder] = row["oid"]
        out = []
        for remainder in range(modulus):
            if remainder in existing:
                out.append({"partition": existing[remainder], "remainder": remainder, "created": False})
                continue
            name = partition_name(parent.name, f"_p{remainder}",
                                  lambda n: catalog.relation_exists(db, parent.schema, n),
                                  f"{parent.oid}:hash:{modulus}:{remainder}")
            new = NewPartition(f"FOR VALUES WITH (MODULUS {modulus}, REMAINDER {remainder})", None, "", (),
                               f"remainder {remainder} of modulus {modulus}")
            oid, _ = attach_new_partition(db, parent, name, new, options)
            out.append({"partition": oid, "remainder": remainder, "created": True})
        return out

    made = with_lock_retries(db, options.lock, f"create hash partitions of {parent.label}", attempt)
    created = sum(1 for row in made if row["created"])
    if created:
        db.notice(f"created {created} of {modulus} hash partitions of {parent.label}")
    return made


def _key_type(db: Database, parent: Parent) -> tuple[str, str]:
    """The partition key's type with its modifier (``character varying(2)``) and without, as PostgreSQL prints
    them."""
    row = db.query(
        "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) AS t, pg_catalog.format_type(a.atttypid, NULL) AS b "
        "FROM pg_catalog.pg_partitioned_table AS p "
        "JOIN pg_catalog.pg_attribute AS a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        "WHERE p.partrelid = $1::bigint::oid", parent.oid)[0]
    return str(row["t"]), str(row["b"])


def _typed_values(db: Database, parent: Parent, key_type: str, base_type: str, values: list[str | None]) -> list[str]:
    """Each value read as a value of the key's type by PostgreSQL, printed back; duplicates dropped. A value the
    type's modifier would cut (``'ABCD'`` for ``varchar(3)``) is refused, not cut: an explicit cast would."""
    if not values:
        raise StewardError("list_values must hold at least one value", INVALID_PARAMETER_VALUE)
    out: list[str] = []
    for value in values:
        if value is None:
            raise StewardError("list_values must not contain NULL", INVALID_PARAMETER_VALUE,
                               hint="Rows whose key is NULL go to a partition FOR VALUES IN (NULL), made by hand.")
        try:
            with db.subtransaction():
                row = db.query(f"SELECT (($1::text)::{base_type})::text AS v, "
                               f"(($1::text)::{base_type})::{key_type}::text AS cut", value)[0]
                typed = row["v"]
                if row["cut"] != typed:
                    raise StewardError(f"value too long for type {key_type}", STRING_DATA_RIGHT_TRUNCATION)
        except Exception as error:
            state = error_sqlstate(error)
            if state is None:
                raise
            if not state.startswith("22"):
                state = INVALID_PARAMETER_VALUE
            raise StewardError(f"list value {value!r} is not a value of the partition key {parent.key_column} "
                               f"({key_type}): {error_message(error)}", state) from None
        if typed not in out:
            out.append(typed)
    return out


_SLUG = re.compile(r"[^a-z0-9]+")


def list_suffix(values: list[str]) -> str:
    """``_<values>`` of a list partition's name: its first values in lower case letters and digits (``_za_ng``),
    or a short hash of them when they have none."""
    slug = "_".join(s for s in (_SLUG.sub("", v.lower()) for v in values[:3]) if s)[:24].rstrip("_")
    if not slug:
        slug = "v" + hashlib.sha1("\x00".join(values).encode()).hexdigest()[:8]
    return "_" + slug


def _check_name(name: str) -> None:
    if not name:
        raise StewardError("name must not be empty", INVALID_PARAMETER_VALUE)
    if len(name.encode()) > NAMEDATALEN:
        raise StewardError(f"name {name!r} is {len(name.encode())} bytes long, more than {NAMEDATALEN}",
                           NAME_TOO_LONG, hint="PostgreSQL would cut it; choose a shorter name.")


def add_list_partition(db: Database, parent_name: str | None, list_values: list[str | None] | None,
                       name: str | None) -> int:
    """``steward.add_list_partition(parent, list_values, name)``: a list partition for values no partition holds
    yet, with the rows of those values moved out of DEFAULT. The partition that holds exactly these values
    already is returned as it is."""
    not_null("list_values", list_values)
    assert list_values is not None
    parent = catalog.read_parent(db, parent_name)
    _require_strategy(parent, "list", "steward.add_list_partition")
    if parent.key_column is None:
        raise StewardError(f"{parent.label} has an expression partition key", FEATURE_NOT_SUPPORTED)
    if name is not None:
        _check_name(name)
    key_type, base_type = _key_type(db, parent)
    values = _typed_values(db, parent, key_type, base_type, list_values)
    key = parent.key_sql
    literals = ", ".join(f"{quote_literal(v)}::{key_type}" for v in values)
    new = NewPartition(
        bound_sql="FOR VALUES IN (" + ", ".join(quote_literal(v) for v in values) + ")",
        check_sql=f"{key} IS NOT NULL AND {key} IN ({literals})",
        rows_where=f"WHERE {key} = ANY ($1::text[]::{key_type}[])", rows_args=(values,),
        text="values " + ", ".join(quote_literal(v) for v in values))
    options = PartitionOptions()

    def attempt(force_move: bool) -> Created:
        lock_for_change(db, parent)
        for row in _children(db, parent):
            bound = row["parsed"]
            if bound.kind != "list":
                continue
            held = list(bound.list_values)
            clash = db.query(f"SELECT pg_catalog.array_agg(v ORDER BY o) AS v FROM pg_catalog.unnest($1::text[]) "
                             f"WITH ORDINALITY AS u(v, o) WHERE v::{key_type} = ANY ($2::text[]::{key_type}[])",
                             values, held)[0]["v"]
            if not clash:
                continue
            same = len(clash) == len(values) == len([h for h in held if h is not None])
            if same and name in (None, row["name"]):
                return Created(row["oid"], row["schema"], row["name"], None, None, created=False)
            raise StewardError(
                f"{', '.join(quote_literal(v) for v in clash)} already "
                f"{'belongs' if len(clash) == 1 else 'belong'} to partition {row['schema']}.{row['name']}",
                INVALID_PARAMETER_VALUE, detail=f"{row['schema']}.{row['name']} is {row['bound']}.",
                hint="A list value can be in one partition only; nothing was changed.")
        chosen = name
        if chosen is None:
            chosen = partition_name(parent.name, list_suffix(values),
                                    lambda n: catalog.relation_exists(db, parent.schema, n),
                                    f"{parent.oid}:list:{values}")
        elif catalog.relation_exists(db, parent.schema, chosen):
            raise StewardError(f"{qualified(parent.schema, chosen)} already exists", DUPLICATE_TABLE,
                               hint="Choose another name, or leave name NULL for one made from the values.")
        oid, moved = attach_new_partition(db, parent, chosen, new, options, force_move=force_move)
        return Created(oid, parent.schema, chosen, None, None, created=True, moved_rows=moved)

    made = with_default_rescue(db, parent, options, f"add list partition to {parent.label}", attempt)
    return made.oid
