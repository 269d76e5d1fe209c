"""pg_stat_statements deltas: resets, evictions, restarts, and the columns of each version."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_steward.queries.statstatements import (
    column_for,
    delta,
    is_slow,
    may_be_slow,
    select_list,
    slow_groups,
    started_again,
    window,
)


def entry(queryid: int = 1, calls: int = 10, ms: float = 100.0, *, rows: int = 10, mn: float = 1.0,
          mx: float = 50.0, since: str | None = None, **more) -> dict:
    base = {"userid": 10, "dbid": 5, "toplevel": True, "queryid": queryid, "calls": calls, "total_exec_time": ms,
            "total_plan_time": 0.0, "rows": rows, "shared_blks_hit": 0, "shared_blks_read": 0,
            "temp_blks_read": 0, "temp_blks_written": 0, "blk_read_time": 0.0, "min_exec_time": mn,
            "max_exec_time": mx, "stats_since": since}
    return {**base, **more}


def test_continuing_entry_gives_the_difference() -> None:
    d = delta(entry(calls=10, ms=100.0, rows=10), entry(calls=15, ms=180.0, rows=16), full_reset=False)
    assert (d.calls, d.exec_ms, d.rows, d.started_again) == (5, 80.0, 6, False)
    assert d.max_exec_ms is None  # the slowest call predates the window


def test_new_maximum_falls_in_the_window() -> None:
    assert delta(entry(mx=50.0), entry(calls=11, ms=190.0, mx=90.0), False).max_exec_ms == 90.0


def test_counters_going_down_mean_a_reset() -> None:
    d = delta(entry(calls=10, ms=100.0), entry(calls=3, ms=30.0, mx=20.0), full_reset=False)
    assert (d.calls, d.exec_ms, d.started_again) == (3, 30.0, True)


def test_full_reset_counts_everything_from_zero_even_when_counters_grew() -> None:
    d = delta(entry(calls=10, ms=100.0), entry(calls=12, ms=130.0), full_reset=True)
    assert (d.calls, d.exec_ms) == (12, 130.0)


def test_evicted_entry_that_came_back_is_seen_by_its_extremes() -> None:
    # More calls than before, but its maximum went down: a new entry.
    assert started_again(entry(calls=10, mx=50.0), entry(calls=12, ms=120.0, mx=20.0))
    # ... or its minimum went up.
    assert started_again(entry(calls=10, mn=1.0), entry(calls=12, ms=120.0, mn=5.0))


def test_postgresql_17_uses_stats_since() -> None:
    before = entry(since="2026-01-01 00:00:00+00")
    assert started_again(before, entry(calls=20, ms=200.0, since="2026-01-02 00:00:00+00"))
    assert not started_again(before, entry(calls=20, ms=200.0, mx=10.0, since="2026-01-01 00:00:00+00"))


def test_window_counts_new_restarted_and_idle_entries() -> None:
    pairs = [(entry(1), entry(1, calls=12, ms=150.0)), (entry(3), entry(3)), (None, entry(4, calls=2, ms=5.0)),
             (entry(5, calls=9), entry(5, calls=2, ms=3.0))]
    found = window(pairs, full_reset=False)
    assert sorted((d.key[3], d.calls) for d in found.deltas) == [(1, 2), (4, 2), (5, 2)]  # 3 did nothing
    assert (found.new_entries, found.started_again) == (1, 1)


@given(st.integers(0, 1000), st.integers(0, 1000), st.floats(0, 1e6), st.floats(0, 1e6), st.booleans())
def test_deltas_are_never_negative(c1: int, c2: int, t1: float, t2: float, reset: bool) -> None:
    d = delta(entry(calls=c1, ms=t1), entry(calls=c2, ms=t2), reset)
    assert d.calls >= 0 and d.exec_ms >= 0


def test_slow_by_mean_or_by_total() -> None:
    assert is_slow(900.0, 100, min_mean_ms=5, min_total_ms=10_000)  # mean 9 ms
    assert not is_slow(900.0, 100, min_mean_ms=10, min_total_ms=10_000)
    assert is_slow(900.0, 100, min_mean_ms=10, min_total_ms=500)


def test_thresholds_apply_to_a_group_whole() -> None:
    """Issue 18 case 14: twenty entries of one shape, each under the total threshold, are slow together; a
    shape whose entries straddle the mean threshold is logged whole or not at all."""
    spread = [delta(None, entry(q, calls=1, ms=80.0), False) for q in range(20)]
    assert slow_groups(spread, ["a"] * 20, min_mean_ms=1e9, min_total_ms=1000) == spread  # 1.6 s in all
    assert slow_groups(spread, [str(q) for q in range(20)], min_mean_ms=1e9, min_total_ms=1000) == []
    mixed = [delta(None, entry(q, calls=1, ms=5.0 if q % 2 else 40.0), False) for q in range(30)]
    assert slow_groups(mixed, ["a"] * 30, min_mean_ms=20, min_total_ms=1e9) == mixed  # mean 22.5 ms
    assert slow_groups(mixed, ["a"] * 30, min_mean_ms=25, min_total_ms=1e9) == []
    assert may_be_slow(spread, min_mean_ms=1e9, min_total_ms=1000)
    assert not may_be_slow(spread, min_mean_ms=81, min_total_ms=1601)


V14 = {"userid", "dbid", "toplevel", "queryid", "calls", "total_exec_time", "total_plan_time", "min_exec_time",
       "max_exec_time", "rows", "blk_read_time"}
V17 = (V14 - {"blk_read_time"}) | {"shared_blk_read_time", "stats_since", "minmax_stats_since"}
V18 = V17 | {"wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"}


@pytest.mark.parametrize(("version", "columns", "name", "expected"), [
    (140000, V14, "blk_read_time", "blk_read_time"),
    (160000, V14, "blk_read_time", "blk_read_time"),
    (170000, V17, "blk_read_time", "shared_blk_read_time"),
    (170000, V17, "stats_since", "stats_since"),
    (160000, V14, "stats_since", None),
    (140000, V14, "toplevel", "toplevel"),
    (120000, {"total_time"}, "total_exec_time", "total_time"),
    (120000, {"total_time"}, "toplevel", None),
    (170000, V14, "blk_read_time", "blk_read_time"),  # server upgraded, extension not yet
    (180000, V18, "wal_buffers_full", "wal_buffers_full"),
    (180000, V18, "parallel_workers_launched", "parallel_workers_launched"),
    (180000, V17, "wal_buffers_full", None),  # 18 with pg_stat_statements 1.11 (not updated)
    (170000, V17, "parallel_workers_to_launch", None),
    (170000, V17, "minmax_stats_since", "minmax_stats_since"),
    (160000, V14, "minmax_stats_since", None),
])
def test_columns_are_chosen_by_version(version: int, columns: set, name: str, expected: str | None) -> None:
    assert column_for(name, version, columns) == expected


def test_select_list_fills_missing_columns_with_constants() -> None:
    pairs = dict(select_list(140000, V14))
    assert pairs["stats_since"] == "NULL::timestamptz" and pairs["toplevel"] == "toplevel"
    assert dict(select_list(130000, V14 - {"toplevel"}))["toplevel"] == "true"


def test_minmax_reset_alone_keeps_the_entry_and_knows_its_maximum() -> None:
    """17+: minmax_stats_since moved, stats_since did not: a continuing entry whose maximum is from the window."""
    before = entry(calls=10, ms=100.0, mx=50.0, since="2026-01-01 00:00:00+00",
                   minmax_stats_since="2026-01-01 00:00:00+00")
    now = entry(calls=12, ms=104.0, mx=3.0, since="2026-01-01 00:00:00+00",
                minmax_stats_since="2026-01-02 00:00:00+00")
    d = delta(before, now, full_reset=False)
    assert (d.calls, d.exec_ms, d.started_again, d.max_exec_ms, d.counting_since) == (2, 4.0, False, 3.0, None)


def test_a_counter_going_down_is_a_new_start_even_with_the_same_stats_since() -> None:
    same = "2026-01-01 00:00:00+00"
    d = delta(entry(calls=10, ms=100.0, since=same), entry(calls=4, ms=40.0, since=same), full_reset=False)
    assert (d.calls, d.exec_ms, d.started_again) == (4, 40.0, True)


def test_re_created_entry_counts_since_its_stats_since() -> None:
    d = delta(entry(calls=10, since="2026-01-01 00:00:00+00"),
              entry(calls=30, ms=300.0, since="2026-01-02 00:00:00+00"), full_reset=False)
    assert (d.calls, d.counting_since) == (30, "2026-01-02 00:00:00+00")


def test_new_counters_are_none_where_the_server_has_none() -> None:
    old = delta(entry(calls=1), entry(calls=3, ms=120.0), full_reset=False)
    assert (old.wal_buffers_full, old.parallel_workers_to_launch, old.parallel_workers_launched) == (None,) * 3
    new = delta(entry(calls=1, wal_buffers_full=2, parallel_workers_to_launch=4, parallel_workers_launched=4,
                      local_blk_read_time=1.0, blk_read_time=2.0),
                entry(calls=3, ms=120.0, wal_buffers_full=5, parallel_workers_to_launch=8,
                      parallel_workers_launched=6, local_blk_read_time=1.5, blk_read_time=4.0), full_reset=False)
    assert (new.wal_buffers_full, new.parallel_workers_to_launch, new.parallel_workers_launched) == (3, 4, 2)
    assert new.io_read_ms == 2.5  # shared and local, as blk_read_time counted both before 17
