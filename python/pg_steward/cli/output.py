"""Output of rows (rich tables, JSON, CSV, TSV), shared by every command.

Every value from the database is data: a name may hold rich markup (``[/]``, ``[link=...]``), terminal
escape sequences (ESC, OSC 8 hyperlinks), carriage returns, newlines, tabs, other controls or bidi
overrides. ``printable`` shows such characters as escapes, and ``data`` makes a rich ``Text`` of it, which
rich never parses for markup or emoji codes; every format goes through them (JSON escapes by construction,
the HTML page escapes for HTML after ``printable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 1_000_000
"""Width of stdout when it is not a terminal: each row on one line, whatever ``COLUMNS`` says."""


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
    """Terminal text of a value: NULL is an empty cell (as psql shows it), booleans ``yes`` and ``no``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join("NULL" if v is None else str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def stdout_console() -> Console:
    """The console of stdout: a terminal's own width, or, piped, no width limit (rows are never squeezed)."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def print_rows(console: Console, title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as a table that fits the console: columns of several words wrap (the widest first, down to their
    longest word), so that a name or a command is never split. When that does not fit, each row is shown as
    a record, one ``column  value`` line per column (as psql's expanded display), values wrapped to the
    width (a word longer than the whole line folds): nothing is ever cut."""
    cells = [[data(row.get(column)) for column in columns] for row in rows]
    headers = [data(column) for column in columns]
    texts = [[headers[i], *(r[i] for r in cells)] for i in range(len(columns))]
    natural = [max(t.cell_len for t in column) for column in texts]
    words = [max(_longest_word(t.plain) for t in column) for column in texts]
    room = console.width - 3 * len(columns) - 1  # borders and padding
    widths = _narrowed(natural, words, room)
    if sum(widths) > room and rows:
        _print_records(console, title, headers, cells)
        return
    table = Table(title=data(title), title_justify="left")
    for header, column, width in zip(headers, columns, widths, strict=True):
        table.add_column(header, justify="right" if _numeric(rows, column) else "left", overflow="fold",
                         width=width)
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)


def _longest_word(text: str) -> int:
    """Width of the longest word of a cell; the first counts its indentation (a tree level)."""
    words = text.split()
    if not words:
        return 0
    indent = len(text) - len(text.lstrip())
    return max(indent + cell_len(words[0]), *(cell_len(w) for w in words))


def _narrowed(widths: Sequence[int], floors: Sequence[int], room: int) -> list[int]:
    """``widths`` with the widest column above its floor narrowed by one, again, until they fit ``room``."""
    out = list(widths)
    while sum(out) > room:
        wider = [i for i, width in enumerate(out) if width > floors[i]]
        if not wider:
            break
        out[max(wider, key=lambda i: out[i])] -= 1
    return out


def _numeric(rows: Sequence[dict[str, Any]], column: str) -> bool:
    from decimal import Decimal

    value = rows[0].get(column) if rows else None
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _print_records(console: Console, title: str, headers: list[Text], cells: list[list[Text]]) -> None:
    console.print(data(title))
    for number, row_cells in enumerate(cells, 1):
        console.print(Rule(Text(f"{number} of {len(cells)}"), align="left", style="dim"))
        record = Table.grid(padding=(0, 2))
        record.add_column(style="bold", no_wrap=True)
        record.add_column(overflow="fold")
        for header, cell in zip(headers, row_cells, strict=True):
            record.add_row(header, cell)
        console.print(record)


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


def _flat_cell(value: Any) -> Any:
    """A CSV or TSV cell: lists and objects as JSON, booleans ``true`` / ``false``, NULL empty, text through
    ``printable`` (a record is one line, and no control reaches a terminal the file is shown on)."""
    import json

    value = jsonable(value)
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return printable(value)
    return "" if value is None else value


def write_csv(stream: Any, rows: Sequence[dict[str, Any]]) -> None:
    """CSV with a header; lists as PostgreSQL array text would be ambiguous, so as JSON."""
    import csv

    writer = csv.writer(stream)
    columns = union_columns(rows)
    writer.writerow([printable(c) for c in columns])
    for row in rows:
        writer.writerow([_flat_cell(row.get(column)) for column in columns])


def write_tsv(stream: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Tab-separated values with a header, for ``cut`` and ``awk``: no quoting is needed, since ``printable``
    writes a tab or newline in a value as ``\\t`` or ``\\n``."""
    columns = union_columns(rows)
    stream.write("\t".join(printable(c) for c in columns) + "\n")
    for row in rows:
        stream.write("\t".join(str(_flat_cell(row.get(column))) for column in columns) + "\n")


def write_flat(stream: Any, fmt: str, rows: Sequence[dict[str, Any]]) -> None:
    """Rows in one of the machine formats (``json``, ``csv``, ``tsv``)."""
    {"json": write_json, "csv": write_csv, "tsv": write_tsv}[fmt](stream, rows)


FORMATS = ("table", "json", "csv", "tsv")
