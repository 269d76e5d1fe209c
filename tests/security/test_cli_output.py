"""Names from the database are data in every output of pg-steward, never markup or escape sequences.

A table owner names a table so that the DBA's terminal does what the owner wants: ``[/]`` made
``pg-steward report partitions`` and ``report bloat`` fail for everyone (rich read it as markup), a name
like ``[bold red]x[/][link=...]y`` was shown styled and as a hyperlink, and ESC, OSC 8 hyperlinks,
carriage returns, newlines, tabs, C1 controls and bidi overrides reached the terminal raw. Each test
creates such tables in a real server and runs the real command line in each format.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from collections.abc import Callable

import psycopg
import pytest

from test_cli import PG_STEWARD, ROOT

# Each a valid PostgreSQL identifier (no NUL, at most 63 bytes with the "_p" of its partition).
HOSTILE = (
    "[/]",
    "[bold red]x[/][link=https://example.com]y",
    "esc\x1b[31mred\x1b[0m",
    "osc\x1b]8;;https://example.com\x07link\x1b]8;;\x07",
    "cr\rnl\ntab\tend",
    "c1\x9b31m\x85bidi\u202eevil\u2066",
    ":smile: emoji",
    "lit\\x1b[31m\\n",  # backslashes: shown doubled, never like the escape of a real ESC or newline
)
RAW = ("\x1b", "\x07", "\r", "\x9b", "\x85", "\u202e", "\u2066")


def printable(name: str) -> str:
    """How a name must be shown: each character a terminal acts on or hides as its Python escape, each
    backslash doubled."""
    return "".join("\\\\" if char == "\\" else char if char.isprintable() else ascii(char)[1:-1] for char in name)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """pg-steward as a script runs it, wide enough that no name is wrapped."""
    env = dict(os.environ, COLUMNS="2000", NO_COLOR="1")
    return subprocess.run([PG_STEWARD, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


@pytest.fixture
def hostile_url(new_database: Callable[..., str]) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        for number, name in enumerate(HOSTILE):
            parent, child = psycopg.sql.Identifier(name), psycopg.sql.Identifier(name + "_p")
            conn.execute(psycopg.sql.SQL("CREATE TABLE {} (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
                         .format(parent))
            conn.execute(psycopg.sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ('2026-01-01') "
                                         "TO ('2026-02-01')").format(child, parent))
            conn.execute(psycopg.sql.SQL("INSERT INTO {} SELECT n, '2026-01-05' FROM generate_series(1, {}) n")
                         .format(parent, psycopg.sql.Literal(100 + number)))
        conn.execute("ANALYZE")
    return url


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    """The command worked and wrote no control a terminal acts on, in stdout or stderr."""
    assert result.returncode == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert not any(raw in stream for raw in RAW), repr(stream)


def _shown(text: str) -> None:
    """Every hostile name is in the output as visible text: markup unparsed, controls as escapes."""
    for name in HOSTILE:
        assert printable(name) in text, (name, text)


def test_report_partitions_as_a_table(hostile_url: str) -> None:
    result = run("report", "partitions", "--dsn", hostile_url)
    _clean(result)
    assert "\t" not in result.stdout
    _shown(result.stdout)
    assert "[link=https://example.com]" in result.stdout and "[bold red]" in result.stdout  # not styling


def test_report_partitions_as_json(hostile_url: str) -> None:
    result = run("report", "partitions", "--format", "json", "--dsn", hostile_url)
    _clean(result)
    names = {row["partition"] for row in json.loads(result.stdout)}
    for name in HOSTILE:  # exactly the name, as data
        assert any(name + "_p" in shown for shown in names), name


def test_report_partitions_as_csv(hostile_url: str) -> None:
    result = run("report", "partitions", "--format", "csv", "--dsn", hostile_url)
    _clean(result)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(result.stdout.splitlines()) == len(rows) + 1  # one line per record
    assert len(rows) == 2 * len(HOSTILE)
    _shown(result.stdout)


def test_report_partitions_as_tsv(hostile_url: str) -> None:
    result = run("report", "partitions", "--format", "tsv", "--dsn", hostile_url)
    _clean(result)
    header, *records = result.stdout.splitlines()
    assert len(records) == 2 * len(HOSTILE)  # one line per record: no newline of a name split one
    assert all(record.count("\t") == header.count("\t") for record in records)  # nor a tab a column
    _shown(result.stdout)


def test_report_as_records_on_a_narrow_terminal(hostile_url: str) -> None:
    env = dict(os.environ, COLUMNS="60", FORCE_COLOR="1")  # stdout counts as a terminal 60 columns wide
    env.pop("NO_COLOR", None)
    result = subprocess.run([PG_STEWARD, "report", "partitions", "--dsn", hostile_url], capture_output=True,
                            text=True, timeout=300, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # rich's own colours (SGR) are all that may remain
    assert not any(raw in text for raw in RAW), repr(text)
    assert "1 of 16" in text and "[link=https://example.com]" in text  # records, names not styling


def test_report_bloat_as_a_table(hostile_url: str) -> None:
    result = run("report", "bloat", "--dsn", hostile_url)
    _clean(result)
    assert "\t" not in result.stdout
    for name in HOSTILE:
        assert printable(name + "_p") in result.stdout, name


def test_report_html_escapes(hostile_url: str, tmp_path: os.PathLike[str]) -> None:
    page = os.path.join(tmp_path, "report.html")
    result = run("report", "--html", page, "--dsn", hostile_url)
    _clean(result)
    with open(page, encoding="utf-8") as stream:
        text = stream.read()
    assert not any(raw in text for raw in RAW)
    assert "[bold red]x[/][link=https://example.com]y" in text  # text, not markup
    assert printable("osc\x1b]8;;https://example.com\x07link") in text


def test_maintain_and_check(hostile_url: str) -> None:
    with psycopg.connect(hostile_url, autocommit=True) as conn:
        for name in HOSTILE:  # registered without manage()'s first run: maintain has partitions to create
            conn.execute("INSERT INTO steward.partition_config (parent, span) VALUES (%s::regclass, '1 month')",
                         [psycopg.sql.Identifier(name).as_string(conn)])
    table = run("maintain", "--dsn", hostile_url)
    _clean(table)
    _shown(table.stdout)
    for args in (("maintain", "--format", "csv"), ("maintain", "--format", "json")):
        _clean(run(*args, "--dsn", hostile_url))
    checked = run("check", "--dsn", hostile_url)
    assert checked.returncode in (0, 1, 2, 3) and len(checked.stdout.splitlines()) == 1
    assert not any(raw in checked.stdout + checked.stderr for raw in RAW)


def test_error_naming_a_hostile_table_is_one_clean_line(hostile_url: str) -> None:
    """A server error that names the table (maintain --table of an unmanaged one) is one visible line."""
    name = psycopg.sql.Identifier(HOSTILE[3]).as_string(None)
    result = run("maintain", "--table", name, "--dsn", hostile_url)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(raw in result.stderr for raw in RAW), repr(result.stderr)
    assert printable(HOSTILE[3]) in result.stderr
