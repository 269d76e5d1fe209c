"""Every SQL example of README.md and extension/*.md is safe to paste: run statement by statement on the seed
documents' tables (as a superuser, in autocommit, as psql would), it loses no row and drops no table.

Statements that cannot run here (a placeholder like ``'SELECT ...'``, a role or table the example assumes)
fail and the next one goes on, as in psql; what matters is that nothing that did run destroyed data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from support.partitions import digest, relations

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "extension").glob("*.md"))]
STATEMENT = re.compile(r"^\s*(SELECT|CALL|INSERT|UPDATE|DELETE|GRANT|REVOKE|CREATE|ALTER|DROP|WITH|TRUNCATE)\b",
                       re.IGNORECASE)
SEED_TABLES = ("sales_analytics", "user_analytics", "regional_sales", "transaction_log")


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def examples() -> list[tuple[str, list[str]]]:
    """(where, statements) of every ```sql block that is an example, not a signature."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(r"^```sql\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            body = _strip_comments(match.group(1))
            if not STATEMENT.match(body):
                continue  # a signature (RETURNS ...), not something to paste
            line = text[:match.start()].count("\n") + 1
            statements = [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]
            found.append((f"{doc.relative_to(ROOT)}:{line}", statements))
    return found


EXAMPLES = examples()


def test_the_docs_have_examples() -> None:
    assert any(where.startswith("README.md") for where, _ in EXAMPLES)
    assert any(any("steward.manage(" in s for s in statements) for _, statements in EXAMPLES)


@pytest.mark.parametrize(("where", "statements"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_an_example_is_safe_to_paste(new_database: Callable[..., str], where: str, statements: list[str]) -> None:
    from pg_steward.workloads import sql

    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute(sql("seed_tables"))
        before_tables, before_rows = relations(conn), {t: digest(conn, t) for t in SEED_TABLES}
        ran = []
        try:
            for statement in statements:
                try:
                    conn.execute(statement)
                    ran.append(statement)
                except psycopg.Error:
                    continue
        finally:
            if conn.execute("SELECT to_regclass('cron.job') IS NOT NULL").fetchone()[0]:
                conn.execute("SELECT steward.unschedule(job) FROM steward.jobs")
        assert {t: digest(conn, t) for t in SEED_TABLES} == before_rows, f"{where} lost rows: {ran}"
        assert before_tables <= relations(conn), f"{where} dropped {before_tables - relations(conn)}"
        if any("steward.manage(" in s for s in statements):
            assert any("steward.manage(" in s for s in ran), f"{where}: its manage() call failed"
