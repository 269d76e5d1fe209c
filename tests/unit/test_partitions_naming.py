"""Partition names: readable suffixes, 63-byte limit at character boundaries, uniqueness."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from pg_steward.partitions.naming import cut, partition_name, suffix
from pg_steward.partitions.spans import Span


def test_suffix_per_span() -> None:
    assert suffix(dt.date(2024, 7, 1), Span(months=1)) == "_p2024_07"
    assert suffix(dt.date(2024, 7, 1), Span(months=3)) == "_p2024q3"
    assert suffix(dt.date(2024, 1, 1), Span(months=12)) == "_p2024"
    assert suffix(dt.date(2024, 7, 15), Span(days=1)) == "_p2024_07_15"
    assert suffix(dt.date(2024, 7, 15), Span(days=7)) == "_p2024_07_15"
    assert suffix(dt.datetime(2024, 7, 15, 13), Span(micros=3_600_000_000)) == "_p2024_07_15_1300"
    assert suffix(dt.datetime(2024, 7, 15, 0), Span(micros=3_600_000_000)) == "_p2024_07_15"
    assert suffix(dt.datetime(2024, 7, 15, 13, 0, 30), Span(micros=30_000_000)) == "_p2024_07_15_130030"
    assert suffix(1000, Span(width=1000)) == "_p1000"
    assert suffix(-1000, Span(width=1000)) == "_pm1000"


def test_unaligned_start_is_named_exactly() -> None:
    assert suffix(dt.date(2024, 7, 10), Span(months=1), aligned=False) == "_p2024_07_10"
    assert suffix(dt.datetime(2024, 7, 10, 6), Span(months=1), aligned=False) == "_p2024_07_10_0600"


def test_long_unicode_parent_is_cut_on_a_character_boundary() -> None:
    parent = "données_" * 10  # 80 bytes
    name = partition_name(parent, "_p2024_07", lambda _: False, "x")
    assert len(name.encode()) <= 63 and name.endswith("_p2024_07")
    assert name.encode().decode() == name  # still valid UTF-8


@given(st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s))
def test_any_parent_name_gives_a_name_within_63_bytes(parent: str) -> None:
    name = partition_name(parent, "_p2024_07", lambda _: False, parent)
    assert len(name.encode()) <= 63 and name.endswith("_p2024_07")


def test_clash_adds_a_stable_hash() -> None:
    taken = {"orders_p2024_07"}
    first = partition_name("orders", "_p2024_07", taken.__contains__, "16384:2024-07-01")
    again = partition_name("orders", "_p2024_07", taken.__contains__, "16384:2024-07-01")
    assert first == again and first.startswith("orders_p2024_07_") and first not in taken
    long_parent = "x" * 70
    taken = {cut(long_parent, 54) + "_p2024_07"}
    other = partition_name(long_parent, "_p2024_07", taken.__contains__, "id")
    assert other not in taken and len(other.encode()) <= 63
