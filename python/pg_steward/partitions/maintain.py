"""Maintenance of managed tables: premake by the clock, fill gaps, rescue DEFAULT rows, retention, ANALYZE.

Each table is maintained in a subtransaction of its own: a failure is logged
and the other tables go on. Work on one table is serialized by the table's own
lock (``locking.lock_parent``), taken before its catalog is read: two runs at
once are harmless, the second finds nothing due. Every DDL step is bounded by
the table's lock_timeout and retried (``locking.py``). A run over every table
is recorded in ``steward.maintenance_runs`` (one row); ``run_maintenance``
ends in an ERROR when a table failed, so that pg_cron records a failure.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pg_steward.arguments import not_null
from pg_steward.db import Database
from pg_steward.errors import (
    INVALID_PARAMETER_VALUE,
    MAINTENANCE_FAILED,
    StewardError,
    error_sqlstate,
)
from pg_steward.owner_rights import owner_rights
from pg_steward.partitions import catalog, export
from pg_steward.partitions.actions import Action, error_text, log, log_all
from pg_steward.partitions.bounds import Unbounded
from pg_steward.partitions.clock import cutoff_for, now_as_key, now_utc
from pg_steward.partitions.config import (
    limits,
    managed_oids,
    read_managed,
    register,
)
from pg_steward.partitions.create import Known, create_range_partition, first_choice_names, known_under_lock
from pg_steward.partitions.locking import bounded_lock_timeout, lock_parent, with_lock_retries
from pg_steward.partitions.model import NOT_WORK, Config, Limits, Parent, RangePartition
from pg_steward.partitions.plan import MAX_NEW_PER_RUN, wanted_ranges, wide_gaps
from pg_steward.partitions.retention import FOREIGN_NOTE, effective_mode, expired, retire
from pg_steward.partitions.spans import Key, advance_within, floor, span_text, zone
from pg_steward.partitions.survey import idle_tables
from pg_steward.partitions.values import Bound, bound_text, from_text, order
from pg_steward.runtime import own_transactions, pin_settings
from pg_steward.sqltext import qualified, quote_literal

STEP_SHARE_OF_LOCK_TIMEOUT = 4  # a step of run_maintenance holds its locks for at most 1/4 of lock_timeout


# The time key values the bound arithmetic can place (years 1 to 9999; a day of margin at the low end for zones
# west of UTC): the DEFAULT rows outside (infinities, BC dates, years past 9999) are counted and reported.
_PLACEABLE = ("0001-01-02", "10000-01-01")


@dataclass(frozen=True)
class Stranded:
    """What the DEFAULT partition holds: one key value per span slot with rows, and the rows no slot can hold."""

    values: list[Key]
    unplaceable: int = 0


def stranded_values(db: Database, parent: Parent, config: Config, foreign: str | None,
                    default_name: tuple[str, str] | None = None, default_empty: bool = False) -> Stranded:
    """One key value per span slot that has rows in the DEFAULT partition, and the count of unplaceable rows.

    A value no partition of this table's spans can hold (infinity, a BC date, a year past 9999) never stops
    the walk: the search runs over the placeable values only, and the others are counted. ``foreign``: what
    ``foreign_default`` found for the parent; ``default_name``: the DEFAULT's schema and name, when read;
    ``default_empty``: the DEFAULT was found without a block (``create.Known``): no query then."""
    if parent.default_oid is None or foreign is not None or default_empty:
        return Stranded([])  # rows of a foreign DEFAULT are never moved: maintain_table warns
    assert parent.key_type is not None
    default_sql = qualified(*(default_name or catalog.relation_name(db, parent.default_oid)))
    key, tz = parent.key_sql, zone(config.time_zone)
    placeable = f"{key} IS NOT NULL"
    limits_args: tuple[str, ...] = ()
    if parent.is_time:
        placeable = f"{key} >= $1::{parent.key_type} AND {key} < $2::{parent.key_type}"
        limits_args = _PLACEABLE
    found: list[Key] = []
    cursor: Key | None = None
    unplaceable = 0
    while len(found) < MAX_NEW_PER_RUN:
        where = f"WHERE {placeable}" + (f" AND {key} >= ${len(limits_args) + 1}" if cursor is not None else "")
        args = (*limits_args, cursor) if cursor is not None else limits_args
        row = db.query(f"SELECT min({key})::text AS v FROM {default_sql} {where}", *args)[0]
        if row["v"] is None:
            break
        value = from_text(row["v"], parent.key_type)
        try:
            slot = floor(value, config.span, tz)  # type: ignore[arg-type]
        except (OverflowError, ValueError):
            # The last hours of 9999 (UTC) are the year 10000 in a zone east of UTC: the day before is in the
            # last slot of the calendar, which reaches to MAXVALUE and so holds them.
            value = value - dt.timedelta(days=1)  # type: ignore[operator]
            slot = floor(value, config.span, tz)  # type: ignore[arg-type]
        found.append(value)  # type: ignore[arg-type]
        nxt = advance_within(slot, config.span, tz, parent.key_type)
        if isinstance(nxt, Unbounded):
            break  # the last slot of the key's range (to MAXVALUE) holds the rest
        cursor = nxt
    if parent.is_time:
        unplaceable += db.query(f"SELECT count(*) AS n FROM {default_sql} WHERE {key} IS NOT NULL AND NOT "
                                f"({placeable})", *limits_args)[0]["n"]
    return Stranded(found, unplaceable)


@dataclass(frozen=True)
class Step:
    """How much of a table's work one transaction may do: partitions, and seconds of holding their locks."""

    max_new: int
    seconds: float | None  # None: a quarter of the table's lock_timeout


# Errors of one partition's creation that come from the rows to be moved, not from the table or its locks: the
# partition is left undone and reported, and the table's other work goes on.
_ROW_ERRORS = ("23", "22")  # integrity constraint violations (a foreign key referencing a DEFAULT row), data


def maintain_table(db: Database, config: Config, step: Step | None = None,
                   budget_s: float | None = None, retire_now: bool = True,
                   max_gap_slots: int | None = None, parent: Parent | None = None) -> list[Action]:
    """One table's maintenance. With ``step``, creation stops at its limits (always one partition at least) with
    a ``more`` action, and retention waits for the step that creates the last partition. Past ``budget_s``
    seconds (the superuser's per-table budget) the table stops with a logged ``budget`` action. With
    ``retire_now`` false (``manage``), retention retires nothing and returns a ``would <mode>`` preview row per
    partition the next run will retire. ``max_gap_slots``: the limit in force, when the caller has read it;
    ``parent``: the table, when the caller has read it in this transaction."""
    parent = parent or catalog.read_parent(db, config.parent_oid)
    catalog.require_range(parent)
    tz = zone(config.time_zone)
    assert parent.key_type is not None
    actions: list[Action] = []
    now = now_as_key(now_utc(db), parent.key_type, tz) if parent.is_time else None
    cutoff = cutoff_for(db, parent, config.retention, tz) if config.retention and parent.is_time else None
    stranded = Stranded([])
    foreign: str | None = None  # the DEFAULT partition when it is a foreign table, read under the table's lock
    if max_gap_slots is None:
        max_gap_slots = limits(db).max_gap_slots
    wide: list[tuple[int, int, int]] = []
    known: Known | None = None  # what plan() read under the table's change lock, held until the transaction ends

    def plan() -> list[tuple[Key, Bound]]:
        # The table's change lock first: a concurrent run of another session waits here, then reads what this
        # one made. Reading the table (its highest key, its DEFAULT rows) waits for locks too: bounded like the
        # DDL. The reads run with the owner's rights, so the owner's row security policies never act as the caller.
        # What is read here under the lock (partitions, DEFAULT, the caller's rights) is handed to the creations.
        nonlocal stranded, wide, foreign, known
        lock_parent(db, parent)
        parts = catalog.range_partitions(db, parent)
        known = known_under_lock(db, parent, parts)
        foreign = known.foreign
        clock = now
        with owner_rights(db, parent.owner, parent.label, known.rights) as table_db:
            if clock is None:  # integer key: the clock is the highest value stored
                top = table_db.query(f"SELECT max({parent.key_sql})::text AS v FROM {parent.sql}")[0]["v"]
                clock = int(top) if top is not None else None
            stranded = stranded_values(table_db, parent, config, foreign, known.default_name, known.default_empty)
        wide = wide_gaps(parts, config, clock, stranded.values, parent.key_type, max_gap_slots)
        ranges = wanted_ranges(parts, config, clock, cutoff, stranded.values, parent.key_type, max_gap_slots)
        # The names of the partitions due, looked up in one statement rather than one per creation: each
        # statement of PL/Python is a subtransaction, whose end costs more the more relations the transaction
        # has created (many manage() calls in one transaction).
        known.free_names = catalog.free_relation_names(
            db, parent.schema, first_choice_names(parent, ranges, config.span, tz))
        return ranges

    began = time.monotonic()

    def over_budget() -> bool:
        return budget_s is not None and time.monotonic() - began >= budget_s

    made_here: list[str] = []  # the partitions made, analyzed together (one statement) when analyze is on

    def analyze_made() -> None:
        if config.analyze and made_here:
            db.script([f"ANALYZE {name}" for name in made_here])
        made_here.clear()

    # One lock_timeout for the reads and every creation of the table (each attempt still in a subtransaction
    # of its own): set once, not around each.
    with bounded_lock_timeout(db, config.options.lock):
        wanted = with_lock_retries(db, config.options.lock, f"read {parent.label}", plan)
        started = time.monotonic()
        for index, (start, end) in enumerate(wanted):
            if index and over_budget():
                analyze_made()
                actions.append(Action(parent.oid, "budget", None, True,
                                      f"{len(wanted) - index} more partitions due; stopped at the per-table budget of "
                                      f"{budget_s:g} s, the next run goes on"))
                return actions
            if step is not None and index and (index >= step.max_new
                                               or time.monotonic() - started >= (step.seconds or 0)):
                analyze_made()
                rest = len(wanted) - index
                actions.append(Action(parent.oid, "more", None, True,
                                      f"{rest} more partitions due; the next step goes on"))
                return actions  # retention comes with the last step
            try:
                # create_range_partition runs each attempt in a subtransaction of its own (locking.with_lock_retries):
                # a failed creation is rolled back alone, with no subtransaction around it here.
                # What plan() found in DEFAULT under the change lock says whether rows of the range are there.
                made = create_range_partition(
                    db, parent, start, end, span=config.span, tz=tz, options=config.options, warn_foreign=False,
                    known=known, default_rows=_holds_any(stranded.values, start, end))
            except Exception as error:
                if not (error_sqlstate(error) or "").startswith(_ROW_ERRORS):
                    raise
                actions.append(Action(parent.oid, "error", None, False,
                                      f"partition {bound_text(start)} to {bound_text(end)} not created: "
                                      + error_text(error)))
                continue
            if made.created:
                detail = f"{bound_text(start)} to {bound_text(end)}"
                if made.moved_rows:
                    detail += f"; moved {made.moved_rows} rows from DEFAULT"
                actions.append(Action(parent.oid, "create", made.label, True, detail, made.moved_rows))
                made_here.append(qualified(made.schema, made.name))
        analyze_made()
    assert known is not None
    if cutoff is not None:
        for part in expired(list(known.partitions), cutoff):
            detail = f"{bound_text(part.start)} to {bound_text(part.end)}, older than {bound_text(cutoff)}"
            if config.retention_mode == export.MODE:  # never retired here: pg-steward export writes it first
                actions.append(Action(parent.oid, export.AWAITING, f"{part.schema}.{part.name}", True,
                                      export.awaiting_detail(part, cutoff)))
                continue
            mode = effective_mode(part, config.retention_mode)
            if mode != config.retention_mode:
                detail += f"; {FOREIGN_NOTE}"
            if not retire_now:
                actions.append(Action(parent.oid, f"would {mode}", f"{part.schema}.{part.name}",
                                      True, f"{detail}; {_contents(db, parent, part)}; done by the next "
                                      "maintenance run (steward.run_maintenance or maintain_partitions)"))
                continue
            if over_budget():
                actions.append(Action(parent.oid, "budget", None, True,
                                      f"retention stopped at the per-table budget of {budget_s:g} s, "
                                      "the next run goes on"))
                return actions
            name = retire(db, parent, part, config.retention_mode, config.archive_schema, config.options.lock)
            actions.append(Action(parent.oid, mode, name, True, detail))
    if foreign is not None:  # with the table's last step: once per run
        note = (f"the DEFAULT partition {foreign} is a foreign table: pg_steward never moves rows out of it, so "
                "its rows are not put into their partitions, and those of a range given a partition are no "
                "longer seen by queries pruned to that partition; move them by hand")
        db.warning(f"{parent.label}: {note}")
        actions.append(Action(parent.oid, "warning", foreign, True, note))
    if wide:  # with the table's last step: once per run
        actions.append(Action(parent.oid, "gap", None, True, gap_note(parent, config, wide, max_gap_slots)))
    unplaceable = 0
    if stranded.unplaceable:  # counted again: a last partition to MAXVALUE made just now may hold some of them
        with owner_rights(db, parent.owner, parent.label, known.rights) as table_db:
            unplaceable = stranded_values(table_db, parent, config, foreign, known.default_name).unplaceable
    if unplaceable:
        # Last, so that it is the table's latest log row: steward.health() lists the table as failing.
        actions.append(Action(parent.oid, "unplaceable", None, False,
                              f"{unplaceable} rows of the DEFAULT partition have key values no partition "
                              f"of {span_text(config.span)} can hold (infinity, BC dates, years past 9999); "
                              "they stay in DEFAULT: move or correct them by hand"))
    return actions


def _holds_any(values: list[Key], start: Bound, end: Bound) -> bool | None:
    """Whether one of ``values`` (``stranded_values``: one per span slot with DEFAULT rows, up to a limit) is in
    ``[start, end)``; None (not known) when the list may have been cut short."""
    if len(values) >= MAX_NEW_PER_RUN:
        return None
    return any(order(start) <= order(v) < order(end) for v in values)


GAPS_SHOWN = 5  # the wide gaps a note names; it counts them all


def gap_note(parent: Parent, config: Config, wide: list[tuple[int, int, int]], max_gap_slots: int) -> str:
    """The ``gap`` row of a table with integer-key gaps too wide to fill: where, what becomes of rows in them,
    and the statement that fills each by hand (one partition over the whole gap)."""
    shown = wide[:GAPS_SHOWN]
    where = ", ".join(f"{start} to {end} ({slots} slots of {config.span.width})" for start, end, slots in shown)
    fate = ("rows in it go to DEFAULT and get their own partition at the next run" if parent.default_oid else
            "the table has no DEFAULT partition: a row in it cannot be inserted")
    fixes = " ".join(f"SELECT steward.create_partition({quote_literal(parent.label)}, '{start}', '{end - start}');"
                     for start, end, _ in shown)
    return (f"{len(wide)} gap{'s' if len(wide) > 1 else ''} too wide to fill (more than "
            f"steward.maintenance_limits.max_gap_slots = {max_gap_slots} slots): {where}"
            + (f" and {len(wide) - GAPS_SHOWN} more" if len(wide) > GAPS_SHOWN else "")
            + f"; {fate}. Fill {'it' if len(wide) == 1 else 'them'} by hand: {fixes}")


def _contents(db: Database, parent: Parent, part: RangePartition) -> str:
    """``N rows, B bytes`` of a partition (with its sub-partitions), counted with the owner's rights."""
    size = db.query("SELECT coalesce(sum(pg_catalog.pg_total_relation_size(relid)), 0)::bigint AS b, "
                    "pg_catalog.pg_size_pretty(coalesce(sum(pg_catalog.pg_total_relation_size(relid)), 0)::bigint) "
                    "AS pretty FROM pg_catalog.pg_partition_tree($1::bigint::oid::regclass)", part.oid)[0]
    with owner_rights(db, parent.owner, parent.label) as table_db:
        rows = table_db.query(f"SELECT count(*) AS n FROM {part.sql}")[0]["n"]
    return f"{rows} rows, {size['b']} bytes ({size['pretty']})"


# The ceilings of the run in progress: run_maintenance reads them once and its steps (steward._maintain_step,
# called by it in this session) use them, instead of a read per table; None outside a run.
_run_limits: Limits | None = None


def _maintain_one(db: Database, oid: int, step: Step | None = None, budget_s: float | None = None,
                  retire_now: bool = True, ceilings: Limits | None = None,
                  parent: Parent | None = None) -> list[Action]:
    """One table in a subtransaction of its own, its actions logged. ``ceilings``: the limits in force, when the
    caller has read them for its run; ``parent``: the table, when the caller has read it in this transaction."""
    try:
        with db.subtransaction():
            managed = read_managed(db, oid, parent)
            if managed is None:
                actions = []
            else:
                parent, config = managed
                if step is not None and step.seconds is None:
                    step = Step(step.max_new, config.options.lock.timeout_ms / 1000 / STEP_SHARE_OF_LOCK_TIMEOUT)
                ceilings = ceilings or _run_limits or limits(db)
                if budget_s is None:
                    budget_s = ceilings.table_budget_ms / 1000
                actions = maintain_table(db, config, step, budget_s, retire_now, ceilings.max_gap_slots, parent)
    except Exception as error:  # one table's failure is logged; the others go on
        actions = [Action(oid, "error", None, False, error_text(error))]
    # The log keeps what was done: one INSERT for the table's actions.
    log_all(db, [a for a in actions if a.action != "more" and not a.action.startswith("would ")])
    return actions


def _manageable(db: Database, oids: list[int]) -> set[int]:
    """Of ``oids``, the tables the caller may change: a member of the owning role (a superuser: every one)."""
    if not oids:
        return set()
    return {r["oid"] for r in db.query(
        "SELECT c.oid::pg_catalog.int8 AS oid FROM pg_catalog.pg_class AS c "
        "WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]::pg_catalog.oid[]) "
        "AND pg_catalog.pg_has_role(c.relowner, 'USAGE')", oids)}


@dataclass
class Run:
    """One row of ``steward.maintenance_runs``: a run over every managed table, from its start to its end."""

    run_id: int
    tables_due: int = 0
    actions: int = 0
    failures: int = 0
    others: int = 0  # tables due that belong to owners the caller is not a member of: not the caller's to do

    @classmethod
    def start(cls, db: Database, procedure: str) -> Run:
        """The run's row, started now by the caller (its trigger sets the role and the time)."""
        return cls(db.query("INSERT INTO steward.maintenance_runs (procedure) VALUES ($1) "
                            "RETURNING run_id", procedure)[0]["run_id"])

    def finish(self, db: Database) -> None:
        db.execute("UPDATE steward.maintenance_runs SET finished_at = pg_catalog.clock_timestamp(), "
                   "tables_due = $2::pg_catalog.int4, actions = $3::pg_catalog.int4, "
                   "failures = $4::pg_catalog.int4, other_owners = $5::pg_catalog.int4 "
                   "WHERE run_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8",
                   self.run_id, self.tables_due, self.actions, self.failures, self.others)


CLIENT_PROCEDURES = ("pg-steward maintain",)  # what record_run_start accepts: clients that maintain every table


def record_run_start(db: Database, procedure: str | None) -> int:
    """``steward.record_run_start(procedure)``: a client's run over every managed table, started; its run_id."""
    if procedure not in CLIENT_PROCEDURES:
        raise StewardError(f"procedure must be one of {', '.join(CLIENT_PROCEDURES)}, not {procedure!r}",
                           INVALID_PARAMETER_VALUE,
                           hint="run_maintenance and maintain_partitions record their own runs.")
    return Run.start(db, procedure).run_id


def record_run_end(db: Database, run_id: int | None, tables_due: int | None, actions: int | None,
                   failures: int | None, other_owners: int | None) -> None:
    """``steward.record_run_end(...)``: the run finished with its counts (the trigger refuses another role's run,
    or one already finished)."""
    counts = {"run_id": run_id, "tables_due": tables_due, "actions": actions, "failures": failures,
              "other_owners": other_owners}
    for name, value in counts.items():
        not_null(name, value)
        assert value is not None
        if value < 0:
            raise StewardError(f"{name} must not be negative, got {value}", INVALID_PARAMETER_VALUE)
    assert run_id is not None and tables_due is not None and actions is not None and failures is not None
    assert other_owners is not None
    if not db.query("SELECT 1 FROM steward.maintenance_runs WHERE run_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8 "
                    "AND procedure OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])", run_id,
                    list(CLIENT_PROCEDURES)):
        raise StewardError(f"no client run {run_id} in steward.maintenance_runs", INVALID_PARAMETER_VALUE,
                           hint="Pass the run_id steward.record_run_start returned.")
    Run(run_id, tables_due, actions, failures, other_owners).finish(db)


def maintain_partitions(db: Database, parent_name: str | int | None) -> list[dict[str, Any]]:
    """``steward.maintain_partitions(parent)``: every managed table (or one), in this transaction.

    Over every table it is a run, recorded in ``steward.maintenance_runs`` (with its failures, which are also
    returned as ``error`` rows); it raises nothing for a table's failure: that would roll the others back."""
    if parent_name is not None:
        parent_oid = catalog.read_parent(db, parent_name).oid
        # A table named by the caller is read directly: no survey for one table.
        if not managed_oids(db, parent_oid):
            return [Action(parent_oid, "skip", None, True, "not managed: call steward.manage() first").row()]
        return [a.row() for a in _maintain_one(db, parent_oid) + _analyze_parents(db, parent_oid)]
    run = Run.start(db, "maintain_partitions")
    due = tables_due(db)
    ceilings = limits(db) if due else None  # read once for the run
    actions = [a for oid in due for a in _maintain_one(db, oid, ceilings=ceilings)] + _analyze_parents(db)
    failed = {a.parent for a in actions if not a.ok and a.parent is not None}
    mine = _manageable(db, sorted(failed))
    run.tables_due, run.actions = len(due), sum(a.ok and a.action not in NOT_WORK for a in actions)
    run.failures, run.others = len(failed & mine), len(failed - mine)
    run.finish(db)
    return [a.row() for a in actions]


def manage(db: Database, parent: str | None, span: str | None, premake: int | None, retention: str | None,
           retention_mode: str | None, archive_schema: str | None, time_zone: str | None,
           lock_timeout: str | None, lock_retries: int | None, integer_span: int | None,
           tablespace: str | None, storage_parameters: list[str] | None) -> list[dict[str, Any]]:
    """``steward.manage(...)``: register the table (``config.register``), then make what is due (premake, gaps,
    DEFAULT rows), retiring nothing: what retention will retire at the next maintenance run comes back as
    ``would <mode>`` rows (partition, rows, bytes), so that the policy is seen before it acts."""
    ceilings = limits(db)  # read once for the registration and the work
    table = register(db, parent, span, premake, retention, retention_mode, archive_schema, time_zone,
                     lock_timeout, lock_retries, integer_span, tablespace, storage_parameters, ceilings)
    return [a.row() for a in _maintain_one(db, table.oid, retire_now=False, ceilings=ceilings, parent=table)]


MAX_STEPS_PER_TABLE = 1000  # a table's backlog is worked off in at most this many transactions per run


def run_maintenance(db: Database, commit: Callable[[], None]) -> None:
    """``CALL steward.run_maintenance()``: every table due, in steps, committing after each.

    A step (``steward._maintain_step``) holds the locks of its creations, which keep the writers of a parent
    with DEFAULT waiting, for a quarter of the table's lock_timeout at most, however long the backlog. A
    NOTICE per table with work shows the progress to whoever called it by hand (pg_cron ignores notices).
    Tables of owners the caller is not a member of are left to them (a NOTICE says how many). The run is a row
    of ``steward.maintenance_runs``; when a table failed, the work and the log are committed and the procedure
    then raises an ERROR, so that pg_cron records the run as failed. Each of its transactions runs with the
    functions' settings (``runtime.pin_settings``), whatever search_path the caller has. A CALL that cannot
    commit (in a transaction block) is refused before anything is done (``runtime.own_transactions``).
    """
    commit = own_transactions(db, commit, "steward.run_maintenance()",
                              "SELECT * FROM steward.maintain_partitions() for one transaction")
    pin_settings(db)
    run = Run.start(db, "run_maintenance")
    commit()  # the run is visible as started, even if it never ends
    # Names qualified whatever the caller's search_path (the procedure cannot pin one), in the survey's order.
    tables = db.query("SELECT t.oid::pg_catalog.int8 AS oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name "
                      "FROM steward._tables_due() WITH ORDINALITY AS t(oid, position) "
                      "JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.oid "
                      "JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
                      "ORDER BY t.position")
    mine = _manageable(db, [t["oid"] for t in tables])
    run.tables_due, run.others = len(tables), len(tables) - len(mine)
    if run.others:
        db.notice(f"pg_steward: {run.others} of {len(tables)} tables due belong to owners this role is not a "
                  "member of: left to them or to a superuser")
    tables = [t for t in tables if t["oid"] in mine]
    global _run_limits
    ceilings = limits(db)  # read once: the run's steps use them (_run_limits)
    budget_s = ceilings.table_budget_ms / 1000
    failed_tables: list[str] = []
    _run_limits = ceilings
    try:
        for number, table in enumerate(tables, 1):
            done, failed = _run_steps(db, commit, table["oid"], budget_s)
            run.actions += done
            if failed:
                failed_tables.append(table["name"])
            db.notice(f"pg_steward: {number} of {len(tables)}: {table['name']}: "
                      f"{done} {'action' if done == 1 else 'actions'}"
                      + (f", {failed} failed (see steward.partition_maintenance_log)" if failed else ""))
        for action in _analyze_parents(db, commit=commit):  # last: the parents whose partitions changed
            run.actions += action.ok
            if not action.ok:
                name = db.query("SELECT $1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass::"
                                "pg_catalog.text AS t", action.parent)[0]["t"]
                if name not in failed_tables:  # a table is counted once, whatever failed
                    failed_tables.append(name)
    finally:
        _run_limits = None
    run.failures = len(failed_tables)
    run.finish(db)
    commit()
    if failed_tables:
        shown = ", ".join(failed_tables[:5]) + (f" and {len(failed_tables) - 5} more" if len(failed_tables) > 5 else "")
        raise StewardError(
            f"maintenance failed for {len(failed_tables)} of {len(tables)} tables due: {shown}",
            MAINTENANCE_FAILED,
            detail=f"Run {run.run_id}: {run.actions} actions done and committed; the failures are logged.",
            hint="See the rows with ok = false in steward.partition_maintenance_log, and steward.health() "
                 "(check maintenance_runs).")


def _analyze_parents(db: Database, parent_oid: int | None = None,
                     commit: Callable[[], None] | None = None) -> list[Action]:
    """The parents whose partitions changed, analyzed (``parent_stats``, which imports this module)."""
    from pg_steward.partitions.parent_stats import analyze_parents
    return analyze_parents(db, parent_oid, commit)


def _run_steps(db: Database, commit: Callable[[], None], oid: int, budget_s: float) -> tuple[int, int]:
    """Steps of one table until it answers no ``more`` or its budget is spent; the actions taken and failed."""
    done = failed = 0
    began = time.monotonic()
    for number in range(MAX_STEPS_PER_TABLE):
        if number and time.monotonic() - began >= budget_s:
            log(db, Action(oid, "budget", None, True,
                           f"stopped after {number} steps at the per-table budget of {budget_s:g} s, "
                           "the next run goes on"))
            commit()
            break
        # The caller's search_path is in force (no SET clauses on a procedure): every name is qualified.
        step = db.query("SELECT pg_catalog.count(*) FILTER (WHERE action OPERATOR(pg_catalog.=) 'more') AS more, "
                        "pg_catalog.count(*) FILTER (WHERE ok AND action OPERATOR(pg_catalog.<>) ALL "
                        "($2::pg_catalog.text[])) AS done, "
                        "pg_catalog.count(*) FILTER (WHERE NOT ok) AS failed "
                        "FROM steward._maintain_step($1::pg_catalog.oid, NULL)", oid, list(NOT_WORK))[0]
        commit()
        done, failed = done + step["done"], failed + step["failed"]
        if not step["more"]:
            break
    return done, failed


def tables_due(db: Database) -> list[int]:
    """``steward._tables_due()``: the enabled managed tables that maintenance has work for now, by name."""
    oids = managed_oids(db)
    idle = idle_tables(db, oids)
    return [oid for oid in oids if oid not in idle]


def maintain_step(db: Database, parent_oid: int | None, max_partitions: int | None) -> list[dict[str, Any]]:
    """``steward._maintain_step(parent, max_partitions)``: one table, as much as one transaction should hold.

    ``run_maintenance`` commits after each step, so the locks of the creations (SHARE ROW EXCLUSIVE on a parent
    with DEFAULT holds its writers off) last a fraction of the table's lock_timeout, not a whole backlog. A step
    creates at most ``max_partitions`` (NULL: MAX_NEW_PER_RUN) partitions and stops creating once it has spent
    a quarter of the table's lock_timeout.
    """
    if parent_oid is None or (max_partitions is not None and max_partitions < 1):
        raise StewardError("parent must be given and max_partitions positive", INVALID_PARAMETER_VALUE)
    step = Step(max_partitions or MAX_NEW_PER_RUN, None)
    return [a.row() for a in _maintain_one(db, parent_oid, step)]
