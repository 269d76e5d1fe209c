"""Faults during partition maintenance, on a server of its own: the server stopped with ``-m immediate``
(SIGQUIT to the postmaster) at random points while maintenance creates partitions and moves rows out of DEFAULT,
then started again (crash recovery). Afterwards no stray or half-attached table, no helper constraint, every row as
before (checksums), and the next maintenance run completes.

The rounds are bench/faults.py's (``bench/faults.py --kills 100 --immediate 10`` is the long run by hand);
terminating only the maintenance backend is tested in test_partitions_concurrency.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import psycopg
import pytest

from pg_steward.localserver import LocalServer
from support.bench_modules import load

faults = load("faults")

IMMEDIATE_STOPS = 5
KILLS = 2


@pytest.fixture
def own_server() -> Iterator[LocalServer]:
    """A server only this test stops and starts (the session's server is shared)."""
    with LocalServer() as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        yield server


@pytest.mark.slow
def test_restart_keeps_the_data_directory(own_server: LocalServer) -> None:
    with psycopg.connect(own_server.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (1), (2)")
        before = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    own_server.restart(immediate=True)
    with psycopg.connect(own_server.url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_postmaster_start_time() > %s", [before]).fetchone() == (True,)
        assert conn.execute("SELECT sum(v) FROM kept").fetchone() == (3,)
    assert "automatic recovery in progress" in own_server.log()  # the stop was not a clean shutdown
    own_server.restart()
    with psycopg.connect(own_server.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (2,)
    assert "automatic recovery in progress" not in own_server.log()  # this one was


@pytest.mark.slow
def test_immediate_stops_during_maintenance_lose_nothing_and_leave_nothing_half_made(
        own_server: LocalServer) -> None:
    seed = random.randrange(1 << 30)
    result = faults.run_faults(own_server, own_server.url, kills=KILLS, immediate=IMMEDIATE_STOPS, tables=4,
                               seed=seed, rows_per_day=1000, reach=0.8)
    context = f"seed {seed}: {result['rounds']}"
    assert [(r["fault"], r["number"], r["problems"]) for r in result["rounds"] if r["problems"]] == [], context
    summary = faults.summarize(result)
    assert summary["immediate"]["tried"] == IMMEDIATE_STOPS and summary["kill"]["tried"] == KILLS
    # Stops fall within 80% of a typical run's time; a run that was faster still ends first, which is fine,
    # but most stops must hit a running maintenance.
    assert summary["immediate"]["interrupted"] >= 2, context
    assert result["final_problems"] == [], context
    # Every stranded day got its partition in the end: DEFAULT, the premade ones and one per day per round.
    rounds = 1 + KILLS + IMMEDIATE_STOPS
    assert result["partitions"] == 4 * (1 + 3 + 3 * rounds), context
    assert result["rows"] == 4 * rounds * 3 * 1000
