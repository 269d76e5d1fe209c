"""Hash and list layouts: steward.create_hash_partitions and steward.add_list_partition on the seed's
user_analytics and regional_sales, rows moved out of DEFAULT without loss, owner and grants, bad input."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from psycopg import errors

from support.partitions import digest, fails


def level1(conn: psycopg.Connection, parent: str) -> list[tuple]:
    return conn.execute("SELECT partition::text, bound FROM steward.partitions(%s::regclass) WHERE level = 1 "
                        "ORDER BY 1", [parent]).fetchall()


def hash_table(conn: psycopg.Connection, name: str = "ua") -> None:
    conn.execute(f"CREATE TABLE {name} (user_id bigint NOT NULL, username text NOT NULL, activity_date date, "
                 f"PRIMARY KEY (user_id, username)) PARTITION BY HASH (user_id)")


def list_table(conn: psycopg.Connection, key_type: str = "text") -> None:
    conn.execute(f"CREATE TABLE rs (sale_id bigserial, region {key_type} NOT NULL, amount numeric, "
                 "PRIMARY KEY (sale_id, region)) PARTITION BY LIST (region)")
    conn.execute("CREATE TABLE rs_americas PARTITION OF rs FOR VALUES IN ('US', 'CA')")
    conn.execute("CREATE TABLE rs_other PARTITION OF rs DEFAULT")


def test_seed_tables(seed_url: str) -> None:
    with psycopg.connect(seed_url, autocommit=True) as conn:
        before = digest(conn, "user_analytics")
        rows = conn.execute("SELECT partition::text, remainder, created "
                            "FROM steward.create_hash_partitions('user_analytics', 8)").fetchall()
        assert rows == [(f"user_analytics_p{r}", r, False) for r in range(8)]
        assert digest(conn, "user_analytics") == before
        fails(conn, "SELECT steward.create_hash_partitions('user_analytics', 16)", errors.InvalidParameterValue,
              "has partitions of modulus 8, not 16")

        before = digest(conn, "regional_sales")
        in_default = conn.execute("SELECT count(*) FROM regional_sales_other WHERE region = 'ZA'").fetchone()[0]
        assert in_default > 0
        made = conn.execute("SELECT steward.add_list_partition('regional_sales', ARRAY['ZA'])::text").fetchone()[0]
        assert made == "regional_sales_za"
        assert digest(conn, "regional_sales") == before
        assert conn.execute("SELECT count(*) FROM regional_sales_other WHERE region = 'ZA'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM regional_sales_za").fetchone()[0] == in_default
        assert ("regional_sales_za", "FOR VALUES IN ('ZA')") in level1(conn, "regional_sales")
        # Again: the same partition, nothing changed.
        assert conn.execute("SELECT steward.add_list_partition('regional_sales', ARRAY['ZA'])::text"
                            ).fetchone()[0] == "regional_sales_za"


def test_hash_creates_missing_remainders_with_owner_grants_indexes(conn: psycopg.Connection) -> None:
    conn.execute("CREATE ROLE ua_owner")
    conn.execute("CREATE ROLE ua_reader")
    conn.execute("GRANT CREATE ON SCHEMA public TO ua_owner")
    hash_table(conn)
    conn.execute("CREATE INDEX ua_day ON ua (activity_date)")
    conn.execute("ALTER TABLE ua OWNER TO ua_owner")
    conn.execute("GRANT SELECT ON ua TO ua_reader")
    conn.execute("CREATE TABLE ua_p1 PARTITION OF ua FOR VALUES WITH (MODULUS 4, REMAINDER 1)")
    rows = conn.execute("SELECT partition::text, remainder, created FROM steward.create_hash_partitions('ua', 4)"
                        ).fetchall()
    assert rows == [("ua_p0", 0, True), ("ua_p1", 1, False), ("ua_p2", 2, True), ("ua_p3", 3, True)]
    for name in ("ua_p0", "ua_p2", "ua_p3"):
        assert conn.execute("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = %s::regclass",
                            [name]).fetchone()[0] == "ua_owner"
        assert conn.execute("SELECT has_table_privilege('ua_reader', %s, 'SELECT')", [name]).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [name]).fetchone()[0] == 2
    conn.execute("INSERT INTO ua SELECT n, 'u' || n FROM generate_series(1, 1000) n")
    assert conn.execute("SELECT count(DISTINCT tableoid) FROM ua").fetchone()[0] == 4
    # Idempotent.
    assert all(not r[0] for r in conn.execute("SELECT created FROM steward.create_hash_partitions('ua', 4)"))


def test_hash_bad_input_changes_nothing(conn: psycopg.Connection) -> None:
    hash_table(conn)
    list_table(conn)
    conn.execute("CREATE TABLE plain (a int)")
    fails(conn, "SELECT steward.create_hash_partitions('ua', 0)", errors.InvalidParameterValue, "modulus")
    fails(conn, "SELECT steward.create_hash_partitions('ua', -3)", errors.InvalidParameterValue, "modulus")
    fails(conn, "SELECT steward.create_hash_partitions('ua', 100000)", errors.InvalidParameterValue, "modulus")
    fails(conn, "SELECT steward.create_hash_partitions('ua', NULL)", errors.NullValueNotAllowed, "modulus")
    fails(conn, "SELECT steward.create_hash_partitions('rs', 4)", errors.WrongObjectType, "not by HASH")
    fails(conn, "SELECT steward.create_hash_partitions('plain', 4)", errors.WrongObjectType, "not a partitioned")
    fails(conn, "SELECT steward.create_hash_partitions('nope', 4)", errors.UndefinedTable, "nope")
    conn.execute("CREATE TABLE ua_p0 PARTITION OF ua FOR VALUES WITH (MODULUS 2, REMAINDER 0)")
    fails(conn, "SELECT steward.create_hash_partitions('ua', 4)", errors.InvalidParameterValue,
          "modulus 2, not 4")


def test_list_moves_default_rows_and_names(conn: psycopg.Connection) -> None:
    list_table(conn)
    conn.execute("INSERT INTO rs (region, amount) SELECT (ARRAY['US', 'ZA', 'NG', 'KE', 'a b'])[1 + n % 5], n "
                 "FROM generate_series(1, 5000) n")
    before = digest(conn, "rs")
    with conn.cursor() as cur:
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        made = cur.execute("SELECT steward.add_list_partition('rs', ARRAY['ZA', 'NG', 'ZA'])::text").fetchone()[0]
    assert made == "rs_za_ng"
    assert any("moved 2000 rows" in n for n in notices)
    assert digest(conn, "rs") == before
    assert conn.execute("SELECT region, count(*) FROM rs_za_ng GROUP BY 1 ORDER BY 1").fetchall() == [
        ("NG", 1000), ("ZA", 1000)]
    assert conn.execute("SELECT count(*) FROM rs_other WHERE region IN ('ZA', 'NG')").fetchone()[0] == 0
    made = conn.execute("SELECT steward.add_list_partition('rs', ARRAY['KE'], 'rs East \"Africa\"')::text"
                        ).fetchone()[0]
    assert made == '"rs East ""Africa"""'
    made = conn.execute("SELECT steward.add_list_partition('rs', ARRAY['a b'])::text").fetchone()[0]
    assert made == "rs_ab"
    assert digest(conn, "rs") == before
    assert conn.execute("SELECT count(*) FROM rs_other").fetchone()[0] == 0


def test_list_integer_key_casts_values(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE li (code int NOT NULL, v text) PARTITION BY LIST (code)")
    conn.execute("CREATE TABLE li_1 PARTITION OF li FOR VALUES IN (1, 2)")
    conn.execute("CREATE TABLE li_default PARTITION OF li DEFAULT")
    conn.execute("INSERT INTO li SELECT n % 10, 'x' FROM generate_series(1, 100) n")
    before = digest(conn, "li")
    assert conn.execute("SELECT steward.add_list_partition('li', ARRAY[' 07', '8'])::text").fetchone()[0] == "li_7_8"
    assert digest(conn, "li") == before
    assert conn.execute("SELECT count(*) FROM li_7_8").fetchone()[0] == 20
    fails(conn, "SELECT steward.add_list_partition('li', ARRAY['abc'])", errors.InvalidTextRepresentation,
          "not a value of the partition key", "li")
    fails(conn, "SELECT steward.add_list_partition('li', ARRAY['99999999999'])", errors.NumericValueOutOfRange,
          "not a value of the partition key", "li")
    fails(conn, "SELECT steward.add_list_partition('li', ARRAY['9', '01'])", errors.InvalidParameterValue,
          "'1' already belongs to partition public.li_1", "li")


@pytest.mark.parametrize(("call", "error", "match"), [
    ("SELECT steward.add_list_partition('rs', ARRAY['US'])", errors.InvalidParameterValue, "already belongs"),
    ("SELECT steward.add_list_partition('rs', ARRAY['ZA', 'CA', 'US'])", errors.InvalidParameterValue,
     "'CA', 'US' already belong to partition public.rs_americas"),
    ("SELECT steward.add_list_partition('rs', ARRAY[]::text[])", errors.InvalidParameterValue, "at least one"),
    ("SELECT steward.add_list_partition('rs', ARRAY['ZA', NULL])", errors.InvalidParameterValue, "NULL"),
    ("SELECT steward.add_list_partition('rs', NULL)", errors.NullValueNotAllowed, "list_values"),
    ("SELECT steward.add_list_partition('rs', ARRAY['ZA'], '')", errors.InvalidParameterValue, "empty"),
    ("SELECT steward.add_list_partition('rs', ARRAY['ZA'], repeat('é', 40))", errors.NameTooLong, "more than 63"),
    ("SELECT steward.add_list_partition('rs', ARRAY['ZA'], 'rs_americas')", errors.DuplicateTable,
     "already exists"),
    ("SELECT steward.add_list_partition('ua', ARRAY['1'])", errors.WrongObjectType, "not by LIST"),
])
def test_list_bad_input_changes_nothing(conn: psycopg.Connection, call: str, error: type[Exception],
                                        match: str) -> None:
    list_table(conn, "varchar(3)")
    hash_table(conn)
    conn.execute("INSERT INTO rs (region) VALUES ('ZA'), ('US')")
    fails(conn, call, error, match, "rs")


def test_list_value_too_long_for_typmod(conn: psycopg.Connection) -> None:
    list_table(conn, "varchar(3)")
    fails(conn, "SELECT steward.add_list_partition('rs', ARRAY['ABCD'])", errors.StringDataRightTruncation,
          "not a value of the partition key", "rs")


def test_list_insert_during_move_is_not_lost(conn: psycopg.Connection, new_database) -> None:
    """A writer inserting into DEFAULT's values while the partition is made: every row ends in the new
    partition (the writer waits for the parent's lock and routes again), none in DEFAULT."""
    list_table(conn)
    conn.execute("INSERT INTO rs (region) SELECT 'ZA' FROM generate_series(1, 100)")
    url = conn.info.dsn
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as writer:
        holder.execute("SELECT steward.add_list_partition('rs', ARRAY['ZA'])")
        pid = holder.execute("SELECT pg_backend_pid()").fetchone()[0]
        import threading

        done: list[int] = []
        thread = threading.Thread(target=lambda: done.append(
            writer.execute("INSERT INTO rs (region) VALUES ('ZA') RETURNING 1").fetchone()[0]))
        thread.start()
        with psycopg.connect(url, autocommit=True) as watcher:
            for _ in range(10_000):
                if watcher.execute("SELECT %s = ANY(pg_blocking_pids(pid)) FROM pg_stat_activity "
                                   "WHERE query LIKE 'INSERT INTO rs%%' AND pid <> pg_backend_pid()",
                                   [pid]).fetchone():
                    break
        holder.commit()
        thread.join()
    assert done == [1]
    assert conn.execute("SELECT count(*) FROM rs_za").fetchone()[0] == 101
    assert conn.execute("SELECT count(*) FROM rs_other").fetchone()[0] == 0


def ranges(conn: psycopg.Connection, parent: str) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT partition::text, range_from, range_to FROM steward.partitions(%s::regclass) "
                        "WHERE level = 1 AND NOT is_default ORDER BY range_from::timestamptz", [parent]).fetchall()


def contiguous(rows: list[tuple[str, str, str]]) -> bool:
    return all(a[2] == b[1] for a, b in itertools.pairwise(rows))


def test_change_span_monthly_to_daily_starts_at_the_newest_bound(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE ev (at date NOT NULL, v int) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE ev_default PARTITION OF ev DEFAULT")
    conn.execute("SELECT * FROM steward.manage('ev', '1 month', premake => 1)")
    before = ranges(conn, "ev")
    newest = before[-1][2]
    row = conn.execute("SELECT previous_span::text, span::text, switch_at FROM steward.change_span('ev', '1 day')"
                       ).fetchone()
    assert row == ("1 mon", "1 day", newest)
    assert ranges(conn, "ev") == before  # nothing made or dropped yet
    assert conn.execute("SELECT span::text FROM steward.partition_config WHERE parent = 'ev'::regclass"
                        ).fetchone()[0] == "1 day"
    assert conn.execute("SELECT action, detail FROM steward.partition_maintenance_log WHERE action = 'span'"
                        ).fetchone() == ("span", f"span 1 month -> 1 day; new partitions from {newest}")
    conn.execute("UPDATE steward.partition_config SET premake = 70 WHERE parent = 'ev'::regclass")
    conn.execute("SELECT * FROM steward.maintain_partitions('ev')")
    after = ranges(conn, "ev")
    assert after[:len(before)] == before
    new = after[len(before):]
    assert new and new[0][1] == newest and contiguous(after)
    assert all(conn.execute("SELECT %s::date + 1 = %s::date", [start, end]).fetchone()[0] for _, start, end in new)
    assert new[-1][2] == conn.execute("SELECT (current_date + 71)::text").fetchone()[0]


def test_change_span_daily_to_weekly_and_monthly_no_gap_no_overlap(conn: psycopg.Connection) -> None:
    """The first partition of the new span starts at the switch; the table stays one run without gap or overlap
    (the current week's slot may also be filled below the oldest day, as maintenance fills from the clock's slot).
    """
    conn.execute("CREATE TABLE ev (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("SELECT * FROM steward.manage('ev', '1 day', premake => 2, time_zone => 'Europe/Paris')")
    before = ranges(conn, "ev")
    switch = conn.execute("SELECT switch_at FROM steward.change_span('ev', '1 week')").fetchone()[0]
    assert switch == before[-1][2]
    conn.execute("UPDATE steward.partition_config SET premake = 3 WHERE parent = 'ev'::regclass")
    conn.execute("SELECT * FROM steward.maintain_partitions('ev')")
    weekly = ranges(conn, "ev")
    assert set(before) <= set(weekly) and contiguous(weekly)
    later = weekly[weekly.index(before[-1]) + 1:]
    assert later[0][1] == switch and len(later) >= 4
    # Whole weeks after the first piece: Monday local midnight to Monday local midnight.
    for _, start, end in later[1:]:
        assert conn.execute("SELECT extract(isodow FROM %s::timestamptz AT TIME ZONE 'Europe/Paris') = 1 "
                            "AND %s::timestamptz - %s::timestamptz BETWEEN '6 days 23 hours' AND '7 days 1 hour'",
                            [start, end, start]).fetchone()[0]
    switch = conn.execute("SELECT switch_at FROM steward.change_span('ev', '1 month')").fetchone()[0]
    assert switch == weekly[-1][2]
    conn.execute("SELECT * FROM steward.maintain_partitions('ev')")
    monthly = ranges(conn, "ev")
    assert set(weekly) <= set(monthly) and contiguous(monthly)
    assert monthly[monthly.index(weekly[-1]) + 1][1] == switch


@pytest.mark.parametrize(("span", "error", "match"), [
    ("90 minutes", errors.InvalidParameterValue, "does not fit"),
    ("1 month 2 days", errors.InvalidParameterValue, "positive number of months"),
    ("-1 day", errors.InvalidParameterValue, "positive number"),
    ("0", errors.InvalidParameterValue, "positive number"),
    ("1 hour", errors.InvalidParameterValue, "does not fit a date key"),
    (None, errors.NullValueNotAllowed, "new_span"),
])
def test_change_span_refuses_spans_the_clock_cannot_cut(conn: psycopg.Connection, span: str | None,
                                                        error: type[Exception], match: str) -> None:
    conn.execute("CREATE TABLE ev (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("SELECT * FROM steward.manage('ev', '1 month', premake => 1)")
    fails(conn, "SELECT * FROM steward.change_span('ev', %s)", error, match, "ev", "steward.partition_maintenance_log",
          params=[span])


def test_change_span_refuses_unmanaged_integer_and_list_tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE ev (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute("CREATE TABLE ids (id bigint NOT NULL) PARTITION BY RANGE (id)")
    conn.execute("SELECT * FROM steward.manage('ids', integer_span => 1000)")
    list_table(conn)
    fails(conn, "SELECT * FROM steward.change_span('ev', '1 day')", errors.ObjectNotInPrerequisiteState,
          "not managed")
    fails(conn, "SELECT * FROM steward.change_span('ids', '1 day')", errors.InvalidParameterValue, "integer key")
    fails(conn, "SELECT * FROM steward.change_span('rs', '1 day')", errors.WrongObjectType, "not by RANGE")


def test_list_move_runs_the_owners_code_as_the_owner(conn: psycopg.Connection) -> None:
    """A superuser adds the partition; the owner's trigger on DEFAULT runs with the owner's rights, not the caller's."""
    conn.execute("CREATE ROLE rs_owner")
    conn.execute("GRANT CREATE ON SCHEMA public TO rs_owner")
    list_table(conn)
    conn.execute("CREATE TABLE seen (who text)")
    conn.execute("GRANT INSERT ON seen TO rs_owner")
    conn.execute("CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$BEGIN INSERT INTO public.seen VALUES (current_user); RETURN NULL; END$$")
    conn.execute("CREATE TRIGGER note AFTER DELETE ON rs_other FOR EACH STATEMENT EXECUTE FUNCTION public.note()")
    conn.execute("ALTER TABLE rs OWNER TO rs_owner")
    conn.execute("ALTER TABLE rs_other OWNER TO rs_owner")
    conn.execute("ALTER TABLE rs_americas OWNER TO rs_owner")
    conn.execute("ALTER FUNCTION public.note() OWNER TO rs_owner")
    conn.execute("INSERT INTO rs (region) VALUES ('ZA'), ('ZA')")
    conn.execute("SELECT steward.add_list_partition('rs', ARRAY['ZA'])")
    assert conn.execute("SELECT who FROM seen").fetchall() == [("rs_owner",)]
    assert conn.execute("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'rs_za'"
                        ).fetchone() == ("rs_owner",)


def test_a_role_that_may_not_change_the_table_changes_nothing(conn: psycopg.Connection) -> None:
    list_table(conn)
    hash_table(conn)
    conn.execute("INSERT INTO rs (region) VALUES ('ZA')")
    conn.execute("CREATE ROLE steward_layouts_stranger")  # roles are the cluster's: a name of its own, dropped
    try:
        conn.execute("GRANT SELECT ON rs, ua TO steward_layouts_stranger")
        conn.execute("GRANT CREATE ON SCHEMA public TO steward_layouts_stranger")
        for call in ("SELECT steward.add_list_partition('rs', ARRAY['ZA'])",
                     "SELECT * FROM steward.create_hash_partitions('ua', 2)"):
            with conn.transaction():
                conn.execute("SET LOCAL ROLE steward_layouts_stranger")
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(call)
                raise psycopg.Rollback
    finally:
        conn.execute("DROP OWNED BY steward_layouts_stranger")
        conn.execute("DROP ROLE steward_layouts_stranger")
    assert conn.execute("SELECT count(*) FROM rs_other").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'ua'::regclass").fetchone() == (0,)


def test_list_values_with_quotes_backslashes_and_unicode(conn: psycopg.Connection) -> None:
    list_table(conn)
    values = ["O'Brien", "a\\b", "é", "x\"y", " lead", "1; DROP TABLE rs"]
    conn.execute("INSERT INTO rs (region) SELECT unnest(%s::text[])", [values])
    before = digest(conn, "rs")
    names = [conn.execute("SELECT steward.add_list_partition('rs', ARRAY[%s])::regclass::oid::regclass::text",
                          [v]).fetchone()[0] for v in values]
    assert digest(conn, "rs") == before
    assert conn.execute("SELECT count(*) FROM rs_other").fetchone() == (0,)
    for value, name in zip(values, names, strict=True):
        assert conn.execute(f"SELECT region FROM {name}").fetchall() == [(value,)]
    assert names[2].startswith("rs_v") and len(names) == len(set(names))
    assert conn.execute("SELECT to_regclass('rs') IS NOT NULL").fetchone() == (True,)
