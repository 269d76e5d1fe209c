"""Fixtures: one throwaway PostgreSQL server per test session, a fresh database per test.

The server is pg_steward.localserver.LocalServer (testing.postgresql, run as
an unprivileged user when the tests run as root), with pg_cron and
pg_stat_statements preloaded. The extension must be installed in that server's
PostgreSQL first (``make install``; ``make test`` does it).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from pg_steward.localserver import DATABASE, LocalServer

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count()


def pg_config(flag: str) -> str:
    out = subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), flag], capture_output=True, text=True)
    return out.stdout.strip()


# pg_regress reports a passed test as "test install ... ok 61 ms" up to PostgreSQL 15 and in TAP from 16 on
# ("ok 1 - install 61 ms").
_REGRESS_PASSED = (re.compile(r"^ok \d+\s+[-+]\s+(\S+)", re.MULTILINE),
                   re.compile(r"^\s*(?:test\s+)?(\S+)\s+\.\.\.\s+ok\b", re.MULTILINE))


def pg_regress_passed(output: str) -> set[str]:
    """The tests pg_regress's output reports as passed, in either form."""
    return {name for pattern in _REGRESS_PASSED for name in pattern.findall(output)}


@functools.cache
def extension_build() -> types.ModuleType:
    """extension/build.py, the builder of the extension's scripts, imported as a module."""
    spec = importlib.util.spec_from_file_location("extension_build", ROOT / "extension" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def _create_database(server: LocalServer, extension: bool) -> str:
    name = f"t{next(_counter)}_{os.getpid()}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    if extension:
        with psycopg.connect(server.url_for(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
    return name


@pytest.fixture(scope="module")
def cron_ready(server: LocalServer) -> None:
    """pg_cron created in its database (cron.database_name of the test server)."""
    with psycopg.connect(server.url_for(DATABASE), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")


@pytest.fixture
def new_database(server: LocalServer) -> Callable[..., str]:
    """Factory: a new database (with pg_steward unless extension=False); returns its URL."""

    def make(extension: bool = True) -> str:
        return server.url_for(_create_database(server, extension))

    return make


@pytest.fixture
def conn(new_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """Autocommit connection to a fresh database with pg_steward installed."""
    with psycopg.connect(new_database(), autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def seed_url(server: LocalServer) -> str:
    """A database with pg_steward and the seed documents' tables, shared by a module."""
    from pg_steward.workloads import sql

    url = server.url_for(_create_database(server, extension=True))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql("seed_tables"))
    return url


@pytest.fixture(scope="module")
def same_postmaster(server: LocalServer) -> Iterator[None]:
    """At the end of the module, the server must not have restarted its backends.

    A backend that crashes makes the postmaster end every session and start again: the connection opened
    here would be gone, and the postmaster's start time may move.
    """
    with psycopg.connect(server.url, autocommit=True) as watcher:
        started = watcher.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()").fetchone()
        yield
        assert watcher.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()").fetchone() == started
    with psycopg.connect(server.url) as fresh:
        assert fresh.execute("SELECT pg_postmaster_start_time()").fetchone()[0] == started[0]
