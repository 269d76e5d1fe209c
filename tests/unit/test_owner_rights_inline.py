"""owner_rights.inline: parameters written into a statement as literals, never inside quoted names or strings."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_steward.errors import StewardError
from pg_steward.owner_rights import inline
from pg_steward.sqltext import quote_ident, quote_literal


def test_parameters_become_typed_literals() -> None:
    assert inline("SELECT $1, $2, $1", (7, "it's")) == (
        "SELECT '7'::pg_catalog.int8, 'it''s'::pg_catalog.text, '7'::pg_catalog.int8")
    assert inline("SELECT $1", (dt.date(2026, 12, 2),)) == "SELECT '2026-12-02'::pg_catalog.date"


@pytest.mark.parametrize("name", ['events$1', 'a"$2"b', "x$1$2", "e'$1'"])
def test_a_dollar_in_a_quoted_identifier_is_left_alone(name: str) -> None:
    table = quote_ident(name)
    expected = f"INSERT INTO public.{table} SELECT '5'::pg_catalog.int8"
    assert inline(f"INSERT INTO public.{table} SELECT $1", (5,)) == expected


@pytest.mark.parametrize("text", ["costs $1", "back\\slash $2 'quoted' $1", "''$1''"])
def test_a_dollar_in_a_string_literal_is_left_alone(text: str) -> None:
    literal = quote_literal(text)
    assert inline(f"SELECT {literal} || $1", ("x",)) == f"SELECT {literal} || 'x'::pg_catalog.text"


def test_a_reference_past_the_parameters_is_an_internal_error() -> None:
    with pytest.raises(StewardError, match=r"refers to \$2, given 1"):
        inline("SELECT $1, $2", (1,))


@given(st.text(alphabet=st.sampled_from(list("ab$12'\"\\ e")), max_size=20),
       st.text(alphabet=st.sampled_from(list("ab$12'\"\\ e")), min_size=1, max_size=20))
def test_quoted_tokens_survive_whatever_they_hold(literal_text: str, name: str) -> None:
    statement = f"SELECT {quote_literal(literal_text)} FROM {quote_ident(name)} WHERE x = $1"
    expected = f"SELECT {quote_literal(literal_text)} FROM {quote_ident(name)} WHERE x = '1'::pg_catalog.int8"
    assert inline(statement, (1,)) == expected
