"""Terminal output of rows (rich tables), shared by every command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join("NULL" if v is None else str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def print_rows(console: Console, title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        numeric = bool(rows) and isinstance(rows[0].get(column), int) and not isinstance(rows[0][column], bool)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
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
    import json

    json.dump([jsonable(r) for r in rows], stream, indent=2)
    stream.write("\n")


def write_csv(stream: Any, rows: Sequence[dict[str, Any]]) -> None:
    """CSV with a header; lists as PostgreSQL array text would be ambiguous, so as JSON."""
    import csv
    import json

    writer = csv.writer(stream)
    columns = union_columns(rows)
    writer.writerow(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = jsonable(row.get(column))
            cells.append(json.dumps(value) if isinstance(value, (list, dict)) else ("" if value is None else value))
        writer.writerow(cells)


FORMATS = ("table", "json", "csv")
