"""How the command line shows steward.suggest_indexes(): the search_path its statements are planned with, the
rows as a person reads them (measured or not, a drop instead of a create), the note beside them."""

from __future__ import annotations

from pg_steward.cli import html
from pg_steward.cli.reports import (
    NOT_MEASURED,
    SUGGESTIONS,
    Table,
    display,
    statement_search_path,
    suggestion_view,
    suggestions_note,
)

MEASURED = {"table_name": "public.orders", "columns": ["customer_id"], "estimated_bytes": 2048,
            "create_statement": 'CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON public.orders ("customer_id");',
            "calls": 15, "cost_before": 1000, "cost_after": 12.5, "est_ms_saved_per_day": 40.0, "write_cost": 0.5,
            "verified": True, "reason": "lowers the cost of 3 statement shape(s)"}
UNVERIFIED = {**MEASURED, "cost_after": None, "est_ms_saved_per_day": None, "verified": False,
              "reason": "hypopg not installed"}


def test_pg_catalog_comes_first_and_the_temporary_schema_is_left_out() -> None:
    assert statement_search_path(["evil", "pg_catalog", "public"]) == '"pg_catalog", "evil", "public"'
    assert statement_search_path(["pg_temp_3", "pg_catalog", "app"]) == '"pg_catalog", "app"'
    assert statement_search_path(['we"ird', "pg_catalog"]) == '"pg_catalog", "we""ird"'
    assert statement_search_path([]) == '"pg_catalog"'


def test_a_measured_suggestion_is_shown_as_it_is() -> None:
    shown = suggestion_view(MEASURED)
    assert shown["verified"] == "yes" and shown["cost_after"] == 12.5 and shown["est_ms_saved_per_day"] == 40.0
    assert shown["create_statement"] == MEASURED["create_statement"]
    assert "makes_redundant" not in shown and "drop_statements" not in shown  # nothing made up


def test_an_unverified_suggestion_is_never_shown_as_measured() -> None:
    shown = suggestion_view(UNVERIFIED)
    assert shown["verified"] == f"no ({NOT_MEASURED})"
    assert shown["cost_after"] == NOT_MEASURED and shown["est_ms_saved_per_day"] == NOT_MEASURED
    assert shown["cost_before"] == 1000  # the plan without the index was costed
    assert suggestion_view({**UNVERIFIED, "verified": None})["verified"] == f"no ({NOT_MEASURED})"


def test_a_partitioned_recipe_is_one_line_and_a_drop_says_so() -> None:
    recipe = 'CREATE INDEX "i" ON ONLY public.p ("a");\nCREATE INDEX CONCURRENTLY "i1" ON public.p1 ("a");\n'
    assert suggestion_view({**MEASURED, "create_statement": recipe})["create_statement"] == (
        'CREATE INDEX "i" ON ONLY public.p ("a"); CREATE INDEX CONCURRENTLY "i1" ON public.p1 ("a");')
    drop = {**MEASURED, "create_statement": None, "makes_redundant": ["public.orders_copy"],
            "drop_statements": ["DROP INDEX CONCURRENTLY public.orders_copy;", None]}
    shown = suggestion_view(drop)
    assert shown["create_statement"] == "none: drop the redundant index instead"
    assert shown["drop_statements"] == "DROP INDEX CONCURRENTLY public.orders_copy;"
    assert shown["makes_redundant"] == ["public.orders_copy"]
    assert suggestion_view({**MEASURED, "create_statement": None})["create_statement"] == ""


def test_the_note_says_whether_they_were_measured() -> None:
    assert "hypopg is not installed" in suggestions_note([UNVERIFIED], hypopg=False)
    assert "hypopg is not installed" in suggestions_note([], hypopg=False)
    assert suggestions_note([MEASURED], hypopg=True) == ""
    assert suggestions_note([MEASURED, UNVERIFIED], hypopg=True).startswith("1 of 2 suggestion(s) not measured")
    assert suggestions_note([], hypopg=True).startswith("no suggestion for the workload captured in the window")


def test_terminal_columns_are_those_the_function_returns() -> None:
    later = {**MEASURED, "makes_redundant": ["public.x"], "drop_statements": ["DROP INDEX CONCURRENTLY public.x;"]}
    columns, rows = display(Table(SUGGESTIONS, list(later), [later], ("table_name", "makes_redundant", "nope")))
    assert columns == ["table_name", "makes_redundant"]
    assert rows[0]["estimated_bytes"] == "2.0 kB" and rows[0]["drop_statements"] == "DROP INDEX CONCURRENTLY public.x;"
    columns, _ = display(Table(SUGGESTIONS, list(MEASURED), [MEASURED], ("table_name", "makes_redundant")))
    assert columns == ["table_name"]


def test_the_page_shows_a_table_note_below_it() -> None:
    shown = html.table_html(SUGGESTIONS, ["table_name"], [], "hypopg <is> not installed")
    assert shown.endswith('<p class="note">hypopg &lt;is&gt; not installed</p>')
    assert "<p" not in html.table_html(SUGGESTIONS, ["table_name"], [])
