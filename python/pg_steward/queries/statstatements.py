"""pg_stat_statements counters between two snapshots (pure logic).

pg_stat_statements only ever adds to an entry's counters, except when the
entry starts again from zero: after pg_stat_statements_reset() (all entries,
or one), after the entry was evicted to make room and came back, and after a
server crash (a clean restart keeps the counters, pg_stat_statements.save).
A snapshot pair is turned into per-entry work done in between: the
difference when the entry went on, the whole counters when it started again.

How we know it started again: on PostgreSQL 17 each entry says since when it
counts (``stats_since``): a changed one means the entry was re-created, and
its whole counters are work done since then. Its minimum and maximum times
can be reset alone (``pg_stat_statements_reset(..., minmax_only => true)``),
which moves ``minmax_stats_since`` and nothing else: the entry went on, and
its maximum is then the slowest call since that reset. Before 17 we look for
anything that cannot happen to a continuing entry: a counter that went down,
a maximum time that went down, a minimum that went up, or a full reset
(``pg_stat_statements_info.stats_reset`` moved). An entry evicted and
re-created that already made up more calls than before, with a new maximum
and minimum, is indistinguishable from one that went on; its delta is then too
small, never negative. A counter that went down counts as a new start on every
version, so no delta is ever negative.

Entries are keyed by ``toplevel`` too (14+): a statement run directly and the
same statement run inside a function are separate entries, each with its own
delta, logged with its ``toplevel`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# Snapshot column -> pg_stat_statements column, per PostgreSQL version (None: the
# server has no such column). Only names that changed or are new are listed;
# the others are the same in 14 to 18.
RENAMED_FROM = {
    # PostgreSQL 13 split planning from execution time.
    "total_exec_time": {130000: "total_exec_time", 0: "total_time"},
    "min_exec_time": {130000: "min_exec_time", 0: "min_time"},
    "max_exec_time": {130000: "max_exec_time", 0: "max_time"},
    "total_plan_time": {130000: "total_plan_time", 0: None},
    # PostgreSQL 14 added top-level tracking; before, every entry is top level.
    "toplevel": {140000: "toplevel", 0: None},
    # PostgreSQL 17 renamed block I/O timing and added per-entry reset times.
    "blk_read_time": {170000: "shared_blk_read_time", 0: "blk_read_time"},
    "blk_write_time": {170000: "shared_blk_write_time", 0: "blk_write_time"},
    "local_blk_read_time": {170000: "local_blk_read_time", 0: None},
    "local_blk_write_time": {170000: "local_blk_write_time", 0: None},
    "stats_since": {170000: "stats_since", 0: None},
    "minmax_stats_since": {170000: "minmax_stats_since", 0: None},
    # PostgreSQL 18: WAL buffers full, parallel workers planned and launched.
    "wal_buffers_full": {180000: "wal_buffers_full", 0: None},
    "parallel_workers_to_launch": {180000: "parallel_workers_to_launch", 0: None},
    "parallel_workers_launched": {180000: "parallel_workers_launched", 0: None},
}
SAME = ("userid", "dbid", "queryid", "calls", "rows", "shared_blks_hit", "shared_blks_read",
        "temp_blks_read", "temp_blks_written")
DEFAULTS = {"total_plan_time": "0", "toplevel": "true", "stats_since": "NULL::timestamptz",
            "minmax_stats_since": "NULL::timestamptz", "blk_read_time": "0", "blk_write_time": "0",
            "local_blk_read_time": "NULL::float8", "local_blk_write_time": "NULL::float8",
            "wal_buffers_full": "NULL::bigint", "parallel_workers_to_launch": "NULL::bigint",
            "parallel_workers_launched": "NULL::bigint"}
COUNTERS = ("calls", "total_exec_time", "total_plan_time", "rows", "shared_blks_hit", "shared_blks_read",
            "temp_blks_read", "temp_blks_written", "blk_read_time", "blk_write_time", "local_blk_read_time",
            "local_blk_write_time", "wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched")


def column_for(name: str, server_version: int, available: set[str]) -> str | None:
    """The pg_stat_statements column holding ``name`` on this server version.

    The version decides; when pg_stat_statements was not updated after a
    server upgrade (ALTER EXTENSION), its older column name is used instead.
    """
    names = RENAMED_FROM.get(name)
    if names is None:
        return name
    chosen = next(col for since, col in sorted(names.items(), reverse=True) if server_version >= since)
    if chosen in available or chosen is None:
        return chosen
    older = [col for col in names.values() if col in available]
    return older[0] if older else None


def select_list(server_version: int, available: set[str]) -> list[tuple[str, str]]:
    """(snapshot column, SQL expression over pg_stat_statements) pairs."""
    pairs = [(name, name) for name in SAME]
    for name in RENAMED_FROM:
        column = column_for(name, server_version, available)
        pairs.append((name, column if column else DEFAULTS.get(name, "NULL")))
    return pairs


class Key(NamedTuple):
    """What identifies an entry of pg_stat_statements."""

    userid: int
    dbid: int
    toplevel: bool
    queryid: int


@dataclass
class Delta:
    key: Key
    calls: int
    exec_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    max_exec_ms: float | None  # the slowest call, when it is known to fall in the window
    started_again: bool
    io_read_ms: float  # data file blocks read and written (shared and local), with track_io_timing
    io_write_ms: float
    wal_buffers_full: int | None  # PostgreSQL 18 on; None where the server does not count it
    parallel_workers_to_launch: int | None
    parallel_workers_launched: int | None
    counting_since: object = None  # when a re-created entry began counting (stats_since, 17+)


def key(entry: dict) -> Key:
    return Key(entry["userid"], entry["dbid"], bool(entry["toplevel"]), entry["queryid"])


def _known(before: dict, now: dict, column: str) -> bool:
    return before.get(column) is not None and now.get(column) is not None


def started_again(before: dict, now: dict) -> bool:
    """Whether ``now`` counts from zero since ``before`` was taken (see the module doc)."""
    if any((now.get(c) or 0) < (before.get(c) or 0) for c in COUNTERS):
        return True
    if _known(before, now, "stats_since"):
        return before["stats_since"] != now["stats_since"]
    return now["max_exec_time"] < before["max_exec_time"] or now["min_exec_time"] > before["min_exec_time"]


def _slowest_known(before: dict, now: dict) -> bool:
    """Whether the entry's maximum time is that of a call made since ``before`` (it went on)."""
    if now["max_exec_time"] > before["max_exec_time"]:
        return True
    # 17+: the minimum and maximum were reset alone in the window; the maximum is of calls made since.
    return _known(before, now, "minmax_stats_since") and before["minmax_stats_since"] != now["minmax_stats_since"]


def delta(before: dict | None, now: dict, full_reset: bool) -> Delta:
    fresh = before is None or full_reset or started_again(before, now)
    base = {c: 0 for c in COUNTERS} if fresh else before

    def diff(column: str) -> float:
        return (now.get(column) or 0) - (base.get(column) or 0)

    def counted(column: str) -> int | None:
        return None if now.get(column) is None else int(diff(column))

    slowest = None
    if fresh or _slowest_known(before, now):
        slowest = float(now["max_exec_time"])
    return Delta(key(now), int(diff("calls")), float(diff("total_exec_time")), int(diff("rows")),
                 int(diff("shared_blks_hit")), int(diff("shared_blks_read")), int(diff("temp_blks_written")),
                 slowest, fresh and before is not None,
                 io_read_ms=float(diff("blk_read_time") + diff("local_blk_read_time")),
                 io_write_ms=float(diff("blk_write_time") + diff("local_blk_write_time")),
                 wal_buffers_full=counted("wal_buffers_full"),
                 parallel_workers_to_launch=counted("parallel_workers_to_launch"),
                 parallel_workers_launched=counted("parallel_workers_launched"),
                 counting_since=now.get("stats_since") if fresh else None)


@dataclass
class Window:
    deltas: list[Delta]
    new_entries: int
    started_again: int


# What a delta needs of the previous snapshot's entry.
BEFORE = (*COUNTERS, "min_exec_time", "max_exec_time", "stats_since", "minmax_stats_since")


def window(pairs: list[tuple[dict | None, dict]], full_reset: bool) -> Window:
    """Work done between two snapshots by each (entry before or None, entry now) pair.

    Entries whose counters did not move may be left out by the caller: they
    did no work (an entry that started again cannot have reached exactly the
    same calls and total time).
    """
    deltas = [delta(before, now, full_reset) for before, now in pairs]
    return Window(
        deltas=[d for d in deltas if d.calls > 0],
        new_entries=sum(1 for before, _ in pairs if before is None),
        started_again=sum(1 for d in deltas if d.started_again),
    )


def is_slow(exec_ms: float, calls: int, min_mean_ms: float, min_total_ms: float) -> bool:
    """Slow: a mean time (over ``calls``) or a total time at least its threshold."""
    return exec_ms / calls >= min_mean_ms or exec_ms >= min_total_ms


def may_be_slow(deltas: list[Delta], min_mean_ms: float, min_total_ms: float) -> bool:
    """Whether any group of ``deltas`` can be slow, without knowing the groups: a group's mean is at most its
    slowest entry's mean, and its total at most the total of all entries. False spares parsing the texts."""
    return (any(d.exec_ms / d.calls >= min_mean_ms for d in deltas)
            or sum(d.exec_ms for d in deltas) >= min_total_ms)


def slow_groups(deltas: list[Delta], group_of: list[str], min_mean_ms: float, min_total_ms: float) -> list[Delta]:
    """The deltas whose group is slow, ``group_of[i]`` being the group of ``deltas[i]``.

    The thresholds apply to a group's work as a whole (its total time, and its
    mean over all its calls), never to one entry: a statement shape spread over
    many pg_stat_statements entries (IN lists of different lengths, which
    PostgreSQL before 18 keeps apart) is as slow as all of them together, and a
    shape is logged whole or not at all, whichever entries its calls fell on.
    """
    totals: dict[str, list[float]] = {}
    for d, group in zip(deltas, group_of, strict=True):
        work = totals.setdefault(group, [0.0, 0])
        work[0] += d.exec_ms
        work[1] += d.calls
    slow = {group for group, (ms, calls) in totals.items() if is_slow(ms, int(calls), min_mean_ms, min_total_ms)}
    return [d for d, group in zip(deltas, group_of, strict=True) if group in slow]
