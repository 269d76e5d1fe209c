"""``pg-steward report --html``: one self-contained page, charts drawn as inline SVG.

Nothing is loaded from the network (no scripts, fonts or styles from
elsewhere): the page can be mailed or archived and still shows its charts.
A few lines of script mark, after layout, how many charts were drawn
(``data-rendered-charts`` on ``<body>``), which a headless browser can read.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pg_steward.cli.output import human_bytes, jsonable, printable

BAR_COLOR = "#2b6cb0"
WIDTH, LABEL_WIDTH, ROW_HEIGHT = 760, 300, 24
TOP_N = 15


def escape(text: str) -> str:
    """Text for the page: controls and bidi overrides shown as escapes (``printable``), then HTML-escaped."""
    return html.escape(printable(text))


@dataclass
class Chart:
    title: str
    items: list[tuple[str, float]]
    unit: Callable[[float], str]


@dataclass
class Section:
    database: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[dict[str, Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def milliseconds(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.1f} ms"


def short(text: str, limit: int = 44) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(chart: Chart) -> str:
    """A horizontal bar chart as SVG, largest first; an empty chart says so."""
    e = escape
    positive = [i for i in chart.items if i[1] > 0]  # a bar of nothing is not worth a row
    if not positive:
        return f'<figure><figcaption>{e(chart.title)}</figcaption><p class="empty">no data</p></figure>'
    items = sorted(positive, key=lambda i: i[1], reverse=True)[:TOP_N]
    top = max(v for _, v in items)
    span = WIDTH - LABEL_WIDTH - 90
    height = ROW_HEIGHT * len(items) + 8
    rows = []
    for n, (name, value) in enumerate(items):
        y = 4 + n * ROW_HEIGHT
        width = max(1.0, span * value / top)
        rows.append(
            f'<g><title>{e(str(name))}: {e(chart.unit(value))}</title>'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end">{e(short(name))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{ROW_HEIGHT - 6}" '
            f'fill="{BAR_COLOR}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 16}">{e(chart.unit(value))}</text></g>')
    return (f'<figure><figcaption>{e(chart.title)}</figcaption>'
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{e(chart.title)}">{"".join(rows)}</svg>'
            '</figure>')


def _cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join("NULL" if v is None else str(v) for v in value)
    return str(value)


def table_html(title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    e = escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            text = _cell(row.get(c))
            status = f' class="status-{e(text)}"' if c == "status" else ""
            cells.append(f"<td{status}>{e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    empty = "" if rows else f'<tr><td colspan="{len(columns) or 1}">no rows</td></tr>'
    return (f"<h3>{e(title)}</h3><div class=\"scroll\"><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}{empty}</tbody></table></div>")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a202c; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #cbd5e0; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1em 0; } figcaption { font-weight: 600; margin-bottom: .3em; }
svg.chart text { font-size: 12px; fill: #2d3748; }
.scroll { overflow-x: auto; } table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #e2e8f0; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #edf2f7; } .empty, .note { color: #718096; }
.status-critical { background: #fed7d7; } .status-warning { background: #fefcbf; } .status-ok { background: #c6f6d5; }
"""

# Runs after layout: counts the charts whose bars have a size on the page.
_SCRIPT = """
window.addEventListener('load', function () {
  var drawn = 0, bars = 0;
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var sized = Array.prototype.filter.call(svg.querySelectorAll('rect.bar'),
      function (r) { return r.getBBox().width > 0 && r.getBoundingClientRect().height > 0; });
    if (sized.length) { drawn += 1; bars += sized.length; }
  });
  document.body.setAttribute('data-rendered-charts', String(drawn));
  document.body.setAttribute('data-rendered-bars', String(bars));
});
"""


def page(sections: Sequence[Section], generated: dt.datetime | None = None) -> str:
    e = escape
    when = (generated or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z")
    parts = [f"<h1>pg_steward report</h1><p>{len(sections)} database(s), generated {e(when)}</p>"]
    for section in sections:
        parts.append(f"<section><h2>{e(section.database)}</h2>")
        parts += [f'<p class="note">{e(n)}</p>' for n in section.notes]
        parts += [bar_chart(c) for c in section.charts]
        parts += [table_html(*t) for t in section.tables]
        parts.append("</section>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>pg_steward report</title><style>{_STYLE}</style></head>"
            f"<body data-rendered-charts=\"0\">{''.join(parts)}<script>{_SCRIPT}</script></body></html>")


def numeric_column(rows: Sequence[dict[str, Any]], preferred: Sequence[str]) -> str | None:
    """The first of ``preferred`` that the rows have as a number."""
    for name in preferred:
        if rows and all(isinstance(jsonable(r.get(name)), (int, float)) or r.get(name) is None for r in rows) \
                and any(r.get(name) is not None for r in rows):
            return name
    return None


def items(rows: Sequence[dict[str, Any]], label: Callable[[dict[str, Any]], str], column: str | None,
          ) -> list[tuple[str, float]]:
    if column is None:
        return []
    return [(label(r), float(jsonable(r[column]))) for r in rows if r.get(column) is not None]


def size_unit(value: float) -> str:
    return human_bytes(int(value))
