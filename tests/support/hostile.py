"""Shared pieces of the hostile-input tests: hypothesis strategies, the state a failed call must leave as it
was, and ``call``, which runs one statement in a rolled-back transaction and judges its error.

A test module that uses ``call`` also asks for the ``same_postmaster`` fixture (tests/conftest.py): a backend
crash restarts every backend of the server, which that fixture notices at the end of the module.
"""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from support.partitions import digest, relations

# Errors a caller may get for bad input: data exceptions, invalid/undefined objects, privileges, features,
# program limits (a statement nested too deeply), objects not in the right state.
EXPECTED_CLASSES = ("22", "42", "0A", "3F", "54", "55")

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW_EXAMPLES = settings(EXAMPLES, max_examples=15)

NASTY = st.sampled_from([
    "'; DROP TABLE victim; --", "\"; DROP TABLE victim; --", "$$; DROP TABLE victim; $$", "victim",
    "1 month'); DROP TABLE victim; --", "' OR 1=1 --", "\\", "%s", "{}", "NaN", "infinity", "-infinity",
    "epoch", "allballs", "9999-12-31", "0001-01-01 BC", "294276-12-31", "-1 month", "0", "1 microsecond",
    "100000000 years", "1 month 1 day", "P1M", "America/New_York", "Mars/Olympus", "UTC+25", "",
    " ", "\t", "ümlaut ☃", "a" * 200, "x" * 100_000, "\\'; DROP TABLE victim; --", "E'\\\\'",
])
TEXT = st.one_of(NASTY, st.text(min_size=0, max_size=40).filter(lambda s: "\x00" not in s))
NAME = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=90)
# Intervals as text: the server parses them, so garbage fails in the cast (class 22) before any call.
INTERVAL = st.one_of(st.none(), st.sampled_from([
    "0", "-1 month", "1 microsecond", "100000000 years", "-100000000 years", "178000000 years", "P1M",
    "P-1Y", "1 month -31 days", "2147483647 days", "-2147483648 months", "1 day", "@ 1 hour ago",
    "infinity", "garbage", "1 month'; DROP TABLE victim; --",
]))
BIGINT = st.one_of(st.none(), st.sampled_from([0, -1, 1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)]),
                   st.integers(min_value=-(2**63), max_value=2**63 - 1))
NUMERIC = st.one_of(st.none(), st.sampled_from(["NaN", "Infinity", "-Infinity", "0", "-0", "-1", "1e300",
                                                "1e-300", "123456789012345678901234567890.5"]),
                    st.decimals(allow_nan=False, allow_infinity=False).map(str))


def table_names(conn: psycopg.Connection) -> list[str]:
    """pg_steward's tables, read from the catalog so that a table added later is covered too."""
    rows = conn.execute("SELECT format('%I.%I', schemaname, tablename) FROM pg_catalog.pg_tables "
                        "WHERE schemaname = 'steward' ORDER BY 1").fetchall()
    cron = conn.execute("SELECT to_regclass('cron.job') IS NOT NULL").fetchone()[0]
    return [r[0] for r in rows] + (["cron.job"] if cron else [])


def state(conn: psycopg.Connection, *tables: str) -> tuple:
    """Every relation, and the rows of ``victim``, of pg_steward's tables and of ``tables``."""
    names = ["victim", *tables, *table_names(conn)]
    return relations(conn), [(t, digest(conn, t)) for t in names]


def call(conn: psycopg.Connection, sql: str, params: list | tuple, *tables: str,
         classes: tuple[str, ...] = EXPECTED_CLASSES) -> list[tuple] | None:
    """Run ``sql`` in a rolled-back transaction; if it fails, the error is expected and changed nothing.

    Returns the rows when it worked (None when it failed); whatever it did is rolled back.
    """
    rows = None
    with conn.transaction(force_rollback=True):
        before = state(conn, *tables)
        try:
            with conn.transaction():
                cursor = conn.execute(sql, params)
                rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as error:
            check_error(error, classes)
            assert state(conn, *tables) == before
    assert conn.execute("SELECT count(*) FROM victim").fetchone() == (1,)
    return rows


def check_error(error: psycopg.Error, classes: tuple[str, ...] = EXPECTED_CLASSES) -> None:
    """A clear error: an expected SQLSTATE class, and pg_steward's own errors say so (no Python traceback
    of an unexpected exception, which PL/Python reports as class 38 or XX)."""
    code = error.sqlstate or ""
    assert code[:2] in classes, f"{code}: {error}"
    # PostgreSQL's own errors for bad input come from the casts of the arguments (a regclass naming a missing
    # schema is 3F000) or the statements pg_steward runs, and say what is wrong without our prefix.
    assert str(error).startswith("pg_steward: ") or code[:2] in ("22", "42", "3F"), str(error)


def make_victim(conn: psycopg.Connection) -> None:
    """The table every injection attempt tries to drop or change; ``call`` checks it after each call."""
    conn.execute("CREATE TABLE victim (x int); INSERT INTO victim VALUES (1)")
