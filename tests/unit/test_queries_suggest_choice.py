"""The workload-wide greedy choice of suggest_indexes and what it says of the shapes left out (pure logic)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pg_steward.errors import StewardError
from pg_steward.queries.index_candidates import Candidate
from pg_steward.queries.suggest import (
    Existing,
    Option,
    Shape,
    Table,
    check_statement,
    choose,
    left_out_warning,
    made_redundant,
    observed_days,
    plan_indexes,
)
from pg_steward.reports.index_findings import IndexInfo

# an index of public.t (oid 1) on column a (attnum 1), int4's default class, as pg_index says it
ON_A = IndexInfo(oid=101, schema="public", table="t", table_oid=1, name="t_a", method="btree", columns=(1,),
                 key_count=1, opclasses=("1978",), collations=("0",), options=("0",), expressions=None,
                 predicate=None, unique=False, constraint=False, replica_identity=False, valid=True,
                 partitioned=False, child=False, size_bytes=8192, scans=0)
CLASSES = {"a": (1, "1978", "0"), "b": (2, "1978", "0"), "c": (3, "3126", "100"), "j": (4, None, "0")}


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


def existing(*indexes: IndexInfo) -> Existing:
    return Existing(list(indexes), {(1, 1): "a", (1, 2): "b", (1, 3): "c"}, CLASSES)


def test_a_candidate_makes_redundant_a_plain_index_on_its_leading_columns_only() -> None:
    wide = Candidate((None, "t"), ("a", "b"))
    assert made_redundant(wide, table(), existing(ON_A)) == [ON_A]
    assert made_redundant(Candidate((None, "t"), ("a", "b"), include=("c",)), table(), existing(ON_A)) == [ON_A]
    for kept in (replace(ON_A, unique=True), replace(ON_A, constraint=True), replace(ON_A, replica_identity=True),
                 replace(ON_A, opclasses=("3124",)), replace(ON_A, options=("3",)),  # another class, DESC
                 replace(ON_A, predicate="(b > 0)"), replace(ON_A, columns=(2,)), replace(ON_A, valid=False),
                 replace(ON_A, table_oid=2), replace(ON_A, method="hash"),
                 replace(ON_A, columns=(1, 3), key_count=1)):  # INCLUDE (c): more than the candidate's keys give
        assert made_redundant(wide, table(), existing(kept)) == [], kept
    assert made_redundant(Candidate((None, "t"), ("b", "a")), table(), existing(ON_A)) == []  # another order
    assert made_redundant(Candidate((None, "t"), ("a",)), table(), existing(ON_A)) == []  # the same: not a prefix
    assert made_redundant(Candidate((None, "t"), ("a", "b"), where="\"c\" = 'x'"), table(), existing(ON_A)) == []
    assert made_redundant(Candidate((None, "t"), ("a", "j")), table(), existing(ON_A)) == []  # j: no class known


def test_the_write_cost_saved_by_a_redundant_index_weighs_in_the_choice() -> None:
    heavy = table(writes_per_day=1e6)  # 10,000 ms of writes a day per index, against 3,000 ms saved
    option = Option(Candidate((None, "t"), ("a", "b")), heavy, {0: 1.0, 1: 1.0, 2: 1.0}, 1, redundant=[ON_A])
    [(chosen, _before, _cost)] = choose(shapes(total_ms=1000.0), [option], days=1)
    assert chosen.replaces == [ON_A]
    # an index another row already drops is no saving
    assert choose(shapes(total_ms=1000.0), [replace(option, replaces=[])], days=1, claimed=frozenset({101})) == []
    # two options making the same index redundant: the first chosen drops it
    light = table()
    first = Option(Candidate((None, "t"), ("a", "b")), light, {0: 1.0}, 1, redundant=[ON_A])
    second = Option(Candidate((None, "t"), ("a", "c")), light, {1: 1.0}, 1, redundant=[ON_A])
    picked = choose(shapes(), [first, second], days=1)
    assert [o.replaces for o, _b, _c in picked] == [[ON_A], []]


def test_the_indexes_a_plan_reads() -> None:
    plan = {"Node Type": "Limit", "Plans": [
        {"Node Type": "Nested Loop", "Plans": [{"Node Type": "Index Scan", "Index Name": "t_a"},
                                               {"Node Type": "Bitmap Heap Scan", "Plans": [
                                                   {"Node Type": "Bitmap Index Scan", "Index Name": "u_b"}]}]}]}
    assert plan_indexes(plan) == {"t_a", "u_b"}
    assert plan_indexes({"Node Type": "Seq Scan"}) == set()


def test_the_left_out_warning_counts_each_kind_with_its_first_message() -> None:
    assert left_out_warning([], 3) is None
    errors = [("42P01", 'relation "a" does not exist'), ("42501", "permission denied for table s"),
              ("42703", 'column "x" does not exist'), (None, "ValueError")]
    assert left_out_warning(errors, 9) == (
        "4 of 9 captured statement shapes left out of the suggestions: 1 on tables this role may not read "
        '(permission denied for table s); 3 that no longer plan (relation "a" does not exist)')
