"""steward.partitions(parent): the partition tree read from the catalog, on the seed tables and beyond."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row


def tree(conn: psycopg.Connection, parent: str) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT *, partition::text AS name FROM steward.partitions(%s::regclass)", [parent])
        return cur.fetchall()


@pytest.fixture(scope="module")
def seed(seed_url: str):
    with psycopg.connect(seed_url, autocommit=True) as connection:
        yield connection


def test_sales_analytics_range_tree(seed: psycopg.Connection) -> None:
    rows = tree(seed, "sales_analytics")
    assert [r["name"] for r in rows] == [
        "sales_analytics", *[f"sales_analytics_2024_0{m}" for m in range(1, 7)], "sales_analytics_default",
    ]
    root, *months, default = rows
    assert (root["level"], root["partition_of"], root["strategy"], root["bound"]) == (0, None, None, None)
    assert root["partitioned_by"] == "RANGE (sale_date)"
    assert [(m["range_from"], m["range_to"]) for m in months[:2]] == [
        ("2024-01-01", "2024-02-01"), ("2024-02-01", "2024-03-01"),
    ]
    assert all(m["strategy"] == "range" and m["level"] == 1 and m["is_leaf"] for m in months)
    assert default["is_default"] and default["bound"] == "DEFAULT" and default["range_from"] is None
    counts = dict(seed.execute(
        "SELECT tableoid::regclass::text, count(*) FROM sales_analytics GROUP BY 1"
    ).fetchall())
    assert counts["sales_analytics_default"] > 0  # the seed's early-July rows
    # After ANALYZE, small tables are sampled whole: estimates are exact.
    assert {r["name"]: r["estimated_rows"] for r in rows if r["is_leaf"]} == counts
    assert root["estimated_rows"] == sum(counts.values()) == 100_000
    sizes = seed.execute(
        "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('sales_analytics') WHERE isleaf"
    ).fetchone()[0]
    assert root["total_bytes"] == sizes


def test_user_analytics_hash_tree(seed: psycopg.Connection) -> None:
    rows = tree(seed, "user_analytics")[1:]
    assert [(r["hash_modulus"], r["hash_remainder"]) for r in rows] == [(8, i) for i in range(8)]
    assert {r["strategy"] for r in rows} == {"hash"}
    assert not any(r["is_default"] for r in rows)


def test_regional_sales_list_tree(seed: psycopg.Connection) -> None:
    rows = {r["name"]: r for r in tree(seed, "regional_sales")}
    assert rows["regional_sales_europe"]["list_values"] == ["UK", "DE", "FR", "IT", "ES", "NL"]
    assert rows["regional_sales_other"]["is_default"] and rows["regional_sales_other"]["list_values"] is None
    assert list(rows)[-1] == "regional_sales_other"


def test_transaction_log_sub_partitions(seed: psycopg.Connection) -> None:
    rows = tree(seed, "transaction_log")
    assert [(r["name"], r["level"], r["strategy"], r["is_leaf"]) for r in rows] == [
        ("transaction_log", 0, None, False),
        ("transaction_log_2024", 1, "range", False),
        ("transaction_log_2024_asia", 2, "list", True),
        ("transaction_log_2024_eu", 2, "list", True),
        ("transaction_log_2024_us", 2, "list", True),
        ("transaction_log_2024_other", 2, "list", True),
    ]
    year = rows[1]
    assert year["partitioned_by"] == "LIST (region)"
    assert (year["range_from"], year["range_to"]) == ("2024-01-01", "2025-01-01")
    assert year["partition_of"] == rows[0]["partition"]
    assert year["estimated_rows"] == sum(r["estimated_rows"] for r in rows[2:]) == 20_000
    # A sub-tree can be asked for directly.
    assert tree(seed, "transaction_log_2024")[0]["name"] == "transaction_log_2024"


def test_awkward_names_keys_and_values(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE SCHEMA "Odd Schema";
        CREATE TABLE "Odd Schema"."Sales ""2024"" données" (k int, s text, v text) PARTITION BY RANGE (k, s);
        CREATE TABLE "Odd Schema"."p low" PARTITION OF "Odd Schema"."Sales ""2024"" données"
            FOR VALUES FROM (MINVALUE, MINVALUE) TO (-10, 'it''s');
        CREATE TABLE "Odd Schema"."p high" PARTITION OF "Odd Schema"."Sales ""2024"" données"
            FOR VALUES FROM (-10, 'it''s') TO (MAXVALUE, MAXVALUE);
        CREATE TABLE lists (v text) PARTITION BY LIST (v);
        CREATE TABLE lists_a PARTITION OF lists FOR VALUES IN (NULL, 'a,b', 'O''Brien', '表');
        """
    )
    rows = tree(conn, '"Odd Schema"."Sales ""2024"" données"')
    assert [r["name"] for r in rows] == [
        '"Odd Schema"."Sales ""2024"" données"', '"Odd Schema"."p low"', '"Odd Schema"."p high"',
    ]
    assert (rows[1]["range_from"], rows[1]["range_to"]) == ("(MINVALUE, MINVALUE)", "('-10', 'it''s')")
    assert rows[2]["range_to"] == "(MAXVALUE, MAXVALUE)"
    assert tree(conn, "lists")[1]["list_values"] == [None, "a,b", "O'Brien", "表"]


def test_timestamptz_and_bigint_keys_in_bound_order(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        SET TimeZone = 'Europe/Paris';
        CREATE TABLE events (at timestamptz) PARTITION BY RANGE (at);
        CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2024-03-31 00:00+01') TO ('2024-04-01 00:00+02');
        CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2024-03-30 00:00+01') TO ('2024-03-31 00:00+01');
        CREATE TABLE ids (id bigint) PARTITION BY RANGE (id);
        CREATE TABLE ids_big PARTITION OF ids FOR VALUES FROM (100000000000) TO (200000000000);
        CREATE TABLE ids_neg PARTITION OF ids FOR VALUES FROM ('-5000000000') TO (9);
        CREATE TABLE ids_small PARTITION OF ids FOR VALUES FROM (9) TO (100000000000);
        """
    )
    events = tree(conn, "events")
    assert [r["name"] for r in events[1:]] == ["events_a", "events_b"]
    assert events[2]["range_from"] == "2024-03-31 00:00:00+01" and events[2]["range_to"] == "2024-04-01 00:00:00+02"
    assert [r["range_from"] for r in tree(conn, "ids")[1:]] == ["-5000000000", "9", "100000000000"]


def test_row_estimates_are_unknown_until_analyzed(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE m (d date) PARTITION BY RANGE (d);
        CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
        CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
        INSERT INTO m SELECT DATE '2024-01-01' + i % 31 FROM generate_series(1, 500) i;
        """
    )
    rows = tree(conn, "m")
    assert [r["estimated_rows"] for r in rows] == [None, None, 0]  # m_1 holds data, not analyzed
    conn.execute("ANALYZE m")
    assert [r["estimated_rows"] for r in tree(conn, "m")] == [500, 500, 0]


def test_empty_partitioned_table(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE e (d date) PARTITION BY RANGE (d)")
    assert [(r["name"], r["total_bytes"], r["estimated_rows"]) for r in tree(conn, "e")] == [("e", 0, 0)]


@pytest.mark.parametrize(
    ("setup", "argument", "error", "message"),
    [
        ("CREATE TABLE plain (id int)", "plain", psycopg.errors.WrongObjectType, "plain is not a partitioned table"),
        ("CREATE TABLE p (id int) PARTITION BY RANGE (id); CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (2)",
         "p1", psycopg.errors.WrongObjectType, "p1 is not a partitioned table"),
        ("CREATE VIEW v AS SELECT 1", "v", psycopg.errors.WrongObjectType, "v is not a partitioned table"),
        ("SELECT 1", "no_such_table", psycopg.errors.UndefinedTable, "no_such_table"),
    ],
)
def test_bad_parents_are_clear_errors(conn: psycopg.Connection, setup: str, argument: str,
                                      error: type[Exception], message: str) -> None:
    conn.execute(setup)
    with pytest.raises(error, match=message):
        conn.execute("SELECT * FROM steward.partitions(%s::regclass)", [argument])


def test_null_parent_is_a_clear_error(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.NullValueNotAllowed, match="parent must not be NULL"):
        conn.execute("SELECT * FROM steward.partitions(NULL)")


def test_output_does_not_depend_on_the_callers_datestyle(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE d (d date) PARTITION BY RANGE (d);"
        "CREATE TABLE d1 PARTITION OF d FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')"
    )
    conn.execute("SET DateStyle = 'SQL, DMY'")
    assert tree(conn, "d")[1]["range_from"] == "2024-01-01"


def test_a_role_without_table_privileges_sees_the_tree(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE s (d date) PARTITION BY RANGE (d);"
        "CREATE TABLE s1 PARTITION OF s FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');"
        "DROP ROLE IF EXISTS tree_reader; CREATE ROLE tree_reader"
    )
    try:
        conn.execute("SET ROLE tree_reader")
        assert [r["name"] for r in tree(conn, "s")] == ["s", "s1"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM s")
    finally:
        conn.execute("RESET ROLE")
        conn.execute("DROP ROLE tree_reader")


@pytest.mark.parametrize("lock", ["LOCK TABLE l_2 IN ACCESS EXCLUSIVE MODE",
                                  "REINDEX INDEX l_2_v"])  # ACCESS EXCLUSIVE on an index of the partition
def test_a_partition_locked_exclusively_does_not_make_the_tree_wait(conn: psycopg.Connection, lock: str) -> None:
    """A DBA looks at the tree while an ALTER holds (or waits for) ACCESS EXCLUSIVE on one partition: the
    answer comes at once, with that partition's size unknown instead of a wait behind the lock."""
    conn.execute("CREATE TABLE l (k int, v int) PARTITION BY RANGE (k);"
                 "CREATE TABLE l_1 PARTITION OF l FOR VALUES FROM (0) TO (10);"
                 "CREATE TABLE l_2 PARTITION OF l FOR VALUES FROM (10) TO (20);"
                 "CREATE INDEX l_2_v ON l_2 (v);"
                 "INSERT INTO l SELECT g % 20, g FROM generate_series(1, 2000) g; ANALYZE l")
    with psycopg.connect(conn.info.dsn) as holder:
        holder.execute(lock)  # held until holder's transaction ends
        conn.execute("SET statement_timeout = '5s'")
        rows = {r["name"]: r for r in tree(conn, "l")}
        conn.execute("RESET statement_timeout")
    assert rows["l_2"]["total_bytes"] is None and rows["l_2"]["estimated_rows"] == 1000
    assert rows["l_1"]["total_bytes"] > 0 and rows["l_1"]["estimated_rows"] == 1000
    assert rows["l"]["total_bytes"] is None  # a sum with an unknown part is unknown
    assert {r["name"] for r in tree(conn, "l")} == {"l", "l_1", "l_2"}
    assert tree(conn, "l")[0]["total_bytes"] > 0  # the lock is gone: sizes again


def test_a_sub_partition_asked_for_directly_reports_its_own_strategy(conn: psycopg.Connection) -> None:
    """The first row of a tree rooted at a partition is that partition, with the strategy of its bound."""
    conn.execute("CREATE TABLE y (d date, r text) PARTITION BY RANGE (d);"
                 "CREATE TABLE y_2024 PARTITION OF y FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
                 " PARTITION BY LIST (r);"
                 "CREATE TABLE y_2024_eu PARTITION OF y_2024 FOR VALUES IN ('eu')")
    rows = tree(conn, "y_2024")
    assert [(r["name"], r["strategy"], r["range_from"]) for r in rows] == [
        ("y_2024", "range", "2024-01-01"), ("y_2024_eu", "list", None),
    ]
    assert rows[0]["partition_of"] is None and rows[0]["level"] == 0  # the root of the tree asked for
    assert tree(conn, "y")[0]["strategy"] is None  # a table that is no partition has no bound, no strategy


def test_enum_lists_come_in_the_enums_order(conn: psycopg.Connection) -> None:
    """Enum values sort by their place in the type (a value added BEFORE another too), not by their text."""
    conn.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
                 "CREATE TABLE moods (m mood) PARTITION BY LIST (m);"
                 "CREATE TABLE moods_happy PARTITION OF moods FOR VALUES IN ('happy');"
                 "CREATE TABLE moods_sad PARTITION OF moods FOR VALUES IN ('sad');"
                 "CREATE TABLE moods_ok PARTITION OF moods FOR VALUES IN ('ok')")
    conn.execute("ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'")
    conn.execute("CREATE TABLE moods_meh PARTITION OF moods FOR VALUES IN ('meh')")
    assert [r["name"] for r in tree(conn, "moods")[1:]] == ["moods_sad", "moods_meh", "moods_ok", "moods_happy"]


def test_siblings_sort_by_the_keys_real_order(conn: psycopg.Connection) -> None:
    """BC dates, infinities, the key's collation and a domain key: each in PostgreSQL's order of the key."""
    conn.execute(
        """
        CREATE TABLE ages (d date) PARTITION BY RANGE (d);
        CREATE TABLE ages_now PARTITION OF ages FOR VALUES FROM ('2000-01-01') TO ('infinity');
        CREATE TABLE ages_bc_late PARTITION OF ages FOR VALUES FROM ('0044-01-01 BC') TO ('2000-01-01');
        CREATE TABLE ages_bc_early PARTITION OF ages FOR VALUES FROM ('0100-01-01 BC') TO ('0044-01-01 BC');
        CREATE TABLE ages_first PARTITION OF ages FOR VALUES FROM ('-infinity') TO ('0100-01-01 BC');
        CREATE TABLE letters (k text COLLATE "C") PARTITION BY LIST (k);
        CREATE TABLE letters_a PARTITION OF letters FOR VALUES IN ('a');
        CREATE TABLE letters_b PARTITION OF letters FOR VALUES IN ('B');
        CREATE TABLE codes (k char(3)) PARTITION BY LIST (k);
        CREATE TABLE codes_abz PARTITION OF codes FOR VALUES IN ('abz');
        CREATE TABLE codes_abc PARTITION OF codes FOR VALUES IN ('abc');
        CREATE DOMAIN amount AS numeric CHECK (VALUE > -1000);
        CREATE TABLE amounts (x amount) PARTITION BY LIST (x);
        CREATE TABLE amounts_10 PARTITION OF amounts FOR VALUES IN ('10');
        CREATE TABLE amounts_9 PARTITION OF amounts FOR VALUES IN ('9.5', '100');
        """
    )
    assert [r["name"] for r in tree(conn, "ages")[1:]] == ["ages_first", "ages_bc_early", "ages_bc_late", "ages_now"]
    assert [r["name"] for r in tree(conn, "letters")[1:]] == ["letters_b", "letters_a"]  # "C": 'B' < 'a'
    assert [r["name"] for r in tree(conn, "amounts")[1:]] == ["amounts_9", "amounts_10"]
    assert [r["name"] for r in tree(conn, "codes")[1:]] == ["codes_abc", "codes_abz"]  # char(3), not char(1)
