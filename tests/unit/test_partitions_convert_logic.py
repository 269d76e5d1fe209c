"""The pure part of converting an existing table: refusals, the twin's ranges, names, the sync trigger's SQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from pg_steward.errors import StewardError
from pg_steward.partitions.convert import (
    MAX_PARTITIONS,
    Facts,
    initial_ranges,
    key_condition,
    key_range,
    plan_steps,
    refusal,
    related_name,
    sync_function_body,
)
from pg_steward.partitions.spans import Span

D = dt.date
UTC = ZoneInfo("UTC")
OK = Facts(oid=1, schema="public", name="events", owner="app", relkind="r", persistence="p", is_partition=False,
           key_type="timestamp with time zone", primary_key=("id", "created_at"))


def test_a_convertible_table_has_no_refusal() -> None:
    assert refusal(OK, "created_at") is None


@pytest.mark.parametrize(("change", "sqlstate", "words"), [
    ({"may_act_as_owner": False}, "42501", "must be owner"),
    ({"relkind": "p"}, "42809", "already partitioned"),
    ({"is_partition": True}, "42809", "is a partition"),
    ({"relkind": "v"}, "42809", "not a table"),
    ({"persistence": "t"}, "0A000", "temporary"),
    ({"key_type": None}, "42703", "does not exist"),
    ({"key_type": "integer"}, "0A000", "of type integer"),
    ({"children": ("public.c",)}, "0A000", "inheritance"),
    ({"parents": ("public.p",)}, "0A000", "inheritance"),
    ({"referencing": ("fk of public.r",)}, "0A000", "foreign keys point at"),
    ({"dependents": ("public.v",)}, "0A000", "views or rules"),
    ({"primary_key": None}, "0A000", "no primary key"),
    ({"primary_key": ("id",)}, "0A000", "primary key"),
    ({"unique_without_key": ("events_code_key",)}, "0A000", "events_code_key"),
    ({"exclusion": ("no_overlap",)}, "0A000", "exclusion"),
    ({"triggers": ("audit",)}, "0A000", "triggers"),
    ({"row_security": True}, "0A000", "row level security"),
])
def test_each_refusal_says_why_and_how_to_fix(change: dict, sqlstate: str, words: str) -> None:
    error = refusal(dataclasses.replace(OK, **change), "created_at")
    assert error is not None
    assert error.sqlstate == sqlstate
    assert words in error.message
    assert error.hint or sqlstate in ("42703", "42809")


def test_ranges_cover_the_data_and_premake_past_now() -> None:
    ranges = initial_ranges(D(2024, 1, 15), D(2024, 3, 2), D(2024, 5, 10), Span(months=1), 2, UTC)
    assert ranges[0] == (D(2024, 1, 1), D(2024, 2, 1))
    assert ranges[-1] == (D(2024, 7, 1), D(2024, 8, 1))
    assert len(ranges) == 7
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # no gap, no overlap


def test_ranges_of_an_empty_table_start_now_and_of_future_data_reach_it() -> None:
    assert initial_ranges(None, None, D(2024, 5, 10), Span(months=1), 1, UTC) == [
        (D(2024, 5, 1), D(2024, 6, 1)), (D(2024, 6, 1), D(2024, 7, 1))]
    assert initial_ranges(D(2024, 5, 1), D(2024, 9, 1), D(2024, 5, 10), Span(months=1), 0, UTC)[-1] == (
        D(2024, 9, 1), D(2024, 10, 1))


def test_too_many_partitions_are_refused() -> None:
    with pytest.raises(StewardError) as raised:
        initial_ranges(D(1900, 1, 1), D(2024, 1, 1), D(2024, 1, 1), Span(days=1), 0, UTC)
    assert str(MAX_PARTITIONS) in raised.value.message and raised.value.sqlstate == "22023"


def test_related_names_stay_within_63_bytes() -> None:
    assert related_name("events", "_partitioned") == "events_partitioned"
    long = "é" * 40
    name = related_name(long, "_unpartitioned")
    assert len(name.encode()) <= 63 and name.endswith("_unpartitioned")


def test_sync_function_quotes_and_moves_rows_whose_key_changed() -> None:
    body = sync_function_body('"public"."we""ird_partitioned"', ["id", "created_at", 'a"b'], ("id", "created_at"),
                              overriding=True)
    assert 'INSERT INTO "public"."we""ird_partitioned" ("id", "created_at", "a""b") OVERRIDING SYSTEM VALUE' in body
    assert 'ON CONFLICT ("id", "created_at") DO UPDATE SET "a""b" = EXCLUDED."a""b"' in body
    assert 'OLD."created_at" IS DISTINCT FROM NEW."created_at"' in body  # a key update deletes the old row
    assert "TRUNCATE" in body
    only_key = sync_function_body('"s"."t"', ["id"], ("id",), overriding=False)
    assert "DO NOTHING" in only_key and "OVERRIDING" not in only_key


def test_key_condition_casts_each_part_of_the_key() -> None:
    assert key_condition(("id", "at"), {"id": "bigint", "at": "date"}, ">", 2) == (
        'ROW("id", "at") > ROW(($2::pg_catalog.text[])[1]::bigint, ($2::pg_catalog.text[])[2]::date)')


def test_key_range_bounds_the_first_column_too() -> None:
    types = {"id": "bigint", "at": "date"}
    where = key_range(("id", "at"), types, True, True)
    assert where == ("WHERE " + key_condition(("id", "at"), types, ">", 1)
                     + ' AND "id" >= ($1::pg_catalog.text[])[1]::bigint AND '
                     + key_condition(("id", "at"), types, "<=", 2) + ' AND "id" <= ($2::pg_catalog.text[])[1]::bigint')
    assert key_range(("id", "at"), types, False, True).count("$1") == 0
    assert key_range(("id",), types, True, False) == "WHERE " + key_condition(("id",), types, ">", 1)
    assert key_range(("id", "at"), types, False, False) == ""


def test_plan_names_the_locks_of_every_step() -> None:
    ranges = initial_ranges(D(2024, 1, 1), D(2024, 2, 1), D(2024, 2, 1), Span(months=1), 1, UTC)
    steps = plan_steps(OK, "created_at", Span(months=1), ranges, 1000, 5000, 2000)
    assert [s.action for s in steps] == ["check", "create twin", "create partitions", "create trigger", "copy",
                                         "verify", "swap", "finish"]
    assert "3 partitions" in steps[2].statement
    assert "ACCESS EXCLUSIVE" in steps[6].locks and "2000 ms" in steps[6].locks
    assert all(s.locks for s in steps)
