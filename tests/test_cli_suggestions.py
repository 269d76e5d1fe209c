"""``pg-steward report indexes`` and the HTML page show steward.suggest_indexes() after index_report's findings:
measured with hypopg, marked not measured without it, said to be unavailable where this pg_steward has no
suggest_indexes, and the existing indexes a suggestion makes redundant, or that should be dropped instead of
adding one, shown with their DROP statements."""

from __future__ import annotations

import html as html_text
import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from support.reports import monitor_role
from test_cli import run

SHAPES = [
    "SELECT * FROM orders WHERE customer_id = 42",
    "SELECT * FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10",
    "SELECT * FROM orders WHERE customer_id = 42 AND created_at > '2026-01-20'",
]


def shop(url: str) -> None:
    """A table of 60 000 orders and a captured workload: each shape logged as a slow statement, 5 times."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, "
                     "created_at timestamptz NOT NULL, total numeric NOT NULL)")
        conn.execute("INSERT INTO orders SELECT g, g % 2000, CASE WHEN g % 50 = 0 THEN 'open' ELSE 'done' END, "
                     "'2026-01-01'::timestamptz + g * interval '1 minute', g % 97 FROM generate_series(1, 60000) g")
        conn.execute("ANALYZE orders")
        for shape in SHAPES:
            for _ in range(5):
                conn.execute("SELECT steward.log_slow_query(%s, 250, 60000, 30)", [shape])


@pytest.fixture
def shop_url(new_database: Callable[..., str]) -> str:
    url = new_database()
    shop(url)
    return url


def report_json(url: str, *extra: str) -> tuple[list[dict], str]:
    result = run("report", "indexes", "--format", "json", *extra, "--dsn", url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def suggestions(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["source"] == "suggested indexes"]


def page(url: str, tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    result = run("report", "--html", str(out), "--dsn", url)
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_measured_suggestion_in_text_json_and_html(shop_url: str, tmp_path: Path) -> None:
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION hypopg")
        conn.execute("CREATE INDEX orders_id_copy ON orders (id)")  # a finding of index_report, shown first
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")}
    rows, notes = report_json(shop_url)
    assert {r["source"] for r in rows} == {"index problems", "suggested indexes"}
    assert any(r["index"] and "orders_id_copy" in r["index"] for r in rows if r["source"] == "index problems")
    # the new index, and orders_id_copy (a duplicate of the primary key) to drop instead of adding one
    (row,) = [r for r in suggestions(rows) if r["create_statement"] is not None]
    (drop,) = [r for r in suggestions(rows) if r["create_statement"] is None]
    assert drop["makes_redundant"] == ['"public"."orders_id_copy"'] and drop["verified"] is True
    assert drop["drop_statements"] == ['DROP INDEX CONCURRENTLY "public"."orders_id_copy";']
    assert drop["reason"].startswith("drop this existing index instead of adding one: ")
    assert row["table_name"] == "public.orders" and row["columns"][0] == "customer_id"
    assert row["verified"] is True and row["calls"] == 15 and len(row["fingerprints"]) == 3
    assert row["cost_after"] < row["cost_before"] and row["estimated_bytes"] > 0
    assert row["est_ms_saved_per_day"] > 0 and row["write_cost"] >= 0
    assert row["create_statement"].startswith("CREATE INDEX CONCURRENTLY ")
    assert row["makes_redundant"] == [] and row["drop_statements"] == []  # no existing index it replaces
    assert notes == ""  # measured: nothing to say

    text = run("report", "indexes", "--dsn", shop_url)
    assert text.returncode == 0, text.stderr
    problems, suggested = text.stdout.find("index problems ("), text.stdout.find("suggested indexes (2 rows)")
    assert -1 < problems < suggested, text.stdout  # after index_report's findings
    after = text.stdout[suggested:]
    assert row["create_statement"] in after and "public.orders" in after and "yes" in after
    assert "not measured" not in after
    assert "none: drop the redundant index instead" in after and drop["drop_statements"][0] in after

    shown = page(shop_url, tmp_path)
    assert "<h4>suggested indexes</h4>" in shown
    assert html_text.escape(row["create_statement"]) in shown
    assert shown.find("<h4>index problems</h4>") < shown.find("<h4>suggested indexes</h4>")
    assert "<th>suggested indexes</th>" in shown and "2 (2 measured)" in shown  # the summary counts them
    with psycopg.connect(shop_url) as conn:  # shown, never run
        assert {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")} == indexes


def test_without_hypopg_suggestions_are_marked_not_measured(shop_url: str, tmp_path: Path) -> None:
    rows, notes = report_json(shop_url)
    found = suggestions(rows)
    assert found and all(r["verified"] is False and r["reason"] == "hypopg not installed" for r in found)
    assert all(r["cost_after"] is None and r["est_ms_saved_per_day"] is None for r in found)
    assert "hypopg is not installed" in notes and "not measured" in notes
    text = run("report", "indexes", "--dsn", shop_url)
    assert text.returncode == 0, text.stderr
    after = text.stdout[text.stdout.find("suggested indexes ("):]
    assert "public.orders" in after and "CREATE INDEX CONCURRENTLY" in after
    assert "no (not measured)" in after and "hypopg is not installed" in after
    shown = page(shop_url, tmp_path)
    section = shown[shown.find("<h4>suggested indexes</h4>"):]
    assert "no (not measured)" in section and "hypopg is not installed" in section
    assert f"{len(found)} (0 measured)" in shown


def test_since_is_the_window_of_the_workload(shop_url: str, tmp_path: Path) -> None:
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("UPDATE steward.query_performance_log SET execution_date = now() - interval '3 days'")
    rows, _ = report_json(shop_url, "--since", "1 day")
    assert suggestions(rows) == []
    rows, _ = report_json(shop_url, "--since", "5 days")
    assert {r["table_name"] for r in suggestions(rows)} == {"public.orders"}
    for since, shown in (("1 day", False), ("5 days", True)):
        out = tmp_path / f"{since}.html"
        written = run("report", "--html", str(out), "--since", since, "--dsn", shop_url)
        assert written.returncode == 0, written.stderr
        section = out.read_text().split("<h4>suggested indexes</h4>")[1].split("<h4>")[0]
        assert ("public.orders" in section) is shown and ("no rows" in section) is not shown
    for bad, message in (("banana", "invalid input syntax for type interval"), ("-1 day", "positive interval")):
        result = run("report", "indexes", "--since", bad, "--dsn", shop_url)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    refused = run("report", "bloat", "--since", "1 day", "--dsn", shop_url)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "pg-steward: error: --since applies to report indexes, not bloat"


def test_what_the_function_left_out_is_said_beside_the_suggestions(shop_url: str, tmp_path: Path) -> None:
    """suggest_indexes' WARNING about captured statements it could not plan (here, on a table dropped since)
    is the note of the suggestions' table: on stderr with JSON, below the table in text, on the page."""
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE gone (id int)")
        conn.execute("SELECT steward.log_slow_query('SELECT * FROM gone WHERE id = 1', 250)")
        conn.execute("DROP TABLE gone")
    said = 'that no longer plan (relation "gone" does not exist)'
    rows, notes = report_json(shop_url)
    assert {r["table_name"] for r in suggestions(rows)} == {"public.orders"}  # the rest are suggested
    assert "1 of 4 captured statement shapes left out" in notes and said in notes
    text = run("report", "indexes", "--dsn", shop_url)
    assert text.returncode == 0 and said in text.stdout[text.stdout.find("suggested indexes ("):], text.stdout
    assert html_text.escape(said) in page(shop_url, tmp_path)


def test_a_pg_steward_without_suggest_indexes_says_so(new_database: Callable[..., str], tmp_path: Path) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:  # as a pg_steward of before suggest_indexes has it
        conn.execute("ALTER EXTENSION pg_steward DROP FUNCTION steward.suggest_indexes(interval, text[], text)")
        conn.execute("DROP FUNCTION steward.suggest_indexes(interval, text[], text)")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("CREATE INDEX t_id_copy ON t (id)")
        assert conn.execute("SELECT to_regproc('steward.suggest_indexes') IS NULL").fetchone() == (True,)
    text = run("report", "indexes", "--dsn", url)
    assert text.returncode == 0, text.stderr
    assert "t_id_copy" in text.stdout and "suggested indexes (0 rows)" in text.stdout
    assert "has no steward.suggest_indexes() (an older version)" in text.stdout
    rows, notes = report_json(url)
    assert rows and {r["source"] for r in rows} == {"index problems"}
    assert "has no steward.suggest_indexes()" in notes
    shown = page(url, tmp_path)
    assert "t_id_copy" in shown and "has no steward.suggest_indexes()" in shown
    assert "<h4>suggested indexes</h4>" in shown


def test_a_role_that_may_not_read_the_query_log(shop_url: str, tmp_path: Path) -> None:
    """The query log holds other roles' statements: a role without pg_read_all_stats gets the index problems
    and a note that the suggestions are not available to it, not a failure; a pg_monitor member reads the
    log, but plans no statement on a table it may not read, and is told that such statements are left out."""
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX orders_id_copy ON orders (id)")
        conn.execute("CREATE ROLE steward_no_stats LOGIN")
        try:
            as_role = make_conninfo(shop_url, user="steward_no_stats")
            text = run("report", "indexes", "--dsn", as_role)
            assert text.returncode == 0, text.stderr
            note = next(line for line in text.stdout.splitlines() if line.startswith("suggested indexes: "))
            assert "not available" in note and "permission denied for table query_performance_log" in note
            assert "orders_id_copy" in text.stdout  # the index problems, all the same
            shown = page(as_role, tmp_path)
            assert "permission denied for table query_performance_log" in shown
        finally:
            conn.execute("DROP OWNED BY steward_no_stats")
            conn.execute("DROP ROLE steward_no_stats")
        conn.execute("CREATE EXTENSION hypopg")
        with monitor_role(conn, "steward_monitor_suggest") as role:
            rows, notes = report_json(make_conninfo(shop_url, user=role))
            assert suggestions(rows) == []
            assert "left out" in notes
            conn.execute(f'GRANT SELECT ON orders TO "{role}"')
            rows, notes = report_json(make_conninfo(shop_url, user=role))
            found = suggestions(rows)  # the new index and the duplicate to drop instead
            assert {r["table_name"] for r in found} == {"public.orders"} and notes == ""
            assert sorted(r["create_statement"] is None for r in found) == [False, True]


# A suggest_indexes returning fixed rows, with the columns of this one, so that both kinds of row are shown
# with known values: a new index that makes an existing one redundant (and its DROP), and a row without
# create_statement that says to drop one instead.
FIXED_ROWS = """
ALTER EXTENSION pg_steward DROP FUNCTION steward.suggest_indexes(interval, text[], text);
DROP FUNCTION steward.suggest_indexes(interval, text[], text);
CREATE FUNCTION steward.suggest_indexes(since interval DEFAULT '7 days', statements text[] DEFAULT NULL,
                                        search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (table_name text, columns text[], create_statement text, estimated_bytes bigint,
               fingerprints text[], calls bigint, cost_before numeric, cost_after numeric,
               est_ms_saved_per_day numeric, write_cost numeric, verified boolean, reason text,
               makes_redundant text[], drop_statements text[])
LANGUAGE sql AS $$
VALUES ('public.orders', ARRAY['customer_id', 'created_at'],
        'CREATE INDEX CONCURRENTLY orders_customer_id_created_at_idx ON public.orders (customer_id, created_at);',
        1048576::bigint, ARRAY['f1'], 15::bigint, 1000::numeric, 10::numeric, 500::numeric, 1::numeric, true,
        'lowers the cost', ARRAY['public.orders_customer_id_idx'],
        ARRAY['DROP INDEX CONCURRENTLY public.orders_customer_id_idx;']),
       ('public.orders', ARRAY['status'], NULL, 0::bigint, ARRAY[]::text[], 0::bigint, NULL, NULL, NULL,
        NULL, true, 'redundant', ARRAY['public.orders_status_copy_idx'],
        ARRAY['DROP INDEX CONCURRENTLY public.orders_status_copy_idx;'])
$$;
"""


def test_redundant_indexes_are_shown_where_the_function_returns_them(shop_url: str, tmp_path: Path) -> None:
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute(FIXED_ROWS)
    rows, _ = report_json(shop_url)
    found = suggestions(rows)
    assert [r["makes_redundant"] for r in found] == [["public.orders_customer_id_idx"],
                                                     ["public.orders_status_copy_idx"]]
    assert found[1]["create_statement"] is None
    text = run("report", "indexes", "--dsn", shop_url)
    assert text.returncode == 0, text.stderr
    after = text.stdout[text.stdout.find("suggested indexes ("):]
    assert "makes_redundant" in after and "drop_statements" in after
    assert "DROP INDEX CONCURRENTLY public.orders_status_copy_idx;" in after
    assert "none: drop the redundant index instead" in after
    shown = page(shop_url, tmp_path)
    section = shown[shown.find("<h4>suggested indexes</h4>"):]
    assert "<th>makes_redundant</th>" in section and "none: drop the redundant index instead" in section
    assert "DROP INDEX CONCURRENTLY public.orders_customer_id_idx;" in section
