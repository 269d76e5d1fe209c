"""pglast inside the server: 10,000 statements parsed and fingerprinted, and no crash.

A plain import of pglast in a backend crashes the whole server (see
python/pg_steward/pglast_loader.py). These tests prove that the guarded loader
does not, that the crash detector they rely on does see a crash, and that the
guard refuses a pglast loaded behind its back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import psycopg
import pytest

from conftest import pg_config
from pg_steward.localserver import LocalServer
from pg_steward.queries.fingerprint import fingerprint
from pg_steward.queries.statements import MAX_STATEMENT_BYTES
from support.statement_corpus import corpus

CRASH = re.compile(r"terminated by signal|was terminated by|server process .* exited abnormally")
PACKAGE_DIR = f"{pg_config('--pkglibdir')}/pg_steward"


def connect_after_recovery(url: str, seconds: float = 60) -> psycopg.Connection:
    """Connect once the server accepts connections again (after a crash it recovers first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def crash_logged(server: LocalServer, seconds: float = 30) -> bool:
    """Whether the log reports a crashed backend (the postmaster writes it a moment after the crash)."""
    deadline = time.monotonic() + seconds
    while not CRASH.search(server.log()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def plant_crash_marker(conn: psycopg.Connection) -> None:
    """An UNLOGGED table with one row: crash recovery always empties it."""
    conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS crash_marker (x int)")
    conn.execute("TRUNCATE crash_marker; INSERT INTO crash_marker VALUES (1)")


def crash_marker_intact(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM crash_marker").fetchone() == (1,)


def server_state(conn: psycopg.Connection) -> tuple:
    """Same postmaster and same session: the crash marker holds and the backend is unchanged."""
    return crash_marker_intact(conn), conn.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()").fetchone()


@pytest.fixture
def crash_server() -> Iterator[LocalServer]:
    """A server of its own, for tests that crash it on purpose."""
    with LocalServer() as srv:
        yield srv


def test_ten_thousand_statements_parse_in_the_server_without_a_crash(server: LocalServer, conn) -> None:
    statements = corpus(10_000)
    log_before = len(server.log())
    plant_crash_marker(conn)
    state_before = server_state(conn)
    conn.execute("CREATE TABLE corpus (id int PRIMARY KEY, q text)")
    with conn.cursor().copy("COPY corpus (id, q) FROM STDIN") as copy:
        for i, q in enumerate(statements):
            copy.write_row((i, q))

    # Texts over the size cap are refused before parsing (tests/security/test_input_limits.py); the rest parse.
    rows = conn.execute(
        "SELECT id, steward.query_fingerprint(q), steward.normalize_query(q) IS NOT NULL FROM corpus "
        "WHERE octet_length(q) <= %s UNION ALL SELECT id, NULL, false FROM corpus WHERE octet_length(q) > %s "
        "ORDER BY id", [MAX_STATEMENT_BYTES, MAX_STATEMENT_BYTES]).fetchall()
    over_cap = [q for q in statements if len(q.encode()) > MAX_STATEMENT_BYTES]
    assert over_cap, "the corpus has statements over the size cap"
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        conn.execute("SELECT steward.query_fingerprint(%s)", [over_cap[0]])

    assert len(rows) == 10_000
    assert server_state(conn) == state_before, "the postmaster restarted or the session was lost"
    assert not CRASH.search(server.log()[log_before:])
    in_server = [fp for _, fp, _ in rows]
    parsed = sum(fp is not None for fp in in_server)
    assert 7_000 < parsed < 10_000, f"{parsed} statements parsed: the corpus should mix valid and invalid"
    # The server computes exactly what pglast computes outside it.
    assert in_server == [fingerprint(q) for q in statements]


def test_fingerprints_group_by_shape(conn: psycopg.Connection) -> None:
    same = conn.execute(
        "SELECT count(DISTINCT steward.query_fingerprint(q)) FROM unnest(ARRAY["
        "'SELECT * FROM t WHERE id = 1', 'select *  from t where id = 42', "
        "'SELECT * FROM t WHERE id IN (1, 2)', 'SELECT * FROM t WHERE id IN (1, 2, 3)']) AS q"
    ).fetchone()[0]
    assert same == 1
    different = conn.execute(
        "SELECT steward.query_fingerprint('SELECT * FROM t WHERE id = 1') "
        "<> steward.query_fingerprint('SELECT * FROM t WHERE name = ''x''')"
    ).fetchone()[0]
    assert different
    assert conn.execute("SELECT steward.query_fingerprint('SELEC nonsense')").fetchone() == (None,)
    assert conn.execute("SELECT steward.normalize_query('SELECT * FROM t WHERE id = 42')").fetchone() == (
        "SELECT * FROM t WHERE id = $1",
    )


@pytest.mark.slow
def test_the_crash_detector_sees_a_real_crash(crash_server: LocalServer) -> None:
    """Control for the test above: a backend killed by a signal is seen in the log and restart time."""
    with psycopg.connect(crash_server.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        plant_crash_marker(conn)
        assert crash_marker_intact(conn)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("DO LANGUAGE plpython3u $$ import os, signal; os.kill(os.getpid(), signal.SIGSEGV) $$")
    assert crash_logged(crash_server)
    with connect_after_recovery(crash_server.url) as conn:
        assert not crash_marker_intact(conn)


@pytest.mark.slow
def test_unguarded_pglast_does_crash_the_server(crash_server: LocalServer) -> None:
    """Why the guard exists: the same parse through a plain import takes the server down."""
    with psycopg.connect(crash_server.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        with pytest.raises(psycopg.OperationalError):
            conn.execute(
                "DO LANGUAGE plpython3u $$\n"
                "import glob, sys\n"
                f"sys.path.insert(0, sorted(glob.glob('{PACKAGE_DIR}/*/pglast/..'))[-1])\n"
                "import pglast\n"
                "pglast.parser.fingerprint('SELECT 1')\n"
                "$$"
            )
    assert crash_logged(crash_server)
    connect_after_recovery(crash_server.url).close()  # let it recover so that it can stop cleanly


def test_guard_refuses_pglast_imported_behind_its_back(server: LocalServer, conn: psycopg.Connection) -> None:
    log_before = len(server.log())
    plant_crash_marker(conn)
    state_before = server_state(conn)
    conn.execute(
        "DO LANGUAGE plpython3u $$\n"
        "import glob, sys\n"
        f"sys.path.insert(0, sorted(glob.glob('{PACKAGE_DIR}/*/pglast/..'))[-1])\n"
        "import pglast  # loaded without RTLD_DEEPBIND: parsing with it would crash\n"
        "$$"
    )
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="outside pg_steward's guarded loader"):
        conn.execute("SELECT steward.query_fingerprint('SELECT 1')")
    assert server_state(conn) == state_before
    assert not CRASH.search(server.log()[log_before:])
