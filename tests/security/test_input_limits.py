"""Input size caps where parsing multiplies memory (issue 13, class 11).

A 10 MB statement handed to ``check_pruning`` cost 3.4 GB of backend memory in 0.1.0 (a plain EXPLAIN of it
1.4 GB). pg_steward now refuses, before parsing, any statement text longer than 1 MiB (SQLSTATE 54000) in the
functions that parse what they are given, and fingerprints nothing longer in what it captures. The backend's peak
memory (VmHWM in /proc) shows the refusal costs no more than the text itself.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pg_steward.queries.statements import MAX_STATEMENT_BYTES

PARSING_FUNCTIONS = [
    "SELECT * FROM steward.check_pruning(%s)",
    "SELECT * FROM steward.analyze_query_performance(%s, false)",
    "SELECT * FROM steward.query_advice(%s, false)",
    "SELECT steward.query_fingerprint(%s)",
    "SELECT steward.normalize_query(%s)",
]


def _in_list(size: int) -> str:
    """A statement of exactly ``size`` bytes: a long IN list, the shape that costs the parser most."""
    head, tail = "SELECT * FROM limits_t WHERE a IN (", ")"
    items = []
    length = len(head) + len(tail)
    number = 10_000
    while length + 6 <= size:
        items.append(str(number))
        length += len(items[-1]) + 1
        number = number + 1 if number < 99_999 else 10_000
    text = head + ",".join(items) + tail
    return text + " " * (size - len(text))


def _peak_kb(conn: psycopg.Connection) -> int:
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def limits_db(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("CREATE TABLE limits_t (a integer)")
    conn.execute("SELECT steward.version()")  # the runtime loaded before peaks are compared
    return conn


@pytest.mark.parametrize("sql", PARSING_FUNCTIONS)
def test_a_statement_over_the_cap_is_refused_before_it_is_parsed(limits_db: psycopg.Connection, sql: str) -> None:
    statement = _in_list(10 * 1024 * 1024)
    before = _peak_kb(limits_db)
    with pytest.raises(psycopg.Error) as raised:
        limits_db.execute(sql, [statement])
    assert raised.value.sqlstate == "54000", raised.value
    assert f"at most {MAX_STATEMENT_BYTES} bytes" in str(raised.value)
    assert raised.value.diag.message_hint
    grown_mb = (_peak_kb(limits_db) - before) / 1024
    # The text itself arrives as a 10 MB parameter and is copied a few times (PostgreSQL text, Python str, UTF-8
    # bytes): well under 200 MB. Parsing it took 3.4 GB.
    assert grown_mb < 200, f"backend peak memory grew by {grown_mb:.0f} MB"


def test_a_statement_of_exactly_the_cap_is_parsed(limits_db: psycopg.Connection) -> None:
    statement = "SELECT 1 /*" + "x" * (MAX_STATEMENT_BYTES - len("SELECT 1 /*") - 2) + "*/"
    assert len(statement.encode()) == MAX_STATEMENT_BYTES
    assert limits_db.execute("SELECT steward.query_fingerprint(%s)", [statement]).fetchone()[0] is not None
    with pytest.raises(psycopg.Error) as raised:
        limits_db.execute("SELECT steward.query_fingerprint(%s)", [statement + " "])
    assert raised.value.sqlstate == "54000"


def test_the_cap_counts_bytes_not_characters(limits_db: psycopg.Connection) -> None:
    """Characters of several bytes each: a text under the cap in characters but over it in bytes is refused."""
    statement = "SELECT '" + "é" * (MAX_STATEMENT_BYTES // 2) + "'"
    assert len(statement) < MAX_STATEMENT_BYTES < len(statement.encode())
    with pytest.raises(psycopg.Error) as raised:
        limits_db.execute("SELECT steward.normalize_query(%s)", [statement])
    assert raised.value.sqlstate == "54000"


def test_an_over_long_slow_query_is_logged_without_a_fingerprint(limits_db: psycopg.Connection) -> None:
    """The log takes what it is given (a capture must not fail on a long text); only the parse is skipped."""
    statement = _in_list(2 * MAX_STATEMENT_BYTES)
    log_id = limits_db.execute("SELECT steward.log_slow_query(%s, 1500)", [statement]).fetchone()[0]
    row = limits_db.execute("SELECT fingerprint, normalized_query, octet_length(query_text) "
                            "FROM steward.query_performance_log WHERE log_id = %s", [log_id]).fetchone()
    assert row == (None, None, 2 * MAX_STATEMENT_BYTES)
