"""Output of rows (rich tables, JSON, CSV), shared by every command.

Every value from the database is data: a name may hold rich markup (``[/]``, ``[link=...]``), terminal
escape sequences (ESC, OSC 8 hyperlinks), carriage returns, newlines, tabs, other controls or bidi
overrides. ``printable`` shows such characters as escapes, and ``data`` makes a rich ``Text`` of it, which
rich never parses for markup or emoji codes; every format goes through them (JSON escapes by construction,
the HTML page escapes for HTML after ``printable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on or hide shown as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``): controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width ones),
    line and paragraph separators, spaces other than the ASCII space, unassigned and private-use code points.
    A backslash is shown doubled, so that an escape we print is never mistaken for the same characters in the
    value (a table named ``a\\x1b`` shows as ``a\\\\x1b``, one with an ESC as ``a\\x1b``). The result is one
    line that shows what the value holds. Apply it once, where text is written out: never to its own output."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join("\\\\" if char == "\\" else char if char.isprintable() else ascii(char)[1:-1] for char in text)


def data(value: Any) -> Text:
    """A value from the database as terminal text: controls shown as escapes, no markup, no emoji codes."""
    return Text(printable(_cell(value)))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join("NULL" if v is None else str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def print_rows(console: Console, title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(title=data(title), title_justify="left")
    for column in columns:
        numeric = bool(rows) and isinstance(rows[0].get(column), int) and not isinstance(rows[0][column], bool)
        table.add_column(data(column), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(data(row.get(column)) for column in columns))
    console.print(table)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: numbers stay numbers, times become ISO 8601 text."""
    import datetime as dt
    from decimal import Decimal

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def union_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    return columns


def write_json(stream: Any, rows: Sequence[dict[str, Any]]) -> None:
    """JSON of the rows; ``ensure_ascii`` writes every control and non-ASCII character as a \\u escape."""
    import json

    json.dump([jsonable(r) for r in rows], stream, indent=2, ensure_ascii=True)
    stream.write("\n")


def write_csv(stream: Any, rows: Sequence[dict[str, Any]]) -> None:
    """CSV with a header; lists as PostgreSQL array text would be ambiguous, so as JSON. Text goes through
    ``printable``: a record is one line, and no control reaches a terminal the CSV is shown on."""
    import csv
    import json

    writer = csv.writer(stream)
    columns = union_columns(rows)
    writer.writerow([printable(c) for c in columns])
    for row in rows:
        cells = []
        for column in columns:
            value = jsonable(row.get(column))
            if isinstance(value, (list, dict)):
                value = json.dumps(value)
            cells.append(printable(value) if isinstance(value, str) else ("" if value is None else value))
        writer.writerow(cells)


FORMATS = ("table", "json", "csv")
