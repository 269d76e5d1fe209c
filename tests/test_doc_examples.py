"""Every SQL and shell example of README.md, docs/*.md and extension/*.md runs against a real server.

An SQL example runs in a database of its own (pg_steward, dblink and the seed documents' tables) through
``psql -X -v ON_ERROR_STOP=1``, as a DBA would paste it: any error fails the test, and so does output that
differs from the ```text block the doc shows after it. It must also be safe to paste: it loses no row of the
seed tables and drops none of them. A shell example runs under ``bash -e -o pipefail`` with the CLI on PATH,
its stand-in DSNs pointing at two such databases. Examples that cannot run here are marked (see
tests/support/doc_examples.py for the rules).

Roles are cluster-wide: the examples use names starting with ``doc_`` that no other test uses; the ones the
docs assume (DOC_ROLES) are created before each example, and every role and database an example leaves is
dropped after it, with its pg_cron jobs, so other tests of the same server are not affected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest

from pg_steward.localserver import DATABASE, LocalServer, bindir
from support.doc_examples import Example, all_examples, matches, substitute
from support.partitions import digest, relations

SEED_TABLES = ("sales_analytics", "user_analytics", "regional_sales", "transaction_log")
DOC_ROLES = ("doc_app_owner",)  # roles the examples assume exist
EXAMPLES = all_examples()
RUN = {"sql": [e for e in EXAMPLES if e.language == "sql" and e.not_run_reason is None],
       "sh": [e for e in EXAMPLES if e.language == "sh" and e.not_run_reason is None]}


def _ids(examples: list[Example]) -> list[str]:
    return [e.where for e in examples]


def _names(admin: psycopg.Connection, sql: str) -> set[str]:
    return {r[0] for r in admin.execute(sql).fetchall()}


def _roles(admin: psycopg.Connection) -> set[str]:
    return _names(admin, "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")


def _databases(admin: psycopg.Connection) -> set[str]:
    return _names(admin, "SELECT datname FROM pg_database")


def _unschedule(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('steward.jobs') IS NOT NULL").fetchone()[0]:
            # A job is its name and its role: one scheduled with run_as is unscheduled as that role's.
            conn.execute("SELECT steward.unschedule(job, username::regrole) FROM steward.jobs")


@pytest.fixture
def example_database(server: LocalServer, cron_ready: None,
                     new_database: Callable[..., str]) -> Iterator[Callable[[], str]]:
    """Factory of example databases (pg_steward, dblink, seed tables); afterwards the jobs, roles and databases
    the examples made are removed."""
    from pg_steward.workloads import sql

    with psycopg.connect(server.url, autocommit=True) as admin:
        roles_before, databases_before = _roles(admin) - set(DOC_ROLES), _databases(admin)
        for role in DOC_ROLES:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
            admin.execute(f'CREATE ROLE "{role}" LOGIN')  # a pg_cron job's user logs in
        made: list[str] = []

        def make() -> str:
            url = new_database()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION dblink")
                conn.execute(sql("seed_tables"))
            made.append(url)
            return url

        try:
            yield make
        finally:
            for url in made:
                _unschedule(url)
            names = [psycopg.conninfo.conninfo_to_dict(url)["dbname"] for url in made]
            with psycopg.connect(server.url_for(DATABASE), autocommit=True) as cron_db:
                jobs = cron_db.execute("SELECT jobname, username FROM cron.job WHERE database = ANY(%s)",
                                       [names]).fetchall()
            assert not jobs, f"pg_cron jobs left behind: {jobs}"  # a job of a dropped role stalls pg_cron
            for role in sorted(_roles(admin) - roles_before):
                for url in made:
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(f'DROP OWNED BY "{role}"')
                admin.execute(f'DROP ROLE "{role}"')
            for name in sorted(_databases(admin) - databases_before):
                if not any(url.endswith(f"/{name}") or f"/{name}?" in url for url in made):
                    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            left = _roles(admin) - roles_before
            assert not left, f"roles left behind: {left}"


def _check_output(example: Example, stdout: str) -> None:
    if example.output is not None:
        assert matches(example.output, stdout), (
            f"{example.where}: the output differs from the doc's\n--- doc\n{example.output}\n--- real\n{stdout}")


def test_the_docs_have_examples_of_each_kind() -> None:
    assert any(e.doc == "README.md" for e in RUN["sql"])
    assert any("steward.manage(" in e.body for e in RUN["sql"])
    assert any(e.output is not None for e in RUN["sql"]) and any(e.output is not None for e in RUN["sh"])


@pytest.mark.parametrize("example", RUN["sql"], ids=_ids(RUN["sql"]))
def test_an_sql_example_runs_as_shown_and_is_safe_to_paste(example_database: Callable[[], str],
                                                           example: Example, tmp_path: Path) -> None:
    url = example_database()
    with psycopg.connect(url, autocommit=True) as conn:
        before_tables, before_rows = relations(conn), {t: digest(conn, t) for t in SEED_TABLES}
    script = tmp_path / "example.sql"
    script.write_text(example.body)
    result = subprocess.run([str(bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                             "-f", str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{example.where} failed:\n{result.stderr}"
    _check_output(example, result.stdout)
    with psycopg.connect(url, autocommit=True) as conn:
        assert {t: digest(conn, t) for t in SEED_TABLES} == before_rows, f"{example.where} lost rows"
        assert before_tables <= relations(conn), f"{example.where} dropped {before_tables - relations(conn)}"


@pytest.mark.parametrize("example", RUN["sh"], ids=_ids(RUN["sh"]))
def test_a_shell_example_runs_as_shown(example_database: Callable[[], str], example: Example,
                                       tmp_path: Path) -> None:
    db1, db2 = example_database(), example_database()
    (tmp_path / "fleet.txt").write_text(f"# the fleet\n{db1}\n{db2}\n")
    command = substitute(example.body, {"postgresql://db1/app": db1, "postgresql://db2/app": db2})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{bindir()}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{example.where} failed ({result.returncode}):\n{result.stderr}"
    _check_output(example, result.stdout)
