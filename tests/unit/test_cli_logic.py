"""Pure parts of the command line: check verdicts, HTML charts, output formats, DSN handling."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from pg_steward.cli import check, html
from pg_steward.cli.connect import CliError, label, read_dsn_file
from pg_steward.cli.output import printable, write_csv, write_json


def health(*statuses: str) -> list[dict]:
    return [{"check_name": f"c{n}", "status": s, "value": str(n), "threshold": "t", "detail": None, "fix": None}
            for n, s in enumerate(statuses)]


@pytest.mark.parametrize(("statuses", "code"), [
    (("ok", "ok"), check.OK),
    (("ok", "warning"), check.WARNING),
    (("warning", "critical", "ok"), check.CRITICAL),
    (("ok", "unknown"), check.OK),  # one check without data does not hide that the rest pass
    (("unknown", "unknown"), check.UNKNOWN),
    (("unknown", "warning"), check.WARNING),
    ((), check.UNKNOWN),
])
def test_verdicts(statuses: tuple[str, ...], code: int) -> None:
    assert check.evaluate(health(*statuses)).code == code


def test_status_line_names_the_problems_first() -> None:
    verdict = check.evaluate(health("ok", "warning", "critical"))
    code, line = check.status_line([("db", verdict)])
    assert code == check.CRITICAL
    assert line.startswith("PG_STEWARD CRITICAL - 1 ok, 1 warning, 1 critical: c2=2 critical (threshold t); c1=1")
    assert line.endswith("| ok=1 warning=1 critical=1 unknown=0")
    assert "\n" not in line


def test_pipes_cannot_break_the_performance_data() -> None:
    rows = health("warning")
    rows[0]["value"] = "a|b"
    assert check.status_line([("db", check.evaluate(rows))])[1].count("|") == 1


def test_fleet_status_line_takes_the_worst() -> None:
    fine = check.evaluate(health("ok"))
    code, line = check.status_line([("a", fine), ("b", check.Verdict(check.CRITICAL, "cannot connect", {}))])
    assert code == check.CRITICAL and "2 databases: a OK; b CRITICAL (cannot connect)" in line


def test_bar_chart_escapes_and_orders() -> None:
    chart = html.Chart("t<", [("small", 1.0), ("<script>x</script>", 10.0)], html.size_unit)
    svg = html.bar_chart(chart)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.index("&lt;script&gt;") < svg.index("small")  # largest first
    assert svg.count('class="bar"') == 2
    assert "no data" in html.bar_chart(html.Chart("empty", [], html.size_unit))
    assert "no data" in html.bar_chart(html.Chart("zeros", [("a", 0.0)], html.size_unit))


def test_page_is_self_contained() -> None:
    section = html.Section("h:1/db", charts=[html.Chart("c", [("a", 5.0)], html.size_unit)],
                           tables=[("t", ["status", "x"], [{"status": "critical", "x": "<b>"}])], notes=["a note"])
    page = html.page([section], dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script src" not in page and "<link" not in page
    assert 'class="status-critical"' in page and "&lt;b&gt;" in page


def test_numeric_column_choice() -> None:
    rows = [{"name": "a", "bloat_bytes": 10, "ratio": Decimal("1.5")}, {"name": "b", "bloat_bytes": None,
                                                                        "ratio": Decimal(2)}]
    assert html.numeric_column(rows, ("wasted_bytes", "bloat_bytes")) == "bloat_bytes"
    assert html.numeric_column(rows, ("name",)) is None
    assert html.items(rows, lambda r: r["name"], "ratio") == [("a", 1.5), ("b", 2.0)]


def test_json_and_csv_outputs() -> None:
    rows = [{"database": "d", "n": Decimal("3"), "at": dt.date(2024, 1, 2), "list": ["a", None]},
            {"database": "d", "extra": 1.5}]
    out = io.StringIO()
    write_json(out, rows)
    assert json.loads(out.getvalue())[0] == {"database": "d", "n": 3, "at": "2024-01-02", "list": ["a", None]}
    out = io.StringIO()
    write_csv(out, rows)
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == ["database", "n", "at", "list", "extra"]
    assert parsed[1] == ["d", "3", "2024-01-02", '["a", null]', ""]


def test_labels_hide_passwords() -> None:
    assert label("postgresql://alice:secret@db1:6432/sales") == "db1:6432/sales"
    assert label("host=h password=secret dbname=x") == "h:5432/x"
    assert label("not a dsn") == "<invalid DSN>"


def test_dsn_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.txt"
    path.write_text("# production\npostgresql://a/x\n\n  host=b dbname=y  \n")
    assert read_dsn_file(str(path)) == ["postgresql://a/x", "host=b dbname=y"]
    with pytest.raises(CliError, match="cannot read DSN file"):
        read_dsn_file(str(tmp_path / "missing"))


def test_printable_is_unambiguous() -> None:
    """An escape we print is never the same text as a value holding a backslash and those characters."""
    assert printable("plain name") == "plain name"
    assert printable("esc\x1b") == "esc\\x1b"  # an ESC
    assert printable("esc\\x1b") == "esc\\\\x1b"  # a backslash, then x1b
    assert printable("a\\b") == "a\\\\b"
    values = ["\x1b", "\\x1b", "\\\x1b", "\n", "\\n", "\\", "\\\\", "\u202e", "\\u202e"]
    assert len({printable(v) for v in values}) == len(values)
