"""Helpers shared by the partition tests: catalog state, row digests, errors that change nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import pytest


def relations(conn: psycopg.Connection) -> set[str]:
    """Every table, index and sequence outside the system schemas."""
    rows = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relkind <> 'c'"
    ).fetchall()
    return {r[0] for r in rows}


def digest(conn: psycopg.Connection, table: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of every row of ``table`` (partitions included)."""
    return conn.execute(
        f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t"
    ).fetchone()


def tree_names(conn: psycopg.Connection, parent: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT partition::text FROM steward.partitions(%s::regclass)", [parent]
    ).fetchall()]


@contextlib.contextmanager
def changes_nothing(conn: psycopg.Connection, *tables: str) -> Iterator[None]:
    """The block must leave relations, the given tables' rows and pg_steward's registry as they were."""
    before = (relations(conn), [digest(conn, t) for t in tables], digest(conn, "steward.partition_config"))
    yield
    after = (relations(conn), [digest(conn, t) for t in tables], digest(conn, "steward.partition_config"))
    assert after == before


def fails(conn: psycopg.Connection, sql: str, error: type[Exception], match: str, *tables: str,
          params: list | None = None) -> None:
    """``sql`` raises ``error`` matching ``match`` and changes nothing."""
    with changes_nothing(conn, *tables), pytest.raises(error, match=match):
        conn.execute(sql, params)
