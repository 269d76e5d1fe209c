"""Health checks: default thresholds and how a measured value becomes ok, warning, critical or unknown (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pg_steward.errors import INSUFFICIENT_PRIVILEGE, LOCK_NOT_AVAILABLE


@dataclass(frozen=True)
class Threshold:
    warning: float | None
    critical: float | None
    higher_is_worse: bool = True
    unit: str = ""


# The defaults; a row of steward.health_thresholds overrides a check's numbers.
DEFAULTS: dict[str, Threshold] = {
    "vacuum": Threshold(1, 5, unit="x autovacuum trigger"),
    "analyze": Threshold(1, 5, unit="x autoanalyze trigger"),
    # Against autovacuum_(multixact_)freeze_max_age: 100 % means the forced anti-wraparound vacuum is due or
    # late; 500 % of the default 200 million is about half of 2^31, where the server stops.
    "xid_wraparound": Threshold(100, 500, unit="% of autovacuum_freeze_max_age"),
    "multixact_wraparound": Threshold(100, 500, unit="% of autovacuum_multixact_freeze_max_age"),
    "sequences": Threshold(75, 90, unit="% used"),
    "cache_hit_ratio": Threshold(95, 90, higher_is_worse=False, unit="%"),
    "connections": Threshold(80, 95, unit="% of max_connections"),
    "idle_in_transaction": Threshold(300, 3600, unit="s"),
    "long_running_queries": Threshold(300, 3600, unit="s"),
    "blocked_queries": Threshold(60, 300, unit="s"),
    "invalid_indexes": Threshold(1, None, unit="indexes"),
    "database_size": Threshold(None, None, unit="bytes"),
    "temp_files": Threshold(10 * 2**30, 100 * 2**30, unit="bytes"),
    "checkpoints": Threshold(25, 50, unit="% requested"),
    # Age of the last maintenance run in which every table due succeeded (the schedule runs every 15 minutes).
    "maintenance_runs": Threshold(3600, 86400, unit="s"),
    # pg_steward's pg_cron jobs whose last run failed; those whose last run could not connect or start (none runs).
    "cron_job_failures": Threshold(1, None, unit="jobs"),
    "cron_job_connections": Threshold(None, 1, unit="jobs"),
    # Catalog checks (issue 17).
    "disabled_triggers": Threshold(1, None, unit="triggers"),
    "not_valid_constraints": Threshold(1, None, unit="constraints"),
    "tables_without_primary_key": Threshold(None, None, unit="tables"),  # informational: listed, never a warning
    # Findings of steward.index_report that are warnings or worse (duplicate, redundant, unused, invalid, ...).
    "index_problems": Threshold(1, None, unit="indexes"),
    # DEFAULT partitions (of any partitioned table) holding rows.
    "default_partition_rows": Threshold(1, None, unit="partitions"),
    # Age of the oldest prepared transaction.
    "prepared_transactions": Threshold(300, 3600, unit="s"),
    # Inactive replication slots (each keeps WAL and the xmin horizon).
    "replication_slots": Threshold(1, None, unit="slots"),
    # Worst estimated waste of a table / an index of at least BLOAT_MIN_BYTES (reports/bloat.py, index_bloat.py).
    "table_bloat": Threshold(50, 80, unit="% wasted"),
    "index_bloat": Threshold(50, 80, unit="% wasted"),
    # Spans of premade partitions left before a managed table's newest bound is reached (forecasts).
    "premake_runway": Threshold(1, 0.25, higher_is_worse=False, unit="spans"),
    # Partitions of tables in retention mode export expired for more than a day and still not exported.
    "partition_exports": Threshold(1, None, unit="partitions"),
}
BLOAT_MIN_BYTES = 10 * 2**20  # smaller relations are not judged for bloat: rewriting them gains little
# The grant a check needs where a role without it gets a privilege error (the others need none beyond
# pg_steward's: the statistics views show other roles' rows as NULL, told in the detail).
GRANTS: dict[str, str] = {
    "default_partition_rows": "SELECT on the DEFAULT partitions (or membership in pg_read_all_data)",
    "replication_slots": "membership in pg_monitor",
    "index_problems": "membership in pg_monitor (pg_read_all_stats)",
}
LOCK_WAIT = "2s"  # the longest a check waits for a lock (lock_timeout) before it is skipped


def skipped_reason(check: str, sqlstate: str | None) -> str | None:
    """Why a check that raised ``sqlstate`` is skipped rather than unknown (None: it is unknown)."""
    if sqlstate == INSUFFICIENT_PRIVILEGE:
        return f"this role lacks a privilege; the check needs {GRANTS.get(check, 'membership in pg_monitor')}"
    if sqlstate == LOCK_NOT_AVAILABLE:
        return f"a lock it needs was not granted within {LOCK_WAIT} (lock_timeout)"
    return None


# At most this many DEFAULT partitions are probed for rows (one bounded EXISTS each).
DEFAULT_PARTITIONS_PROBED = 200
# pg_cron's return_message of a run it could not connect or start (pg_cron 1.4-1.6): the command never ran.
CRON_CONNECTION_MESSAGES = ("connection failed", "connection lost", "could not start background process",
                            "unable to create a DSM segment", "job startup timeout")


def cron_connection_failure(status: str | None, message: str | None) -> bool:
    """Whether a pg_cron run failed before its command ran: no connection, no background worker."""
    if status != "failed" or message is None:
        return False
    return message.strip().startswith(CRON_CONNECTION_MESSAGES)


# Below this many checkpoints since the statistics reset, the share of requested ones says nothing yet.
CHECKPOINTS_TO_JUDGE = 10
CHECKS = list(DEFAULTS)


def effective(check: str, override: dict[str, object] | None) -> Threshold:
    base = DEFAULTS[check]
    if override is None:
        return base
    return Threshold(_num(override.get("warning")), _num(override.get("critical")), base.higher_is_worse, base.unit)


def _num(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal, str)):
        return float(value)
    raise TypeError(f"threshold is not a number: {value!r}")


def _beyond(value: float, limit: float | None, higher_is_worse: bool) -> bool:
    if limit is None:
        return False
    return value >= limit if higher_is_worse else value < limit


def status(value: float | None, threshold: Threshold) -> str:
    if value is None:
        return "unknown"
    if _beyond(value, threshold.critical, threshold.higher_is_worse):
        return "critical"
    if _beyond(value, threshold.warning, threshold.higher_is_worse):
        return "warning"
    return "ok"


def threshold_text(threshold: Threshold) -> str:
    sign = ">=" if threshold.higher_is_worse else "<"
    shown = pretty_bytes if threshold.unit == "bytes" else _fmt
    unit = f" {threshold.unit}" if threshold.unit and threshold.unit != "bytes" else ""
    parts = [f"{name} {sign} {shown(limit)}" for name, limit in
             (("warning", threshold.warning), ("critical", threshold.critical)) if limit is not None]
    return ", ".join(parts) + unit if parts else "none (informational)"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def pretty_bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def share_of(age: float, limit: float) -> float:
    """``age`` as a percentage of ``limit`` (a setting of at least 1), two decimals."""
    return round(100.0 * age / max(limit, 1.0), 2)


def percent_used(last_value: int | None, start: int, increment: int, max_value: int, min_value: int) -> float | None:
    """Share of a sequence's range already handed out (descending sequences count down)."""
    if last_value is None:
        return None
    if increment > 0:
        span = max_value - start
        used = last_value - start
    else:
        span = start - min_value
        used = start - last_value
    if span <= 0:
        return 100.0
    return round(100.0 * used / span, 2)


# The values an integer column can hold, by the name of its (base) type; other types bound no sequence.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int2": (-2**15, 2**15 - 1), "int4": (-2**31, 2**31 - 1), "int8": (-2**63, 2**63 - 1),
}
BIGINT_RANGE = INTEGER_RANGES["int8"]


@dataclass(frozen=True)
class FedColumn:
    """A column a sequence feeds (by a DEFAULT calling nextval on it, OWNED BY or identity), named by the table
    one alters it on: the root of a partition tree."""
    table: str  # schema-qualified and quoted
    column: str  # quoted
    type_name: str  # pg_type.typname of the column's base type
    type_shown: str  # format_type of it


@dataclass(frozen=True)
class SequenceUse:
    """How far a sequence has gone towards the first value it, or a column it feeds, cannot hold."""
    name: str  # schema-qualified and quoted
    last_value: int
    percent: float
    limit: int  # the bound it heads to: its MAXVALUE (MINVALUE when descending) or the narrowest column's
    bounded_by: FedColumn | None  # the column whose type is that bound, None when the sequence's own is
    fix: tuple[str, ...]  # the statements that give it, and every column it feeds, bigint's range


def sequence_use(name: str, last_value: int | None, start: int, increment: int, min_value: int, max_value: int,
                 columns: list[FedColumn]) -> SequenceUse | None:
    """Measure a sequence against its own bound and the narrowest integer column it feeds; None if never used."""
    low, high, bounded_by = min_value, max_value, None
    for column in columns:
        held = INTEGER_RANGES.get(column.type_name)
        if held is None:
            continue
        if increment > 0 and held[1] < high:
            high, bounded_by = held[1], column
        if increment < 0 and held[0] > low:
            low, bounded_by = held[0], column
    percent = percent_used(last_value, start, increment, high, low)
    if percent is None or last_value is None:
        return None
    fix = [f"ALTER TABLE {c.table} ALTER COLUMN {c.column} TYPE bigint;" for c in columns
           if c.type_name in INTEGER_RANGES and INTEGER_RANGES[c.type_name] != BIGINT_RANGE]
    if increment > 0 and max_value < BIGINT_RANGE[1]:
        fix.append(f"ALTER SEQUENCE {name} AS bigint NO MAXVALUE;")
    if increment < 0 and min_value > BIGINT_RANGE[0]:
        fix.append(f"ALTER SEQUENCE {name} AS bigint NO MINVALUE;")
    return SequenceUse(name, last_value, percent, high if increment > 0 else low, bounded_by,
                       tuple(dict.fromkeys(fix)))


def sequence_text(use: SequenceUse) -> str:
    text = f"{use.name} at {use.last_value} of {use.limit} ({use.percent}%)"
    if use.bounded_by:
        text += f", the limit of {use.bounded_by.type_shown} column {use.bounded_by.table}.{use.bounded_by.column}"
    return text


REWRITE_NOTE = ("ALTER COLUMN ... TYPE bigint rewrites the table (every partition of a partitioned one) and its "
                "indexes under an ACCESS EXCLUSIVE lock that blocks reads and writes: plan a maintenance window "
                "(a view using the column must be dropped before and created again after)")


def sequences_fix(uses: list[SequenceUse]) -> str | None:
    """One fix for the sequences listed, each statement once, and what the column changes cost."""
    statements = list(dict.fromkeys(s for use in uses for s in use.fix))
    if not statements:
        return None
    rewrite = any(s.startswith("ALTER TABLE") for s in statements)
    return " ".join(statements) + (f"  -- {REWRITE_NOTE}" if rewrite else "")


def judged_floor(threshold: Threshold) -> float | None:
    """The lowest value a check reports as warning or critical (higher is worse), None if it has no threshold."""
    limits = [x for x in (threshold.warning, threshold.critical) if x is not None]
    return min(limits) if limits else None


# What to do with a session that holds a lock others wait for, by its pg_stat_activity state. Cancelling
# stops a running statement (its error aborts the transaction and frees the locks); a session with no
# statement running has nothing to cancel, and only terminating it ends its transaction or session locks.
_IDLE_HOLDER = {
    "idle in transaction": "idle in transaction",
    "idle in transaction (aborted)": "idle in an aborted transaction",
    "idle": "idle, holding a session-level lock (an advisory lock)",
}


def blocker_action(pid: int, state: str | None) -> tuple[str, str]:
    """The statement that frees the waiters of blocking session ``pid`` and why, from its state."""
    if pid == 0:
        return ("", "a prepared transaction holds the lock: COMMIT PREPARED or ROLLBACK PREPARED it "
                    "(see pg_prepared_xacts)")
    if state in _IDLE_HOLDER:
        return (f"SELECT pg_catalog.pg_terminate_backend({pid});",
                f"pid {pid} is {_IDLE_HOLDER[state]}: cancelling it would not end its transaction (no statement "
                f"runs to cancel), terminating it does (its work is rolled back)")
    if state is None:
        return (f"SELECT pg_catalog.pg_cancel_backend({pid});",
                f"the state of pid {pid} is not visible (needs pg_read_all_stats): cancel it if it runs a "
                f"statement, terminate it (pg_terminate_backend) if it is idle in a transaction")
    return (f"SELECT pg_catalog.pg_cancel_backend({pid});",
            f"pid {pid} is {state}: cancelling its statement aborts its transaction, which frees the lock")


def checkpoint_figures(server_columns: set[str]) -> tuple[str, dict[str, str]] | None:
    """Where this server keeps its checkpoint counters: (view, our name -> its column), or None.

    PostgreSQL 17 moved them from pg_stat_bgwriter to pg_stat_checkpointer, with new names; the view's columns
    decide (``server_columns``: those of pg_stat_checkpointer, empty where it does not exist).
    """
    if {"num_timed", "num_requested"} <= server_columns:
        return "pg_stat_checkpointer", {"timed": "num_timed", "requested": "num_requested",
                                        "write_ms": "write_time", "sync_ms": "sync_time",
                                        "buffers": "buffers_written"}
    return "pg_stat_bgwriter", {"timed": "checkpoints_timed", "requested": "checkpoints_req",
                                "write_ms": "checkpoint_write_time", "sync_ms": "checkpoint_sync_time",
                                "buffers": "buffers_checkpoint"}


def requested_share(timed: int, requested: int) -> float | None:
    """Percentage of checkpoints that were requested (WAL filled max_wal_size, or a CHECKPOINT) rather than
    timed; None while there are too few to judge."""
    total = timed + requested
    if total < CHECKPOINTS_TO_JUDGE:
        return None
    return round(100.0 * requested / total, 1)
