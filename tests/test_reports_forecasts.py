"""steward.capture_growth() and steward.growth_forecasts() on a real server, with a growth we control: snapshots
inserted with chosen times and values, read back by the forecasts; the premake runway from the catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors

from support.reports import rows


def forecasts(conn: psycopg.Connection, history: str = "30 days") -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["object"]): r for r in rows(conn, "SELECT * FROM steward.growth_forecasts(%s)", [history])}


def plant(conn: psycopg.Connection, kind: str, name: str, sequence: str | None,
          series: list[tuple[str, int]], limit: int | None) -> None:
    """Snapshots of one object: (age as an interval before now, value)."""
    for age, value in series:
        conn.execute("INSERT INTO steward.growth_snapshot (captured_at, kind, object, sequence, value, limit_value) "
                     "VALUES (now() - %s::interval, %s, %s, %s, %s, %s)", [age, kind, name, sequence, value, limit])


def test_capture_records_every_kind_without_scanning(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE t (id serial PRIMARY KEY, v int)")
    conn.execute("INSERT INTO t (v) SELECT g FROM generate_series(1, 10) g")
    conn.execute("CREATE TABLE m (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("SELECT * FROM steward.manage('m', '1 month', premake => 2)")
    counts = {r["kind"]: r["objects"] for r in rows(conn, "SELECT * FROM steward.capture_growth()")}
    # pg_steward's own log sequences count too (the manage call wrote to one).
    assert counts["database"] == 1 and counts["premade_partitions"] == 1
    assert counts["sequence"] >= 1 and counts["integer_key"] >= 1
    got = {(r["kind"], r["object"]): r for r in rows(
        conn, "SELECT kind, object, sequence, value, limit_value FROM steward.growth_snapshot")}
    assert got[("sequence", '"public"."t_id_seq"')]["value"] == 10
    assert got[("sequence", '"public"."t_id_seq"')]["limit_value"] == 2**31 - 1
    key = got[("integer_key", '"public"."t"."id"')]
    assert (key["sequence"], key["value"], key["limit_value"]) == ('"public"."t_id_seq"', 10, 2**31 - 1)
    assert got[("database", f'"{conn.info.dbname}"')]["value"] > 0
    # One capture is no growth yet: the forecasts say so, the partitions' runway needs none.
    found = forecasts(conn)
    assert found[("sequence", '"public"."t_id_seq"')]["growth_per_day"] is None
    assert "growth needs two" in found[("sequence", '"public"."t_id_seq"')]["detail"]
    premade = found[("premade_partitions", '"public"."m"')]
    assert premade["days_left"] > 60 and premade["runs_out_on"] > dt.date.today()


def test_sequence_forecast_from_a_controlled_growth(conn: psycopg.Connection) -> None:
    conn.execute("CREATE SEQUENCE s AS integer")
    conn.execute("SELECT setval('s', 1000000)")
    limit = 2**31 - 1
    # 1,000,000 a day for 4 days: 2147.48 days left from the newest value.
    plant(conn, "sequence", '"public"."s"', '"public"."s"',
          [("4 days", 1000000), ("3 days", 2000000), ("2 days", 3000000), ("1 day", 4000000), ("0 days", 5000000)],
          limit)
    row = forecasts(conn)[("sequence", '"public"."s"')]
    assert row["current"] == 5000000 and row["limit"] == limit
    assert row["growth_per_day"] == pytest.approx(Decimal(1000000), rel=Decimal("1e-5"))
    assert row["days_left"] == pytest.approx(Decimal((limit - 5000000) / 1e6), abs=Decimal("0.1"))
    today = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0]
    assert row["runs_out_on"] == today + dt.timedelta(days=2142)
    assert "least squares over 5 snapshots" in row["detail"]
    # The window: snapshots older than it before the newest are left out.
    assert "over 2 snapshots" in forecasts(conn, "1 day 1 hour")[("sequence", '"public"."s"')]["detail"]


def test_restarted_sequence_counts_from_its_restart(conn: psycopg.Connection) -> None:
    conn.execute("CREATE SEQUENCE r")
    plant(conn, "sequence", '"public"."r"', '"public"."r"',
          [("3 days", 900), ("2 days", 10), ("1 day", 20), ("0 days", 30)], 100)
    row = forecasts(conn)[("sequence", '"public"."r"')]
    assert row["growth_per_day"] == pytest.approx(Decimal(10), rel=Decimal("1e-5"))
    assert row["days_left"] == pytest.approx(Decimal(7), abs=Decimal("0.1"))
    assert "went back" in row["detail"]


def test_database_growth_per_day(conn: psycopg.Connection) -> None:
    name = f'"{conn.info.dbname}"'
    plant(conn, "database", name, None, [("2 days", 10 * 2**20), ("1 day", 12 * 2**20), ("0 days", 14 * 2**20)], None)
    row = forecasts(conn)[("database", name)]
    assert row["growth_per_day"] == pytest.approx(Decimal(2 * 2**20), rel=Decimal("1e-5"))
    assert row["runs_out_on"] is None and row["limit"] is None
    assert row["detail"].startswith("14.0 MB, 2.0 MB a day")


def test_sequences_the_role_may_not_read_are_not_forecast(conn: psycopg.Connection) -> None:
    conn.execute("CREATE SEQUENCE secret")
    conn.execute("CREATE ROLE forecast_reader LOGIN IN ROLE pg_monitor")
    plant(conn, "sequence", '"public"."secret"', '"public"."secret"', [("1 day", 1), ("0 days", 2)], 100)
    plant(conn, "sequence", '"public"."gone"', '"public"."gone"', [("1 day", 1), ("0 days", 2)], 100)
    conn.execute("SET ROLE forecast_reader")
    try:
        assert not [k for k in forecasts(conn) if k[0] == "sequence"]
    finally:
        conn.execute("RESET ROLE")
    assert ("sequence", '"public"."secret"') in forecasts(conn)
    assert ("sequence", '"public"."gone"') not in forecasts(conn)  # dropped: nothing to forecast


def test_integer_keyed_partitions_run_out_with_their_sequence(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE k (id bigserial, v int) PARTITION BY RANGE (id)")
    conn.execute("CREATE TABLE k_0 PARTITION OF k FOR VALUES FROM (0) TO (1000)")
    conn.execute("SELECT * FROM steward.manage('k', integer_span => 1000, premake => 1)")
    bound = conn.execute("SELECT max((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''?(\\d+)'))[1]::bigint) "
                         "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                         "WHERE i.inhparent = 'k'::regclass").fetchone()[0]
    plant(conn, "integer_key", '"public"."k"."id"', '"public"."k_id_seq"', [("2 days", 0), ("1 day", 100),
                                                                             ("0 days", 200)], 2**63 - 1)
    found = forecasts(conn)
    assert ("premade_partitions", '"public"."k"') in found, found
    row = found[("premade_partitions", '"public"."k"')]
    assert row["current"] == 200 and row["limit"] == bound
    assert row["days_left"] == pytest.approx(Decimal((bound - 200) / 100), abs=Decimal("0.1"))


def test_bad_window_is_refused(conn: psycopg.Connection) -> None:
    for bad, error in (("-1 day", errors.InvalidParameterValue), ("0", errors.InvalidParameterValue),
                       (None, errors.NullValueNotAllowed)):
        with pytest.raises(error):
            conn.execute("SELECT * FROM steward.growth_forecasts(%s::interval)", [bad])


def test_capture_needs_insert_and_forecasts_need_select(conn: psycopg.Connection) -> None:
    conn.execute("CREATE ROLE nobody_special LOGIN")
    conn.execute("SET ROLE nobody_special")
    try:
        with pytest.raises(errors.InsufficientPrivilege, match="growth_snapshot"):
            conn.execute("SELECT * FROM steward.capture_growth()")
        with pytest.raises(errors.InsufficientPrivilege, match="growth_snapshot"):
            conn.execute("SELECT * FROM steward.growth_forecasts()")
    finally:
        conn.execute("RESET ROLE")
    assert conn.execute("SELECT count(*) FROM steward.growth_snapshot").fetchone() == (0,)


def test_health_premake_runway_warns_when_maintenance_stopped(conn: psycopg.Connection) -> None:
    check = {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}["premake_runway"]
    assert check["status"] == "unknown" and "nothing to judge" in check["detail"]
    conn.execute("CREATE TABLE d (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("SELECT * FROM steward.manage('d', '1 day', premake => 3)")
    check = {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}["premake_runway"]
    assert check["status"] == "ok" and float(check["value"].split()[0]) > 3
    # Maintenance stopped: the newest partitions are dropped as if time had passed.
    newest = rows(conn, "SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'd'::regclass ORDER BY c.relname DESC LIMIT 3")
    for r in newest:
        conn.execute(f"DROP TABLE {r['name']}")
    check = {r["check_name"]: r for r in rows(conn, "SELECT * FROM steward.health()")}["premake_runway"]
    assert check["status"] in ("warning", "critical"), check
    assert '"public"."d": newest partition' in check["detail"]
    assert check["fix"].startswith("SELECT * FROM steward.maintain_partitions('\"public\".\"d\"'::regclass)")
    conn.execute("INSERT INTO steward.health_thresholds (check_name, enabled) VALUES ('premake_runway', false)")
    assert "premake_runway" not in {r["check_name"] for r in rows(conn, "SELECT * FROM steward.health()")}
