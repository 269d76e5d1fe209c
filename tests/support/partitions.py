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


def act(conn: psycopg.Connection, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of ``sql``."""
    return conn.execute(sql, params).fetchall()


def month(conn: psycopg.Connection, offset: int) -> str:
    """``YYYY_MM`` of the month ``offset`` months from the server's current one (a monthly partition's suffix)."""
    return conn.execute("SELECT to_char(date_trunc('month', current_date) + %s * interval '1 month', "
                        "'YYYY_MM')", [offset]).fetchone()[0]


def steward_tables(conn: psycopg.Connection) -> list[str]:
    """Every table of schema steward, and pg_cron's job table when it lives in this database."""
    names = [r[0] for r in conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = 'steward'::regnamespace "
        "AND c.relkind IN ('r', 'p') ORDER BY 1").fetchall()]
    if conn.execute("SELECT to_regclass('cron.job') IS NOT NULL").fetchone()[0]:
        names.append("cron.job")
    return names


def tree_names(conn: psycopg.Connection, parent: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT partition::text FROM steward.partitions(%s::regclass)", [parent]
    ).fetchall()]


@contextlib.contextmanager
def changes_nothing(conn: psycopg.Connection, *tables: str, everything: bool = False) -> Iterator[None]:
    """The block must leave relations, the given tables' rows and pg_steward's registry as they were;
    with ``everything``, every table of schema steward (logs, snapshots, settings) and cron.job too
    (``conn`` must then be allowed to read them all: a superuser watching another role's session)."""
    watched = [*tables, *(steward_tables(conn) if everything else ["steward.partition_config"])]
    before = (relations(conn), {t: digest(conn, t) for t in watched})
    yield
    after = (relations(conn), {t: digest(conn, t) for t in watched})
    assert after == before


def fails(conn: psycopg.Connection, sql: str, error: type[Exception], match: str, *tables: str,
          params: list | None = None) -> None:
    """``sql`` raises ``error`` matching ``match`` and changes nothing."""
    with changes_nothing(conn, *tables), pytest.raises(error, match=match):
        conn.execute(sql, params)
