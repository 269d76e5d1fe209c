"""Maintenance that does no harm at the edges: manage() previews retention and retires nothing, unplaceable and
end-of-range DEFAULT rows, empty integer tables, gap pieces below the oldest partition, rows a foreign key holds."""

from __future__ import annotations

import re

import psycopg
import pytest

from support.partitions import act, digest, month, tree_names


def failures(conn: psycopg.Connection, table: str) -> list[tuple]:
    return act(conn, "SELECT action, detail FROM steward.partition_maintenance_log WHERE parent = %s AND NOT ok "
                     "ORDER BY id", [table])


# --- 0. manage() retires nothing ------------------------------------------------------------------------------


def test_manage_previews_retention_and_retires_nothing(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE s (d date NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE s_2020_01 PARTITION OF s FOR VALUES FROM ('2020-01-01') TO ('2020-02-01');
        CREATE TABLE s_2020_02 PARTITION OF s FOR VALUES FROM ('2020-02-01') TO ('2020-03-01');
        CREATE TABLE s_default PARTITION OF s DEFAULT;
        INSERT INTO s SELECT DATE '2020-01-01' + i % 45, i FROM generate_series(1, 900) AS i;
        INSERT INTO s VALUES (current_date, 0);
    """)
    before = digest(conn, "s")
    rows = act(conn, "SELECT action, partition, ok, detail FROM steward.manage('s', '1 month', premake => 1, "
                     "retention => '2 years')")
    assert digest(conn, "s") == before, "manage() must not lose a row"
    previews = [(a, p, ok) for a, p, ok, _ in rows if a.startswith("would")]
    assert previews == [("would drop", "public.s_2020_01", True), ("would drop", "public.s_2020_02", True)]
    jan = next(d for a, p, _, d in rows if p == "public.s_2020_01")
    assert jan.startswith("2020-01-01 to 2020-02-01, older than ") and "; 620 rows, " in jan and " bytes (" in jan
    assert "next maintenance run" in jan
    assert {a for a, *_ in rows} == {"create", "would drop"}  # the DEFAULT row was rescued, nothing retired
    assert act(conn, "SELECT count(*) FROM s_default") == [(0,)]
    # The preview is not a log row: the log keeps what was done.
    assert act(conn, "SELECT count(*) FROM steward.partition_maintenance_log WHERE action LIKE 'would%'") == [(0,)]
    # The next run retires as before.
    retired = act(conn, "SELECT action, partition FROM steward.maintain_partitions('s') WHERE action = 'drop'")
    assert retired == [("drop", "public.s_2020_01"), ("drop", "public.s_2020_02")]
    assert act(conn, "SELECT count(*) FROM s") == [(1,)]


def test_manage_on_the_seed_tables_keeps_every_row(conn: psycopg.Connection) -> None:
    """The README's first example on the tutorial's 2024 data: nothing is dropped by the call itself."""
    from pg_steward.workloads import sql

    conn.execute(sql("seed_tables"))
    before = digest(conn, "sales_analytics")
    rows = act(conn, "SELECT action FROM steward.manage('sales_analytics', '1 month', premake => 3, "
                     "retention => '2 years')")
    assert digest(conn, "sales_analytics") == before
    assert "drop" not in {a for a, in rows} and "would drop" in {a for a, in rows}


# --- 1. one unplaceable value stops no rescue -----------------------------------------------------------------


def test_unplaceable_default_rows_are_reported_and_the_others_rescued(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE u (d date NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE u_default PARTITION OF u DEFAULT;
    """)
    conn.execute("SELECT * FROM steward.manage('u', '1 month', premake => 0)")
    conn.execute("INSERT INTO u VALUES ('-infinity', 1), ('0044-03-15 BC', 2), ('infinity', 3), "
                 "(date_trunc('month', current_date)::date + interval '7 months', 4)")
    before = digest(conn, "u")
    rows = act(conn, "SELECT action, partition, ok, detail FROM steward.maintain_partitions('u')")
    assert [(a, p, ok) for a, p, ok, _ in rows] == [("create", f"public.u_p{month(conn, 7)}", True),
                                                    ("unplaceable", None, False), ("analyze parent", None, True)]
    assert rows[1][3].startswith("3 rows of the DEFAULT partition have key values no partition of 1 month can hold")
    assert digest(conn, "u") == before
    assert act(conn, "SELECT v FROM u_default ORDER BY v") == [(1,), (2,), (3,)]
    assert [a for a, _ in failures(conn, "public.u")] == ["unplaceable"]


# --- 2. rows at the end of the key's range -------------------------------------------------------------------


def test_rows_at_the_end_of_an_integer_range_get_a_last_partition(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE e (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE e_default PARTITION OF e DEFAULT;
        INSERT INTO e VALUES (2147483647), (2147483601);
    """)
    rows = act(conn, "SELECT action, ok, detail FROM steward.manage('e', integer_span => 100, premake => 1)")
    assert all(ok for _, ok, _ in rows), rows
    assert ("create", True, "2147483600 to MAXVALUE; moved 2 rows from DEFAULT") in rows
    assert act(conn, "SELECT count(*) FROM e_default") == [(0,)]
    assert act(conn, "SELECT tableoid::regclass::text FROM e WHERE id = 2147483647") == [("e_p2147483600",)]
    # the next run: nothing to do but analyze the parent (test_partitions_parent_stats.py)
    assert act(conn, "SELECT action FROM steward.maintain_partitions('e')") == [("analyze parent",)]


def test_rows_in_9999_get_a_last_partition_and_no_repr_leaks(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE y (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE TABLE y_default PARTITION OF y DEFAULT;
        INSERT INTO y VALUES ('9999-12-31'), ('9999-12-02'), (current_date);
    """)
    rows = act(conn, "SELECT action, ok, detail FROM steward.manage('y', '1 month', premake => 0)")
    assert all(ok for _, ok, _ in rows), rows
    assert ("create", True, "9999-12-01 to MAXVALUE; moved 2 rows from DEFAULT") in rows
    assert not any("Span(" in (d or "") for *_, d in rows)
    assert act(conn, "SELECT count(*) FROM y_default") == [(0,)]
    assert act(conn, "SELECT action FROM steward.maintain_partitions('y')") == [("analyze parent",)]


# --- 3. the clock of an empty integer table does not move -----------------------------------------------------


def test_an_empty_integer_table_does_not_grow(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE n (id bigint NOT NULL) PARTITION BY RANGE (id);"
                 "CREATE TABLE n_p0 PARTITION OF n FOR VALUES FROM (0) TO (1000);"
                 "CREATE TABLE n_default PARTITION OF n DEFAULT")
    conn.execute("SELECT * FROM steward.manage('n', integer_span => 1000, premake => 2)")
    first = tree_names(conn, "n")
    for _ in range(3):
        assert act(conn, "SELECT * FROM steward.maintain_partitions('n') WHERE action <> 'analyze parent'") == []
    assert tree_names(conn, "n") == first == ["n", "n_p0", "n_default"]
    conn.execute("INSERT INTO n VALUES (1500)")  # data: the clock moves with it
    assert len(act(conn, "SELECT * FROM steward.maintain_partitions('n') WHERE action <> 'analyze parent'")) == 3


# --- 4. no partial partition below the oldest, named like a whole month ---------------------------------------


def test_gap_filling_makes_no_partial_slot_below_the_oldest_partition(conn: psycopg.Connection) -> None:
    odd_from, odd_to = conn.execute(
        "SELECT (date_trunc('month', current_date) - interval '2 months')::date + 14, "
        "(date_trunc('month', current_date) - interval '1 month')::date + 14").fetchone()
    conn.execute(f"CREATE TABLE g (d date NOT NULL) PARTITION BY RANGE (d);"
                 f"CREATE TABLE g_odd PARTITION OF g FOR VALUES FROM ('{odd_from}') TO ('{odd_to}')")
    conn.execute("SELECT * FROM steward.manage('g', '1 month', premake => 0)")
    bounds = act(conn, "SELECT partition::text, range_from, range_to FROM steward.partitions('g') WHERE level = 1 "
                       "ORDER BY range_from")
    # Nothing below the oldest partition; the piece joining it to the month grid is named by its exact start.
    this, next_ = (f"{month(conn, k).replace('_', '-')}-01" for k in (0, 1))
    assert bounds == [("g_odd", f"{odd_from}", f"{odd_to}"), (f"g_p{odd_to:%Y_%m_%d}", f"{odd_to}", this),
                      (f"g_p{month(conn, 0)}", this, next_)]


# --- 5. a DEFAULT row a foreign key references -----------------------------------------------------------------


def test_a_referenced_default_row_is_reported_with_why_and_the_rest_goes_on(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE o (id int NOT NULL, d date NOT NULL, PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
        CREATE TABLE o_default PARTITION OF o DEFAULT;
        CREATE TABLE line (id int NOT NULL, order_id int, order_d date,
                           FOREIGN KEY (order_id, order_d) REFERENCES o ON DELETE RESTRICT);
    """)
    conn.execute("SELECT * FROM steward.manage('o', '1 month', premake => 0)")
    conn.execute("INSERT INTO o VALUES (1, date_trunc('month', current_date)::date + interval '5 months'), "
                 "(2, date_trunc('month', current_date)::date + interval '8 months');"
                 "INSERT INTO line VALUES (10, 1, date_trunc('month', current_date)::date + interval '5 months')")
    before = digest(conn, "o")
    rows = act(conn, "SELECT action, partition, ok, detail FROM steward.maintain_partitions('o')")
    assert [(a, p, ok) for a, p, ok, _ in rows] == [("error", None, False), ("create", f"public.o_p{month(conn, 8)}",
                                                                             True), ("analyze parent", None, True)]
    detail = rows[0][3]
    assert re.search(r"out of \S+o_default\W: a foreign key of line references them \(line_\w+_fkey_?\d*\)", detail)
    # PostgreSQL's DETAIL, kept ("is still referenced" up to 17; 18 reports RESTRICT as 23001, "is referenced")
    assert re.search(r'is (still )?referenced from table "line"', detail), detail
    assert digest(conn, "o") == before
    assert act(conn, "SELECT id FROM o_default") == [(1,)]
    logged = failures(conn, "public.o")
    assert len(logged) == 1 and logged[0][1] == detail


def test_a_failing_table_keeps_the_errors_detail_in_the_log(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE k (d date NOT NULL) PARTITION BY RANGE (d);
        CREATE TABLE k_default PARTITION OF k DEFAULT;
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'rows of k_default may not leave' USING DETAIL = 'kept by policy 7'; END $$;
        CREATE TRIGGER keep BEFORE DELETE ON k_default FOR EACH ROW EXECUTE FUNCTION refuse();
        INSERT INTO k VALUES (current_date);
    """)
    conn.execute("SELECT * FROM steward.manage('k', premake => 0)")
    assert failures(conn, "public.k") == [("error", "rows of k_default may not leave (kept by policy 7)")]


# --- far-apart integer rows: a sentinel near 2^31 beside small ids ----------------------------------------------


SENTINEL_LAYOUTS = {
    "in DEFAULT": "CREATE TABLE f_default PARTITION OF f DEFAULT",
    "in a partition": "CREATE TABLE f_top PARTITION OF f FOR VALUES FROM (2147483000) TO (2147483100)",
}


@pytest.mark.parametrize("where", SENTINEL_LAYOUTS)
def test_a_sentinel_row_leaves_its_wide_gap_unfilled_with_a_note(conn: psycopg.Connection, where: str) -> None:
    conn.execute(f"""
        CREATE TABLE f (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE f_p0 PARTITION OF f FOR VALUES FROM (0) TO (100);
        {SENTINEL_LAYOUTS[where]};
        INSERT INTO f SELECT generate_series(1, 99);
        INSERT INTO f VALUES (2147483000);
    """)
    before = digest(conn, "f")
    rows = act(conn, "SELECT action, ok, detail FROM steward.manage('f', integer_span => 100, premake => 1)")
    made = [d for a, _, d in rows if a == "create"]
    assert all(d.startswith("21474831") or d.startswith("2147483000 to") for d in made), made
    assert len(made) <= 2, made  # the sentinel's slot (when in DEFAULT) and the premade one past it
    notes = [(ok, d) for a, ok, d in rows if a == "gap"]
    fate = ("rows in it go to DEFAULT and get their own partition at the next run" if where == "in DEFAULT" else
            "the table has no DEFAULT partition: a row in it cannot be inserted")
    assert notes == [(True, "1 gap too wide to fill (more than steward.maintenance_limits.max_gap_slots = 100 "
                            f"slots): 100 to 2147483000 (21474829 slots of 100); {fate}. Fill it by hand: "
                            "SELECT steward.create_partition('public.f', '100', '2147482900');")]
    assert digest(conn, "f") == before
    partitions = len(tree_names(conn, "f"))
    for _ in range(3):  # run after run: no creation, the same one note, no failure
        again = act(conn, "SELECT action, ok FROM steward.maintain_partitions() WHERE action <> 'analyze parent'")
        assert again == [("gap", True)]
    assert len(tree_names(conn, "f")) == partitions
    assert failures(conn, "public.f") == []
    status, detail = act(conn, "SELECT status, detail FROM steward.health() "
                               "WHERE check_name = 'maintenance_runs'")[0]
    assert status == "ok" and "; gaps not filled: public.f: 1 gap too wide to fill (" in detail
    assert "100 to 2147483000 (21474829 slots of 100)" in detail
    assert act(conn, "SELECT tables_due, actions, failures FROM steward.maintenance_runs "
                     "ORDER BY run_id DESC LIMIT 1") == [(1, 0, 0)]


def test_rows_arriving_in_a_wide_gap_get_their_slot_and_narrow_gaps_fill(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE w (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE w_p0 PARTITION OF w FOR VALUES FROM (0) TO (100);
        CREATE TABLE w_default PARTITION OF w DEFAULT;
        INSERT INTO w VALUES (5), (2147483000);
    """)
    conn.execute("SELECT * FROM steward.manage('w', integer_span => 100, premake => 0)")
    conn.execute("INSERT INTO w VALUES (150), (5050)")  # in the wide gap: DEFAULT, then their own slots
    rows = act(conn, "SELECT action, detail FROM steward.maintain_partitions('w')")
    created = sorted(d.split(";")[0] for a, d in rows if a == "create")
    # 150's and 5050's slots, and the 48 slots between them (a gap of 49 slots is not wide); 5150 up stays open.
    assert len(created) == 50 and "100 to 200" in created and "5000 to 5100" in created, created
    assert [d.split(" (")[0] for a, d in rows if a == "gap"] == ["1 gap too wide to fill"]
    assert "): 5100 to 2147483000 (21474779 slots of 100)" in next(d for a, d in rows if a == "gap")
    assert act(conn, "SELECT count(*) FROM w_default") == [(0,)]


def test_the_gap_bound_is_the_superusers_and_a_time_key_fills_as_before(conn: psycopg.Connection) -> None:
    conn.execute("""
        CREATE TABLE b (id bigint NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE b_p0 PARTITION OF b FOR VALUES FROM (0) TO (10);
        CREATE TABLE b_top PARTITION OF b FOR VALUES FROM (300) TO (310);
        INSERT INTO b VALUES (1), (305);
        INSERT INTO steward.maintenance_limits (max_gap_slots) VALUES (28);
    """)
    rows = act(conn, "SELECT action, detail FROM steward.manage('b', integer_span => 10, premake => 0)")
    assert [a for a, _ in rows] == ["gap"], rows
    assert "(more than steward.maintenance_limits.max_gap_slots = 28 slots): 10 to 300 (29 slots of 10)" in rows[0][1]
    conn.execute("UPDATE steward.maintenance_limits SET max_gap_slots = 29")
    made = [a for a, _ in act(conn, "SELECT action, detail FROM steward.maintain_partitions('b')")]
    assert made == ["create"] * 29 + ["analyze parent"]
    # A daily table a year behind: every day between its oldest partition and today is made, as before.
    conn.execute("CREATE TABLE t (d date NOT NULL) PARTITION BY RANGE (d);"
                 "CREATE TABLE t_old PARTITION OF t FOR VALUES FROM (current_date - 200) TO (current_date - 199)")
    rows = act(conn, "SELECT action FROM steward.manage('t', '1 day', premake => 0)")
    assert rows == [("create",)] * 200
