"""Parameter types declared for plpy plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pg_steward.db import plpy_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "text"), ("x", "text"), (True, "boolean"), (3, "bigint"), (1.5, "double precision"),
        (Decimal("1.5"), "numeric"), (dt.date(2024, 1, 1), "date"),
        (dt.datetime(2024, 1, 1), "timestamp"), (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "timestamptz"),
        (["a", None, "b"], "text[]"), ([1, 2], "bigint[]"), ([], "text[]"),
    ],
)
def test_plpy_type(value: object, expected: str) -> None:
    assert plpy_type(value) == expected


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(TypeError):
        plpy_type(object())
    with pytest.raises(TypeError):
        plpy_type([1, "a"])
