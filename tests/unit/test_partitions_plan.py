"""What maintenance plans to create for one table, from its bounds and the clock (pure logic)."""

from __future__ import annotations

import datetime as dt

from pg_steward.partitions.model import Config, PartitionOptions, RangePartition
from pg_steward.partitions.plan import MAX_NEW_PER_RUN, uncovered, wanted_ranges, wide_gaps
from pg_steward.partitions.spans import Span
from pg_steward.partitions.values import Unbounded

D = dt.date


def config(premake: int = 2, span: Span | None = None, zone: str = "UTC") -> Config:
    return Config(parent_oid=1, span=span or Span(months=1), premake=premake, retention=None, retention_mode="drop",
                  archive_schema=None, time_zone=zone, analyze=True, options=PartitionOptions())


def part(start: object, end: object) -> RangePartition:
    return RangePartition(0, "public", "p", start, end, False)  # type: ignore[arg-type]


def months(*starts: tuple[int, int]) -> list[RangePartition]:
    return [part(D(y, m, 1), D(y + m // 12, m % 12 + 1, 1)) for y, m in starts]


def test_uncovered_pieces() -> None:
    taken = [(D(2024, 2, 1), D(2024, 3, 1)), (D(2024, 4, 1), D(2024, 5, 1))]
    assert uncovered(D(2024, 1, 1), D(2024, 6, 1), taken) == [
        (D(2024, 1, 1), D(2024, 2, 1)), (D(2024, 3, 1), D(2024, 4, 1)), (D(2024, 5, 1), D(2024, 6, 1))]
    assert uncovered(D(2024, 2, 1), D(2024, 3, 1), taken) == []
    assert uncovered(D(2024, 1, 1), D(2024, 6, 1), [(Unbounded.MINVALUE, Unbounded.MAXVALUE)]) == []


def test_premake_from_the_clock_with_no_partition() -> None:
    assert wanted_ranges([], config(premake=2), D(2024, 5, 17), None, []) == [
        (D(2024, 5, 1), D(2024, 6, 1)), (D(2024, 6, 1), D(2024, 7, 1)), (D(2024, 7, 1), D(2024, 8, 1))]


def test_nothing_when_covered_and_gaps_filled_from_the_oldest() -> None:
    covered = months((2024, 5), (2024, 6), (2024, 7))
    assert wanted_ranges(covered, config(premake=2), D(2024, 5, 17), None, []) == []
    holes = months((2024, 1), (2024, 4), (2024, 6))
    assert wanted_ranges(holes, config(premake=1), D(2024, 5, 17), None, []) == [
        (D(2024, 2, 1), D(2024, 3, 1)), (D(2024, 3, 1), D(2024, 4, 1)), (D(2024, 5, 1), D(2024, 6, 1))]


def test_retention_cutoff_limits_gap_filling() -> None:
    old = months((2020, 1), (2024, 5))
    wanted = wanted_ranges(old, config(premake=0), D(2024, 5, 17), D(2024, 3, 10), [])
    assert wanted == [(D(2024, 3, 1), D(2024, 4, 1)), (D(2024, 4, 1), D(2024, 5, 1))]


def test_stranded_values_get_their_slot() -> None:
    wanted = wanted_ranges(months((2024, 5)), config(premake=0), D(2024, 5, 17), None, [D(2030, 2, 11)])
    assert wanted == [(D(2030, 2, 1), D(2030, 3, 1))]


def test_an_odd_existing_partition_leaves_only_the_uncovered_pieces() -> None:
    odd = [part(D(2024, 5, 10), D(2024, 6, 20))]
    assert wanted_ranges(odd, config(premake=1), D(2024, 5, 17), None, []) == [
        (D(2024, 5, 1), D(2024, 5, 10)), (D(2024, 6, 20), D(2024, 7, 1))]


def test_one_run_is_bounded() -> None:
    daily = config(premake=MAX_NEW_PER_RUN * 2, span=Span(days=1))
    assert len(wanted_ranges([], daily, D(2024, 5, 17), None, [])) == MAX_NEW_PER_RUN


def test_timestamptz_days_in_a_zone() -> None:
    utc = dt.timezone.utc
    now = dt.datetime(2024, 3, 10, 12, 0, tzinfo=utc)
    wanted = wanted_ranges([], config(premake=0, span=Span(days=1), zone="America/New_York"), now, None, [])
    assert wanted == [(dt.datetime(2024, 3, 10, 5, 0, tzinfo=utc), dt.datetime(2024, 3, 11, 4, 0, tzinfo=utc))]


def test_an_integer_key_without_data_premakes_nothing() -> None:
    ints = config(premake=3, span=Span(width=100))
    assert wanted_ranges([part(0, 100)], ints, None, None, []) == []
    assert wanted_ranges([part(0, 100), part(200, 300)], ints, None, None, []) == [(100, 200)]


def test_no_partial_slot_below_the_oldest_partition() -> None:
    odd = [part(D(2024, 3, 15), D(2024, 4, 15))]
    assert wanted_ranges(odd, config(premake=0), D(2024, 5, 17), None, []) == [
        (D(2024, 4, 15), D(2024, 5, 1)), (D(2024, 5, 1), D(2024, 6, 1))]


def test_the_last_slot_of_the_key_range_reaches_maxvalue() -> None:
    ints = config(premake=2, span=Span(width=100))
    assert wanted_ranges([], ints, 2147483647, None, [], "integer") == [(2147483600, Unbounded.MAXVALUE)]
    assert wanted_ranges([], config(premake=0), D(2024, 5, 17), None, [D(9999, 12, 31)]) == [
        (D(2024, 5, 1), D(2024, 6, 1)), (D(9999, 12, 1), Unbounded.MAXVALUE)]


def test_an_integer_gap_wider_than_the_bound_is_left_and_named() -> None:
    ints = config(premake=1, span=Span(width=100))
    sentinel = [part(0, 100), part(2147483000, 2147483100)]
    assert wide_gaps(sentinel, ints, 2147483000, [], "integer", 100) == [(100, 2147483000, 21474829)]
    assert wanted_ranges(sentinel, ints, 2147483000, None, [], "integer", 100) == [(2147483100, 2147483200)]
    # A DEFAULT row in the gap gets its slot, which splits the gap: a narrow piece is filled, a wide one not.
    assert wide_gaps(sentinel, ints, 2147483000, [650], "integer", 100) == [(700, 2147483000, 21474823)]
    assert wanted_ranges(sentinel, ints, 2147483000, None, [650], "integer", 100) == [
        (100, 200), (200, 300), (300, 400), (400, 500), (500, 600), (600, 700), (2147483100, 2147483200)]
    # A gap of exactly the bound is filled; unbounded (None) or a time key: every gap, as before.
    assert wide_gaps([part(0, 100), part(1100, 1200)], ints, 1100, [], "integer", 10) == []
    assert wide_gaps([part(0, 100), part(1100, 1200)], ints, 1100, [], "integer", 9) == [(100, 1100, 10)]
    assert wide_gaps(sentinel, ints, 2147483000, [], "integer", None) == []
    assert wide_gaps(months((2020, 1)), config(premake=0), D(2024, 5, 17), [], "date", 1) == []


def test_an_odd_bound_above_a_wide_gap_gets_only_the_clocks_slot() -> None:
    ints = config(premake=0, span=Span(width=100))
    odd = [part(0, 100), part(1050, 1150)]
    assert wide_gaps(odd, ints, 1050, [], "integer", 5) == [(100, 1000, 9)]
    assert wanted_ranges(odd, ints, 1050, None, [], "integer", 5) == [(1000, 1050)]
    done = [*odd, part(1000, 1050)]
    assert wide_gaps(done, ints, 1050, [], "integer", 5) == [(100, 1000, 9)]
    assert wanted_ranges(done, ints, 1050, None, [], "integer", 5) == []


def test_a_sentinel_at_the_key_maximum_gets_the_last_slot_and_no_gap_filling() -> None:
    ints = config(premake=2, span=Span(width=1000))
    low = [part(1, 1001)]
    assert wanted_ranges(low, ints, 2147483647, None, [1500, 2147483647], "integer", 100) == [
        (1001, 2000), (2147483000, Unbounded.MAXVALUE)]


def test_a_smaller_span_after_long_history_reaches_the_clock() -> None:
    """Five years of monthly partitions, then an hourly span (steward.change_span): the covered history does not
    use up a run's MAX_NEW_PER_RUN slots; the hours from the newest bound on are planned."""
    history = [part(dt.datetime(2020 + i // 12, i % 12 + 1, 1), dt.datetime(2020 + (i + 1) // 12, (i + 1) % 12 + 1, 1))
               for i in range(60)]
    now = dt.datetime(2024, 12, 31, 22, 30)
    wanted = wanted_ranges(history, config(premake=3, span=Span(micros=3_600_000_000)), now, None, [])
    assert wanted == [(dt.datetime(2025, 1, 1, h), dt.datetime(2025, 1, 1, h + 1)) for h in range(2)]
    wanted = wanted_ranges(history[:-1], config(premake=3, span=Span(micros=3_600_000_000)), now, None, [])
    assert wanted[0] == (dt.datetime(2024, 12, 1), dt.datetime(2024, 12, 1, 1)) and len(wanted) == MAX_NEW_PER_RUN
