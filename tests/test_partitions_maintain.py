"""steward.manage / maintain_partitions / run_maintenance: premake by the clock, gaps, DEFAULT rows,
retention, isolation of failures, the log, and bad input."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.partitions import act, digest, fails, month, tree_names
from support.plans import plans_of_calls


def test_premake_by_the_clock_without_any_data(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL, v int) PARTITION BY RANGE (d)")
    rows = act(conn, "SELECT action, partition, ok FROM steward.manage('m', '1 month', premake => 2)")
    assert rows == [("create", f"public.m_p{month(conn, k)}", True) for k in range(3)]
    # the next run analyzes the parent whose partitions manage made (test_partitions_parent_stats.py), no more
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == [("analyze parent",)]
    assert act(conn, "SELECT * FROM steward.maintain_partitions()") == []  # idempotent
    assert act(conn, "SELECT count(*) FROM steward.partition_config WHERE parent = 'm'::regclass") == [(1,)]


def test_gaps_are_filled_and_stranded_rows_rescued(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                 "CREATE TABLE m_default PARTITION OF m DEFAULT")
    conn.execute("SELECT * FROM steward.manage('m', '1 month', premake => 2)")
    conn.execute(f"DROP TABLE m_p{month(conn, 1)}")
    conn.execute("INSERT INTO m SELECT date_trunc('month', current_date)::date + interval '1 month' + i * "
                 "interval '1 hour', i FROM generate_series(1, 50) i")  # next month: now in DEFAULT
    conn.execute("INSERT INTO m VALUES (date_trunc('month', current_date)::date + interval '7 months', 0)")
    before = digest(conn, "m")
    rows = act(conn, "SELECT action, partition, detail FROM steward.maintain_partitions('m')")
    assert [(a, p) for a, p, _ in rows] == [("create", f"public.m_p{month(conn, 1)}"),
                                            ("create", f"public.m_p{month(conn, 7)}"), ("analyze parent", None)]
    assert "moved 50 rows from DEFAULT" in rows[0][2] and "moved 1 rows from DEFAULT" in rows[1][2]
    assert digest(conn, "m") == before
    assert act(conn, "SELECT count(*) FROM m_default") == [(0,)]
    log = act(conn, "SELECT action, rows_moved, ok FROM steward.partition_maintenance_log "
                    "WHERE parent = 'public.m' AND action = 'create' ORDER BY id DESC LIMIT 2")
    assert sorted(log) == [("create", 1, True), ("create", 50, True)]


def test_retention_applies_with_its_mode(conn: psycopg.Connection) -> None:
    conn.execute("CREATE SCHEMA attic;"
                 "CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE m_ancient PARTITION OF m FOR VALUES FROM ('2001-01-01') TO ('2001-02-01')")
    rows = act(conn, "SELECT action, partition FROM steward.manage('m', premake => 0, retention => '1 year', "
                     "retention_mode => 'archive', archive_schema => 'attic')")
    assert ("would archive", "public.m_ancient") in rows  # manage() previews; the next run retires
    rows = act(conn, "SELECT action, partition FROM steward.maintain_partitions('m')")
    assert rows == [("archive", "attic.m_ancient"), ("analyze parent", None)]
    # Gaps are filled from the month of the cutoff on, not from 2001: older ones would be retired at once.
    assert tree_names(conn, "m") == ["m", *[f"m_p{month(conn, k)}" for k in range(-12, 1)]]


def test_new_partitions_are_analyzed_and_take_storage_parameters(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    conn.execute("SELECT * FROM steward.manage('m', premake => 1, storage_parameters => '{fillfactor=70}')")
    rows = act(conn, "SELECT c.reloptions, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                     "WHERE i.inhparent = 'm'::regclass")
    assert len(rows) == 2 and all(r == (["fillfactor=70"], 0.0) for r in rows)


# The statements pg_steward's Python sends while a call runs, counted in the server by wrapping the one place
# they go through (pg_steward.db.PlpyDatabase): each is a subtransaction of PL/Python, whose end costs more
# the more relations the transaction has created, so many manage() calls in one transaction pay for each.
_COUNT_STATEMENTS = """
DO LANGUAGE plpython3u $do$
from pg_steward import db
run, script = db.PlpyDatabase._run, db.PlpyDatabase.script
sent = []
db.PlpyDatabase._run = lambda self, sql, params: sent.append(sql) or run(self, sql, params)
db.PlpyDatabase.script = lambda self, statements: sent.append("; ".join(statements)) or script(self, statements)
try:
    plpy.execute(%s)
finally:
    db.PlpyDatabase._run, db.PlpyDatabase.script = run, script
plpy.notice("SENT " + "\x1e".join(sent))
$do$"""


def statements_sent(conn: psycopg.Connection, call: str) -> list[str]:
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("SELECT steward.version()")  # the package loaded
    conn.execute(_COUNT_STATEMENTS % repr(call))  # a Python literal in the DO block
    sent = [n for n in notices if n.startswith("SENT ")]
    return sent[-1][len("SENT "):].split("\x1e")


def test_each_new_partition_costs_one_statement(conn: psycopg.Connection) -> None:
    """Beyond the table's own reads, a partition made by manage() is one statement: its name was looked up with
    the others' and it is analyzed with them (it was three: the name, the creation, its ANALYZE)."""
    conn.execute("CREATE TABLE few (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE many (d date NOT NULL) PARTITION BY RANGE (d)")
    few = statements_sent(conn, "SELECT count(*) FROM steward.manage('few', premake => 2)")
    many = statements_sent(conn, "SELECT count(*) FROM steward.manage('many', premake => 9)")
    assert len(many) - len(few) == 7, (few, many)
    analyses = [s for s in many if "ANALYZE" in s]
    assert len(analyses) == 1 and analyses[0].count("ANALYZE") == 10, analyses
    assert act(conn, "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                     "WHERE i.inhparent = 'many'::regclass AND c.reltuples = 0") == [(10,)]  # analyzed (not -1)


def test_the_names_lookup_reads_pg_class_by_its_index_even_in_a_generic_plan(conn: psycopg.Connection) -> None:
    """The lookup of the names due runs as a prepared statement, generic after five calls: as an anti join its
    generic plan hashed every pg_class row of the schema, each call (a scan that grows with the tables a
    transaction registers). Each name is found by the (relname, relnamespace) index, whatever the plan mode."""
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    plans = plans_of_calls(conn, "SELECT count(*) FROM steward.manage('m', premake => 2)")
    lookups = [p for p in plans if "unnest($2::text[]) AS w(name)" in p]
    assert lookups, plans
    assert all("pg_class_relname_nsp_index" in p and "Seq Scan on pg_class" not in p for p in lookups), lookups


def test_a_taken_name_found_in_the_lookup_of_all_gets_the_hashed_name(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d);"
                 f"CREATE TABLE m_p{month(conn, 1)} (x int)")  # a table of the name the next month would get
    rows = act(conn, "SELECT action, partition FROM steward.manage('m', premake => 2)")
    names = [p for a, p in rows if a == "create"]
    assert len(names) == 3 and names[0] == f"public.m_p{month(conn, 0)}" and names[2] == f"public.m_p{month(conn, 2)}"
    assert names[1].startswith(f"public.m_p{month(conn, 1)}_"), names  # the clash's hashed name


def test_one_failing_table_does_not_stop_the_others(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE a (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE TABLE a_default PARTITION OF a DEFAULT;
        CREATE TABLE b (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'rows of a_default may not leave'; END $$;
        CREATE TRIGGER keep BEFORE DELETE ON a_default FOR EACH ROW EXECUTE FUNCTION refuse();
        INSERT INTO a VALUES (current_date);
    """)
    conn.execute("SELECT * FROM steward.manage('a', premake => 0)")  # fails: logged, not raised
    conn.execute("SELECT * FROM steward.manage('b', premake => 0)")
    conn.execute("DROP TABLE b_p" + month(conn, 0))
    rows = act(conn, "SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()")
    assert [(p, a, ok) for p, a, ok, _ in rows] == [("a", "error", False), ("b", "create", True),
                                                    ("b", "analyze parent", True)]
    assert "rows of a_default may not leave" in rows[0][3]
    assert act(conn, "SELECT count(*) FROM a_default") == [(1,)]  # nothing lost, nothing half-made
    assert tree_names(conn, "a") == ["a", "a_default"]
    failures = act(conn, "SELECT count(*) FROM steward.partition_maintenance_log WHERE parent = 'public.a' AND NOT ok")
    assert failures[0][0] >= 2


def test_run_maintenance_procedure(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE a (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE b (t timestamptz NOT NULL) PARTITION BY RANGE (t)")
    conn.execute("SELECT * FROM steward.manage('a', premake => 0)")
    conn.execute("SELECT * FROM steward.manage('b', '1 day', premake => 1, time_zone => 'Asia/Tokyo')")
    conn.execute("DROP TABLE a_p" + month(conn, 0))
    conn.execute("UPDATE steward.partition_config SET premake = 2 WHERE parent = 'b'::regclass")
    notices: list[str] = []
    conn.add_notice_handler(lambda n: notices.append(n.message_primary))
    conn.execute("CALL steward.run_maintenance()")
    assert len(tree_names(conn, "a")) == 2 and len(tree_names(conn, "b")) == 4
    # Progress, one line per table with work: a partition for a, one more day for b. The procedure runs with
    # search_path = pg_catalog, pg_temp whatever the caller's, so tables are named with their schema.
    assert notices == ["pg_steward: 1 of 2: public.a: 1 action", "pg_steward: 2 of 2: public.b: 1 action"]
    logged = act(conn, "SELECT count(*) FROM steward.partition_maintenance_log")
    conn.execute("CALL steward.run_maintenance()")  # again: nothing to do, nothing logged
    assert act(conn, "SELECT count(*) FROM steward.partition_maintenance_log") == logged
    assert len(notices) == 2
    assert act(conn, "SELECT count(*) FROM steward.partition_maintenance_log WHERE NOT ok") == [(0,)]


@pytest.mark.parametrize("how", ["begin", "multi-statement", "function"])
def test_run_maintenance_in_a_transaction_block_says_how_to_run_it(conn: psycopg.Connection, how: str) -> None:
    """A CALL that cannot commit is refused before any work, with 25001 and a hint, not PostgreSQL's bare
    "invalid transaction termination"; maintain_partitions() does the same work in the caller's transaction."""
    conn.execute("CREATE TABLE a (d date NOT NULL) PARTITION BY RANGE (d)")
    conn.execute("SELECT * FROM steward.manage('a', premake => 0)")
    conn.execute("DROP TABLE a_p" + month(conn, 0))
    conn.execute("CREATE FUNCTION maintain_in_a_function() RETURNS void LANGUAGE plpgsql "
                 "AS $$ BEGIN CALL steward.run_maintenance(); END $$")
    runs = act(conn, "SELECT count(*) FROM steward.maintenance_runs")
    with pytest.raises(psycopg.errors.ActiveSqlTransaction) as refused:
        if how == "begin":
            with conn.transaction():
                conn.execute("CALL steward.run_maintenance()")
        elif how == "multi-statement":
            conn.execute("SELECT 1; CALL steward.run_maintenance()")
        else:
            conn.execute("SELECT maintain_in_a_function()")
    diag = refused.value.diag
    assert diag.message_primary == "pg_steward: steward.run_maintenance() cannot run inside a transaction block"
    assert "outside BEGIN" in diag.message_hint and "steward.maintain_partitions()" in diag.message_hint
    assert act(conn, "SELECT count(*) FROM steward.maintenance_runs") == runs  # refused before any work
    assert tree_names(conn, "a") == ["a"]
    with conn.transaction():
        conn.execute("SELECT * FROM steward.maintain_partitions()")
    assert tree_names(conn, "a") == ["a", "a_p" + month(conn, 0)]


def test_integer_keys_follow_the_highest_value(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE ids (id bigint NOT NULL) PARTITION BY RANGE (id);"
                 "CREATE TABLE ids_default PARTITION OF ids DEFAULT;"
                 "INSERT INTO ids SELECT generate_series(1, 2500)")
    conn.execute("SELECT * FROM steward.manage('ids', integer_span => 1000, premake => 2)")
    rows = act(conn, "SELECT range_from, range_to FROM steward.partitions('ids') WHERE level = 1 AND NOT is_default")
    assert rows == [("0", "1000"), ("1000", "2000"), ("2000", "3000"), ("3000", "4000"), ("4000", "5000")]
    assert act(conn, "SELECT count(*) FROM ids_default") == [(0,)]
    assert act(conn, "SELECT count(*), sum(id) FROM ids") == [(2500, 2500 * 2501 // 2)]


def test_unmanage_and_unmanaged_tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    assert act(conn, "SELECT action FROM steward.maintain_partitions('m')") == [("skip",)]
    conn.execute("SELECT * FROM steward.manage('m', premake => 0)")
    assert act(conn, "SELECT steward.unmanage('m')") == [(True,)]
    assert act(conn, "SELECT steward.unmanage('m')") == [(False,)]
    assert len(tree_names(conn, "m")) == 2  # partitions stay


def test_manage_again_reconfigures(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    conn.execute("SELECT * FROM steward.manage('m', premake => 0)")
    conn.execute("SELECT * FROM steward.manage('m', premake => 4, lock_timeout => '300 ms')")
    assert act(conn, "SELECT premake, lock_timeout FROM steward.partition_config") == [
        (4, __import__("datetime").timedelta(milliseconds=300))]
    assert len(tree_names(conn, "m")) == 1 + 5


@pytest.mark.parametrize(
    ("sql", "error", "match"),
    [
        ("SELECT * FROM steward.manage('m', premake => -1)", errors.InvalidParameterValue, "premake"),
        ("SELECT * FROM steward.manage('m', NULL)", errors.NullValueNotAllowed, "span"),
        ("SELECT * FROM steward.manage('m', '-1 month')", errors.InvalidParameterValue, "span"),
        ("SELECT * FROM steward.manage('m', retention => '-3 months')", errors.InvalidParameterValue, "retention"),
        ("SELECT * FROM steward.manage('m', time_zone => 'Nowhere/Land')", errors.InvalidParameterValue,
         "time zone"),
        ("SELECT * FROM steward.manage('m', retention_mode => 'archive')", errors.InvalidParameterValue,
         "archive_schema"),
        ("SELECT * FROM steward.manage('m', retention_mode => 'archive', archive_schema => 'nope')",
         errors.InvalidSchemaName, "does not exist"),
        ("SELECT * FROM steward.manage('m', retention_mode => 'burn')", errors.InvalidParameterValue,
         "retention_mode"),
        ("SELECT * FROM steward.manage('m', lock_timeout => '0')", errors.InvalidParameterValue, "lock_timeout"),
        ("SELECT * FROM steward.manage('m', lock_retries => -1)", errors.InvalidParameterValue, "lock_retries"),
        ("SELECT * FROM steward.manage('m', storage_parameters => '{fillfactor=5}')", errors.InvalidParameterValue,
         "storage_parameters"),
        ("SELECT * FROM steward.manage('m', storage_parameters => '{\"fillfactor=70); DROP TABLE plain; --\"}')",
         errors.InvalidParameterValue, "storage_parameters"),
        ("SELECT * FROM steward.manage('m', storage_parameters => '{\"x) WITH (y\"}')",
         errors.InvalidParameterValue, "name=value"),
        ("SELECT * FROM steward.manage('hashed')", errors.WrongObjectType, "HASH"),
        ("SELECT * FROM steward.manage('plain')", errors.WrongObjectType, "not a partitioned table"),
        ("SELECT * FROM steward.manage('ints')", errors.InvalidParameterValue, "integer_span"),
        ("SELECT * FROM steward.manage('ints', integer_span => 10, retention => '1 year')",
         errors.InvalidParameterValue, "retention"),
        ("SELECT * FROM steward.manage(NULL)", errors.NullValueNotAllowed, "parent"),
    ],
)
def test_manage_bad_input(conn: psycopg.Connection, sql: str, error: type[Exception], match: str) -> None:
    conn.execute("""
        CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE TABLE plain (d date);
        CREATE TABLE hashed (id int) PARTITION BY HASH (id);
        CREATE TABLE ints (i int NOT NULL) PARTITION BY RANGE (i);
    """)
    fails(conn, sql, error, match, "m", "plain")


def test_only_the_owner_may_manage(conn: psycopg.Connection) -> None:
    conn.execute("DROP ROLE IF EXISTS intruder; CREATE ROLE intruder;"
                 "GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO intruder;"
                 "CREATE TABLE m (d date NOT NULL) PARTITION BY RANGE (d)")
    try:
        conn.execute("SET ROLE intruder")
        fails(conn, "SELECT * FROM steward.manage('m')", errors.InsufficientPrivilege, "must be owner")
        fails(conn, "SELECT steward.create_monthly_partition('m', '2024-01-01')", errors.InsufficientPrivilege,
              "permission denied|must be owner")
    finally:
        conn.execute("RESET ROLE; REVOKE ALL ON steward.partition_config FROM intruder; DROP ROLE intruder")


def test_run_maintenance_works_off_a_backlog_in_steps_bounded_by_lock_timeout(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE bk (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE bk_default PARTITION OF bk DEFAULT")
    # A step may hold its locks for a quarter of lock_timeout: 2 ms here, less than any creation takes.
    conn.execute("SELECT * FROM steward.manage('bk', '1 day', premake => 0, retention => '3 days', "
                 "lock_timeout => '8 ms')")
    # Which top-level transaction logged each action (txid_current is the top level's, even in a subtransaction).
    conn.execute("""
        CREATE TABLE seen (action text, txid bigint);
        CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO public.seen VALUES (NEW.action, txid_current()); RETURN NEW; END $$;
        CREATE TRIGGER note AFTER INSERT ON steward.partition_maintenance_log FOR EACH ROW EXECUTE FUNCTION note();
    """)
    conn.execute("INSERT INTO bk SELECT current_date - 10 + g FROM generate_series(0, 20) g")  # 20 days stranded
    step = conn.execute("SELECT action FROM steward._maintain_step('bk'::regclass, 1)").fetchall()
    assert step == [("create",), ("more",)]  # no retention while partitions are still due
    assert conn.execute("SELECT count(*), count(DISTINCT txid) FROM seen").fetchone() == (1, 1)
    conn.execute("TRUNCATE seen")

    conn.execute("CALL steward.run_maintenance()")
    assert conn.execute("SELECT count(*) FROM bk_default").fetchone() == (0,)
    creates, transactions = conn.execute("SELECT count(*), count(DISTINCT txid) FROM seen WHERE action = 'create'"
                                         ).fetchone()
    # 19 creations of a few ms each, steps of 2 ms (one creation at least): committed in many transactions.
    assert creates == 19 and transactions >= 4, (creates, transactions)
    retired = conn.execute("SELECT count(*), count(DISTINCT txid) FROM seen WHERE action = 'drop'").fetchone()
    assert retired == (7, 1)  # days before the cutoff (today - 3), all in the last step
    assert conn.execute("SELECT count(*) FROM steward.partition_maintenance_log WHERE action = 'more'").fetchone() == (
        0,)
    assert conn.execute("SELECT * FROM steward.maintain_partitions()").fetchall() == []


def test_record_run_start_and_end_check_their_arguments(conn: psycopg.Connection) -> None:
    for sql, sqlstate in (("SELECT steward.record_run_start('run_maintenance')", "22023"),
                          ("SELECT steward.record_run_end(NULL, 1, 1, 0)", "22004"),
                          ("SELECT steward.record_run_end(424242, 1, 1, 0)", "22023")):
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(sql)
        assert raised.value.sqlstate == sqlstate, (sql, raised.value)
        conn.rollback()
    run_id = conn.execute("SELECT steward.record_run_start()").fetchone()[0]
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT steward.record_run_end(%s, -1, 1, 0)", [run_id])
    assert raised.value.sqlstate == "22023"
    conn.rollback()
    run_id = conn.execute("SELECT steward.record_run_start()").fetchone()[0]
    conn.execute("SELECT steward.record_run_end(%s, 3, 2, 1)", [run_id])
    assert conn.execute("SELECT procedure, tables_due, actions, failures, other_owners, finished_at IS NOT NULL "
                        "FROM steward.maintenance_runs WHERE run_id = %s", [run_id]).fetchone() == (
        "pg-steward maintain", 3, 2, 1, 0, True)
