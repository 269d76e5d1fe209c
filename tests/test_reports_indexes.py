"""steward.index_report, partition_index_usage and hot_partitions on problems built for real."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.reports import flush_stats, monitor_role, rows


def report(conn: psycopg.Connection) -> list[dict]:
    return rows(conn, "SELECT * FROM steward.index_report()")


def test_clean_database_has_no_findings(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE)")
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers)")
    conn.execute("CREATE INDEX orders_customer ON orders (customer)")
    conn.execute("SELECT * FROM orders WHERE customer = 1")  # the plain index has been used
    conn.execute("SET enable_seqscan = off")
    conn.execute("SELECT * FROM orders WHERE customer = 1")
    flush_stats(conn)
    assert report(conn) == []
    assert [r for r in rows(conn, "SELECT * FROM steward.table_bloat()") if r["fix"]] == []


def test_unused_index_says_what_the_server_knows_of_its_last_scan(conn: psycopg.Connection) -> None:
    """PostgreSQL 16 records each index's last scan (last_idx_scan): an index scanned today is in use, and an
    unused one is dated by the statistics; before 16 the finding says the server cannot tell when."""
    conn.execute("CREATE TABLE t (id int, a int, b int)")
    conn.execute("INSERT INTO t SELECT g, g, g FROM generate_series(1, 1000) g")
    conn.execute("CREATE INDEX t_a ON t (a)")
    conn.execute("CREATE INDEX t_b ON t (b)")
    conn.execute("ANALYZE t")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SELECT * FROM t WHERE a = 3")
    flush_stats(conn)
    found = {r["index"]: r for r in report(conn) if r["problem"] == "unused"}
    assert set(found) == {"t_b"}
    detail = found["t_b"]["detail"]
    assert detail.startswith("no index scans since the statistics")
    if conn.info.server_version >= 160000:
        last = conn.execute("SELECT last_idx_scan FROM pg_stat_all_indexes WHERE indexrelname = 't_a'").fetchone()
        assert last[0] is not None  # t_a: scanned now, so not idle
        assert "does not record when an index was last scanned" not in detail
    else:
        assert "does not record when an index was last scanned (last_idx_scan is from PostgreSQL 16)" in detail


def test_each_problem_is_found_with_its_fix(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    conn.execute("CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, a int, b int)")
    conn.execute("INSERT INTO child SELECT g, NULL, g % 7, 1 FROM generate_series(1, 1000) g")
    conn.execute("CREATE INDEX child_a ON child (a)")
    conn.execute("CREATE INDEX child_a_again ON child (a)")
    conn.execute("CREATE INDEX child_a_b ON child (a, b)")
    conn.execute("CREATE INDEX child_a_desc ON child (a DESC)")  # not a duplicate: other order
    with pytest.raises(errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY child_b_unique ON child (b)")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SELECT * FROM child WHERE a = 3 AND b = 1")  # child_a_b is used
    flush_stats(conn)
    found = {(r["problem"], r["index"]): r for r in report(conn)}
    assert found[("duplicate", "child_a_again")]["fix"] == 'DROP INDEX CONCURRENTLY "public"."child_a_again";'
    assert found[("duplicate", "child_a_again")]["detail"] == 'same definition as "public"."child_a"'
    redundant = found[("redundant", "child_a")]["detail"]
    assert redundant.startswith('its keys (a) are a left prefix of "public"."child_a_b"')
    assert ("redundant", "child_a_again") not in found
    invalid = found[("invalid", "child_b_unique")]
    assert invalid["severity"] == "critical" and invalid["fix"].startswith("DROP INDEX CONCURRENTLY")
    fk = found[("fk_without_index", None)]
    assert fk["fix"] == 'CREATE INDEX CONCURRENTLY ON "public"."child" ("parent_id");'
    assert "child_parent_id_fkey" in fk["detail"]
    unused = {i for p, i in found if p == "unused"}
    assert unused == {"child_a_desc"}  # not the used one, the primary key, nor those dropped for other reasons
    assert "since the statistics" in found[("unused", "child_a_desc")]["detail"]
    assert all(r["size_bytes"] >= 0 for r in found.values())
    # Applying the fixes clears the findings.
    for problem, index in found:
        if problem in ("duplicate", "invalid"):
            conn.execute(f'DROP INDEX CONCURRENTLY "{index}"')
    conn.execute(found[("fk_without_index", None)]["fix"])
    left = {(r["problem"], r["index"]) for r in report(conn)}
    assert not any(p in ("duplicate", "invalid", "fk_without_index") for p, _ in left)


def test_partitioned_tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE events (day date NOT NULL, kind int) PARTITION BY RANGE (day)")
    conn.execute("CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")
    conn.execute("CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')")
    conn.execute("CREATE INDEX events_kind ON events (kind)")
    conn.execute("INSERT INTO events SELECT '2024-01-01'::date + g % 50, g % 9 FROM generate_series(1, 5000) g")
    conn.execute("ANALYZE events")
    conn.execute("SET enable_seqscan = off")
    for _ in range(3):
        conn.execute("SELECT count(*) FROM events WHERE day < '2024-02-01' AND kind = 1")
    conn.execute("RESET enable_seqscan")
    conn.execute("SELECT count(*) FROM events_2")
    flush_stats(conn)
    usage = {r["index"]: r for r in rows(conn, "SELECT * FROM steward.partition_index_usage('events')")}
    assert usage["public.events_1_kind_idx"]["idx_scan"] == 3
    assert usage["public.events_1_kind_idx"]["scan_share_percent"] == 100
    assert usage["public.events_2_kind_idx"]["unused"] is True
    assert usage["public.events_1_kind_idx"]["parent_index"] == "public.events_kind"
    hot = rows(conn, "SELECT * FROM steward.hot_partitions('events') ORDER BY rank")
    assert [h["partition"] for h in hot] == ["public.events_1", "public.events_2"]
    assert hot[0]["idx_scan"] == 3
    assert hot[0]["index_usage_percent"] == round(100 * 3 / (3 + hot[0]["seq_scan"]), 1)
    assert hot[0]["scan_share_percent"] + hot[1]["scan_share_percent"] == 100
    # The partitioned index was used, so it is not "unused"; partitions' copies are not reported alone.
    assert [r for r in report(conn) if r["problem"] == "unused"] == []
    with pytest.raises(errors.WrongObjectType, match=r"pg_steward: public\.events_1 is not a partitioned table"):
        conn.execute("SELECT * FROM steward.hot_partitions('events_1')")


def test_fixes_run_as_given_on_awkward_names(conn: psycopg.Connection) -> None:
    conn.execute('CREATE SCHEMA "Sch ema"')
    conn.execute('CREATE TABLE "Sch ema"."pa""rent" (id int PRIMARY KEY)')
    conn.execute('CREATE TABLE "Sch ema"."kïnd ""x""" (id int, "ref col" int REFERENCES "Sch ema"."pa""rent", '
                 'v int)')
    conn.execute('CREATE INDEX "idx ""one""" ON "Sch ema"."kïnd ""x""" (v)')
    conn.execute('CREATE INDEX "idx two" ON "Sch ema"."kïnd ""x""" (v)')
    conn.execute('CREATE TABLE "Sch ema"."pärted" (d date NOT NULL, "ref col" int REFERENCES "Sch ema"."pa""rent") '
                 'PARTITION BY RANGE (d)')
    conn.execute('CREATE TABLE "Sch ema"."pärted 1" PARTITION OF "Sch ema"."pärted" '
                 "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    found = [r for r in report(conn) if r["schema"] == "Sch ema"]
    assert {(r["problem"], r["table"]) for r in found} >= {
        ("duplicate", 'kïnd "x"'), ("fk_without_index", 'kïnd "x"'), ("fk_without_index", "pärted")}
    for r in found:
        if r["problem"] in ("duplicate", "fk_without_index"):
            conn.execute(r["fix"])
    left = {r["problem"] for r in report(conn) if r["schema"] == "Sch ema"}
    assert not left & {"duplicate", "fk_without_index"}


def test_an_invalid_index_never_keeps_a_duplicate_group(conn: psycopg.Connection) -> None:
    """Issue 18 case 7: a failed CREATE UNIQUE INDEX CONCURRENTLY must not make the valid index look droppable."""
    conn.execute("CREATE TABLE t (id int, a int)")
    conn.execute("INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 1000) g")
    conn.execute("CREATE INDEX t_a ON t (a)")
    with pytest.raises(errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_unique ON t (a)")
    found = report(conn)
    assert not [r for r in found if r["index"] == "t_a" and r["problem"] != "unused"]
    invalid = [r for r in found if r["index"] == "t_a_unique"]
    assert [r["problem"] for r in invalid] == ["invalid"]
    assert invalid[0]["fix"].startswith('DROP INDEX CONCURRENTLY "public"."t_a_unique";')
    conn.execute(invalid[0]["fix"])
    assert conn.execute("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass").fetchone()[0] == 1


def test_a_constraint_index_keeps_and_the_extra_index_goes(conn: psycopg.Connection) -> None:
    """Issue 18 case 8: a primary key that a foreign key depends on is never the one proposed for dropping."""
    conn.execute("CREATE TABLE p (id int PRIMARY KEY)")
    conn.execute("CREATE TABLE c (p_id int REFERENCES p)")
    conn.execute("CREATE INDEX c_p_id ON c (p_id)")
    conn.execute("INSERT INTO p SELECT generate_series(1, 1000)")
    conn.execute("CREATE UNIQUE INDEX p_id_again ON p (id)")
    conn.execute("ANALYZE p")
    conn.execute("SET enable_seqscan = off")
    for _ in range(3):
        conn.execute("SELECT * FROM p WHERE id = 5")  # the later index may well be the one scanned
    flush_stats(conn)
    dups = [r for r in report(conn) if r["problem"] == "duplicate"]
    assert [(r["index"], r["fix"]) for r in dups] == [("p_id_again", 'DROP INDEX CONCURRENTLY "public"."p_id_again";')]
    conn.execute(dups[0]["fix"])
    assert not [r for r in report(conn) if r["problem"] == "duplicate"]


def test_an_invalid_partitioned_index_is_reported_with_a_fix_by_its_use(conn: psycopg.Connection) -> None:
    """Issue 18 case 9: CREATE INDEX ON ONLY never attached leaves an invalid partitioned index. Never scanned on
    any partition, it goes; one whose attached partition indexes serve lookups is completed, not dropped."""
    conn.execute("CREATE TABLE ev (d date NOT NULL, k int) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")
    conn.execute("CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')")
    conn.execute("CREATE INDEX ev_k ON ONLY ev (k)")
    conn.execute("CREATE INDEX ev_d ON ONLY ev (d)")
    conn.execute("CREATE INDEX ev_1_d ON ev_1 (d)")
    conn.execute("ALTER INDEX ev_d ATTACH PARTITION ev_1_d")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SELECT * FROM ev_1 WHERE d = '2024-01-05'")
    flush_stats(conn)
    invalid = {r["index"]: r for r in report(conn) if r["problem"] == "invalid"}
    assert set(invalid) == {"ev_k", "ev_d"}
    assert invalid["ev_k"]["fix"].startswith('DROP INDEX "public"."ev_k";')
    assert invalid["ev_d"]["fix"].startswith("-- for each partition without it")
    assert 'ALTER INDEX "public"."ev_d" ATTACH PARTITION' in invalid["ev_d"]["fix"]
    conn.execute(invalid["ev_k"]["fix"])
    assert [r["index"] for r in report(conn) if r["problem"] == "invalid"] == ["ev_d"]


def test_a_foreign_key_index_is_never_unused_and_its_fix_is_listed_once(conn: psycopg.Connection) -> None:
    """Issue 18 case 10: creating the index fk_without_index asks for must not make it an 'unused' finding."""
    conn.execute("CREATE TABLE a (x int, y int, PRIMARY KEY (x, y), UNIQUE (y, x))")
    conn.execute("CREATE TABLE b (x int, y int, FOREIGN KEY (x, y) REFERENCES a (x, y), "
                 "FOREIGN KEY (y, x) REFERENCES a (y, x))")
    fks = [r for r in report(conn) if r["problem"] == "fk_without_index"]
    assert len(fks) == 1
    assert "b_x_y_fkey" in fks[0]["detail"] and "b_y_x_fkey" in fks[0]["detail"]
    conn.execute(fks[0]["fix"])
    flush_stats(conn)
    assert [(r["problem"], r["table"]) for r in report(conn)] == []


def test_missing_index_ignores_maintenance_scans_and_reports_a_partitioned_table_once(
        conn: psycopg.Connection) -> None:
    """Issue 18 case 11: CREATE INDEX and ANALYZE scans are no workload; leaves add up to their partitioned table."""
    conn.execute("CREATE TABLE plain (id int, a int, b int, c int)")
    conn.execute("INSERT INTO plain SELECT g, g, g, g FROM generate_series(1, 20000) g")
    for column in ("id", "a", "b", "c", "a, b", "b, c"):
        conn.execute(f"CREATE INDEX ON plain ({column})")
    conn.execute("ANALYZE plain")
    conn.execute("CREATE TABLE ev (d date NOT NULL, k int) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")
    conn.execute("CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')")
    conn.execute("INSERT INTO ev SELECT '2024-01-01'::date + g % 59, g FROM generate_series(1, 30000) g")
    conn.execute("ANALYZE ev")
    for _ in range(6):
        conn.execute("SELECT count(*) FROM ev WHERE k = 7")
    flush_stats(conn)
    missing = [r for r in report(conn) if r["problem"] == "missing_index"]
    assert [r["table"] for r in missing] == ["ev"]
    fix = missing[0]["fix"]
    assert "steward.suggest_indexes() WHERE table_name::regclass = '\"public\".\"ev\"'::regclass;" in fix
    # the statement in the fix runs, and finds the workload's index for the partitioned table
    conn.execute("SELECT steward.log_slow_query('SELECT count(*) FROM ev WHERE k = 7', 200)")
    found = conn.execute(fix.split(": ", 1)[1]).fetchall()
    assert [(r[0], r[2]) for r in found] == [(["k"], False)]
    assert found[0][1].startswith('CREATE INDEX "ev_k_idx" ON ONLY public.ev ("k");')
    assert "partitioned table" in missing[0]["detail"]


def test_unique_nulls_not_distinct_is_no_duplicate_of_plain_unique(conn: psycopg.Connection) -> None:
    """A UNIQUE NULLS NOT DISTINCT index (PostgreSQL 15+) admits one NULL key, a plain UNIQUE one any number:
    different constraints, so neither is the other's duplicate; two of the same kind still are."""
    conn.execute("CREATE TABLE t (a int, b int)")
    conn.execute("CREATE UNIQUE INDEX t_a_plain ON t (a)")
    conn.execute("CREATE UNIQUE INDEX t_a_nnd ON t (a) NULLS NOT DISTINCT")
    conn.execute("INSERT INTO t VALUES (NULL, 1)")
    with pytest.raises(errors.UniqueViolation):  # the two really differ: only one of them refuses this row
        conn.execute("INSERT INTO t VALUES (NULL, 2)")
    assert not [r for r in report(conn) if r["problem"] == "duplicate"]
    conn.execute("CREATE UNIQUE INDEX t_a_nnd_again ON t (a) NULLS NOT DISTINCT")
    dups = [(r["index"], r["detail"]) for r in report(conn) if r["problem"] == "duplicate"]
    assert dups == [("t_a_nnd_again", 'same definition as "public"."t_a_nnd"')]


def test_missing_index_does_not_count_pg_stewards_own_plan_analysis(conn: psycopg.Connection) -> None:
    """Issue 18 case 11: analyze_query_performance, query_advice and check_pruning run EXPLAIN ANALYZE, which
    scans for real; their scans (serial, parallel and on partitions) are no workload of the application."""
    conn.execute("CREATE TABLE plain (id int, a int)")
    conn.execute("INSERT INTO plain SELECT g, g FROM generate_series(1, 20000) g")
    conn.execute("CREATE TABLE ev (d date NOT NULL, k int) PARTITION BY RANGE (d)")
    conn.execute("CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")
    conn.execute("CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')")
    conn.execute("INSERT INTO ev SELECT '2024-01-01'::date + g % 59, g FROM generate_series(1, 30000) g")
    conn.execute("ANALYZE plain, ev")
    flush_stats(conn)
    before = {r["table"] for r in report(conn) if r["problem"] == "missing_index"}
    seq_scans = "SELECT sum(seq_scan) FROM pg_stat_user_tables WHERE relname IN ('plain', 'ev_1', 'ev_2')"
    scans_before = conn.execute(seq_scans).fetchone()[0]
    for query in ("SELECT * FROM plain WHERE a = 7", "SELECT count(*) FROM ev WHERE k = 7"):
        for _ in range(3):
            conn.execute("SELECT count(*) FROM steward.analyze_query_performance(%s)", [query])
            conn.execute("SELECT count(*) FROM steward.query_advice(%s)", [query])
            conn.execute("SELECT count(*) FROM steward.check_pruning(%s, true)", [query])
    conn.execute("SET parallel_setup_cost = 0")  # a parallel scan counts one scan per process that ran it
    conn.execute("SET parallel_tuple_cost = 0")
    conn.execute("SET min_parallel_table_scan_size = 0")
    for _ in range(3):
        conn.execute("SELECT count(*) FROM steward.query_advice('SELECT count(*) FROM plain WHERE a = 7')")
    conn.execute("RESET ALL")
    flush_stats(conn)
    made = conn.execute(seq_scans).fetchone()[0] - scans_before
    recorded = conn.execute("SELECT sum(seq_scans) FROM steward.analysis_seq_scans").fetchone()[0]
    assert made >= 30 and recorded == made  # every scan the analyses made, and nothing else
    assert {r["table"] for r in report(conn) if r["problem"] == "missing_index"} == before == set()
    for _ in range(6):  # the application's own scans still count
        conn.execute("SELECT * FROM plain WHERE a = 7")
    flush_stats(conn)
    assert {r["table"] for r in report(conn) if r["problem"] == "missing_index"} == {"plain"}


def test_own_scan_counts_are_kept_to_readable_tables_and_forgotten_on_drop(conn: psycopg.Connection) -> None:
    """steward.analysis_seq_scans takes rows from every role that analyzes a plan, but only for relations that
    role may read; a dropped table's count goes with it, so that its oid, given to a new table, starts at 0."""
    conn.execute("CREATE TABLE secret (id int, a int)")
    conn.execute("INSERT INTO secret SELECT g, g FROM generate_series(1, 2000) g")
    conn.execute("CREATE TABLE mine (id int, a int)")
    conn.execute("SELECT count(*) FROM steward.analyze_query_performance('SELECT * FROM secret WHERE a = 1')")
    with monitor_role(conn, "steward_scans") as role:
        conn.execute(f'GRANT SELECT ON mine TO "{role}"')
        conn.execute(f'SET ROLE "{role}"')
        conn.execute("SELECT count(*) FROM steward.analyze_query_performance('SELECT * FROM mine WHERE a = 1')")
        for hide in ("INSERT INTO steward.analysis_seq_scans VALUES ('secret'::regclass, 5, now(), now())"
                     " ON CONFLICT (relid) DO UPDATE SET seq_scans = 5",
                     "UPDATE steward.analysis_seq_scans SET seq_scans = 1000"):
            with pytest.raises(errors.InsufficientPrivilege, match="only of relations the role may read"):
                conn.execute(hide)
        conn.execute("RESET ROLE")
    counted = dict(conn.execute("SELECT relid::regclass::text, seq_scans FROM steward.analysis_seq_scans").fetchall())
    assert counted == {"mine": 1, "secret": 1}
    conn.execute("DROP TABLE secret")
    assert conn.execute("SELECT count(*) FROM steward.analysis_seq_scans").fetchone()[0] == 1
