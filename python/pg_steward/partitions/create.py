"""Creating range partitions: idempotent, overlap-safe, and rows in DEFAULT moved, never lost.

The partition is built as a standalone table and attached, in one
subtransaction, so the parent is never locked ACCESS EXCLUSIVE:

0. SHARE UPDATE EXCLUSIVE on the parent alone (``locking.lock_parent``:
   pg_steward's changes to a table one at a time) and, if the parent has
   DEFAULT, SHARE ROW EXCLUSIVE on it (writers through the parent wait; see
   ``lock_for_change``). Then the catalog is read.
1. ``CREATE TABLE new (LIKE parent ...)``: locks nothing the application uses.
2. Unless the creation is one script that moves no row (an empty new table:
   its validation reads nothing): ``ADD CONSTRAINT ... CHECK (key in range)``
   on the new table, so that ATTACH needs no validation scan of it.
3. Only if the DEFAULT partition holds rows of the range: ``LOCK default IN
   ACCESS EXCLUSIVE MODE`` (ATTACH will need that lock anyway; taking it
   first means no lock upgrade, hence no deadlock, and no new rows for the
   range can land in DEFAULT meanwhile), then move them with one
   ``DELETE ... RETURNING`` feeding an ``INSERT``.
4. ``ATTACH PARTITION``: SHARE UPDATE EXCLUSIVE on the parent (reads and
   writes go on), ACCESS EXCLUSIVE on the new table and on DEFAULT, which it
   scans to check that no row of the range is left there.
5. Drop the helper CHECK, hand the table to the parent's owner, copy the
   parent's grants.

Every lock is taken under a bounded ``lock_timeout`` with retries
(``locking.py``). If the parent's partitions are themselves partitioned (e.g.
yearly partitions split by region), the new one copies the layout of its
newest sibling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pg_steward.arguments import not_null
from pg_steward.db import Database
from pg_steward.errors import (
    CHECK_VIOLATION,
    DATETIME_OVERFLOW,
    FOREIGN_KEY_VIOLATION,
    INTERNAL_ERROR,
    INVALID_OBJECT_DEFINITION,
    INVALID_PARAMETER_VALUE,
    RESTRICT_VIOLATION,
    StewardError,
    error_fields,
    error_sqlstate,
)
from pg_steward.owner_rights import CallerRights, caller_rights, inline, owner_rights, require_owner_rights
from pg_steward.partitions import catalog
from pg_steward.partitions.bounds import Unbounded, parse_bound
from pg_steward.partitions.config import read_config
from pg_steward.partitions.locking import lock_parent, with_lock_retries
from pg_steward.partitions.model import Parent, PartitionOptions, RangePartition, storage_clause
from pg_steward.partitions.naming import first_choice, partition_name, suffix
from pg_steward.partitions.spans import (
    INTEGER_KEYS,
    UTC,
    Key,
    Span,
    advance,
    advance_within,
    floor,
    time_span,
    zone,
)
from pg_steward.partitions.values import (
    TIMESTAMP,
    TIMESTAMPTZ,
    Bound,
    bound_text,
    from_text,
    order,
    overlaps,
    to_literal_text,
)
from pg_steward.sqltext import qualified, quote_ident, quote_literal


@dataclass(frozen=True)
class Created:
    oid: int
    schema: str
    name: str
    start: Bound | None  # None: a list or hash partition
    end: Bound | None
    created: bool
    moved_rows: int = 0

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class Known:
    """What a caller holding the parent's change lock (``locking.lock_parent``) has read about it in this
    transaction, handed to each creation instead of being read again. The lock keeps the partitions and the
    DEFAULT as they were read, but for the creations of this caller, which add theirs to ``partitions``; and
    the parent's storage parameters (changing them needs a lock the change lock conflicts with).

    ``default_name``: the DEFAULT partition's schema and name (None: none); ``foreign``: what
    ``foreign_default`` found; ``rights``: ``owner_rights.caller_rights`` for the parent's owner;
    ``reloptions`` and ``grants``: the parent's storage parameters and privileges, copied to each new partition
    (``catalog.change_facts``); ``writers_locked``: a creation of this caller holds the parent's SHARE ROW
    EXCLUSIVE lock (``lock_for_change``) until the transaction ends; ``default_empty``: the DEFAULT is a plain
    table without a block when read (no row to look for then; a row written after it makes ATTACH fail with
    23514, and the creation's rescue moves it); ``free_names``: partition names found free in the parent's
    schema under the change lock (``catalog.free_relation_names``), each creation then skips that lookup."""

    partitions: list[RangePartition]
    default_name: tuple[str, str] | None
    foreign: str | None
    rights: CallerRights
    reloptions: tuple[str, ...] = ()
    grants: list[tuple[str | None, str, bool]] = field(default_factory=list)
    writers_locked: bool = False
    default_empty: bool = False
    free_names: set[str] = field(default_factory=set)


def known_under_lock(db: Database, parent: Parent, partitions: list[RangePartition]) -> Known:
    """``Known`` for ``parent``, whose change lock the caller holds, with the ``partitions`` it read: the
    catalog in one statement (``catalog.change_facts``), the caller's rights in another."""
    facts = catalog.change_facts(db, parent)
    foreign = ".".join(facts.default_name) if facts.default_name is not None and facts.default_kind == "f" else None
    return Known(partitions, facts.default_name, foreign, caller_rights(db, parent.owner), facts.reloptions,
                 facts.grants, default_empty=facts.default_empty)


def existing_or_overlap(partitions: list[RangePartition], start: Bound, end: Bound) -> RangePartition | None:
    """The partition with exactly these bounds, or None; an error if another one overlaps them."""
    for part in partitions:
        if part.start == start and part.end == end:
            return part
    clash = [p for p in partitions if overlaps((p.start, p.end), (start, end))]
    if clash:
        part = clash[0]
        raise StewardError(
            f"a partition from {bound_text(start)} to {bound_text(end)} would overlap {part.schema}.{part.name}",
            INVALID_OBJECT_DEFINITION,
            detail=f"{part.schema}.{part.name} holds values from {bound_text(part.start)} to {bound_text(part.end)}.",
        )
    return None


def _literal(value: Bound) -> str:
    return value.value if isinstance(value, Unbounded) else quote_literal(to_literal_text(value))


def _range_sql(start: Bound, end: Bound) -> str:
    return f"FOR VALUES FROM ({_literal(start)}) TO ({_literal(end)})"


def _check_sql(parent: Parent, start: Bound, end: Bound) -> str:
    key = parent.key_sql
    lower = "" if start is Unbounded.MINVALUE else f" AND {key} >= {_literal(start)}"
    upper = "" if end is Unbounded.MAXVALUE else f" AND {key} < {_literal(end)}"
    return f"{key} IS NOT NULL{lower}{upper}"


def _in_range(parent: Parent, start: Bound, end: Bound) -> tuple[str, tuple[Key, ...]]:
    """``WHERE`` clause and parameters of the rows of ``[start, end)`` (MINVALUE, MAXVALUE: no bound)."""
    conditions, args = [f"{parent.key_sql} IS NOT NULL"], []
    for bound, operator in ((start, ">="), (end, "<")):
        if not isinstance(bound, Unbounded):
            args.append(bound)
            conditions.append(f"{parent.key_sql} {operator} ${len(args)}")
    return "WHERE " + " AND ".join(conditions), tuple(args)


def _name_parts(parent: Parent, start: Bound, end: Bound, span: Span | None, tz: ZoneInfo) -> tuple[str, str]:
    """The suffix of the partition ``[start, end)`` and the identity that seeds its name's hash on a clash."""
    if isinstance(start, Unbounded):  # the first slot of the key's range, from MINVALUE
        return "_pminvalue", f"{parent.oid}:MINVALUE"
    # Named by its span (``_p2024_07``) only when it is one whole slot; a piece of a slot by its exact start.
    aligned = span is not None and floor(start, span, tz) == start and (
        end is Unbounded.MAXVALUE or advance_within(start, span, tz, parent.key_type) == end)
    local = start.astimezone(tz).replace(tzinfo=None) if isinstance(start, dt.datetime) and start.tzinfo else None
    return (suffix(start, span or Span(days=1), aligned=aligned, tz_local=local),
            f"{parent.oid}:{to_literal_text(start)}")


def first_choice_names(parent: Parent, ranges: list[tuple[Bound, Bound]], span: Span | None,
                       tz: ZoneInfo) -> list[str]:
    """The names the partitions of ``ranges`` get when nothing in the schema has them yet."""
    return [first_choice(parent.name, _name_parts(parent, start, end, span, tz)[0]) for start, end in ranges]


def _choose_name(db: Database, parent: Parent, start: Bound, end: Bound, span: Span | None, tz: ZoneInfo,
                 free: set[str] | None = None) -> str:
    """A free name for the partition; ``free``: names found free in this transaction under the parent's change
    lock (``Known.free_names``), not looked up again."""
    tail, identity = _name_parts(parent, start, end, span, tz)
    return partition_name(parent.name, tail,
                          lambda n: n not in (free or ()) and catalog.relation_exists(db, parent.schema, n), identity)


def _template(partitions: list[RangePartition]) -> RangePartition | None:
    """The newest partitioned sibling, whose layout a new partition copies."""
    partitioned = [p for p in partitions if p.is_partitioned]
    return max(partitioned, key=lambda p: (p.start is not None, p.oid)) if partitioned else None


def _copy_layout(db: Database, template: RangePartition, new_sql: str, new_schema: str, new_name: str,
                 storage: str = "") -> None:
    """Partition ``new`` like ``template``: same sub-partition bounds, names following the new name; ``storage``:
    the ``WITH`` clause of the table's template (``storage_parameters``) for each sub-partition."""
    for row in db.query(
        "SELECT c.relname::text AS name, pg_catalog.pg_get_expr(c.relpartbound, 0) AS bound "
        "FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::bigint::oid ORDER BY c.relname",
        template.oid,
    ):
        tail = row["name"][len(template.name):] if row["name"].startswith(template.name) else "_" + row["name"]
        name = partition_name(new_name, tail, lambda n: catalog.relation_exists(db, new_schema, n), row["name"])
        parse_bound(row["bound"])  # only bounds PostgreSQL printed itself are replayed
        db.execute(f"CREATE TABLE {qualified(new_schema, name)} PARTITION OF {new_sql} {row['bound']}{storage}")


def parent_reloptions(db: Database, parent: Parent) -> tuple[str, ...]:
    """The parent's own storage parameters, which PostgreSQL does not give a new partition: the template of a
    table configured with none. Read from the catalog, whatever the version lets a partitioned table hold
    (PostgreSQL 15 refuses every heap parameter on one: then none)."""
    rows = db.query("SELECT c.reloptions AS o FROM pg_catalog.pg_class AS c "
                    "WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid", parent.oid)
    return tuple(rows[0]["o"] or ()) if rows else ()


def grant_statements(grants: list[tuple[str | None, str, bool]], table_sql: str) -> list[str]:
    """The ``GRANT`` statements giving ``table_sql`` the privileges ``grants`` (``catalog.grants``) lists."""
    out = []
    for grantee, privilege, grantable in grants:
        to = "PUBLIC" if grantee is None else quote_ident(grantee)
        option = " WITH GRANT OPTION" if grantable else ""
        out.append(f"GRANT {privilege} ON TABLE {table_sql} TO {to}{option}")
    return out


def copy_grants(db: Database, parent: Parent, table_sql: str) -> None:
    for statement in grant_statements(catalog.grants(db, parent), table_sql):
        db.execute(statement)


@dataclass(frozen=True)
class NewPartition:
    """A partition to be made, whatever the layout: its bound clause, the CHECK that spares ATTACH the scan of
    the new table (None: none needed), and the rows of DEFAULT that belong to it (``WHERE`` clause, parameters).
    """

    bound_sql: str  # FOR VALUES ...
    check_sql: str | None
    rows_where: str
    rows_args: tuple[Any, ...]
    text: str  # what it holds, for messages: "2024-07-01 to 2024-08-01", "values 'ZA', 'NG'"


def _range_partition(parent: Parent, start: Bound, end: Bound) -> NewPartition:
    where, args = _in_range(parent, start, end)
    return NewPartition(_range_sql(start, end), _check_sql(parent, start, end), where, args,
                        f"{bound_text(start)} to {bound_text(end)}")


def foreign_default(db: Database, parent: Parent, default_name: tuple[str, str] | None = None) -> str | None:
    """The name of the parent's DEFAULT partition when it is a foreign table (None otherwise).

    pg_steward never moves rows into or out of a foreign table: a foreign DEFAULT's rows stay where they are,
    and ATTACH does not check them (PostgreSQL skips the scan of a foreign DEFAULT). ``default_name``: its
    schema and name, when the caller has read them."""
    if parent.default_oid is None:
        return None
    row = db.query("SELECT c.relkind::text AS k FROM pg_catalog.pg_class AS c WHERE c.oid = $1::bigint::oid",
                   parent.default_oid)
    if not (row and row[0]["k"] == "f"):
        return None
    return ".".join(default_name or catalog.relation_name(db, parent.default_oid))


def _default_sql(db: Database, parent: Parent, known: Known | None) -> str:
    assert parent.default_oid is not None
    if known is not None and known.default_name is not None:
        return qualified(*known.default_name)
    return qualified(*catalog.relation_name(db, parent.default_oid))


def _move_default_rows(db: Database, parent: Parent, new_sql: str, new: NewPartition,
                       known: Known | None = None) -> int:
    assert parent.default_oid is not None
    default_sql = _default_sql(db, parent, known)
    db.execute(f"LOCK TABLE {default_sql} IN ACCESS EXCLUSIVE MODE")
    columns = ", ".join(quote_ident(c) for c in catalog.insertable_columns(db, parent))
    # DEFAULT is locked ACCESS EXCLUSIVE: nothing changes it between the copy and the delete, which are two plain
    # statements (a DELETE ... RETURNING feeding the INSERT buffers every row in a tuplestore, which
    # bench/partition_maintenance.py (c) showed slower).
    where, args = new.rows_where, new.rows_args
    copied = db.execute(f"INSERT INTO {new_sql} ({columns}) SELECT {columns} FROM {default_sql} {where}", *args)
    try:
        deleted = db.execute(f"DELETE FROM {default_sql} {where}", *args)
    except Exception as error:
        if error_sqlstate(error) not in (FOREIGN_KEY_VIOLATION, RESTRICT_VIOLATION):  # RESTRICT: 23001 on 18+
            raise
        fields = error_fields(error)
        # The referencing table, by the constraint's name: PostgreSQL 18's 23001 names the referenced one.
        referencing = db.query(
            "SELECT r.relname::pg_catalog.text AS t FROM pg_catalog.pg_constraint AS c "
            "JOIN pg_catalog.pg_class AS r ON r.oid OPERATOR(pg_catalog.=) c.conrelid "
            "WHERE c.conname OPERATOR(pg_catalog.=) $1 AND c.contype OPERATOR(pg_catalog.=) 'f' "
            "AND c.confrelid OPERATOR(pg_catalog.=) $2::pg_catalog.int8::pg_catalog.oid LIMIT 1",
            fields.get("constraint_name", ""), parent.default_oid)
        table = referencing[0]["t"] if referencing else fields.get("table_name", "another table")
        raise StewardError(
            f"cannot move rows of {new.text} out of {default_sql}: a foreign key "
            f"of {table} references them "
            f"({fields.get('constraint_name', 'a constraint')}); the rows stay in DEFAULT",
            FOREIGN_KEY_VIOLATION, detail=fields.get("detail"),
            hint="Moving a row into its partition deletes it from DEFAULT, which this foreign key forbids while "
                 "rows reference it. Repoint or remove the referencing rows; the next run then moves these.",
            schema_name=fields.get("schema_name"), table_name=fields.get("table_name"),
            constraint_name=fields.get("constraint_name")) from None
    if copied != deleted:  # cannot happen under the lock; if it ever did, the subtransaction undoes both
        raise StewardError(f"moved {copied} rows into {new_sql} but deleted {deleted} from {default_sql}",
                           INTERNAL_ERROR)
    return copied


def create_range_partition(
    db: Database, parent: Parent, start: Bound, end: Bound, *,
    span: Span | None = None, tz: ZoneInfo | None = None, options: PartitionOptions | None = None,
    warn_foreign: bool = True, known: Known | None = None, default_rows: bool | None = None,
) -> Created:
    """The partition of ``parent`` for ``[start, end)``: the existing one, or a new one holding its DEFAULT rows.
    ``warn_foreign`` false: no WARNING for a foreign DEFAULT (maintenance says it once per table). ``known``:
    what the caller read under the parent's change lock, held since (``Known``); a partition made is added to
    its ``partitions``. ``default_rows`` False: the caller, holding that lock, found no row of the range in
    DEFAULT; when no owner function is needed either, the creation is then one script (``Database.script``,
    rolled back whole: no subtransaction of its own) and a row that reached DEFAULT since is moved by the
    rescue (``with_default_rescue``)."""
    tz = tz or ZoneInfo("UTC")
    if not order(start) < order(end):
        raise StewardError(f"empty range: {bound_text(start)} is not before {bound_text(end)}", INVALID_PARAMETER_VALUE)
    what = f"create partition {parent.label} [{bound_text(start)}, {bound_text(end)})"
    chosen = options or PartitionOptions()
    atomic = (known is not None and default_rows is False and not known.rights.needs_owner_function
              and _template(known.partitions) is None)
    return with_default_rescue(db, parent, chosen, what,
                               lambda force: _create_locked(db, parent, start, end, span, tz, force, chosen,
                                                            warn_foreign, known, atomic and not force),
                               atomic=atomic)


def with_default_rescue(db: Database, parent: Parent, options: PartitionOptions, what: str,
                        attempt: Callable[[bool], Created], atomic: bool = False) -> Created:
    """``attempt(force_move)`` under lock_timeout with retries; once more with the move of DEFAULT rows
    forced when ATTACH found a row that reached DEFAULT after it was looked at (23514). Any layout's creation
    goes through here: one discipline of locks and of rows moved out of DEFAULT. ``atomic``: the first attempts
    change nothing but by one script (``locking.with_lock_retries``); the forced one is never."""
    try:
        made = with_lock_retries(db, options.lock, what, lambda: attempt(False), atomic=atomic)
    except Exception as error:
        if error_sqlstate(error) != CHECK_VIOLATION:
            raise
        # A row of the range reached DEFAULT by a direct insert after we looked: ATTACH refused. Move it this time.
        made = with_lock_retries(db, options.lock, what, lambda: attempt(True))
    if made.moved_rows:
        db.notice(f"moved {made.moved_rows} rows from the DEFAULT partition of {parent.label} into {made.label}")
    return made


def lock_for_change(db: Database, parent: Parent) -> None:
    """Serialize pg_steward's changes to ``parent``; with a DEFAULT partition, hold its writers off until commit.

    The table's change lock (``locking.lock_parent``, which only roles its owner trusts can take) makes a second
    creator wait for the first and then find its partition, instead of failing on a duplicate name. With a
    DEFAULT partition, an INSERT that routed its row to DEFAULT before ATTACH committed would, once it gets
    DEFAULT's lock, fail DEFAULT's new partition constraint (23514): SHARE ROW EXCLUSIVE on the parent alone
    (not its partitions) makes such writers wait and route again after the commit. Readers are never blocked.
    Both locks wait at most lock_timeout (``with_lock_retries``).
    """
    lock_parent(db, parent)
    lock_writers(db, parent)


def lock_writers(db: Database, parent: Parent) -> None:
    """``lock_for_change``'s SHARE ROW EXCLUSIVE on a parent with DEFAULT (none without)."""
    if parent.default_oid is not None:
        db.execute(f"LOCK TABLE ONLY {parent.sql} IN SHARE ROW EXCLUSIVE MODE")


def _create_locked(db: Database, parent: Parent, start: Bound, end: Bound, span: Span | None, tz: ZoneInfo,
                   force_move: bool, options: PartitionOptions, warn_foreign: bool = True,
                   known: Known | None = None, atomic: bool = False) -> Created:
    """One attempt, under lock_timeout: the catalog is read after the parent's locks are held (or was read
    under its change lock, held since: ``known``, whose holder needs only the writers' lock, and that only once
    a creation of its own holds it)."""
    if known is None:
        lock_for_change(db, parent)
    elif not known.writers_locked and not atomic:  # atomic: the lock is the first statement of the script
        lock_writers(db, parent)
    partitions = known.partitions if known is not None else catalog.range_partitions(db, parent)
    found = existing_or_overlap(partitions, start, end)
    if found is not None:
        return Created(found.oid, found.schema, found.name, start, end, created=False)
    name = _choose_name(db, parent, start, end, span, tz, known.free_names if known is not None else None)
    template = _template(partitions)
    oid, moved = attach_new_partition(db, parent, name, _range_partition(parent, start, end), options,
                                      template=template, force_move=force_move,
                                      warn_foreign=warn_foreign, known=known, atomic=atomic)
    if known is not None:  # as catalog.range_partitions would read it now
        known.free_names.discard(name)
        known.partitions.append(RangePartition(oid, parent.schema, name, start, end,
                                               is_partitioned=template is not None))
        # Nothing runs after this in the attempt's subtransaction, which ends now: the lock stays with the
        # transaction (an attempt that failed before this point released its own with its subtransaction).
        known.writers_locked = parent.default_oid is not None
    return Created(oid, parent.schema, name, start, end, created=True, moved_rows=moved)


def attach_new_partition(db: Database, parent: Parent, name: str, new: NewPartition, options: PartitionOptions, *,
                         template: RangePartition | None = None, force_move: bool = False,
                         warn_foreign: bool = True, known: Known | None = None,
                         atomic: bool = False) -> tuple[int, int]:
    """Steps 1 to 5 (module docstring) for a partition of any layout, the parent's locks held: a standalone
    table like the parent, its CHECK, the DEFAULT rows that belong to it moved in (never from a foreign DEFAULT),
    ATTACH, the parent's owner and grants. Returns the new oid and the rows moved. ``known``: the DEFAULT and
    the caller's rights, read under the parent's change lock (``Known``). ``atomic`` (``create_range_partition``):
    every statement, the writers' lock first, in one script; DEFAULT is not probed for rows (ATTACH refuses
    the partition if it holds some: the rescue moves them) and the empty table needs no helper CHECK."""
    new_sql = qualified(parent.schema, name)
    like = (f"LIKE {parent.sql} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
            "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS")
    partition_by = ""
    if template is not None:
        key = db.query("SELECT pg_catalog.pg_get_partkeydef($1::bigint::oid) AS k", template.oid)[0]["k"]
        partition_by = f" PARTITION BY {key}"
    tablespace = f" TABLESPACE {quote_ident(options.tablespace)}" if options.tablespace else ""
    reloptions = known.reloptions if known is not None else parent_reloptions(db, parent)
    leaf_storage = storage_clause(options.storage_parameters or reloptions)
    storage = "" if template else leaf_storage
    # The empty table is made by the caller (creating it evaluates nothing of the owner's; the owner may lack
    # CREATE on the schema) and handed to the parent's owner at once. Every statement that evaluates the
    # owner's code (the CHECK, the copy and delete of DEFAULT rows with their triggers, ATTACH's validation)
    # then runs with the owner's rights, never the caller's. The statements go in as few scripts
    # (``Database.script``) as their order allows: the caller's and the owner's together when they are the
    # same rights (no owner function between).
    rights = known.rights if known is not None else caller_rights(db, parent.owner)
    require_owner_rights(db, parent.owner, parent.label, rights)
    pending = [f"CREATE TABLE {new_sql} ({like}){partition_by}{storage}{tablespace}"]
    if atomic and known is not None and not known.writers_locked and parent.default_oid is not None:
        pending.insert(0, f"LOCK TABLE ONLY {parent.sql} IN SHARE ROW EXCLUSIVE MODE")
    if template is not None:
        db.script(pending)
        pending = []
        _copy_layout(db, template, new_sql, parent.schema, name, leaf_storage)
    if not rights.is_owner:
        pending.append(f"ALTER TABLE {new_sql} OWNER TO {quote_ident(parent.owner)}")
    check = quote_ident(f"{name[:40]}_bound")
    # The helper CHECK spares ATTACH the scan of the rows moved in; an atomic creation moves none (the table is
    # empty, its scan costs nothing) and goes without it (and without its DROP, which fires sql_drop triggers).
    check_sql = None if atomic else new.check_sql
    foreign = known.foreign if known is not None else foreign_default(db, parent)
    granted = grant_statements(known.grants if known is not None else catalog.grants(db, parent), new_sql)
    new_oid = f"SELECT {quote_literal(new_sql)}::pg_catalog.regclass::pg_catalog.oid::pg_catalog.int8 AS oid"
    with owner_rights(db, parent.owner, parent.label, rights) as table_db:
        together = table_db is db
        assert together or not atomic
        if pending and not together:
            db.script(pending)
            pending = []
        if check_sql is not None:
            pending.append(f"ALTER TABLE {new_sql} ADD CONSTRAINT {check} CHECK ({check_sql})")
        # Whether DEFAULT holds rows of the range, read last in the same script (parameters written in).
        probe = foreign is None and not force_move and parent.default_oid is not None and not atomic
        if probe:
            pending.append(inline(f"SELECT 1 FROM {_default_sql(db, parent, known)} {new.rows_where} LIMIT 1",
                                  new.rows_args))
        moved = 0
        if not atomic:
            found = table_db.script(pending) if pending else []
            pending = []
            stranded = foreign is None and (force_move or (probe and bool(found)))
            moved = _move_default_rows(table_db, parent, new_sql, new, known) if stranded else 0
        pending.append(f"ALTER TABLE {parent.sql} ATTACH PARTITION {new_sql} {new.bound_sql}")
        if check_sql is not None:
            pending.append(f"ALTER TABLE {new_sql} DROP CONSTRAINT {check}")
        if not together:
            table_db.script(pending)
            pending = []
        oid = db.script([*pending, *granted, new_oid])[0]["oid"]
    if foreign is not None and warn_foreign:
        db.warning(f"the DEFAULT partition {foreign} of {parent.label} is a foreign table: rows of {new.text} in "
                   f"it, if any, stay there (pg_steward never moves rows out of a foreign table); queries "
                   f"pruned to {parent.schema}.{name} no longer see them")
    return oid, moved


def _key_value(db: Database, parent: Parent, text: str, tz: ZoneInfo) -> Key:
    """``text`` read as a value of the partition key's type, by PostgreSQL itself.

    For a timestamptz key, a time without an offset is wall-clock time in the table's zone ``tz`` (so
    '2024-11-03' is local midnight, not UTC's); the value comes back in UTC, which the function pins.
    """
    assert parent.key_type is not None
    if parent.key_type == TIMESTAMPTZ:
        previous = db.query("SELECT pg_catalog.current_setting('TimeZone') AS z")[0]["z"]
        db.query("SELECT pg_catalog.set_config('TimeZone', $1, true)", tz.key)
        try:
            value = db.query("SELECT (($1::text)::timestamptz AT TIME ZONE 'UTC')::text AS v", text)[0]["v"]
        finally:
            db.query("SELECT pg_catalog.set_config('TimeZone', $1, true)", previous)
        value = value if value in ("infinity", "-infinity") or value.endswith(" BC") else f"{value}+00"
    else:
        value = db.query(f"SELECT ($1::text)::{parent.key_type} AS v", text)[0]["v"]
    try:
        typed = from_text(str(value), parent.key_type)
    except ValueError:  # a year past 9999: PostgreSQL has it, the Python computing bounds does not
        raise StewardError(f"{text} is outside the supported range of dates (years 1 to 9999)",
                           DATETIME_OVERFLOW) from None
    if isinstance(typed, Unbounded):
        raise StewardError(f"{text} is not a finite value", INVALID_PARAMETER_VALUE)
    return typed


def _span(db: Database, parent: Parent, text: str) -> Span:
    if parent.key_type in INTEGER_KEYS:
        try:
            width = int(text)
        except ValueError:
            raise StewardError(f"span {text!r} must be a positive integer for the integer key of {parent.label}",
                               INVALID_PARAMETER_VALUE) from None
        if width <= 0:
            raise StewardError(f"span must be positive, not {width}", INVALID_PARAMETER_VALUE)
        return Span(width=width)
    assert parent.key_type is not None
    interval = db.query("SELECT ($1::text)::interval::text AS i", text)[0]["i"]
    return time_span(interval, parent.key_type)


def calendar_value(day: dt.date, key_type: str, tz: ZoneInfo) -> Key:
    """The first instant of ``day`` as a value of the key's type."""
    if key_type == TIMESTAMPTZ:
        return dt.datetime.combine(day, dt.time(0), tz).astimezone(UTC)
    if key_type == TIMESTAMP:
        return dt.datetime.combine(day, dt.time(0))
    return day


def create_partition(db: Database, parent_name: str | None, start: str | None, span: str | None,
                     time_zone: str | None) -> int:
    """``steward.create_partition(parent, start, span, time_zone)``: the partition ``[start, start + span)``."""
    not_null("start", start)
    not_null("span", span)
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent)
    assert start is not None and span is not None
    config = read_config(db, parent.oid)
    tz = zone(time_zone or (config.time_zone if config else "UTC"))
    first = _key_value(db, parent, start, tz)
    width = _span(db, parent, span)
    options = config.options if config else None
    made = create_range_partition(db, parent, first, advance(first, width, tz), span=width, tz=tz, options=options)
    return made.oid


def create_monthly_partition(db: Database, parent_name: str | None, month: str | None,
                             time_zone: str | None) -> int:
    """``steward.create_monthly_partition(parent, month)``: the partition of the month containing ``month``."""
    not_null("month", month)
    parent = catalog.read_parent(db, parent_name)
    catalog.require_range(parent, time_only=True)
    assert parent.key_type is not None
    config = read_config(db, parent.oid)
    tz = zone(time_zone or (config.time_zone if config else "UTC"))
    span = Span(months=1)
    try:
        day = dt.date.fromisoformat(month)
    except ValueError:  # infinity, BC, a year past 9999: no month of the calendar pg_steward computes in
        raise StewardError(f"month {month} is outside the supported range of dates (years 1 to 9999)",
                           DATETIME_OVERFLOW) from None
    first = calendar_value(day.replace(day=1), parent.key_type, tz)
    options = config.options if config else None
    made = create_range_partition(db, parent, first, advance(first, span, tz), span=span, tz=tz, options=options)
    return made.oid
