"""Candidate indexes from parse trees: column order, joins, sorts, partial and covering indexes, coverage."""

from __future__ import annotations

import pytest

from pg_steward.queries.index_candidates import Candidate, candidates, covered, filter_columns

T = (None, "t")


def keys(sql: str) -> list[tuple]:
    return [(c.table, c.columns, c.where, c.include) for c in candidates(sql)]


def test_equality_columns_come_before_one_range_column() -> None:
    found = candidates("SELECT * FROM t WHERE created > now() - interval '1 day' AND a = $1 AND b IN (1, 2)"
                       " AND d < 5")
    assert found[0] == Candidate(T, ("a", "b", "created"))


def test_join_keys_get_an_index_on_each_side() -> None:
    found = keys("SELECT o.id FROM public.orders o JOIN customers c ON c.id = o.customer_id WHERE c.region = $1")
    assert (("public", "orders"), ("customer_id",), None, ()) in found
    assert ((None, "customers"), ("id", "region"), None, ()) in found
    assert ((None, "customers"), ("region",), None, ()) in found


def test_order_by_follows_the_equality_columns() -> None:
    found = keys("SELECT * FROM t WHERE account = $1 ORDER BY created_at DESC LIMIT 10")
    assert (T, ("account", "created_at"), None, ()) in found
    assert keys("SELECT a, count(*) FROM t GROUP BY a")[0][1] == ("a",)


def test_a_string_constant_makes_a_partial_index() -> None:
    found = keys("SELECT id FROM t WHERE status = 'open' AND owner_id = $1")
    assert (T, ("owner_id",), "\"status\" = 'open'", ()) in found
    assert (T, ("status", "owner_id"), None, ()) in found
    # a number or a parameter varies from call to call: no partial index on it
    assert all(w is None for _t, _c, w, _i in keys("SELECT id FROM t WHERE kind = 3 AND owner_id = $1"))


def test_selected_columns_become_include_columns() -> None:
    found = keys("SELECT id, total FROM t WHERE customer_id = $1")
    assert (T, ("customer_id",), None, ("id", "total")) in found
    assert all(not inc for _t, _c, _w, inc in keys("SELECT * FROM t WHERE customer_id = $1"))


def test_writes_and_subqueries_are_read_too() -> None:
    assert keys("UPDATE t SET x = 1 WHERE k = $1")[0][1] == ("k",)
    assert keys("DELETE FROM t WHERE k < $1")[0][1] == ("k",)
    found = keys("SELECT * FROM a WHERE a.x IN (SELECT y FROM b WHERE b.z = $1)")
    assert ((None, "b"), ("z",), None, ()) in found


def test_nothing_to_index() -> None:
    assert candidates("SELECT 1") == []
    assert candidates("SELECT * FROM t") == []
    assert candidates("SELECT * FROM t WHERE a = b") == []
    # a bare column of a join cannot be placed without the catalog
    assert set(candidates("SELECT * FROM t JOIN u ON t.id = u.id WHERE flag = $1")) == {
        Candidate(T, ("id",)), Candidate((None, "u"), ("id",))}


@pytest.mark.parametrize(("existing", "result"), [
    ([(("a", "b"), False)], True),
    ([(("a", "b", "c"), False)], True),
    ([(("b", "a"), False)], False),
    ([(("a",), False)], False),
    ([(("a", "b"), True)], False),
])
def test_covered_by_an_index_with_the_same_leading_columns(existing: list, result: bool) -> None:
    assert covered(Candidate(T, ("a", "b")), existing) is result


def test_covered_include_needs_the_columns_in_the_index() -> None:
    assert not covered(Candidate(T, ("a",), include=("x",)), [(("a",), False)])
    assert covered(Candidate(T, ("a",), include=("x",)), [(("a", "x"), False)])


def test_definition_quotes_identifiers() -> None:
    assert Candidate(T, ("Mixed", "b"), "\"s\" = 'o''k'", ("c",)).definition() == \
        "(\"Mixed\", \"b\") INCLUDE (\"c\") WHERE \"s\" = 'o''k'"
    assert filter_columns("(a = 1) AND (b > 2) AND (c = 3)", None) == ["a", "c", "b"]
