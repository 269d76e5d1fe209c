"""The HTML page's pure parts: values shown for people, names unquoted, rows marked, escaping, the policy."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from pg_steward.cli import html
from pg_steward.sqltext import qualified, unquoted


@pytest.mark.parametrize(("name", "shown"), [
    ('"public"."big"', "public.big"), ('public."Weird Name"', "public.Weird Name"), ("sales", "sales"),
    ('"a""b".c', 'a"b.c'), ('"dotted.name"', "dotted.name"),
    # not a chain of identifiers: left as it is
    ("SELECT a.b FROM \"t\"", "SELECT a.b FROM \"t\""), ('"open', '"open'), ("a.", "a."), ("x(1)", "x(1)"),
])
def test_unquoted(name: str, shown: str) -> None:
    assert unquoted(name) == shown


@pytest.mark.parametrize("parts", [("public", "t"), ('we"ird', "x.y"), ("É", " spaced ")])
def test_unquoted_undoes_qualified(parts: tuple[str, str]) -> None:
    assert unquoted(qualified(*parts)) == ".".join(parts)


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("is_default", False, "no"), ("managed", True, "yes"), ("size_bytes", 3 * 1024 * 1024, "3.0 MB"),
    ("total_bytes", 512, "512 B"), ("waste_bytes", None, ""), ("list_values", ["a", None], "a, NULL"),
    ("estimated_rows", 1200, "1200"),
])
def test_cells_for_people(column: str, value: object, shown: str) -> None:
    assert html.cell(column, value) == shown


def test_rows_the_role_could_not_see_are_marked() -> None:
    assert html.hidden({"readable": False}) and not html.hidden({"readable": True})
    assert html.hidden({"last_status": "not visible"}) and not html.hidden({"last_status": "failed"})
    assert html.hidden({"reason": "statistics not visible to role r (needs SELECT)"})
    assert html.hidden({"status": "unknown", "detail": "6 sequence(s) this role may not read"})
    assert not html.hidden({"status": "unknown", "detail": "too few checkpoints to judge"})
    table = html.table_html("t", ["partition", "readable"], [{"partition": "a", "readable": False},
                                                            {"partition": "b", "readable": True}])
    assert table.count('class="hidden-from-role"') == 1 and f'<span class="mark">{html.NOT_VISIBLE}</span>' in table


def test_tree_levels_are_classes_the_style_indents() -> None:
    table = html.table_html("p", ["partition", "level"], [{"partition": "p", "level": n} for n in (0, 1, 2, 40)])
    assert re.findall(r'<td class="(level-\d+)">', table) == ["level-0", "level-1", "level-2",
                                                               f"level-{html.MAX_INDENT}"]
    assert all(f"td.level-{n} " in html._STYLE for n in range(html.MAX_INDENT + 1))


def test_database_text_is_text() -> None:
    row = {"check_name": "<script>alert(1)</script>", "status": 'ok" onmouseover="x', "detail": "a\x1b[31mb"}
    table = html.table_html("<b>title</b>", ["check_name", "status", "detail"], [row])
    assert "<script>" not in table and "<b>" not in table and "\x1b" not in table
    assert "&lt;script&gt;" in table and 'class="status-other"' in table and "a\\x1b[31mb" in table
    chart = html.bar_chart(html.Chart("c", [('"public"."<x>"', 5.0)], html.size_unit))
    assert ">public.&lt;x&gt;</text>" in chart


def test_the_policy_allows_only_the_pages_own_style_and_script() -> None:
    page = html.page([html.Section("db", health=[{"check_name": "vacuum", "status": "ok"}])])
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert policy.startswith("default-src 'none';") and "unsafe-inline" not in policy
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL).group(1)
    for text, directive in ((style, "style-src"), (script, "script-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
    assert page.index('id="summary"') < page.index('id="health-0"') < page.index('id="details-0"')


def test_summary_counts_health_by_status() -> None:
    section = html.Section("db", summary={"index problems": "2"}, health=[
        {"status": "critical"}, {"status": "ok"}, {"status": "ok"}, {"status": "unknown"}, {"status": "skipped"}])
    summary = html.summary_html([section])
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", summary)
    assert cells == ["1", "0", "1", "1", "2", "2"]  # critical, warning, skipped, unknown, ok, then the summary's own
    assert [r["status"] for r in html.health_order(section.health)] == ["critical", "skipped", "unknown", "ok", "ok"]
