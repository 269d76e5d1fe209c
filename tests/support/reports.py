"""Helpers shared by the report tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


def flush_stats(conn: psycopg.Connection) -> None:
    """Make this session's pending statistics visible to others (PostgreSQL 15 flushes them when idle)."""
    conn.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
    conn.execute("SELECT 1")


def rows(conn: psycopg.Connection, sql: str, params: list | None = None) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@contextmanager
def monitor_role(conn: psycopg.Connection, name: str = "steward_monitor") -> Iterator[str]:
    """A login role that is a member of pg_monitor and nothing more (no superuser, no table privileges)."""
    conn.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE pg_monitor')
    try:
        yield name
    finally:
        conn.execute(f'DROP OWNED BY "{name}"')
        conn.execute(f'DROP ROLE "{name}"')
