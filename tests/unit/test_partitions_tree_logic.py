"""Assembling catalog rows into the partition tree (no server needed)."""

from __future__ import annotations

from typing import Any

from pg_steward.partitions.tree import build_tree, leaf_row_estimate


def _row(oid: int, parent: int | None, level: int, bound: str | None, relkind: str = "r",
         total: int | None = 8192, reltuples: float = 10, strategy: str | None = "r") -> dict[str, Any]:
    return {
        "oid": oid, "parent_oid": parent, "level": level, "is_leaf": relkind != "p", "relkind": relkind,
        "bound": bound, "parent_strategy": strategy if parent else None,
        "partitioned_by": "RANGE (d)" if relkind == "p" else None,
        "total_bytes": total if relkind == "r" else None, "heap_bytes": total if relkind == "r" else None,
        "reltuples": reltuples, "relpages": 1,
    }


def test_leaf_row_estimate_unknown_until_analyzed() -> None:
    assert leaf_row_estimate(1234.4, 10, 81920) == 1234
    assert leaf_row_estimate(-1, 0, 0) == 0  # never analyzed but empty: known to be empty
    assert leaf_row_estimate(-1, 0, 8192) is None  # never analyzed, holds data: unknown
    assert leaf_row_estimate(0, 5, 40960) == 0  # vacuumed and empty
    assert leaf_row_estimate(0, 0, 8192) is None  # PostgreSQL 13: 0 also means never analyzed
    assert leaf_row_estimate(5, 1, None) is None  # foreign table: no local size


def test_tree_is_depth_first_in_bound_order_with_sums() -> None:
    rows = [
        _row(1, None, 0, None, relkind="p"),
        _row(4, 1, 1, "DEFAULT", total=100, reltuples=1),
        _row(3, 1, 1, "FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')", relkind="p"),
        _row(2, 1, 1, "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')", total=1000, reltuples=10),
        _row(6, 3, 2, "FOR VALUES IN ('b')", total=20, reltuples=2, strategy="l"),
        _row(5, 3, 2, "FOR VALUES IN ('a')", total=10, reltuples=3, strategy="l"),
    ]
    tree = build_tree(rows)
    assert [r["partition"] for r in tree] == [1, 2, 3, 5, 6, 4]
    by_oid = {r["partition"]: r for r in tree}
    assert by_oid[1]["total_bytes"] == 1130 and by_oid[1]["estimated_rows"] == 16
    assert by_oid[3]["total_bytes"] == 30 and by_oid[3]["estimated_rows"] == 5
    assert by_oid[3]["strategy"] == "range" and by_oid[5]["strategy"] == "list"
    assert by_oid[4]["is_default"] and not by_oid[2]["is_default"]
    assert by_oid[1]["partition_of"] is None and by_oid[5]["partition_of"] == 3
    assert by_oid[5]["list_values"] == ["a"] and by_oid[2]["range_to"] == "2024-02-01"


def test_unknown_leaf_estimate_makes_the_parent_unknown() -> None:
    rows = [
        _row(1, None, 0, None, relkind="p"),
        _row(2, 1, 1, "FOR VALUES FROM (0) TO (10)", reltuples=5),
        _row(3, 1, 1, "FOR VALUES FROM (10) TO (20)", reltuples=-1, total=8192),
    ]
    tree = build_tree(rows)
    assert tree[0]["estimated_rows"] is None
    assert tree[1]["estimated_rows"] == 5


def test_empty_partitioned_table() -> None:
    tree = build_tree([_row(1, None, 0, None, relkind="p")])
    assert len(tree) == 1 and tree[0]["total_bytes"] == 0 and tree[0]["estimated_rows"] == 0
