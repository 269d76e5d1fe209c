"""Parameter types declared for plpy plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pg_steward.db import plpy_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "pg_catalog.text"), ("x", "pg_catalog.text"), (True, "pg_catalog.bool"), (3, "pg_catalog.int8"),
        (1.5, "pg_catalog.float8"), (Decimal("1.5"), "pg_catalog.numeric"), (dt.date(2024, 1, 1), "pg_catalog.date"),
        (dt.datetime(2024, 1, 1), "pg_catalog.timestamp"),
        (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "pg_catalog.timestamptz"),
        (["a", None, "b"], "pg_catalog.text[]"), ([1, 2], "pg_catalog.int8[]"), ([], "pg_catalog.text[]"),
    ],
)
def test_plpy_type(value: object, expected: str) -> None:
    assert plpy_type(value) == expected


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(TypeError):
        plpy_type(object())
    with pytest.raises(TypeError):
        plpy_type([1, "a"])
