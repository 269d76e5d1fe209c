"""``pg-steward report --html``: one self-contained page, charts drawn as inline SVG.

The page reads top down as a DBA reads it: a summary of every database (health by status, sizes, findings),
then each database's health checks, worst first, then the details (charts and every report's rows). Values
are shown for people: sizes in kB / MB / GB, booleans yes / no, the partition tree indented, names without
SQL quoting. Rows the connected role may not see in full (a table it cannot read, jobs pg_cron hides from it,
a check it cannot make) are marked, never left out or shown as fine.

Every value from the database is text on the page (``printable``, then HTML-escaped), and nothing is loaded
from elsewhere: a Content-Security-Policy allows only the page's own style and script (by hash), so the page
can be mailed or archived and still shows its charts. A few lines of script mark, after layout, how many
charts were drawn (``data-rendered-charts`` on ``<body>``), which a headless browser can read.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pg_steward.cli.output import human_bytes, jsonable, printable
from pg_steward.sqltext import unquoted

BAR_COLOR = "#2b6cb0"
WIDTH, LABEL_WIDTH, ROW_HEIGHT = 760, 300, 24
TOP_N = 15
MAX_INDENT = 8  # tree levels drawn deeper than this are drawn at this depth
STATUS_ORDER = ("critical", "warning", "skipped", "unknown", "ok")
NOT_VISIBLE = "not visible to this role"


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
    role: str = ""
    summary: dict[str, str] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[tuple[Any, ...]] = field(default_factory=list)  # title, columns, rows[, note]
    notes: list[str] = field(default_factory=list)


def milliseconds(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.1f} ms"


def short(text: str, limit: int = 44) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(name: str) -> str:
    """A relation's name as a chart label: without SQL quoting, shortened to fit."""
    return short(unquoted(str(name)))


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
            f'<g><title>{e(unquoted(str(name)))}: {e(chart.unit(value))}</title>'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end">{e(label(name))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{ROW_HEIGHT - 6}" '
            f'fill="{BAR_COLOR}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 16}">{e(chart.unit(value))}</text></g>')
    return (f'<figure><figcaption>{e(chart.title)}</figcaption>'
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{e(chart.title)}">{"".join(rows)}</svg>'
            '</figure>')


def cell(column: str, value: Any) -> str:
    """A value as the page shows it: sizes readable, booleans yes / no, NULL empty, lists joined."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column.endswith("_bytes") and isinstance(value, (int, float)):
        return human_bytes(int(value))
    if isinstance(value, list):
        return ", ".join("NULL" if v is None else str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def hidden(row: dict[str, Any]) -> bool:
    """Whether a row says the role could not see all of it: a table it may not read, statistics pg_stats hides,
    jobs pg_cron does not show it, a health check that is unknown for what the role may not see (a check
    unknown for another reason, too few checkpoints to judge, is not marked)."""
    reason = str(row.get("reason") or "")
    unknown = row.get("status") in ("unknown", "skipped") and any(
        words in str(row.get("detail") or "") for words in ("not visible", "may not read", "permission denied"))
    return (row.get("readable") is False or row.get("last_status") == "not visible"
            or reason.startswith("statistics not visible") or unknown)


def table_html(title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], note: str = "") -> str:
    e = escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for n, c in enumerate(columns):
            text = cell(c, row.get(c))
            classes = []
            if c == "status":
                classes.append(f"status-{text}" if text in STATUS_ORDER else "status-other")
            if c == "partition" and isinstance(row.get("level"), int):
                classes.append(f"level-{min(max(row['level'], 0), MAX_INDENT)}")
            mark = f' <span class="mark">{e(NOT_VISIBLE)}</span>' if n == 0 and hidden(row) else ""
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{e(text)}{mark}</td>")
        body.append(('<tr class="hidden-from-role">' if hidden(row) else "<tr>") + "".join(cells) + "</tr>")
    empty = "" if rows else f'<tr><td colspan="{len(columns) or 1}">no rows</td></tr>'
    remark = f'<p class="note">{e(note)}</p>' if note else ""
    return (f"<h4>{e(title)}</h4><div class=\"scroll\"><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}{empty}</tbody></table></div>{remark}")


def health_order(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Health checks worst first (critical, warning, unknown, ok), each status in the checks' own order."""
    rank = {s: n for n, s in enumerate(STATUS_ORDER)}
    return sorted(rows, key=lambda r: rank.get(str(r.get("status")), len(rank)))


def status_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        status = str(row.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


HEALTH_COLUMNS = ("check_name", "status", "value", "threshold", "detail", "fix")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a202c; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #cbd5e0; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1em 0; } figcaption { font-weight: 600; margin-bottom: .3em; }
svg.chart text { font-size: 12px; fill: #2d3748; }
.scroll { overflow-x: auto; } table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #e2e8f0; padding: 2px 6px; text-align: left; vertical-align: top; }
td { max-width: 26em; overflow-wrap: break-word; }
th { background: #edf2f7; } .empty, .note { color: #718096; }
.status-critical { background: #fed7d7; } .status-warning { background: #fefcbf; } .status-ok { background: #c6f6d5; }
.status-unknown, .status-skipped { background: #e2e8f0; }
tr.hidden-from-role td { color: #4a5568; font-style: italic; }
.mark { background: #feebc8; color: #7b341e; font-style: normal; font-size: 10px; padding: 0 4px; border-radius: 3px; }
""" + "".join(f"td.level-{n} {{ padding-left: {6 + 18 * n}px; }}\n" for n in range(MAX_INDENT + 1))

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


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src {_sha256(_STYLE)}; script-src {_sha256(_SCRIPT)}; "
                           "img-src data:; base-uri 'none'; form-action 'none'")
"""Nothing from elsewhere, no script or style but the page's own (a value that got past escaping could not run)."""


def summary_html(sections: Sequence[Section]) -> str:
    e = escape
    labels: list[str] = []
    for section in sections:
        labels += [k for k in section.summary if k not in labels]
    head = "".join(f"<th>{e(c)}</th>" for c in ("database", *STATUS_ORDER, *labels))
    body = []
    for number, section in enumerate(sections):
        counts = status_counts(section.health)
        cells = [f'<td><a href="#db-{number}">{e(section.database)}</a></td>']
        cells += [f'<td class="status-{s}">{counts[s]}</td>' if counts[s] and s != "ok" else f"<td>{counts[s]}</td>"
                  for s in STATUS_ORDER]
        cells += [f"<td>{e(section.summary.get(k, ''))}</td>" for k in labels]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<section id="summary"><h2>Summary</h2><div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
            '<p class="note">Health columns count the checks of steward.health() by status; '
            f'"{e(NOT_VISIBLE)}" marks what the connected role could not see.</p></section>')


def section_html(number: int, section: Section) -> str:
    e = escape
    who = f" (as role {e(section.role)})" if section.role else ""
    parts = [f'<section class="database" id="db-{number}"><h2>{e(section.database)}{who}</h2>']
    parts += [f'<p class="note">{e(n)}</p>' for n in section.notes]
    parts.append(f'<div class="health" id="health-{number}"><h3>Health</h3>')
    parts.append(table_html("steward.health(), worst first", HEALTH_COLUMNS, health_order(section.health))
                 if section.health else '<p class="empty">no health checks</p>')
    parts.append(f'</div><div class="details" id="details-{number}"><h3>Details</h3>')
    parts += [bar_chart(c) for c in section.charts]
    parts += [table_html(*t) for t in section.tables]
    parts.append("</div></section>")
    return "".join(parts)


def page(sections: Sequence[Section], generated: dt.datetime | None = None) -> str:
    e = escape
    when = (generated or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z")
    parts = [f"<h1>pg_steward report</h1><p>{len(sections)} database(s), generated {e(when)}</p>",
             summary_html(sections)]
    parts += [section_html(n, s) for n, s in enumerate(sections)]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
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
