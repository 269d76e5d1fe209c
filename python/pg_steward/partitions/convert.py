"""Turning an existing table into a partitioned one while the application writes to it.

``CALL steward.partition_existing_table(source, key, span, action => ...)`` works in steps, each a short
transaction, with its state in ``steward.table_conversions`` (one row per source table):

- ``plan``: the steps and the locks each takes; checks everything, changes nothing;
- ``start``: creates the partitioned twin (columns, defaults, constraints, indexes, identity, grants, owner;
  partitions for the data's range, ``premake`` future ones and DEFAULT) and the trigger on the source that keeps
  it in step with writes, in one transaction; then copies the rows in batches by primary key, committing after
  each, the last key copied kept in the state row; run again after an interruption, it resumes there;
- ``swap``: verifies (row counts and a checksum of every row, in batches), then, in one short ACCESS EXCLUSIVE
  lock, renames the source to ``<name>_unpartitioned`` and the twin to ``<name>``, hands the sequences over and
  removes the trigger;
- ``undo`` (before the swap): drops the twin and the trigger; the source is as it was;
- ``finish`` (after the swap): marks the conversion done and shows the DROP of the old table, never run.

The pure part (refusals, ranges, names, the statements built from catalog names) is apart from the database
access below it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pg_steward.arguments import not_null, one_of
from pg_steward.db import Database
from pg_steward.errors import (
    CONVERSION_MISMATCH,
    DUPLICATE_TABLE,
    FEATURE_NOT_SUPPORTED,
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    LOCK_NOT_AVAILABLE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_COLUMN,
    UNDEFINED_TABLE,
    WRONG_OBJECT_TYPE,
    StewardError,
    error_sqlstate,
)
from pg_steward.owner_rights import owner_rights, require_owner_rights
from pg_steward.partitions import catalog
from pg_steward.partitions.create import copy_grants, create_range_partition
from pg_steward.partitions.locking import with_lock_retries
from pg_steward.partitions.model import LockPolicy, Parent, PartitionOptions, storage_clause
from pg_steward.partitions.naming import NAMEDATALEN, cut
from pg_steward.partitions.spans import TIME_KEYS, Key, Span, advance, slots, span_text, time_span, zone
from pg_steward.partitions.values import from_text, to_literal_text
from pg_steward.runtime import own_transactions, pin_settings
from pg_steward.sqltext import qualified, quote_ident, quote_literal

ACTIONS = ("plan", "start", "swap", "undo", "finish")
MAX_PARTITIONS = 1000  # more slots than this for the data's range: a wider span is asked for
SYNC_TRIGGER = "pg_steward_convert_sync"
TWIN_SUFFIX = "_partitioned"
OLD_SUFFIX = "_unpartitioned"


# --- pure: what the catalog says about the source, and what may not be converted --------------------------------


@dataclass(frozen=True)
class Facts:
    """The source table as the catalog describes it: everything a refusal or the plan depends on."""

    oid: int
    schema: str
    name: str
    owner: str
    relkind: str
    persistence: str
    is_partition: bool
    key_type: str | None  # None: no such column
    primary_key: tuple[str, ...] | None
    unique_without_key: tuple[str, ...] = ()  # unique constraints or indexes not containing the key column
    exclusion: tuple[str, ...] = ()
    referencing: tuple[str, ...] = ()  # "constraint of table" for each foreign key pointing at the source
    dependents: tuple[str, ...] = ()  # views and rules depending on the source
    children: tuple[str, ...] = ()  # inheritance children
    parents: tuple[str, ...] = ()  # tables the source inherits from
    triggers: tuple[str, ...] = ()  # the user's triggers on the source
    row_security: bool = False
    may_act_as_owner: bool = True

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.name)


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def refusal(facts: Facts, key: str) -> StewardError | None:
    """The first reason ``facts`` cannot be converted on ``key``, as the error to raise (reason, manual fix,
    SQLSTATE); None when it can."""
    label = facts.label
    if not facts.may_act_as_owner:
        return StewardError(f"must be owner of table {label}", INSUFFICIENT_PRIVILEGE,
                            hint=f"Only its owner ({facts.owner}), a member of that role or a superuser may "
                                 "convert it.")
    if facts.relkind == "p":
        return StewardError(f"{label} is already partitioned", WRONG_OBJECT_TYPE,
                            hint="Manage it with steward.manage() instead.")
    if facts.is_partition:
        return StewardError(f"{label} is a partition of another table", WRONG_OBJECT_TYPE,
                            hint="Convert the partitioned table it belongs to, or detach it first.")
    if facts.relkind != "r":
        return StewardError(f"{label} is not a table", WRONG_OBJECT_TYPE)
    if facts.persistence == "t":
        return StewardError(f"{label} is a temporary table", FEATURE_NOT_SUPPORTED,
                            hint="A temporary table is seen by its own session only: recreate it partitioned.")
    if facts.key_type is None:
        return StewardError(f"column {key} of {label} does not exist", UNDEFINED_COLUMN)
    if facts.key_type not in TIME_KEYS:
        return StewardError(f"the key column {key} of {label} is of type {facts.key_type}", FEATURE_NOT_SUPPORTED,
                            hint="Supported key types: " + ", ".join(TIME_KEYS) + ".")
    if facts.children or facts.parents:
        return StewardError(f"{label} takes part in table inheritance ({_listed(facts.children + facts.parents)})",
                            FEATURE_NOT_SUPPORTED,
                            hint="A partitioned table cannot inherit or be inherited from: move the children's "
                                 "rows or detach them (ALTER TABLE ... NO INHERIT), then convert.")
    if facts.referencing:
        return StewardError(f"foreign keys point at {label}: {_listed(facts.referencing)}", FEATURE_NOT_SUPPORTED,
                            detail="The rows they reference move to the new table; the old one would keep the "
                                   "references and block its own retirement.",
                            hint="Drop these foreign keys (ALTER TABLE ... DROP CONSTRAINT), convert, then create "
                                 "them again on the new table (which needs a unique key containing the partition "
                                 "key for them to reference).")
    if facts.dependents:
        return StewardError(f"views or rules depend on {label}: {_listed(facts.dependents)}", FEATURE_NOT_SUPPORTED,
                            detail="They would keep reading the old table after the swap.",
                            hint="Drop them (save their definitions with pg_get_viewdef), convert, then create "
                                 "them again.")
    if facts.primary_key is None:
        return StewardError(f"{label} has no primary key", FEATURE_NOT_SUPPORTED,
                            detail="The rows are copied in batches by primary key, and writes made during the copy "
                                   "are applied to the new table by it.",
                            hint=f"Add one that contains {key}: ALTER TABLE {label} ADD PRIMARY KEY (..., {key}).")
    if key not in facts.primary_key or facts.unique_without_key:
        names = facts.unique_without_key if key in facts.primary_key else ("primary key", *facts.unique_without_key)
        return StewardError(f"unique keys of {label} do not contain the partition key {key}: {_listed(names)}",
                            FEATURE_NOT_SUPPORTED,
                            detail="A partitioned table enforces a unique key only when it contains the partition "
                                   "key.",
                            hint=f"Add {key} to each of them (create the new index, then drop the old one), or "
                                 "drop them, then convert.")
    if facts.exclusion:
        return StewardError(f"{label} has exclusion constraints: {_listed(facts.exclusion)}", FEATURE_NOT_SUPPORTED,
                            hint="Drop them, convert, and create them on each partition.")
    if facts.triggers:
        return StewardError(f"{label} has triggers: {_listed(facts.triggers)}", FEATURE_NOT_SUPPORTED,
                            detail="They would fire on the copied rows, and the new table would not have them.",
                            hint="Drop them (save their definitions with pg_get_triggerdef), convert, then create "
                                 "them on the new table.")
    if facts.row_security:
        return StewardError(f"{label} has row level security", FEATURE_NOT_SUPPORTED,
                            hint="Disable it and drop its policies, convert, then create them on the new table.")
    return None


def related_name(name: str, tail: str) -> str:
    """``<name><tail>`` within 63 bytes, ``name`` cut so that ``tail`` survives."""
    return cut(name, NAMEDATALEN - len(tail.encode())) + tail


def initial_ranges(low: Key | None, high: Key | None, now: Key, span: Span, premake: int,
                   tz: ZoneInfo) -> list[tuple[Key, Key]]:
    """The twin's partitions: the slots from the one holding the data's smallest key to the one holding its
    largest or now, whichever is later, then ``premake`` more. An empty table: from now's slot."""
    first = low if low is not None else now
    last = max(high, now) if high is not None else now  # type: ignore[type-var]
    ranges = slots(first, last, span, tz)
    for _ in range(premake):
        start = ranges[-1][1]
        ranges.append((start, advance(start, span, tz)))
    if len(ranges) > MAX_PARTITIONS:
        raise StewardError(f"the data spans {len(ranges)} partitions of {span_text(span)}, more than "
                           f"{MAX_PARTITIONS}", INVALID_PARAMETER_VALUE,
                           hint="Choose a wider span; partitions can be split later.")
    return ranges


@dataclass(frozen=True)
class Step:
    action: str
    statement: str
    locks: str


def plan_steps(facts: Facts, key: str, span: Span, ranges: list[tuple[Key, Key]], batch_size: int,
               rows_estimate: int, lock_timeout_ms: int) -> list[Step]:
    """What ``start`` and ``swap`` do, in order, with the locks of each (the dry run)."""
    twin = qualified(facts.schema, related_name(facts.name, TWIN_SUFFIX))
    old = qualified(facts.schema, related_name(facts.name, OLD_SUFFIX))
    first, last = to_literal_text(ranges[0][0]), to_literal_text(ranges[-1][1])
    wait = f"waits at most lock_timeout ({lock_timeout_ms} ms), retried"
    return [
        Step("check", f"refusals checked for {facts.label}", "ACCESS SHARE on the catalog only"),
        Step("create twin", f"CREATE TABLE {twin} (LIKE {facts.sql} INCLUDING ALL) PARTITION BY RANGE "
             f"({quote_ident(key)}); owner, grants, comment, foreign keys", "none on the source (a new table)"),
        Step("create partitions", f"{len(ranges)} partitions of {span_text(span)} from {first} to {last}, "
             "and a DEFAULT partition", "on the twin only"),
        Step("create trigger", f"CREATE TRIGGER {SYNC_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {facts.sql} "
             "(and BEFORE TRUNCATE)", f"SHARE ROW EXCLUSIVE on the source until commit; {wait}"),
        Step("copy", f"about {rows_estimate} rows in batches of {batch_size} by primary key "
             f"({', '.join(facts.primary_key or ())}), committed after each",
             "ROW SHARE on the source and FOR KEY SHARE on a batch's rows (their DELETE or key UPDATE waits for "
             f"the batch), ROW EXCLUSIVE on the twin; {wait}"),
        Step("verify", "row counts and a checksum of every row, source and twin, in batches", "ACCESS SHARE"),
        Step("swap", f"ALTER TABLE {facts.sql} RENAME TO {quote_ident(related_name(facts.name, OLD_SUFFIX))}; "
             f"ALTER TABLE {twin} RENAME TO {quote_ident(facts.name)}; sequences handed over; trigger dropped",
             f"ACCESS EXCLUSIVE on both tables for the renames only; {wait}"),
        Step("finish", f"nothing dropped: DROP TABLE {old} is shown, to run once verified", "none"),
    ]


def sync_function_body(twin_sql: str, columns: list[str], primary_key: tuple[str, ...], overriding: bool) -> str:
    """The PL/pgSQL of the trigger that applies a write on the source to the twin, by primary key."""
    cols = ", ".join(quote_ident(c) for c in columns)
    values = ", ".join(f"NEW.{quote_ident(c)}" for c in columns)
    pk = ", ".join(quote_ident(c) for c in primary_key)
    match = " AND ".join(f"t.{quote_ident(c)} OPERATOR(pg_catalog.=) OLD.{quote_ident(c)}" for c in primary_key)
    changed = " OR ".join(f"OLD.{quote_ident(c)} IS DISTINCT FROM NEW.{quote_ident(c)}" for c in primary_key)
    updates = [c for c in columns if c not in primary_key]
    conflict = ("DO UPDATE SET " + ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
                if updates else "DO NOTHING")
    override = " OVERRIDING SYSTEM VALUE" if overriding else ""
    return f"""
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        RAISE EXCEPTION 'pg_steward: % is being converted into a partitioned table: TRUNCATE is refused', TG_TABLE_NAME
            USING ERRCODE = '55000', HINT = 'Undo the conversion first (action => ''undo'').';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' OR (TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND ({changed})) THEN
        DELETE FROM {twin_sql} AS t WHERE {match};
    END IF;
    IF TG_OP OPERATOR(pg_catalog.<>) 'DELETE' THEN
        INSERT INTO {twin_sql} ({cols}){override} VALUES ({values}) ON CONFLICT ({pk}) {conflict};
    END IF;
    RETURN NULL;
END
"""


def key_condition(primary_key: tuple[str, ...], types: dict[str, str], operator: str, param: int) -> str:
    """``(pk...) <operator> (($param)[1]::type, ...)``: a row comparison with a key kept as text[]."""
    cols = ", ".join(quote_ident(c) for c in primary_key)
    vals = ", ".join(f"(${param}::pg_catalog.text[])[{i}]::{types[c]}" for i, c in enumerate(primary_key, 1))
    return f"ROW({cols}) {operator} ROW({vals})"


def key_range(primary_key: tuple[str, ...], types: dict[str, str], low: bool, high: bool) -> str:
    """``WHERE`` of the keys after ``$1`` (when ``low``) up to ``$2`` (when ``high``), both kept as text[]; empty
    when neither. The row comparisons alone decide which rows are in; the first column's own bounds, implied by
    them, are there for the planner: it estimates a row comparison by its first column alone and does not see
    two of them as one range, so a batch in the middle of a large table looked like a quarter of it and was read
    by a sequential scan of the whole table (each batch of the verification, quadratic in the table's size)."""
    first = quote_ident(primary_key[0])
    conditions: list[str] = []
    for wanted, operator, param in ((low, ">", 1), (high, "<=", 2)):
        if wanted:
            conditions.append(key_condition(primary_key, types, operator, param))
            if len(primary_key) > 1:
                conditions.append(f"{first} {operator[0]}= (${param}::pg_catalog.text[])[1]::{types[primary_key[0]]}")
    return ("WHERE " + " AND ".join(conditions)) if conditions else ""


def key_text(row: dict[str, Any], primary_key: tuple[str, ...]) -> list[str]:
    return [str(row[f"k{i}"]) for i in range(len(primary_key))]


# --- database access -----------------------------------------------------------------------------------------


_FACTS_SQL = """
SELECT c.oid::pg_catalog.int8 AS oid, n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name,
       pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS owner, c.relkind::pg_catalog.text AS relkind,
       c.relpersistence::pg_catalog.text AS persistence, c.relispartition AS is_partition,
       c.relrowsecurity OR EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid = c.oid) AS row_security,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS may_act,
       (SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped) AS key_type,
       (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY k.n)
        FROM pg_catalog.pg_constraint AS pk, pg_catalog.unnest(pk.conkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS primary_key,
       ARRAY(
           SELECT pg_catalog.format('%I', i.relname) FROM pg_catalog.pg_index AS x
           JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
           WHERE x.indrelid = c.oid AND x.indisunique AND NOT x.indisprimary
             AND (x.indexprs IS NOT NULL OR NOT EXISTS (
                 SELECT FROM pg_catalog.pg_attribute AS a
                 WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum = ANY (x.indkey::pg_catalog.int2[])))
           ORDER BY 1) AS unique_without_key,
       ARRAY(SELECT pg_catalog.format('%I', x.conname) FROM pg_catalog.pg_constraint AS x
                        WHERE x.conrelid = c.oid AND x.contype = 'x' ORDER BY 1) AS exclusion,
       ARRAY(SELECT pg_catalog.format('%I of %s', f.conname, f.conrelid::pg_catalog.regclass)
                        FROM pg_catalog.pg_constraint AS f
                        WHERE f.confrelid = c.oid AND f.contype = 'f' ORDER BY 1) AS referencing,
       ARRAY(SELECT DISTINCT CASE WHEN r.ev_class = c.oid THEN pg_catalog.format('rule %I', r.rulename)
                                             ELSE r.ev_class::pg_catalog.regclass::pg_catalog.text END
                        FROM pg_catalog.pg_depend AS d JOIN pg_catalog.pg_rewrite AS r ON r.oid = d.objid
                        WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.refobjid = c.oid ORDER BY 1) AS dependents,
       ARRAY(SELECT i.inhrelid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_inherits AS i
                        WHERE i.inhparent = c.oid ORDER BY 1) AS children,
       ARRAY(SELECT i.inhparent::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_inherits AS i
                        WHERE i.inhrelid = c.oid ORDER BY 1) AS parents,
       ARRAY(SELECT pg_catalog.format('%I', t.tgname) FROM pg_catalog.pg_trigger AS t
                        WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgname <> $3 ORDER BY 1) AS triggers
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.oid = $1::pg_catalog.int8::pg_catalog.oid
"""


def read_facts(db: Database, oid: int, key: str) -> Facts:
    rows = db.query(_FACTS_SQL, oid, key, SYNC_TRIGGER)
    if not rows:
        raise StewardError(f"relation with oid {oid} does not exist", UNDEFINED_TABLE)
    r = rows[0]
    return Facts(
        oid=r["oid"], schema=r["schema"], name=r["name"], owner=r["owner"], relkind=r["relkind"],
        persistence=r["persistence"], is_partition=r["is_partition"], key_type=r["key_type"],
        primary_key=tuple(r["primary_key"]) if r["primary_key"] else None,
        unique_without_key=tuple(r["unique_without_key"]), exclusion=tuple(r["exclusion"]),
        referencing=tuple(r["referencing"]), dependents=tuple(r["dependents"]), children=tuple(r["children"]),
        parents=tuple(r["parents"]), triggers=tuple(r["triggers"]), row_security=r["row_security"],
        may_act_as_owner=r["may_act"])


@dataclass
class Options:
    key: str
    span_text: str  # ISO 8601
    premake: int
    batch_size: int
    lock: LockPolicy
    time_zone: str
    manage: bool
    span: Span = field(default_factory=Span)


@dataclass
class State:
    source: int
    twin: int
    function: str
    step: str
    last_key: list[str] | None
    rows_copied: int
    rows_estimate: int


def _state(db: Database, source: int, lock: bool = False) -> State | None:
    rows = db.query("SELECT source::pg_catalog.int8 AS source, twin::pg_catalog.int8 AS twin, sync_function, step, "
                    "last_key, rows_copied, rows_estimate FROM steward.table_conversions "
                    "WHERE source OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid "
                    "OR twin OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid"
                    + (" FOR UPDATE NOWAIT" if lock else ""), source)
    if not rows:
        return None
    r = rows[0]
    return State(r["source"], r["twin"], r["sync_function"], r["step"], r["last_key"], r["rows_copied"],
                 r["rows_estimate"])


def _locked_state(db: Database, source: int) -> State | None:
    """The state row, locked until commit: one session converts a table at a time."""
    try:
        with db.subtransaction():
            return _state(db, source, lock=True)
    except Exception as error:
        if error_sqlstate(error) != LOCK_NOT_AVAILABLE:
            raise
        raise StewardError("another session is converting this table", LOCK_NOT_AVAILABLE,
                           hint="Wait for it to end (see pg_stat_activity), or terminate it and resume.") from None


def _column_types(db: Database, oid: int) -> dict[str, str]:
    rows = db.query("SELECT a.attname::pg_catalog.text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t "
                    "FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = $1::pg_catalog.int8::pg_catalog.oid "
                    "AND a.attnum > 0 AND NOT a.attisdropped", oid)
    return {r["name"]: r["t"] for r in rows}


def _copy_columns(db: Database, oid: int) -> tuple[list[str], bool]:
    """Columns a row is copied through (not generated), in order, and whether one is an identity column."""
    rows = db.query("SELECT a.attname::pg_catalog.text AS name, a.attidentity::pg_catalog.text AS identity "
                    "FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = $1::pg_catalog.int8::pg_catalog.oid "
                    "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum", oid)
    return [r["name"] for r in rows], any(r["identity"] for r in rows)


def _estimate(db: Database, facts: Facts) -> int:
    est = db.query("SELECT c.reltuples::pg_catalog.int8 AS n FROM pg_catalog.pg_class AS c "
                   "WHERE c.oid = $1::pg_catalog.int8::pg_catalog.oid", facts.oid)[0]["n"]
    if est is None or est < 0:
        est = db.query(f"SELECT pg_catalog.count(*)::pg_catalog.int8 AS n FROM ONLY {facts.sql}")[0]["n"]
    return int(est)


def _key_range(db: Database, facts: Facts, key: str) -> tuple[Key | None, Key | None, Key]:
    """The smallest and largest key values (None for an empty table) and now, typed as the key."""
    assert facts.key_type is not None
    k = quote_ident(key)
    row = db.query(f"SELECT pg_catalog.min({k})::pg_catalog.text AS low, pg_catalog.max({k})::pg_catalog.text AS high, "
                   f"pg_catalog.now()::{facts.key_type}::pg_catalog.text AS now "
                   f"FROM ONLY {facts.sql} WHERE pg_catalog.isfinite({k})")[0]

    def typed(text: str | None) -> Key | None:
        return None if text is None else from_text(text, facts.key_type or "")  # type: ignore[return-value]

    now = typed(row["now"])
    assert now is not None
    return typed(row["low"]), typed(row["high"]), now


def _prepare(db: Database, oid: int, opts: Options) -> tuple[Facts, list[tuple[Key, Key]], ZoneInfo, int]:
    """Refusals checked; the twin's ranges and the row estimate."""
    facts = read_facts(db, oid, opts.key)
    problem = refusal(facts, opts.key)
    if problem is not None:
        raise problem
    assert facts.key_type is not None
    opts.span = time_span(opts.span_text, facts.key_type)
    tz = zone(opts.time_zone)
    low, high, now = _key_range(db, facts, opts.key)
    ranges = initial_ranges(low, high, now, opts.span, opts.premake, tz)
    return facts, ranges, tz, _estimate(db, facts)


def plan(db: Database, oid: int, opts: Options) -> list[Step]:
    facts, ranges, _, estimate = _prepare(db, oid, opts)
    return plan_steps(facts, opts.key, opts.span, ranges, opts.batch_size, estimate, opts.lock.timeout_ms)


def _create(db: Database, facts: Facts, opts: Options, ranges: list[tuple[Key, Key]], tz: ZoneInfo,
            estimate: int) -> State:
    """The twin, its partitions and the sync trigger, and the state row: one transaction (all or nothing)."""
    assert facts.primary_key is not None
    require_owner_rights(db, facts.owner, facts.label)
    twin_name = related_name(facts.name, TWIN_SUFFIX)
    if catalog.relation_exists(db, facts.schema, twin_name):
        raise StewardError(f"{facts.schema}.{twin_name} exists already", DUPLICATE_TABLE,
                           hint="Rename or drop it, or resume a conversion of this table with action => 'start'.")
    old_name = related_name(facts.name, OLD_SUFFIX)
    if catalog.relation_exists(db, facts.schema, old_name):
        raise StewardError(f"{facts.schema}.{old_name} exists already", DUPLICATE_TABLE,
                           hint="The swap renames the source to this name: rename or drop it first.")
    twin_sql = qualified(facts.schema, twin_name)
    db.execute(f"CREATE TABLE {twin_sql} (LIKE {facts.sql} INCLUDING ALL) PARTITION BY RANGE ({quote_ident(opts.key)})")
    if db.query("SELECT current_user::pg_catalog.text AS u")[0]["u"] != facts.owner:
        db.execute(f"ALTER TABLE {twin_sql} OWNER TO {quote_ident(facts.owner)}")
    comment = db.query("SELECT pg_catalog.obj_description($1::pg_catalog.int8::pg_catalog.oid, 'pg_class') AS c",
                       facts.oid)[0]["c"]
    if comment is not None:
        db.execute(f"COMMENT ON TABLE {twin_sql} IS {quote_literal(comment)}")
    twin_oid = int(db.query("SELECT c.oid::pg_catalog.int8 AS oid FROM pg_catalog.pg_class AS c "
                            "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = $1 AND c.relname = $2", facts.schema, twin_name)[0]["oid"])
    source_parent = Parent(facts.oid, facts.schema, facts.name, facts.owner, "range", opts.key, facts.key_type, None)
    copy_grants(db, source_parent, twin_sql)
    reloptions = db.query("SELECT c.reloptions AS o FROM pg_catalog.pg_class AS c "
                          "WHERE c.oid = $1::pg_catalog.int8::pg_catalog.oid", facts.oid)[0]["o"] or []
    part_options = PartitionOptions(storage_parameters=tuple(reloptions), lock=opts.lock)
    with owner_rights(db, facts.owner, facts.label) as table_db:
        # Foreign keys of the source to other tables (LIKE copies none); validated on the empty twin.
        for fk in db.query("SELECT x.conname::pg_catalog.text AS name, pg_catalog.pg_get_constraintdef(x.oid) AS def "
                           "FROM pg_catalog.pg_constraint AS x WHERE x.conrelid = $1::pg_catalog.int8::pg_catalog.oid "
                           "AND x.contype = 'f' ORDER BY x.conname", facts.oid):
            table_db.execute(f"ALTER TABLE {twin_sql} ADD CONSTRAINT {quote_ident(fk['name'])} {fk['def']}")
    twin = catalog.read_parent(db, twin_oid)
    for start, end in ranges:
        create_range_partition(db, twin, start, end, span=opts.span, tz=tz, options=part_options)
    default_sql = qualified(facts.schema, related_name(twin_name, "_default"))
    storage = storage_clause(part_options.storage_parameters)
    db.execute(f"CREATE TABLE {default_sql} PARTITION OF {twin_sql} DEFAULT{storage}")
    if db.query("SELECT current_user::pg_catalog.text AS u")[0]["u"] != facts.owner:
        db.execute(f"ALTER TABLE {default_sql} OWNER TO {quote_ident(facts.owner)}")
    copy_grants(db, source_parent, default_sql)
    # The trigger function: SECURITY DEFINER of the table's owner (a writer of the source may lack UPDATE or
    # DELETE on the twin), its search_path pinned, in the source's schema so that every writer reaches it.
    columns, identity = _copy_columns(db, facts.oid)
    function = related_name(f"pg_steward_sync_{facts.oid}", "")
    function_sql = f"{qualified(facts.schema, function)}()"
    body = sync_function_body(twin_sql, columns, facts.primary_key, identity)
    db.execute(f"CREATE FUNCTION {function_sql} RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
               f"SET search_path = pg_catalog, pg_temp AS {quote_literal(body)}")
    db.execute(f"REVOKE ALL ON FUNCTION {function_sql} FROM PUBLIC")
    if db.query("SELECT current_user::pg_catalog.text AS u")[0]["u"] != facts.owner:
        db.execute(f"ALTER FUNCTION {function_sql} OWNER TO {quote_ident(facts.owner)}")

    def add_trigger() -> None:
        db.execute(f"CREATE TRIGGER {SYNC_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {facts.sql} "
                   f"FOR EACH ROW EXECUTE FUNCTION {function_sql}")
        db.execute(f"CREATE TRIGGER {SYNC_TRIGGER}_truncate BEFORE TRUNCATE ON {facts.sql} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function_sql}")
        # Also with session_replication_role = replica (logical replication's apply, pg_restore --disable-triggers).
        db.execute(f"ALTER TABLE {facts.sql} ENABLE ALWAYS TRIGGER {SYNC_TRIGGER}")
        db.execute(f"ALTER TABLE {facts.sql} ENABLE ALWAYS TRIGGER {SYNC_TRIGGER}_truncate")

    with_lock_retries(db, opts.lock, f"add the sync trigger to {facts.label}", add_trigger)
    db.execute("INSERT INTO steward.table_conversions (source, twin, sync_function, key_column, span, step, "
               "rows_estimate) VALUES ($1::pg_catalog.int8::pg_catalog.oid, $2::pg_catalog.int8::pg_catalog.oid, $3, "
               "$4, $5::pg_catalog.interval, 'copying', $6)",
               facts.oid, twin_oid, function, opts.key, opts.span_text, estimate)
    db.notice(f"pg_steward: {facts.label}: created {twin.label} with {len(ranges)} partitions and DEFAULT, "
              "and the trigger that keeps it in step")
    return State(facts.oid, twin_oid, function, "copying", None, 0, estimate)


def _copy(db: Database, commit: Callable[[], None], facts: Facts, state: State, opts: Options) -> State:
    """Batches by primary key from the last one copied, each committed with the key it reached."""
    assert facts.primary_key is not None
    pk = facts.primary_key
    types = _column_types(db, facts.oid)
    columns, identity = _copy_columns(db, facts.oid)
    twin_sql = qualified(*catalog.relation_name(db, state.twin))
    cols = ", ".join(quote_ident(c) for c in columns)
    order = ", ".join(quote_ident(c) for c in pk)
    keys = ", ".join(f"{quote_ident(c)}::pg_catalog.text AS k{i}" for i, c in enumerate(pk))
    override = " OVERRIDING SYSTEM VALUE" if identity else ""
    # A batch is the range of keys after the last one copied up to the batch_size-th (read first), its rows read
    # FOR KEY SHARE: a DELETE or key UPDATE of one waits for the batch to commit and then reaches the twin through
    # the trigger; a concurrent non-key UPDATE's trigger upsert waits on the twin's primary key for the batch's
    # insert, or the batch's ON CONFLICT DO NOTHING keeps the newer row the trigger wrote. A row that appears in
    # the range between the two statements was written after the trigger existed: it is in the twin already.
    with owner_rights(db, facts.owner, facts.label) as table_db:
        table_db.query("SELECT 1 AS one")  # the owner's function is made now, outside any subtransaction
        commit()
        while True:
            current = _locked_state(db, facts.oid)
            if current is None or current.step != "copying":
                raise StewardError("the conversion was changed by another session", OBJECT_NOT_IN_PREREQUISITE_STATE)
            after = f"WHERE {key_condition(pk, types, '>', 1)} " if current.last_key else ""
            low: list[str] = current.last_key or []
            edge = table_db.query(f"SELECT {keys} FROM ONLY {facts.sql} {after}ORDER BY {order} "
                                  f"OFFSET {int(opts.batch_size) - 1} LIMIT 1", *((low,) if low else ()))
            high = key_text(edge[0], pk) if edge else None
            where = key_range(pk, types, bool(low), bool(high))
            sql = (f"INSERT INTO {twin_sql} ({cols}){override} SELECT {cols} FROM ONLY {facts.sql} {where} "
                   "FOR KEY SHARE ON CONFLICT DO NOTHING")

            def run_batch(sql: str = sql, low: list[str] = low, high: list[str] | None = high) -> int:
                return table_db.execute(sql, low, high or [])

            inserted = with_lock_retries(db, opts.lock, f"copy a batch of {facts.label}", run_batch)
            copied = current.rows_copied + inserted
            done = high is None
            db.execute("UPDATE steward.table_conversions SET last_key = $2::pg_catalog.text[], rows_copied = $3, "
                       "step = CASE WHEN $4 THEN 'copied' ELSE step END, updated_at = pg_catalog.clock_timestamp() "
                       "WHERE source = $1::pg_catalog.int8::pg_catalog.oid", facts.oid, high or low or None, copied,
                       done)
            commit()
            share = f" ({min(100, 100 * copied // state.rows_estimate)}%)" if state.rows_estimate else ""
            if inserted or not done:
                db.notice(f"pg_steward: {facts.label}: copied {copied} of about {state.rows_estimate} rows{share}")
            if done:
                db.notice(f"pg_steward: {facts.label}: copy complete, {copied} rows")
                current.step, current.rows_copied = "copied", copied
                return current


def verify(db: Database, facts: Facts, state: State, batch_size: int) -> tuple[int, int, list[str]]:
    """Rows of source and twin compared in ranges of the primary key, each range in one statement (one
    snapshot: the trigger writes both in the writer's transaction). Returns both counts and the mismatches."""
    assert facts.primary_key is not None
    pk = facts.primary_key
    types = _column_types(db, facts.oid)
    twin_sql = qualified(*catalog.relation_name(db, state.twin))
    order = ", ".join(quote_ident(c) for c in pk)
    keys = ", ".join(f"{quote_ident(c)}::pg_catalog.text AS k{i}" for i, c in enumerate(pk))
    source_total = twin_total = 0
    mismatches: list[str] = []
    low: list[str] | None = None
    with owner_rights(db, facts.owner, facts.label) as table_db:
        while True:
            after = f"WHERE {key_condition(pk, types, '>', 1)} " if low else ""
            args: tuple[object, ...] = (low,) if low else ()
            edge = table_db.query(f"SELECT {keys} FROM ONLY {facts.sql} {after}ORDER BY {order} "
                                  f"OFFSET {int(batch_size) - 1} LIMIT 1", *args)
            high = key_text(edge[0], pk) if edge else None
            where = key_range(pk, types, bool(low), bool(high))
            params = (low if low else [], high if high else [])
            digest = ("pg_catalog.count(*)::pg_catalog.int8 AS n, COALESCE(pg_catalog.sum("
                      "pg_catalog.hashtextextended(r::pg_catalog.text, 0)::pg_catalog.numeric), 0)"
                      "::pg_catalog.text AS h")
            row = table_db.query(f"SELECT s.n AS sn, s.h AS sh, t.n AS tn, t.h AS th FROM "
                                 f"(SELECT {digest} FROM ONLY {facts.sql} AS r {where}) AS s, "
                                 f"(SELECT {digest} FROM {twin_sql} AS r {where}) AS t", *params)[0]
            source_total += row["sn"]
            twin_total += row["tn"]
            if row["sn"] != row["tn"] or row["sh"] != row["th"]:
                mismatches.append(f"keys after {low or 'the first'} up to {high or 'the last'}: "
                                  f"{row['sn']} rows in the source, {row['tn']} in the twin")
            if high is None:
                return source_total, twin_total, mismatches
            low = high


# Each index of the source with the twin's index of the same definition (columns, expressions, predicate,
# operator classes, collations, uniqueness, access method).
_MATCHING_INDEXES_SQL = """
SELECT si.relname::pg_catalog.text AS source_index, ti.relname::pg_catalog.text AS twin_index
FROM pg_catalog.pg_index AS s JOIN pg_catalog.pg_class AS si ON si.oid = s.indexrelid
JOIN pg_catalog.pg_index AS t ON t.indrelid = $2::pg_catalog.int8::pg_catalog.oid
JOIN pg_catalog.pg_class AS ti ON ti.oid = t.indexrelid
WHERE s.indrelid = $1::pg_catalog.int8::pg_catalog.oid
  AND ARRAY(SELECT a.attname FROM pg_catalog.unnest(s.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(n, o)
            LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = s.indrelid AND a.attnum = k.n ORDER BY k.o)
      IS NOT DISTINCT FROM
      ARRAY(SELECT a.attname FROM pg_catalog.unnest(t.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(n, o)
            LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.indrelid AND a.attnum = k.n ORDER BY k.o)
  AND s.indclass::pg_catalog.text = t.indclass::pg_catalog.text
  AND s.indcollation::pg_catalog.text = t.indcollation::pg_catalog.text
  AND s.indoption::pg_catalog.text = t.indoption::pg_catalog.text
  AND s.indisunique = t.indisunique AND s.indisprimary = t.indisprimary AND si.relam = ti.relam
  AND pg_catalog.pg_get_expr(s.indexprs, s.indrelid) IS NOT DISTINCT FROM pg_catalog.pg_get_expr(t.indexprs, t.indrelid)
  AND pg_catalog.pg_get_expr(s.indpred, s.indrelid) IS NOT DISTINCT FROM pg_catalog.pg_get_expr(t.indpred, t.indrelid)
ORDER BY 1, 2
"""


def _swapped_names(db: Database, facts: Facts, state: State, twin_name: str) -> list[tuple[str, str, str]]:
    """Renames after the tables' (``(kind, name, new name)``, in order): each index of the source (and the constraint
    it backs) takes the ``_unpartitioned`` suffix and gives its name to the twin's matching index, so that the new
    table's primary key is ``<name>_pkey`` again; the twin's partitions ``<twin>_p...`` become ``<name>_p...``."""
    taken = {r["n"] for r in db.query("SELECT c.relname::pg_catalog.text AS n FROM pg_catalog.pg_class AS c "
                                      "JOIN pg_catalog.pg_namespace AS s ON s.oid = c.relnamespace "
                                      "WHERE s.nspname = $1", facts.schema)}
    out: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for row in db.query(_MATCHING_INDEXES_SQL, facts.oid, state.twin):
        source_index, twin_index = row["source_index"], row["twin_index"]
        if source_index in used or twin_index in used:
            continue
        old = related_name(source_index, OLD_SUFFIX)
        if old in taken:
            continue
        used |= {source_index, twin_index}
        taken.add(old)
        out += [("INDEX", source_index, old), ("INDEX", twin_index, source_index)]
    for row in db.query("SELECT c.relname::pg_catalog.text AS n FROM pg_catalog.pg_inherits AS i "
                        "JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = $1::pg_catalog.int8::pg_catalog.oid ORDER BY 1", state.twin):
        if row["n"].startswith(twin_name):
            new = related_name(facts.name, row["n"][len(twin_name):])
            if new not in taken:
                taken.add(new)
                out.append(("TABLE", row["n"], new))
    return out


def _swap(db: Database, facts: Facts, state: State, opts: Options) -> str:
    """The renames, in one transaction under ACCESS EXCLUSIVE on both tables; returns the new table's name."""
    schema, twin_name = catalog.relation_name(db, state.twin)
    twin_sql = qualified(schema, twin_name)
    old_name = related_name(facts.name, OLD_SUFFIX)

    def swap() -> None:
        db.execute(f"LOCK TABLE ONLY {facts.sql}, {twin_sql} IN ACCESS EXCLUSIVE MODE")
        # Identity columns of the twin count on from where the source's are.
        for row in db.query(
                "SELECT a.attname::pg_catalog.text AS col, "
                "pg_catalog.pg_get_serial_sequence($1, a.attname) AS old_seq, "
                "pg_catalog.pg_get_serial_sequence($2, a.attname) AS new_seq "
                "FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = $3::pg_catalog.int8::pg_catalog.oid "
                "AND a.attidentity <> '' AND NOT a.attisdropped", facts.sql, twin_sql, facts.oid):
            state_row = db.query(f"SELECT last_value::pg_catalog.text AS v, is_called FROM {row['old_seq']}")[0]
            db.query("SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::pg_catalog.int8, $3)",
                     row["new_seq"], int(state_row["v"]), state_row["is_called"])
        db.execute(f"DROP TRIGGER {SYNC_TRIGGER} ON {facts.sql}")
        db.execute(f"DROP TRIGGER {SYNC_TRIGGER}_truncate ON {facts.sql}")
        db.execute(f"DROP FUNCTION {qualified(facts.schema, state.function)}()")
        names = _swapped_names(db, facts, state, twin_name)
        db.execute(f"ALTER TABLE {facts.sql} RENAME TO {quote_ident(old_name)}")
        db.execute(f"ALTER TABLE {twin_sql} RENAME TO {quote_ident(facts.name)}")
        for kind, current, new in names:
            db.execute(f"ALTER {kind} {qualified(facts.schema, current)} RENAME TO {quote_ident(new)}")
        # Sequences owned by a column of the source (serial, not identity) now belong to the new table.
        for seq in db.query("SELECT d.objid::pg_catalog.regclass::pg_catalog.text AS seq, "
                            "a.attname::pg_catalog.text AS col "
                            "FROM pg_catalog.pg_depend AS d JOIN pg_catalog.pg_attribute AS a "
                            "ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
                            "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
                            "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
                            "AND d.refobjid = $1::pg_catalog.int8::pg_catalog.oid AND d.deptype = 'a' "
                            "AND EXISTS (SELECT FROM pg_catalog.pg_class AS s "
                            "WHERE s.oid = d.objid AND s.relkind = 'S')",
                            facts.oid):
            db.execute(f"ALTER SEQUENCE {seq['seq']} OWNED BY {qualified(facts.schema, facts.name)}."
                       f"{quote_ident(seq['col'])}")
        db.execute("UPDATE steward.table_conversions SET step = 'swapped', updated_at = pg_catalog.clock_timestamp() "
                   "WHERE source = $1::pg_catalog.int8::pg_catalog.oid", facts.oid)

    with_lock_retries(db, opts.lock, f"swap {facts.label} with its partitioned twin", swap)
    return qualified(facts.schema, facts.name)


def _undo(db: Database, facts: Facts, state: State, opts: Options) -> None:
    twin_sql = qualified(*catalog.relation_name(db, state.twin))

    def undo() -> None:
        db.execute(f"LOCK TABLE ONLY {facts.sql} IN SHARE ROW EXCLUSIVE MODE")
        db.execute(f"DROP TRIGGER IF EXISTS {SYNC_TRIGGER} ON {facts.sql}")
        db.execute(f"DROP TRIGGER IF EXISTS {SYNC_TRIGGER}_truncate ON {facts.sql}")
        db.execute(f"DROP FUNCTION IF EXISTS {qualified(facts.schema, state.function)}()")
        db.execute(f"DROP TABLE {twin_sql}")
        db.execute("DELETE FROM steward.table_conversions WHERE source = $1::pg_catalog.int8::pg_catalog.oid",
                   facts.oid)

    with_lock_retries(db, opts.lock, f"undo the conversion of {facts.label}", undo)


# --- entry points --------------------------------------------------------------------------------------------


def _normalize(db: Database, source: str | None, key: str | None, span: str | None, lock_timeout: str | None,
               ) -> tuple[int, str, int]:
    """Under the caller's settings (before they are pinned): the source's oid and the intervals in forms that do
    not depend on IntervalStyle (ISO 8601 text, milliseconds)."""
    not_null("source", source)
    not_null("key", key)
    not_null("span", span)
    assert source is not None
    oid = catalog.regclass_oid(db, source)
    row = db.query(
        "SELECT pg_catalog.extract('year', $1::pg_catalog.interval)::pg_catalog.int8 AS y, "
        "pg_catalog.extract('month', $1::pg_catalog.interval)::pg_catalog.int8 AS m, "
        "pg_catalog.extract('day', $1::pg_catalog.interval)::pg_catalog.int8 AS d, "
        "(pg_catalog.extract('epoch', $1::pg_catalog.interval) OPERATOR(pg_catalog.-) "
        " pg_catalog.extract('epoch', pg_catalog.date_trunc('day', $1::pg_catalog.interval)))::pg_catalog.text AS s, "
        "pg_catalog.extract('epoch', $2::pg_catalog.interval)::pg_catalog.numeric AS lt",
        span, lock_timeout or "2 seconds")[0]
    months, days, seconds = row["y"] * 12 + row["m"], row["d"], Decimal(row["s"])
    if months < 0 or days < 0 or seconds < 0 or (months, days, seconds) == (0, 0, 0):
        raise StewardError(f"span must be a positive interval, not {span}", INVALID_PARAMETER_VALUE)
    iso = f"P{months}M{days}DT{seconds}S"
    timeout_ms = int(Decimal(row["lt"]) * 1000)
    if timeout_ms <= 0:
        raise StewardError(f"lock_timeout must be a positive interval, not {lock_timeout}", INVALID_PARAMETER_VALUE)
    return oid, iso, timeout_ms


def partition_existing_table(db: Database, commit: Callable[[], None], source: str | None, key: str | None,
                             span: str | None, action: str | None, premake: int | None, batch_size: int | None,
                             lock_timeout: str | None, lock_retries: int | None, time_zone: str | None,
                             manage: bool | None) -> None:
    """``CALL steward.partition_existing_table(...)``: one action of the conversion (module docstring)."""
    oid, span_iso, timeout_ms = _normalize(db, source, key, span, lock_timeout)
    chosen = one_of("action", action, ACTIONS)
    for name, value, least in (("premake", premake, 0), ("batch_size", batch_size, 1),
                               ("lock_retries", lock_retries, 0)):
        if value is None or value < least:
            raise StewardError(f"{name} must be at least {least}, not {value}", INVALID_PARAMETER_VALUE)
    assert key is not None and premake is not None and batch_size is not None and lock_retries is not None
    opts = Options(key, span_iso, premake, batch_size, LockPolicy(timeout_ms, lock_retries), time_zone or "UTC",
                   bool(manage))
    commit = own_transactions(db, commit, "steward.partition_existing_table()",
                              "the steps that steward.partition_existing_table_plan() lists, by hand")
    pin_settings(db)
    state = _locked_state(db, oid)
    if chosen == "plan":
        for number, step in enumerate(plan(db, oid, opts), 1):
            db.notice(f"pg_steward: step {number} {step.action}: {step.statement} [locks: {step.locks}]")
        return
    if state is None:
        if chosen != "start":
            raise StewardError(f"no conversion of {source} is in progress", OBJECT_NOT_IN_PREREQUISITE_STATE,
                               hint="Start one with action => 'start'.")
        facts, ranges, tz, estimate = _prepare(db, oid, opts)
        state = _create(db, facts, opts, ranges, tz, estimate)
        commit()
    oid = state.source  # after the swap, the name given is the new table's (the twin's)
    facts = read_facts(db, oid, opts.key)
    if not facts.may_act_as_owner:
        problem = refusal(facts, opts.key)
        assert problem is not None
        raise problem
    assert facts.key_type is not None
    opts.span = time_span(opts.span_text, facts.key_type)
    if chosen == "start":
        if state.step == "copying":
            if state.last_key:
                db.notice(f"pg_steward: {facts.label}: resuming the copy after {state.rows_copied} rows")
            _copy(db, commit, facts, state, opts)
            db.notice(f"pg_steward: {facts.label}: next: CALL steward.partition_existing_table("
                      f"{quote_literal(facts.label)}, {quote_literal(opts.key)}, {quote_literal(span_text(opts.span))}"
                      ", action => 'swap')")
        else:
            db.notice(f"pg_steward: {facts.label}: the copy is complete (step {state.step})")
        return
    if chosen == "undo":
        if state.step in ("swapped", "finished"):
            raise StewardError(f"the conversion of {facts.label} was swapped already: it cannot be undone",
                               OBJECT_NOT_IN_PREREQUISITE_STATE,
                               hint="The old table is kept under its new name; rename the tables back by hand.")
        _undo(db, facts, state, opts)
        commit()
        db.notice(f"pg_steward: {facts.label}: conversion undone; the source is as it was")
        return
    if chosen == "swap":
        if state.step != "copied":
            raise StewardError(f"the conversion of {facts.label} is at step {state.step}, not copied",
                               OBJECT_NOT_IN_PREREQUISITE_STATE,
                               hint="Run action => 'start' until the copy is complete." if state.step == "copying"
                               else None)
        source_rows, twin_rows, mismatches = verify(db, facts, state, max(opts.batch_size, 1000))
        db.notice(f"pg_steward: {facts.label}: verified {source_rows} rows in the source, {twin_rows} in the twin, "
                  f"checksums {'differ' if mismatches else 'equal'}")
        if mismatches:
            raise StewardError(f"the partitioned twin of {facts.label} differs from it", CONVERSION_MISMATCH,
                               detail="; ".join(mismatches[:5]),
                               hint="Nothing was swapped. Undo the conversion (action => 'undo') and start again.")
        new = _swap(db, facts, state, opts)
        commit()
        db.notice(f"pg_steward: {facts.label}: swapped; the old table is "
                  f"{facts.schema}.{related_name(facts.name, OLD_SUFFIX)}")
        manage_sql = (f"SELECT * FROM steward.manage({quote_literal(new)}, {quote_literal(span_text(opts.span))}, "
                      f"premake => {opts.premake})")
        if opts.manage:
            db.query("SELECT pg_catalog.count(*) AS n FROM steward.manage($1::pg_catalog.int8::pg_catalog.oid::"
                     "pg_catalog.regclass, $2::pg_catalog.interval, $3::pg_catalog.int4)",
                     state.twin, opts.span_text, opts.premake)
            commit()
            db.notice(f"pg_steward: {new} is managed by steward.maintain_partitions")
        else:
            db.notice(f"pg_steward: to maintain it: {manage_sql}")
        return
    # finish
    if state.step != "swapped":
        raise StewardError(f"the conversion of {facts.label} is at step {state.step}, not swapped",
                           OBJECT_NOT_IN_PREREQUISITE_STATE)
    db.execute("UPDATE steward.table_conversions SET step = 'finished', updated_at = pg_catalog.clock_timestamp() "
               "WHERE source = $1::pg_catalog.int8::pg_catalog.oid", oid)
    commit()
    old = qualified(*catalog.relation_name(db, oid))
    db.notice(f"pg_steward: conversion finished. The old table is kept; once verified, drop it with: DROP TABLE {old};")


def partition_existing_table_plan(db: Database, source: str | None, key: str | None, span: str | None,
                                  premake: int | None, batch_size: int | None, lock_timeout: str | None,
                                  time_zone: str | None) -> list[dict[str, Any]]:
    """``steward.partition_existing_table_plan(...)``: the steps of the conversion as rows; changes nothing."""
    oid, span_iso, timeout_ms = _normalize(db, source, key, span, lock_timeout)
    if premake is None or premake < 0 or batch_size is None or batch_size < 1:
        raise StewardError("premake must be at least 0 and batch_size at least 1", INVALID_PARAMETER_VALUE)
    assert key is not None
    opts = Options(key, span_iso, premake, batch_size, LockPolicy(timeout_ms, 0), time_zone or "UTC", False)
    return [{"step": n, "action": s.action, "statement": s.statement, "locks": s.locks}
            for n, s in enumerate(plan(db, oid, opts), 1)]

