"""The HTML page of ``pg-steward report --html`` as a person sees it in headless Chromium: the summary and the
health checks before the details, values for people (sizes, yes / no, the tree indented, names unquoted),
database text shown as text, nothing loaded from elsewhere. The screenshot is kept in test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pg_steward.cli import html
from support.browser import ARTIFACTS, render
from test_cli import run

HOSTILE = '<img src=x onerror="document.title=1">ev"il'


@pytest.fixture(scope="module")
def page(seed_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of the seed database, with a bloated table, a sub-partitioned tree, a slow statement and a
    table whose name is markup."""
    with psycopg.connect(seed_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE public."Bloated Table" (id bigint PRIMARY KEY, payload text) '
                     "WITH (autovacuum_enabled = off)")
        conn.execute('INSERT INTO public."Bloated Table" '
                     "SELECT n, repeat('x', 200) FROM generate_series(1, 20000) n")
        conn.execute('DELETE FROM public."Bloated Table" WHERE id % 2 = 0')
        conn.execute(sql.SQL("CREATE TABLE public.{} (d date) PARTITION BY RANGE (d)").format(sql.Identifier(HOSTILE)))
        conn.execute("ANALYZE")
        conn.execute("SELECT steward.log_slow_query(%s, 2345.5, 100000, 20000)",
                     ["SELECT * FROM sales_analytics WHERE region = 'North'"])
    out = tmp_path_factory.mktemp("html") / "report.html"
    result = run("report", "--html", str(out), "--dsn", seed_url)
    assert result.returncode == 0, result.stderr
    return out


def test_the_page_in_chromium(page: Path) -> None:
    from PIL import Image

    dom, shot = render(page, ARTIFACTS, "report-html.png", height=4000)  # summary, health and the charts
    assert shot.exists() and shot.stat().st_size > 20_000  # a real page, not a blank one
    # The bars are on the screen: pixels of the bar colour fill a real area.
    color = tuple(int(html.BAR_COLOR[i:i + 2], 16) for i in (1, 3, 5))
    assert sum(1 for pixel in Image.open(shot).convert("RGB").getdata() if pixel == color) > 5000
    # The page's own script ran under its Content-Security-Policy (by hash) and found the charts drawn.
    charts = page.read_text().count('<svg class="chart"')
    assert charts >= 2 and f'data-rendered-charts="{charts}"' in dom, dom[:300]
    bars = page.read_text().count('class="bar"')
    assert bars >= 3 and f'data-rendered-bars="{bars}"' in dom
    # Read top down: the summary, then the database's health checks, then its details.
    positions = [dom.find(f'id="{anchor}"') for anchor in ("summary", "health-0", "details-0")]
    assert -1 not in positions and positions == sorted(positions), positions
    assert dom.find(">Summary<") < dom.find("steward.health(), worst first") < dom.find(">partitions<")
    # A name that is markup stays text: no element was made of it, the title is the page's own.
    assert "<title>pg_steward report</title>" in dom and 'onerror="document.title=1"' not in dom
    assert "&lt;img src=x onerror=" in dom


def test_values_for_people(page: Path) -> None:
    text = page.read_text()
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing from elsewhere
    partitions = text[text.index("<h4>partitions</h4>"):]
    partitions = partitions[:partitions.index("</table>")]
    cells = re.findall(r"<td[^>]*>([^<]*)", partitions)
    assert "yes" in cells and "no" in cells and "True" not in cells and "False" not in cells
    assert any(re.fullmatch(r"\d+\.\d (kB|MB)", c) for c in cells)  # sizes readable, not byte counts
    # The tree indented: the seed's sub-partitions are a level deeper than their parent.
    assert '<td class="level-0">sales_analytics</td>' in partitions
    assert '<td class="level-1">sales_analytics_2024_01</td>' in partitions
    assert re.search(r'<td class="level-2">transaction_log_2024_\w+</td>', partitions)
    # Chart labels without SQL quoting; the SQL to run keeps its quotes.
    labels = re.findall(r'<text x="\d+" y="\d+" text-anchor="end">([^<]*)</text>', text)
    assert "public.Bloated Table" in labels and not any('"' in label or "&quot;" in label for label in labels)
    assert "VACUUM" in text and "&quot;public&quot;.&quot;Bloated Table&quot;" in text
    assert "2.3 s" in text  # the slow statement's time

