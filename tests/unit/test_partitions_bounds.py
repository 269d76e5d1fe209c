"""Parsing of partition bounds as pg_get_expr prints them, and sibling order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_steward.partitions.bounds import (
    BoundSyntaxError,
    PartitionBound,
    Unbounded,
    parse_bound,
    quote_literal,
    sort_key,
    values_text,
)


def test_default() -> None:
    assert parse_bound("DEFAULT") == PartitionBound("default")


def test_range_of_dates() -> None:
    bound = parse_bound("FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")
    assert bound.kind == "range"
    assert bound.range_from == ("2024-01-01",)
    assert bound.range_to == ("2024-02-01",)


def test_range_multi_column_with_unbounded() -> None:
    bound = parse_bound("FOR VALUES FROM (MINVALUE, MINVALUE) TO (10, 'a, b')")
    assert bound.range_from == (Unbounded.MINVALUE, Unbounded.MINVALUE)
    assert bound.range_to == ("10", "a, b")
    assert values_text(bound.range_to) == "('10', 'a, b')"  # usable as SQL literals
    assert values_text(bound.range_from) == "(MINVALUE, MINVALUE)"


def test_range_negative_integers_are_quoted_by_postgres() -> None:
    bound = parse_bound("FOR VALUES FROM ('-100') TO (0)")
    assert bound.range_from == ("-100",)
    assert bound.range_to == ("0",)


def test_list_with_null_and_quotes() -> None:
    bound = parse_bound("FOR VALUES IN (NULL, 'O''Brien', 'x)y', 'NULL')")
    assert bound.kind == "list"
    assert bound.list_values == (None, "O'Brien", "x)y", "NULL")


def test_hash() -> None:
    bound = parse_bound("FOR VALUES WITH (modulus 8, remainder 3)")
    assert (bound.kind, bound.modulus, bound.remainder) == ("hash", 8, 3)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "FOR VALUES",
        "FOR VALUES FROM ('a')",
        "FOR VALUES IN ('unterminated)",
        "FOR VALUES IN ('a' 'b')",
        "FOR VALUES WITH (modulus x, remainder 1)",
        "FOR VALUES FROM ('a') TO ('b'",
    ],
)
def test_malformed_bounds_raise(text: str) -> None:
    with pytest.raises(BoundSyntaxError):
        parse_bound(text)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
                min_size=1, max_size=5))
def test_quoted_list_values_round_trip(values: list[str]) -> None:
    text = "FOR VALUES IN (" + ", ".join(quote_literal(v) for v in values) + ")"
    assert parse_bound(text).list_values == tuple(values)


def test_siblings_sort_by_lower_bound_numerically_and_default_last() -> None:
    bounds = [
        parse_bound("DEFAULT"),
        parse_bound("FOR VALUES FROM (100) TO (1000)"),
        parse_bound("FOR VALUES FROM ('-5') TO (9)"),
        parse_bound("FOR VALUES FROM (9) TO (100)"),
        parse_bound("FOR VALUES FROM (MINVALUE) TO ('-5')"),
    ]
    ordered = sorted(bounds, key=sort_key)
    assert [b.range_from for b in ordered] == [
        (Unbounded.MINVALUE,), ("-5",), ("9",), ("100",), (),
    ]
    assert ordered[-1].kind == "default"


def test_iso_dates_sort_chronologically() -> None:
    bounds = [parse_bound(f"FOR VALUES FROM ('{d}') TO ('2100-01-01')") for d in
              ("2024-10-01", "2024-02-01", "2023-12-01")]
    assert [b.range_from[0] for b in sorted(bounds, key=sort_key)] == ["2023-12-01", "2024-02-01", "2024-10-01"]


def test_hash_partitions_sort_by_remainder() -> None:
    bounds = [parse_bound(f"FOR VALUES WITH (modulus 8, remainder {r})") for r in (7, 0, 3)]
    assert [b.remainder for b in sorted(bounds, key=sort_key)] == [0, 3, 7]


def test_ranks_from_the_database_order_values_that_text_cannot() -> None:
    bounds = [parse_bound(f"FOR VALUES IN ('{v}')") for v in ("happy", "sad", "ok")]
    ranks = [{"sad": 1, "ok": 2, "happy": 3}]
    assert [b.list_values[0] for b in sorted(bounds, key=lambda b: sort_key(b, ranks))] == ["sad", "ok", "happy"]
    ranges = [parse_bound(f"FOR VALUES FROM ('{v}') TO (MAXVALUE)") for v in ("0001-01-01", "0044-03-15 BC")]
    ranks = [{"0044-03-15 BC": 1, "0001-01-01": 2}]
    assert [b.range_from[0] for b in sorted(ranges, key=lambda b: sort_key(b, ranks))] == [
        "0044-03-15 BC", "0001-01-01",
    ]
