"""The workload-wide greedy choice of suggest_indexes (pure logic)."""

from __future__ import annotations

import pytest

from pg_steward.errors import StewardError
from pg_steward.queries.index_candidates import Candidate
from pg_steward.queries.suggest import Option, Shape, Table, check_statement, choose, observed_days


def table(writes_per_day: float = 0.0) -> Table:
    return Table(1, "public.t", "t", False, 1e6, [], writes_per_day)


def shapes(total_ms: float | None = None) -> list[Shape]:
    return [Shape(f"q{i}", f"f{i}", 10, total_ms, base=1000.0) for i in range(3)]


def test_one_index_serving_three_shapes_beats_three_single_ones() -> None:
    t = table()
    wide = Option(Candidate(T := (None, "t"), ("a", "b")), t, {0: 10.0, 1: 12.0, 2: 11.0}, 100)
    singles = [Option(Candidate(T, (c,)), t, {i: 10.0}, 50) for i, c in enumerate("xyz")]
    chosen = choose(shapes(), [*singles, wide], days=7)
    assert [o.candidate.columns for o, _before, _cost in chosen] == [("a", "b")]


def test_small_savings_and_write_heavy_tables_get_nothing() -> None:
    t = table()
    assert choose(shapes(), [Option(Candidate((None, "t"), ("a",)), t, {0: 900.0}, 1)], days=7) == []
    heavy = table(writes_per_day=1e9)
    option = Option(Candidate((None, "t"), ("a",)), heavy, {0: 1.0}, 1)
    assert choose(shapes(total_ms=1000.0), [option], days=7) == []
    assert choose(shapes(), [option], days=7)  # no timings (explicit statements): the write cost is not weighed


@pytest.mark.parametrize("text", ["SELECT 1; SELECT 2", "DROP TABLE t", "CREATE TABLE x AS SELECT 1", "EXECUTE p",
                                  "SELECT 1 INTO x"])
def test_refused(text: str) -> None:
    with pytest.raises(StewardError) as raised:
        check_statement(text)
    assert raised.value.sqlstate == "22023"


def test_the_days_of_workload_are_those_the_log_covers() -> None:
    assert observed_days(7.0, 2 * 86400.0) == 2.0  # a log begun two days ago: two days of reads
    assert observed_days(7.0, 60.0) == 1 / 24  # minutes of log count as an hour, as write rates do
    assert observed_days(7.0, None) == 1 / 24
    assert observed_days(1.0, 30 * 86400.0) == 1.0  # never more than the window asked for
