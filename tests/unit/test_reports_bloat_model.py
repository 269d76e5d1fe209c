"""The bloat model's page arithmetic, checked against layouts worked out by hand."""

from __future__ import annotations

from pg_steward.reports import bloat_model as m
from pg_steward.reports.bloat_verdict import (
    partition_total,
    row_count_verdict,
    sample_verdict,
    stats_verdict,
    table_fix,
)

INT4 = m.Column(4, "i", 4, 0.0)
INT8 = m.Column(8, "d", 8, 0.0)
BOOL = m.Column(1, "c", 1, 0.0)


def test_fixed_width_tuple_is_header_plus_aligned_data() -> None:
    # 24-byte header, int4 at 24, int8 aligned to 32, ends at 40: MAXALIGN 40.
    assert m.heap_tuple_bytes([INT4, INT8]) == 40
    # bool at 24, then int8 aligned to 32: padding counted, unlike the classic estimates.
    assert m.heap_tuple_bytes([BOOL, INT8]) == 40
    assert m.heap_tuple_bytes([INT8, BOOL]) == 40


def test_constant_width_strings_keep_the_padding_exact() -> None:
    md5 = m.Column(-1, "i", 33, 0.0, constant_width=True)
    varying = m.Column(-1, "i", 33, 0.0)
    # 24 + 4 (int4) + 33 = 61 in every row: MAXALIGN 64; unknown widths cost 3.5 on average.
    assert m.heap_tuple_bytes([INT4, md5]) == 64
    assert m.heap_tuple_bytes([INT4, varying]) == 61 + 3.5
    # An int8 after a varying string is aligned at a cost of 3.5 on average, then the end is exact.
    assert m.heap_tuple_bytes([varying, INT8]) == 24 + 33 + 3.5 + 8


def test_tuples_per_page_and_fillfactor() -> None:
    # (8192 - 24) // (40 + 4) = 185 tuples at fillfactor 100.
    assert m.heap_tuples_per_page(40, 100, 8192) == 185
    # fillfactor 70 keeps 2457 bytes free: (8192 - 24 - 2457) // 44 = 129.
    assert m.heap_tuples_per_page(40, 70, 8192) == 129
    assert m.heap_expected_bytes(185 * 10, [INT4, INT8]) == 10 * 8192
    assert m.heap_expected_bytes(185 * 10 + 1, [INT4, INT8]) == 11 * 8192


def test_tiny_tuples_stop_at_max_heap_tuples_per_page() -> None:
    assert m.heap_tuples_per_page(24, 100, 8192) == 291


def test_nulls_add_a_bitmap_and_drop_the_value() -> None:
    no_nulls = m.heap_tuple_bytes([INT8, INT8])
    all_null_second = m.heap_tuple_bytes([INT8, m.Column(8, "d", 8, 1.0)])
    assert no_nulls == 40 and all_null_second == 32  # header with bitmap still 24, one value less


def test_many_columns_make_the_bitmap_spill_past_the_header() -> None:
    cols = [m.Column(4, "i", 4, 1.0)] * 72 + [INT4]
    # 23 + ceil(73 / 8) = 33 -> header 40, then one int4: MAXALIGN(44) = 48.
    assert m.heap_tuple_bytes(cols) == 48


def test_dropped_columns_take_no_space_but_force_the_bitmap() -> None:
    dropped = m.Column(8, "d", None, None, dropped=True)
    assert m.heap_tuple_bytes([INT8, dropped]) == 32


def test_deduplicated_btree_is_smaller_than_a_unique_one() -> None:
    unique = m.BtreeShape(rows=1e6, keys=[INT4], distinct=1e6, deduplicate=True)
    few_values = m.BtreeShape(rows=1e6, keys=[INT4], distinct=10, deduplicate=True)
    no_dedup = m.BtreeShape(rows=1e6, keys=[INT4], distinct=10, deduplicate=False)
    assert m.btree_expected_bytes(few_values) < m.btree_expected_bytes(unique) / 2
    assert m.btree_expected_bytes(no_dedup) == m.btree_expected_bytes(unique)


def test_unique_int4_btree_matches_a_fresh_build() -> None:
    # A fresh CREATE INDEX on 100,000 int4 keys is 276 pages (measured on PostgreSQL 15).
    shape = m.BtreeShape(rows=100000, keys=[INT4], distinct=100000, deduplicate=False)
    assert abs(m.btree_expected_bytes(shape) / 8192 - 276) <= 3


def test_waste() -> None:
    assert m.waste(100, 40) == (60, 60.0)
    assert m.waste(100, 140) == (0, 0.0)
    assert m.waste(0, 0) == (0, 0.0)


def test_exact_heap_packs_the_measured_tuples() -> None:
    # 100 fixed 40-byte tuples: one page; t_len 36 is padded to 40 like the page does.
    assert m.exact_heap_expected(100 * 36, 100, 100, 8192) == 8192
    assert m.exact_heap_expected(1000 * 40, 1000, 100, 8192) == 6 * 8192  # 185 per page
    assert m.exact_heap_expected(1000 * 40, 1000, 70, 8192) == 8 * 8192  # 129 per page
    assert m.exact_heap_expected(0, 0, 100, 8192) == 0


def test_verdicts() -> None:
    cols = {"a": INT4, "b": m.Column(-1, "i", None, None)}
    hidden = stats_verdict(cols, can_select=False, analyzed=True, role="mon", relation="t")
    assert hidden is not None and not hidden.estimable and "not visible to role mon" in (hidden.reason or "")
    never = stats_verdict(cols, can_select=True, analyzed=False, role="r", relation="t")
    assert never is not None and "never analyzed" in (never.reason or "")
    assert stats_verdict({"a": INT4}, can_select=True, analyzed=True, role="r", relation="t") is None
    stale = sample_verdict(rows=100, reltuples=100, changed=50, pages=100, relation="t")
    assert stale.estimable and not stale.trustworthy
    assert sample_verdict(rows=100, reltuples=100, changed=5, pages=100, relation="t").trustworthy
    assert not sample_verdict(rows=100, reltuples=100, changed=0, pages=3, relation="t").trustworthy


def test_table_fix() -> None:
    assert table_fix("t", 50.0, 10 << 20, 0, 1000) is not None
    assert "VACUUM FULL t" in (table_fix("t", 50.0, 10 << 20, 0, 1000) or "")
    assert table_fix("t", 5.0, 10 << 20, 0, 1000) is None
    assert table_fix("t", 5.0, 1000, 500, 1000) == "VACUUM (ANALYZE) t;"


def test_live_rows_picks_the_guess_that_cannot_be_inflated() -> None:
    from pg_steward.reports.bloat import live_rows

    base = {"reltuples": 1000.0, "relpages": 10, "table_bytes": 10 * 8192, "n_live_tup": 1000, "n_dead_tup": 0,
            "n_mod_since_analyze": 0}
    assert live_rows(base, 8192) == 1000
    # Deleted since ANALYZE: the counter knows, the page density does not.
    assert live_rows(dict(base, n_live_tup=400, n_dead_tup=600, n_mod_since_analyze=600), 8192) == 400
    # Loaded and analyzed in one breath on PostgreSQL 15: the counter counted the rows twice.
    assert live_rows(dict(base, n_live_tup=2000, n_mod_since_analyze=1000), 8192) == 1000
    # Grown since ANALYZE: both agree on the new size.
    assert live_rows(dict(base, table_bytes=20 * 8192, n_live_tup=2000, n_mod_since_analyze=1000), 8192) == 2000
    # Statistics reset: the counter is empty, the density is not.
    assert live_rows(dict(base, n_live_tup=0, n_mod_since_analyze=0 + 100, reltuples=1000.0), 8192) == 1000


def test_row_count_verdict_refuses_counts_that_contradict_each_other() -> None:
    base = {"reltuples": 18000.0, "relpages": 546, "counter": 18000.0, "changed": 0.0, "counted_by_vacuum": False,
            "relation": "t"}
    assert row_count_verdict(**base) is None
    # Deleted since ANALYZE, no VACUUM since: the counter is right and is used.
    assert row_count_verdict(**dict(base, counter=6000.0, changed=12000.0)) is None
    # PostgreSQL 15, DELETE then VACUUM in one session: VACUUM counted, then the deletes were subtracted again.
    lagging = row_count_verdict(**dict(base, counter=0.0, changed=42000.0, counted_by_vacuum=True))
    assert lagging is not None and not lagging.estimable and lagging.fix == "ANALYZE t;"
    # Rows inserted after the VACUUM only raise the counter: no contradiction.
    assert row_count_verdict(**dict(base, counter=21000.0, changed=3000.0, counted_by_vacuum=True)) is None
    never = row_count_verdict(**dict(base, reltuples=-1.0))
    assert never is not None and "reltuples = -1" in (never.reason or "")
    zero = row_count_verdict(**dict(base, reltuples=0.0, counter=500.0))
    assert zero is not None and "n_live_tup is 500" in (zero.reason or "")
    # An empty table with pages left (truncation skipped) has a consistent 0: its waste is real.
    assert row_count_verdict(**dict(base, reltuples=0.0, counter=0.0)) is None


def test_partition_total() -> None:
    assert partition_total([]) == (0, 0, partition_total([])[2])
    size, expected, verdict = partition_total([(100, 60, True), (50, 50, True)])
    assert (size, expected, verdict.trustworthy, verdict.reason) == (150, 110, True, None)
    size, expected, verdict = partition_total([(100, 60, True), (50, None, False), (10, 10, False)])
    assert (size, expected, verdict.estimable) == (160, None, False)
    assert verdict.reason == "2 of 3 partitions unknown or doubtful: see their rows"


def test_same_length_reads_the_text_form_of_two_arrays() -> None:
    from pg_steward.reports.bloat import same_length

    assert same_length("{abc,def}{ghi}")
    assert same_length("{}{ab,cd}") and same_length("{ab,cd}{}") and same_length("{x}{}")
    assert not same_length("{abc,de}{fgh}")
    assert not same_length("{abc}{de}")  # the histogram's values count as much as the common ones
    assert not same_length("{}{}")  # no value at all: nothing says the width is constant
    # Lengths that add up as if they were equal, or commas in the right number: not enough.
    assert not same_length("{a,bcd,ef}{}") and not same_length("{ab,c,de}{}") and not same_length("{abc,d}{ef}")
    assert same_length("{" + ",".join(f"{i:03d}" for i in range(101)) + "}{xyz}")
