"""Whether the DEFAULT rows maintenance read under a table's change lock fall in a range to be created (pure
logic): a range said to hold none is created in one script, without the probe of DEFAULT."""

from __future__ import annotations

import datetime as dt

from pg_steward.partitions.maintain import _holds_any
from pg_steward.partitions.plan import MAX_NEW_PER_RUN
from pg_steward.partitions.values import Unbounded

UTC = dt.timezone.utc


def at(month: int) -> dt.datetime:
    return dt.datetime(2026, month, 1, tzinfo=UTC)


def test_no_values_no_rows() -> None:
    assert _holds_any([], at(1), at(2)) is False


def test_start_is_in_the_end_is_not() -> None:
    assert _holds_any([at(1)], at(1), at(2)) is True
    assert _holds_any([at(2)], at(1), at(2)) is False
    assert _holds_any([at(3), dt.datetime(2026, 1, 31, 23, 59, tzinfo=UTC)], at(1), at(2)) is True


def test_unbounded_ends() -> None:
    assert _holds_any([at(1)], Unbounded.MINVALUE, at(2)) is True
    assert _holds_any([at(3)], at(2), Unbounded.MAXVALUE) is True
    assert _holds_any([at(1)], at(2), Unbounded.MAXVALUE) is False


def test_a_list_cut_at_the_limit_says_nothing() -> None:
    values = [dt.datetime(2000, 1, 1, tzinfo=UTC) + dt.timedelta(days=31 * i) for i in range(MAX_NEW_PER_RUN)]
    assert _holds_any(values, at(1), at(2)) is None
    assert _holds_any(values[:-1], dt.datetime(1990, 1, 1, tzinfo=UTC), dt.datetime(1990, 2, 1, tzinfo=UTC)) is False
