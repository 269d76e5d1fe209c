"""The pure parts of parent_stats: the statement by server version, and what the log says of an analysis."""

from __future__ import annotations

from pg_steward.partitions.parent_stats import CHANGES_COUNTED, Due, analyze_statement, success_detail


def test_analyze_only_from_postgresql_18_on() -> None:
    assert analyze_statement('"s"."t"', 150010) == 'ANALYZE "s"."t"'
    assert analyze_statement('"s"."t"', 170011) == 'ANALYZE "s"."t"'
    assert analyze_statement('"s"."t"', 180000) == 'ANALYZE ONLY "s"."t"'
    assert analyze_statement('"s"."t"', 180006) == 'ANALYZE ONLY "s"."t"'


def test_the_detail_says_why_what_and_the_estimate_before_and_after() -> None:
    never = Due(1, None, 1)
    assert success_detail(never, -1.0, 4000.0, 12.4, only=False) == (
        "1 partition change since no analysis by maintenance; analyzed the parent and its partitions in 12 ms; "
        "estimate never analyzed -> 4000 rows")
    again = Due(1, "2026-12-03 09:00:00+00", 3)
    assert success_detail(again, 1000.0, 4000.0, 0.4, only=True) == (
        "3 partition changes since the analysis of 2026-12-03 09:00:00+00; analyzed the parent alone "
        "(ANALYZE ONLY) in 0 ms; estimate 1000 rows -> 4000 rows")
    assert "estimate never analyzed -> never analyzed" in success_detail(never, None, None, 1, only=False)


def test_changes_are_counted_up_to_a_cap() -> None:
    many = Due(1, None, CHANGES_COUNTED)
    assert success_detail(many, 1.0, 2.0, 1, only=False).startswith(
        f"{CHANGES_COUNTED} or more partition changes since no analysis by maintenance; ")
