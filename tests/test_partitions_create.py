"""steward.create_partition / create_monthly_partition: the seed examples, DEFAULT rows, keys, names, bad input."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg import errors

from pg_steward.workloads import sql as workload_sql
from support.partitions import digest, fails, relations, tree_names


def bounds(conn: psycopg.Connection, parent: str) -> list[tuple]:
    return conn.execute(
        "SELECT partition::text, range_from, range_to FROM steward.partitions(%s::regclass) WHERE level = 1",
        [parent],
    ).fetchall()


def test_measurement_seed_example(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE measurement (city_id int NOT NULL, logdate date NOT NULL, peaktemp int, "
                 "unitsales int) PARTITION BY RANGE (logdate)")
    for month in ("2006-02-01", "2006-03-01", "2007-11-01", "2007-12-01", "2008-01-01"):
        conn.execute("SELECT steward.create_monthly_partition('measurement', %s)", [month])
    assert bounds(conn, "measurement") == [
        ("measurement_p2006_02", "2006-02-01", "2006-03-01"),
        ("measurement_p2006_03", "2006-03-01", "2006-04-01"),
        ("measurement_p2007_11", "2007-11-01", "2007-12-01"),
        ("measurement_p2007_12", "2007-12-01", "2008-01-01"),
        ("measurement_p2008_01", "2008-01-01", "2008-02-01"),
    ]
    conn.execute("INSERT INTO measurement VALUES (1, '2007-12-24', 3, 10)")
    assert conn.execute("SELECT tableoid::regclass::text FROM measurement").fetchone() == ("measurement_p2007_12",)


def test_t_dlpdata_seed_example_timestamptz(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE t_dlpdata_partitioned (reading_id bigserial, meter_id int NOT NULL, "
                 "reading_timestamp timestamptz NOT NULL, kwh_reading numeric(10,4) NOT NULL) "
                 "PARTITION BY RANGE (reading_timestamp)")
    conn.execute("SET TimeZone = 'UTC'")
    made = conn.execute("SELECT steward.create_monthly_partition('t_dlpdata_partitioned', '2025-01-15')").fetchone()
    assert made == ("t_dlpdata_partitioned_p2025_01",)
    assert bounds(conn, "t_dlpdata_partitioned") == [
        ("t_dlpdata_partitioned_p2025_01", "2025-01-01 00:00:00+00", "2025-02-01 00:00:00+00"),
    ]
    conn.execute("INSERT INTO t_dlpdata_partitioned (meter_id, reading_timestamp, kwh_reading) "
                 "VALUES (1, '2025-01-15 10:00:00+00', 123.45)")


def test_sales_analytics_default_rows_are_moved_exactly(conn: psycopg.Connection) -> None:
    conn.execute(workload_sql("seed_tables"))
    conn.execute("INSERT INTO sales_analytics (sale_date, product_id, customer_id, quantity, unit_price, region) "
                 "VALUES ('2030-05-05', 1, 1, 1, 1, 'North')")  # stays in DEFAULT: another month
    whole = digest(conn, "sales_analytics")
    july = conn.execute(
        "SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM sales_analytics_default t "
        "WHERE sale_date >= '2024-07-01' AND sale_date < '2024-08-01'"
    ).fetchone()
    assert july[0] > 2000
    made = conn.execute("SELECT steward.create_monthly_partition('sales_analytics', '2024-07-01')").fetchone()[0]
    assert made == "sales_analytics_p2024_07"
    moved = conn.execute(
        "SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM sales_analytics_p2024_07 t"
    ).fetchone()
    assert moved == july
    assert conn.execute("SELECT count(*), min(sale_date) FROM sales_analytics_default").fetchone() == (
        1, dt.date(2030, 5, 5))
    assert digest(conn, "sales_analytics") == whole  # the same rows, none lost, none duplicated
    # Analyzed after the move: the estimate is right at once.
    est = conn.execute("SELECT estimated_rows FROM steward.partitions('sales_analytics') "
                       "WHERE partition = 'sales_analytics_p2024_07'::regclass").fetchone()[0]
    assert est == july[0]


def test_idempotent(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    first = conn.execute("SELECT steward.create_monthly_partition('m', '2024-03-09')::oid").fetchone()
    before = relations(conn)
    again = conn.execute("SELECT steward.create_monthly_partition('m', '2024-03-31')::oid").fetchone()
    also = conn.execute("SELECT steward.create_partition('m', '2024-03-01', '1 month')::oid").fetchone()
    assert first == again == also and relations(conn) == before


def test_overlap_with_different_bounds_is_an_error(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE m_odd PARTITION OF m FOR VALUES FROM ('2024-07-10') TO ('2024-08-10')")
    fails(conn, "SELECT steward.create_monthly_partition('m', '2024-07-01')", errors.InvalidObjectDefinition,
          "would overlap public.m_odd", "m")
    fails(conn, "SELECT steward.create_partition('m', '2024-08-09', '1 day')", errors.InvalidObjectDefinition,
          "2024-07-10 to 2024-08-10", "m")


@pytest.mark.parametrize(
    ("key_type", "start", "span", "expected"),
    [
        ("date", "2024-02-01", "1 month", ("2024-02-01", "2024-03-01")),
        ("timestamp", "2024-02-01 06:00", "6 hours", ("2024-02-01 06:00:00", "2024-02-01 12:00:00")),
        ("timestamptz", "2024-02-01 00:00+00", "1 day", ("2024-02-01 00:00:00+00", "2024-02-02 00:00:00+00")),
        ("integer", "-1000", "1000", ("-1000", "0")),
        ("bigint", "5000000000", "1000000000", ("5000000000", "6000000000")),
        ("date", "2024-01-01", "3 months", ("2024-01-01", "2024-04-01")),
        ("date", "2024-01-01", "1 year", ("2024-01-01", "2025-01-01")),
    ],
)
def test_key_types_and_spans(conn: psycopg.Connection, key_type: str, start: str, span: str, expected: tuple) -> None:
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"CREATE TABLE k (v {key_type} NOT NULL) PARTITION BY RANGE (v)")
    conn.execute("SELECT steward.create_partition('k', %s, %s)", [start, span])
    assert bounds(conn, "k")[0][1:] == expected


def test_names_for_awkward_parents(conn: psycopg.Connection) -> None:
    parents = ['"Sales ""Q"" Data"', '"MixedCase"', '"données clients"', '"' + "x" * 63 + '"',
               '"' + "é" * 31 + '"']
    for parent in parents:
        conn.execute(f"CREATE TABLE {parent} (d date NOT NULL) PARTITION BY RANGE (d)")
        name = conn.execute("SELECT steward.create_monthly_partition(%s::regclass, '2024-07-01')::text",
                            [parent]).fetchone()[0]
        relname = conn.execute("SELECT relname FROM pg_class WHERE oid = %s::regclass", [name]).fetchone()[0]
        assert len(relname.encode()) <= 63 and relname.endswith("_p2024_07"), relname
    # Two long parents sharing their first 54 bytes get different, valid names.
    long_a, long_b = "y" * 60 + "_a", "y" * 60 + "_b"
    names = set()
    for parent in (long_a, long_b):
        conn.execute(f'CREATE TABLE "{parent}" (d date NOT NULL) PARTITION BY RANGE (d)')
        names.add(conn.execute("SELECT steward.create_monthly_partition(%s::regclass, '2024-07-01')::text",
                               [f'"{parent}"']).fetchone()[0])
    assert len(names) == 2


def test_indexes_constraints_owner_and_grants_reach_the_partition(conn: psycopg.Connection) -> None:
    conn.execute("""
        DROP ROLE IF EXISTS app_owner; DROP ROLE IF EXISTS app_reader;
        CREATE ROLE app_owner; CREATE ROLE app_reader;
        CREATE TABLE orders (id bigint NOT NULL, placed date NOT NULL, total numeric CHECK (total >= 0),
                             PRIMARY KEY (id, placed)) PARTITION BY RANGE (placed);
        CREATE INDEX orders_total ON orders (total);
        ALTER TABLE orders OWNER TO app_owner;
        GRANT SELECT ON orders TO app_reader;
    """)
    try:
        name = conn.execute("SELECT steward.create_monthly_partition('orders', '2024-07-01')::text").fetchone()[0]
        owner, acl = conn.execute("SELECT pg_get_userbyid(relowner), relacl::text FROM pg_class "
                                  "WHERE oid = %s::regclass", [name]).fetchone()
        assert owner == "app_owner" and "app_reader=r/app_owner" in acl
        indexes = {r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [name])}
        assert any("(total)" in i for i in indexes) and any("UNIQUE" in i for i in indexes)
        with pytest.raises(errors.CheckViolation):
            conn.execute(f"INSERT INTO {name} VALUES (1, '2024-07-02', -1)")
        conn.execute("SET ROLE app_reader")
        assert conn.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)
    finally:
        conn.execute("RESET ROLE; DROP TABLE orders; DROP ROLE app_owner; DROP ROLE app_reader")


def test_maintain_privilege_reaches_new_partitions(conn: psycopg.Connection) -> None:
    """PostgreSQL 17's MAINTAIN (VACUUM, ANALYZE, REINDEX, ... without owning the table) is copied to each new
    partition like the other grants, with its grant option, by create_partition and by maintenance."""
    if conn.info.server_version < 170000:
        pytest.skip("the MAINTAIN privilege exists from PostgreSQL 17")
    conn.execute("""
        DROP ROLE IF EXISTS app_owner; DROP ROLE IF EXISTS app_dba; DROP ROLE IF EXISTS app_ops;
        CREATE ROLE app_owner; CREATE ROLE app_dba; CREATE ROLE app_ops;
        CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
        ALTER TABLE events OWNER TO app_owner;
        GRANT MAINTAIN ON events TO app_dba WITH GRANT OPTION;
        GRANT MAINTAIN, SELECT ON events TO app_ops;
    """)
    try:
        made = [conn.execute("SELECT steward.create_monthly_partition('events', '2024-07-01')::text").fetchone()[0]]
        conn.execute("SELECT steward.manage('events', '1 month', premake => 2)")
        conn.execute("SELECT * FROM steward.maintain_partitions('events')")
        made += [r[0] for r in conn.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree('events') WHERE isleaf AND relid::regclass::text "
            "<> %s", [made[0]])]
        assert len(made) >= 3
        for name in made:
            acl = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = %s::regclass", [name]).fetchone()[0]
            assert "app_dba=m*/app_owner" in acl and "app_ops=rm/app_owner" in acl, (name, acl)
        conn.execute("SET ROLE app_ops")
        conn.execute(f"ANALYZE {made[0]}")  # MAINTAIN lets it analyze a table it does not own
        conn.execute("RESET ROLE")
        analyzed = conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relid = %s::regclass",
                                [made[0]]).fetchone()[0]
        assert analyzed is not None
    finally:
        conn.execute("RESET ROLE; SELECT steward.unmanage('events'); DROP TABLE events; "
                     "DROP ROLE app_owner; DROP ROLE app_dba; DROP ROLE app_ops")


def test_sub_partitioned_layout_is_copied_from_the_newest_sibling(conn: psycopg.Connection) -> None:
    conn.execute(workload_sql("seed_tables"))
    conn.execute("SELECT steward.create_partition('transaction_log', '2025-01-01', '1 year')")
    names = tree_names(conn, "transaction_log")
    assert names[-5:] == ["transaction_log_p2025", "transaction_log_p2025_asia", "transaction_log_p2025_eu",
                          "transaction_log_p2025_us", "transaction_log_p2025_other"]
    conn.execute("INSERT INTO transaction_log (transaction_date, region, customer_id, amount) "
                 "VALUES ('2025-03-01', 'JP', 1, 1), ('2025-03-01', 'ZZ', 1, 1)")
    placed = conn.execute("SELECT tableoid::regclass::text FROM transaction_log WHERE transaction_date = '2025-03-01' "
                          "ORDER BY region").fetchall()
    assert placed == [("transaction_log_p2025_asia",), ("transaction_log_p2025_other",)]


@pytest.mark.parametrize(
    ("sql", "error", "match"),
    [
        ("SELECT steward.create_monthly_partition('nope', '2024-01-01')", errors.UndefinedTable, "nope"),
        ("SELECT steward.create_monthly_partition('plain', '2024-01-01')", errors.WrongObjectType,
         "not a partitioned table"),
        ("SELECT steward.create_monthly_partition('hashed', '2024-01-01')", errors.WrongObjectType,
         "partitioned by HASH"),
        ("SELECT steward.create_monthly_partition('listed', '2024-01-01')", errors.WrongObjectType,
         "partitioned by LIST"),
        ("SELECT steward.create_monthly_partition('ints', '2024-01-01')", errors.WrongObjectType, "type integer"),
        ("SELECT steward.create_monthly_partition('m', NULL)", errors.NullValueNotAllowed, "month must not be NULL"),
        ("SELECT steward.create_monthly_partition(NULL, '2024-01-01')", errors.NullValueNotAllowed, "parent"),
        ("SELECT steward.create_partition('m', '2024-01-01', '-1 month')", errors.InvalidParameterValue, "span"),
        ("SELECT steward.create_partition('m', '2024-01-01', '1 month 1 day')", errors.InvalidParameterValue,
         "span"),
        ("SELECT steward.create_partition('m', '2024-01-01', '1 hour')", errors.InvalidParameterValue, "date key"),
        ("SELECT steward.create_partition('m', 'yesterday-ish', '1 month')", errors.InvalidDatetimeFormat,
         "invalid input syntax"),
        ("SELECT steward.create_partition('m', 'infinity', '1 month')", errors.InvalidParameterValue, "finite"),
        ("SELECT steward.create_partition('m', '2024-01-01', '1 month', 'Mars/Base')", errors.InvalidParameterValue,
         "time zone"),
        ("SELECT steward.create_partition('ints', '0', 'ten')", errors.InvalidParameterValue, "positive integer"),
        ("SELECT steward.create_partition('ints', '0', '0')", errors.InvalidParameterValue, "positive"),
        ("SELECT steward.create_partition('ints', '1.5', '10')", errors.InvalidTextRepresentation,
         "invalid input syntax"),
        ("SELECT steward.create_partition('m', $$2024-01-01'); DROP TABLE plain; --$$, '1 month')",
         errors.InvalidDatetimeFormat,
         "invalid input syntax"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(conn: psycopg.Connection, sql: str,
                                                         error: type[Exception], match: str) -> None:
    conn.execute("""
        CREATE TABLE plain (d date);
        CREATE TABLE hashed (id int) PARTITION BY HASH (id);
        CREATE TABLE listed (r text) PARTITION BY LIST (r);
        CREATE TABLE ints (i int NOT NULL) PARTITION BY RANGE (i);
        CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE TABLE m_default PARTITION OF m DEFAULT;
        INSERT INTO m VALUES ('2024-01-05');
    """)
    fails(conn, sql, error, match, "m", "plain")
