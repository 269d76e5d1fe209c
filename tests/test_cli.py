"""The pg-steward command line, run as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT

PG_STEWARD = shutil.which("pg-steward") or str(Path(sys.executable).parent / "pg-steward")


def run(*args: str, timeout: float = 300, terminal: bool = False) -> subprocess.CompletedProcess[str]:
    """pg-steward as a script runs it (or, with ``terminal``, as if on a terminal: progress bars)."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    if terminal:
        env.update(FORCE_COLOR="1", TTY_INTERACTIVE="1")
    return subprocess.run([PG_STEWARD, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_help_on_every_command() -> None:
    top = run("--help")
    assert top.returncode == 0 and "demo" in top.stdout
    demo = run("demo", "--help")
    assert demo.returncode == 0 and "--dsn" in demo.stdout


def test_demo_on_an_existing_database(new_database: Callable[..., str]) -> None:
    url = new_database(extension=False)
    result = run("demo", "--dsn", url)
    assert result.returncode == 0, result.stderr
    assert "steward.partitions('sales_analytics')" in result.stdout
    for name in ("sales_analytics_2024_01", "sales_analytics_default", "transaction_log_2024_other"):
        assert name in result.stdout
    assert "2148 before, 0 after" in result.stdout  # the seed's stranded July rows were moved
    assert "ran 3 slow queries" in result.stdout
    assert "pg-steward report slow-queries" in result.stdout  # logged, grouped by fingerprint and reported
    assert "duplicate" in result.stdout and "sales_analytics_customer_copy_idx" in result.stdout
    assert '"public"."order_events"' in result.stdout  # the bloated table, with its fix
    assert "not scheduled" in result.stdout and "needs dblink" in result.stdout  # pg_cron is elsewhere
    with psycopg.connect(url) as conn:
        # Each of the demo's slow statements is one group of the report. Under load pg_steward's own calls
        # may pass the slow threshold too, so the groups are looked up, not counted.
        slow = [q for (q,) in conn.execute("SELECT query FROM steward.slow_queries()")]
        for needle in ("sum(total_amount)", "payload LIKE", "JOIN public.sales_analytics t"):
            assert sum(needle in q for q in slow) == 1, (needle, slow)
        assert conn.execute("SELECT count(*) FROM sales_analytics").fetchone() == (100_000,)
        assert conn.execute("SELECT count(*) FROM sales_analytics_default").fetchone() == (0,)
        duplicates = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'sales_analytics' "
                                  "AND indexdef LIKE '%(customer_id)'").fetchone()[0]
        assert duplicates == 2
        dead = conn.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'order_events'").fetchone()
        assert dead is not None and dead[0] > 30_000
    again = run("demo", "--dsn", url)  # the tables are there already: shown, not re-created
    assert again.returncode == 0, again.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM sales_analytics").fetchone() == (100_000,)


@pytest.mark.slow
def test_demo_on_a_throwaway_server() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "throwaway server" in result.stdout and "sales_analytics_2024_06" in result.stdout
    assert "SELECT * FROM steward.jobs" in result.stdout  # the throwaway server is pg_cron's database
    assert "run_maintenance()" in result.stdout and "purge_logs()" in result.stdout


def test_unreachable_server_is_one_clear_line() -> None:
    result = run("demo", "--dsn", "postgresql://postgres@127.0.0.1:1/nowhere", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pg-steward: error:"), result.stderr
    assert "Traceback" not in result.stderr


def test_bad_dsn_is_one_clear_line() -> None:
    result = run("demo", "--dsn", "this is not a dsn", timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("pg-steward: error:") and "Traceback" not in result.stderr
