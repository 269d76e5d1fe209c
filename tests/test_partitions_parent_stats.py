"""Statistics of partitioned parents: maintenance ANALYZEs a parent after its partitions changed, bounded by the
table's interval and the run's budget, as the table's owner, and a failure is counted and shown by health()."""

from __future__ import annotations

import psycopg

from support.partitions import act

PARENT = """
CREATE TABLE m (d date NOT NULL, v int) PARTITION BY RANGE (d);
CREATE TABLE m_default PARTITION OF m DEFAULT;
"""


def reltuples(conn: psycopg.Connection, table: str) -> float:
    return act(conn, "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])[0][0]


def parent_analyses(conn: psycopg.Connection, table: str = "public.m") -> list[tuple]:
    return act(conn, "SELECT ok, detail FROM steward.partition_maintenance_log "
                     "WHERE action = 'analyze parent' AND parent = %s ORDER BY id", [table])


def stale_parent(conn: psycopg.Connection, name: str = "m") -> None:
    """A parent analyzed when it held 1,000 rows of the coming weeks, then given 3,000 rows of last year in
    DEFAULT: its statistics say 1,000 rows and nothing before this year."""
    conn.execute(PARENT.replace(" m", f" {name}").replace("m_default", f"{name}_default"))
    conn.execute(f"INSERT INTO {name} SELECT current_date + (g % 60), g FROM generate_series(1, 1000) g")
    conn.execute(f"ANALYZE {name}")
    conn.execute(f"INSERT INTO {name} SELECT "
                 "date_trunc('year', current_date - 365)::date + (g % 300), g FROM generate_series(1, 3000) g")


def this_year(conn: psycopg.Connection) -> str:
    return act(conn, "SELECT date_trunc('year', current_date)::date::text")[0][0]


def lowest_histogram_bound(conn: psycopg.Connection, table: str) -> str:
    """The lowest key value the parent's inherited statistics know of (in its histogram or its common values)."""
    return act(conn, "SELECT least((histogram_bounds::text::date[])[1], "
                     "(SELECT min(x) FROM unnest(most_common_vals::text::date[]) AS x))::text "
                     "FROM pg_stats WHERE tablename = %s AND attname = 'd' AND inherited", [table])[0][0]


def test_a_run_that_moved_rows_out_of_default_analyzes_the_stale_parent(conn: psycopg.Connection) -> None:
    stale_parent(conn)
    made = act(conn, "SELECT action, ok FROM steward.manage('m', '1 year', premake => 1)")
    assert ("create", True) in made
    # manage made the partitions (the rows moved out of DEFAULT) and leaves the parent to the next run
    assert reltuples(conn, "m") == 1000 and lowest_histogram_bound(conn, "m") >= this_year(conn)
    rows = act(conn, "SELECT action, ok, detail FROM steward.maintain_partitions()")
    assert [(a, ok) for a, ok, _ in rows] == [("analyze parent", True)]
    assert "since no analysis by maintenance" in rows[0][2] and "estimate 1000 rows -> 4000 rows" in rows[0][2]
    assert reltuples(conn, "m") == 4000
    assert lowest_histogram_bound(conn, "m") < this_year(conn)  # the inherited statistics see the old rows now
    assert act(conn, "SELECT tables_due, actions, failures FROM steward.maintenance_runs "
                     "ORDER BY run_id DESC LIMIT 1") == [(0, 1, 0)]
    assert act(conn, "SELECT last_analyze IS NOT NULL FROM pg_stat_all_tables WHERE relid = 'm'::regclass") == [(True,)]
    # nothing changed since: the next run analyzes nothing
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == []


def test_run_maintenance_analyzes_the_parent_last_and_counts_it(conn: psycopg.Connection) -> None:
    stale_parent(conn)
    conn.execute("INSERT INTO steward.partition_config (parent, span, premake) VALUES ('m', '1 year', 1)")
    conn.execute("CALL steward.run_maintenance()")
    assert reltuples(conn, "m") == 4000
    assert [ok for ok, _ in parent_analyses(conn)] == [True]
    actions, creates = act(conn, "SELECT (SELECT actions FROM steward.maintenance_runs ORDER BY run_id DESC LIMIT 1),"
                                 " (SELECT count(*) FROM steward.partition_maintenance_log WHERE action = 'create')")[0]
    assert actions == creates + 1


def test_not_analyzed_when_disabled(conn: psycopg.Connection) -> None:
    stale_parent(conn)
    act(conn, "SELECT * FROM steward.manage('m', '1 year', premake => 1)")
    conn.execute("UPDATE steward.partition_config SET analyze_parent = false")
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == []
    assert act(conn, "SELECT action FROM steward.analyze_parents()") == []
    assert reltuples(conn, "m") == 1000 and parent_analyses(conn) == []
    conn.execute("UPDATE steward.partition_config SET analyze_parent = true")  # the changes are still pending
    assert act(conn, "SELECT action, ok FROM steward.analyze_parents('m')") == [("analyze parent", True)]
    assert reltuples(conn, "m") == 4000


def test_within_the_interval_a_change_waits_then_is_analyzed(conn: psycopg.Connection) -> None:
    stale_parent(conn)
    act(conn, "SELECT * FROM steward.manage('m', '1 year', premake => 1)")
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == [("analyze parent",)]
    assert len(parent_analyses(conn)) == 1
    conn.execute("UPDATE steward.partition_config SET premake = 3")  # two more partitions: a change
    made = act(conn, "SELECT action FROM steward.maintain_partitions()")
    assert made == [("create",), ("create",)]  # analyzed within the hour already: not again
    assert len(parent_analyses(conn)) == 1
    conn.execute("UPDATE steward.partition_config SET analyze_parent_interval = '0'")
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == [("analyze parent",)]
    detail = parent_analyses(conn)[-1][1]
    assert detail.startswith("2 partition changes since the analysis of ")
    assert act(conn, "SELECT action FROM steward.maintain_partitions()") == []  # nothing pending any more


def test_a_run_analyzes_at_most_its_budget_of_parents_oldest_first(conn: psycopg.Connection) -> None:
    for name in ("a", "b", "c"):
        stale_parent(conn, name)
        act(conn, f"SELECT * FROM steward.manage('{name}', '1 year', premake => 1)")
    conn.execute("INSERT INTO steward.maintenance_limits (max_parent_analyzes) VALUES (2)")
    first = act(conn, "SELECT parent::text FROM steward.maintain_partitions()")
    assert first == [("a",), ("b",)]  # none analyzed before: by name
    assert act(conn, "SELECT parent::text FROM steward.maintain_partitions()") == [("c",)]
    conn.execute("UPDATE steward.maintenance_limits SET max_parent_analyzes = 0")
    conn.execute("UPDATE steward.partition_config SET premake = 2, analyze_parent_interval = '0'")
    assert {a for a, in act(conn, "SELECT action FROM steward.maintain_partitions()")} == {"create"}
    assert reltuples(conn, "c") == 4000


def test_a_failed_analyze_is_logged_counted_and_shown_by_health(conn: psycopg.Connection) -> None:
    stale_parent(conn)
    act(conn, "SELECT * FROM steward.manage('m', '1 year', premake => 1, lock_timeout => '50 ms', lock_retries => 0)")
    url = conn.info.dsn
    with psycopg.connect(url) as other:  # a session holding a lock ANALYZE conflicts with
        other.execute("LOCK TABLE ONLY m IN SHARE UPDATE EXCLUSIVE MODE")
        rows = act(conn, "SELECT action, ok, detail FROM steward.maintain_partitions()")
        other.rollback()
    assert [(a, ok) for a, ok, _ in rows] == [("analyze parent", False)]
    assert rows[0][2].startswith("ANALYZE of the parent failed: analyze public.m: a lock was not available within "
                                 "50 ms, 1 attempt")
    assert act(conn, "SELECT failures FROM steward.maintenance_runs ORDER BY run_id DESC LIMIT 1") == [(1,)]
    status, detail = act(conn, "SELECT status, detail FROM steward.health() WHERE check_name = 'maintenance_runs'")[0]
    assert status is not None and "failing: public.m since " in detail and "ANALYZE of the parent failed" in detail
    assert reltuples(conn, "m") == 1000
    # the next run, the lock gone, analyzes it (a failure does not count as the last analysis)
    assert act(conn, "SELECT action, ok FROM steward.maintain_partitions()") == [("analyze parent", True)]
    assert reltuples(conn, "m") == 4000


SPY = """
CREATE FUNCTION spy(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE NOTICE 'spy ran as % (superuser: %)', current_user,
        (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    RETURN v;
END $$;
"""


def test_the_owners_index_and_statistics_expressions_run_as_the_owner(conn: psycopg.Connection) -> None:
    conn.execute("CREATE ROLE hostile; GRANT CREATE ON SCHEMA public TO hostile;"
                 "GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO hostile;"
                 "GRANT INSERT ON steward.partition_maintenance_log TO hostile;"
                 "GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO hostile")
    try:
        conn.execute("SET ROLE hostile")
        stale_parent(conn)
        conn.execute(SPY)
        act(conn, "SELECT * FROM steward.manage('m', '1 year', premake => 1)")
        conn.execute("UPDATE steward.partition_config SET \"analyze\" = false")
        conn.execute("CREATE INDEX m_spy ON m (spy(v)); CREATE STATISTICS m_spy_stats ON (spy(v)) FROM m")
        conn.execute("RESET ROLE")  # maintenance by a superuser, as pg_cron runs it
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        assert act(conn, "SELECT action, ok FROM steward.maintain_partitions()") == [("analyze parent", True)]
        ran = {n for n in notices if n.startswith("spy ran")}
        assert ran == {"spy ran as hostile (superuser: f)"}
        assert reltuples(conn, "m") == 4000
    finally:
        conn.execute("RESET ROLE; DROP OWNED BY hostile; DROP ROLE hostile")


def test_new_partitions_and_their_sub_partitions_take_the_tables_storage_template(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE s (d date NOT NULL, region text NOT NULL) PARTITION BY RANGE (d);
        DO $$ BEGIN EXECUTE format('CREATE TABLE s_old PARTITION OF s FOR VALUES FROM (%L) TO (%L) '
                                   'PARTITION BY LIST (region)', date_trunc('month', current_date)::date,
                                   (date_trunc('month', current_date) + interval '1 month')::date); END $$;
        CREATE TABLE s_old_eu PARTITION OF s_old FOR VALUES IN ('eu');
        CREATE TABLE s_old_us PARTITION OF s_old FOR VALUES IN ('us');
        CREATE TABLE f (d date NOT NULL) PARTITION BY RANGE (d);
    """)
    template = "{fillfactor=70,autovacuum_vacuum_scale_factor=0.05}"
    act(conn, "SELECT * FROM steward.manage('s', premake => 1, storage_parameters => %s)", [template])
    act(conn, "SELECT * FROM steward.manage('f', premake => 0, storage_parameters => %s)", [template])
    options = act(conn, "SELECT c.relname::text, c.relkind::text, c.reloptions::text FROM pg_class AS c "
                        "WHERE c.relname ~ '^(s|f)_p' ORDER BY 1")
    assert options and all(o == template for _, kind, o in options if kind == "r"), options
    assert {kind for _, kind, _ in options} == {"p", "r"}  # s's new partition is partitioned, its leaves hold it
    assert len([n for n, kind, _ in options if kind == "r" and n.startswith("s_p")]) == 2


def test_a_partitioned_parent_holds_no_storage_parameter_to_inherit(conn: psycopg.Connection) -> None:
    """Why the template falls back on the parent's reloptions only when it has some: on this server a
    partitioned table refuses heap storage parameters (as PostgreSQL 15 to 18 do)."""
    conn.execute("CREATE TABLE p (d date NOT NULL) PARTITION BY RANGE (d)")
    refused = 0
    for parameter in ("fillfactor = 70", "autovacuum_enabled = false", "autovacuum_analyze_scale_factor = 0.01"):
        try:
            conn.execute(f"ALTER TABLE p SET ({parameter})")
        except (psycopg.errors.InvalidParameterValue, psycopg.errors.WrongObjectType):  # 22023 on 15, 42809 on 16-18
            refused += 1
    reloptions = act(conn, "SELECT reloptions FROM pg_class WHERE oid = 'p'::regclass")[0][0]
    assert refused == 3 or reloptions is not None  # a newer server that accepts one keeps it, and it is copied
    act(conn, "SELECT * FROM steward.manage('p', premake => 0)")
    made = act(conn, "SELECT c.reloptions FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
                     "WHERE i.inhparent = 'p'::regclass")
    assert made == [(reloptions,)]


def test_a_table_given_to_another_owner_is_not_analyzed(conn: psycopg.Connection) -> None:
    """The registry row is refused until the new owner registers the table again: nothing is done to it."""
    stale_parent(conn)
    act(conn, "SELECT * FROM steward.manage('m', '1 year', premake => 1)")
    conn.execute("CREATE ROLE heir")
    try:
        conn.execute("ALTER TABLE m OWNER TO heir")
        assert act(conn, "SELECT action FROM steward.maintain_partitions()") == []  # the survey: nothing due
        assert act(conn, "SELECT action, ok FROM steward.maintain_partitions('m')") == [("error", False)]
        assert act(conn, "SELECT action FROM steward.analyze_parents()") == []
        assert reltuples(conn, "m") == 1000 and parent_analyses(conn) == []
    finally:
        conn.execute("DROP TABLE m; DROP ROLE heir")
