"""What pg-steward prints on a terminal (fits its width, names whole), to a pipe (one row a line) and in each
format, against a real server; booleans are yes / no, NULL an empty cell."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from pg_steward.cli.output import print_rows
from test_cli import PG_STEWARD, ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(*args: str, columns: int = 80, terminal: bool = False) -> subprocess.CompletedProcess[str]:
    """pg-steward with ``COLUMNS`` set; with ``terminal``, stdout counts as a terminal (rich's FORCE_COLOR)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_INTERACTIVE", "NO_COLOR")}
    env["COLUMNS"] = str(columns)
    if terminal:
        env["FORCE_COLOR"] = "1"
    return subprocess.run([PG_STEWARD, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", text).splitlines()]


@pytest.fixture(scope="module")
def bloated_url(seed_url: str) -> str:
    """The seed database with one big bloated table (with a duplicate index) beside its many small ones."""
    with psycopg.connect(seed_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.big_bloated_table_with_a_long_name "
                     "(id bigint PRIMARY KEY, payload text) WITH (autovacuum_enabled = off)")
        conn.execute("TRUNCATE public.big_bloated_table_with_a_long_name")
        conn.execute("CREATE INDEX IF NOT EXISTS big_bloated_table_with_a_long_name_id_copy_idx "
                     "ON public.big_bloated_table_with_a_long_name (id)")  # a duplicate of the primary key
        conn.execute("INSERT INTO public.big_bloated_table_with_a_long_name "
                     "SELECT n, repeat('x', 200) FROM generate_series(1, 20000) n")
        conn.execute("DELETE FROM public.big_bloated_table_with_a_long_name WHERE id % 2 = 0")
        conn.execute("ANALYZE")
    return seed_url


def test_a_table_wraps_words_and_keeps_names_whole() -> None:
    rows = [{"action": "create", "partition": "public.sales_analytics_p2024_07", "ok": True,
             "detail": "2024-07-01 to 2024-08-01; moved 2148 rows from DEFAULT"},
            {"action": "skip", "partition": None, "ok": False, "detail": None}]
    out = io.StringIO()
    print_rows(Console(file=out, width=80), "maintenance", rows, list(rows[0]))
    shown = lines(out.getvalue())
    assert max(len(line) for line in shown) <= 80
    assert any("public.sales_analytics_p2024_07" in line for line in shown)  # the name is not wrapped
    assert "…" not in out.getvalue()
    second = next(line for line in shown if "skip" in line)
    assert re.search(r"│ no\s+│", second)  # false is no, not blank; NULL an empty cell


def test_too_many_columns_become_records() -> None:
    row = {c: f"{c}_value" for c in ("problem", "severity", "table", "index", "size")}
    row["fix"] = 'DROP INDEX "public"."sales_analytics_customer_copy_idx";  -- takes ACCESS EXCLUSIVE'
    out = io.StringIO()
    print_rows(Console(file=out, width=60), "index problems", [row, row], list(row))
    shown = lines(out.getvalue())
    assert max(len(line) for line in shown) <= 60
    assert shown[1].startswith("1 of 2 ") and any(line.startswith("2 of 2 ") for line in shown)
    assert any(re.fullmatch(r"problem\s+problem_value", line) for line in shown)
    assert any('"public"."sales_analytics_customer_copy_idx";' in line for line in shown)


def test_report_on_a_terminal_fits_80_columns(bloated_url: str) -> None:
    result = run("report", "indexes", "--dsn", bloated_url, terminal=True)
    assert result.returncode == 0, result.stderr
    shown = lines(result.stdout)
    assert max(len(line) for line in shown) <= 80, result.stdout
    assert "…" not in result.stdout
    assert any("big_bloated_table_with_a_long_name_id_copy_idx" in line for line in shown)  # the name whole


def test_report_piped_is_one_row_a_line(bloated_url: str) -> None:
    with psycopg.connect(bloated_url) as conn:
        fix = conn.execute("SELECT fix FROM steward.table_bloat() WHERE table_name = "
                           "'big_bloated_table_with_a_long_name'").fetchone()[0]
    result = run("report", "bloat", "--dsn", bloated_url)  # COLUMNS=80, but stdout is a pipe
    assert result.returncode == 0, result.stderr
    row = next(line for line in lines(result.stdout) if "big_bloated_table_with_a_long_name" in line)
    assert fix in row and len(row) > 80  # the whole row, fix included, on one line


def test_booleans_are_yes_and_no(seed_url: str) -> None:
    result = run("report", "partitions", "--dsn", seed_url, columns=300)
    assert result.returncode == 0, result.stderr
    leaf = next(line for line in lines(result.stdout) if "sales_analytics_2024_01" in line)
    assert re.search(r"│ no\s+│", leaf) and not re.search(r"│ yes\s+│", leaf)  # neither default nor managed
    default = next(line for line in lines(result.stdout) if "sales_analytics_default" in line)
    assert re.search(r"│ yes\s+│", default)


def test_each_format(seed_url: str) -> None:
    with psycopg.connect(seed_url) as conn:
        expected = conn.execute("SELECT partition::text, total_bytes, is_default "
                                "FROM steward.partitions('sales_analytics')").fetchall()
    tsv = run("report", "partitions", "--format", "tsv", "--dsn", seed_url)
    assert tsv.returncode == 0, tsv.stderr
    header, *records = [line.split("\t") for line in tsv.stdout.splitlines()]
    rows = [dict(zip(header, r, strict=True)) for r in records]
    assert header[0] == "database" and "partition" in header
    got = [(r["partition"], int(r["size_bytes"]), r["is_default"]) for r in rows if r["table"] == "sales_analytics"]
    assert got == [(p, size, "true" if default else "false") for p, size, default in expected]
    as_csv = list(csv.DictReader(io.StringIO(run("report", "partitions", "--format", "csv", "--dsn",
                                                 seed_url).stdout)))
    assert {r["is_default"] for r in as_csv} == {"true", "false"}
    as_json = json.loads(run("report", "partitions", "--format", "json", "--dsn", seed_url).stdout)
    assert {r["is_default"] for r in as_json} == {True, False}


def test_min_bytes_filters_bloat_in_the_sql_function(bloated_url: str) -> None:
    with psycopg.connect(bloated_url) as conn:
        expected = conn.execute("SELECT relation FROM steward.table_bloat(min_bytes => pg_size_bytes('1MB'))"
                                ).fetchall()
        everything = conn.execute("SELECT count(*) FROM steward.table_bloat()").fetchone()[0]
    result = run("report", "bloat", "--format", "json", "--min-bytes", "1MB", "--dsn", bloated_url)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    tables = [r for r in rows if r["source"] == "table bloat"]
    assert [r["relation"] for r in tables] == [e[0] for e in expected] and len(tables) < everything
    assert '"public"."big_bloated_table_with_a_long_name"' in {r["relation"] for r in tables}
    assert all(r["size_bytes"] >= 1024 * 1024 for r in rows)
    bad = run("report", "bloat", "--min-bytes", "lots", "--dsn", bloated_url)
    assert bad.returncode == 1 and "invalid size" in bad.stderr and "Traceback" not in bad.stderr


def test_min_bytes_on_a_report_without_it_is_refused(seed_url: str) -> None:
    result = run("report", "indexes", "--min-bytes", "1MB", "--dsn", seed_url)
    assert result.returncode == 1
    assert result.stderr.strip() == "pg-steward: error: --min-bytes applies to reports partitions, bloat, not indexes"


def test_min_bytes_keeps_the_partition_trees_of_that_size(seed_url: str) -> None:
    with psycopg.connect(seed_url) as conn:
        sizes = dict(conn.execute(
            "SELECT c.oid::regclass::text, (SELECT total_bytes FROM steward.partitions(c.oid::regclass) "
            "WHERE level = 0) FROM pg_class c WHERE c.relkind = 'p' AND NOT c.relispartition "
            "AND c.relnamespace = 'public'::regnamespace").fetchall())
    big = {t for t, size in sizes.items() if size >= 5 * 1024 * 1024}
    assert big and big != set(sizes)  # the seed has trees on both sides of 5 MB
    result = run("report", "partitions", "--format", "json", "--min-bytes", "5MB", "--dsn", seed_url)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["table"] for r in rows} == big
    assert len(rows) == sum(1 for t in json.loads(run("report", "partitions", "--format", "json", "--dsn",
                                                        seed_url).stdout) if t["table"] in big)  # whole trees


def test_demo_reads_well_at_80_columns(new_database: Callable[..., str]) -> None:
    result = run("demo", "--dsn", new_database(extension=False), terminal=True)
    assert result.returncode == 0, result.stderr
    shown = lines(result.stdout)
    assert max(len(line) for line in shown) <= 80
    assert "…" not in result.stdout
    for name in ("sales_analytics_2024_01", "public.sales_analytics_p2024_07", "transaction_log_2024_other",
                 "sales_analytics_customer_copy_idx", "2024-01-01 to 2024-02-01"):
        assert any(name in line for line in shown), name


def test_the_readme_installs_the_command_line(tmp_path: Path) -> None:
    """The README's install commands, as written (the apt-get line is root's, once), in a fresh HOME."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Installing the command line", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if not line.startswith("apt-get ")]
    built_before = (ROOT / "python" / "build").exists()
    try:
        result = subprocess.run(["bash", "-euc", "\n".join(commands)], capture_output=True, text=True,
                                timeout=600, cwd=ROOT, env=dict(os.environ, HOME=str(tmp_path)))
    finally:
        if not built_before:  # pip builds in the source tree
            shutil.rmtree(ROOT / "python" / "build", ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert "pg-steward 0." in result.stdout
    linked = tmp_path / ".local" / "bin" / "pg-steward"
    assert subprocess.run([str(linked), "--version"], capture_output=True, text=True).stdout.startswith("pg-steward")
