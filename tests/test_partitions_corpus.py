"""The planted corpus (tests/support/partition_corpus.py) through every partition function: no crash, no XX000 or
38000 (a Python error escaping), no Python repr in a message, no lost row, no placeable row left in DEFAULT."""

from __future__ import annotations

import re

import psycopg
import pytest

from support.partition_corpus import LAYOUTS, Layout
from support.partitions import digest, tree_names

# SQLSTATEs that mean pg_steward failed, not the input: an internal error, a Python exception escaping PL/Python.
NOT_CLEAN = ("XX000", "38000")
REPR = re.compile(r"\b(Span|Decimal|datetime\.\w+|RangePartition|Parent)\(|Traceback")


def call(conn: psycopg.Connection, sql: str, params: list | None = None) -> list[tuple] | psycopg.Error:
    """The rows of ``sql``, or the clean error it raised (a savepoint keeps the connection usable)."""
    try:
        return conn.execute(sql, params).fetchall()
    except psycopg.Error as error:
        assert error.sqlstate not in NOT_CLEAN, f"{sql}: {error.sqlstate} {error}"
        said = f"{error.diag.message_primary} {error.diag.message_detail or ''} {error.diag.message_hint or ''}"
        assert not REPR.search(said), f"{sql}: {error}"  # (CONTEXT names PL/Python's frames: not the message)
        return error


def key_of(conn: psycopg.Connection, table: str) -> tuple[str | None, str | None]:
    """The one key column and its type of a range parent (None for multi-column or expression keys)."""
    row = conn.execute("SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_partitioned_table p "
                       "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                       "WHERE p.partrelid = %s::regclass AND p.partnatts = 1 AND p.partstrat = 'r'",
                       [table]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def placeable_in_default(conn: psycopg.Connection, table: str) -> int:
    """Rows of ``table``'s DEFAULT partition that a partition of a supported key could hold."""
    default = conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid "
                           "WHERE inhparent = %s::regclass AND c.relpartbound IS NOT NULL "
                           "AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'", [table]).fetchone()
    column, key_type = key_of(conn, table)
    if default is None or column is None:
        return 0
    where = f'"{column}" IS NOT NULL'
    if key_type in ("date", "timestamp without time zone", "timestamp with time zone"):
        where = f"\"{column}\" >= '0001-01-02'::{key_type} AND \"{column}\" < '10000-01-01'::{key_type}"
    return conn.execute(f"SELECT count(*) FROM {default[0]} WHERE {where}").fetchone()[0]


@pytest.mark.parametrize("layout", LAYOUTS, ids=[lay.name for lay in LAYOUTS])
def test_every_partition_function_over_the_corpus(conn: psycopg.Connection, layout: Layout) -> None:
    conn.execute(layout.sql)
    rows = digest(conn, layout.name)

    tree = call(conn, "SELECT partition::text, strategy, range_from, range_to, list_values "
                      "FROM steward.partitions(%s::regclass)", [layout.name])
    assert not isinstance(tree, psycopg.Error), f"partitions(): {tree}"
    assert tree[0][0] == layout.name and len(tree) > 1
    if layout.order:
        assert tuple(name for name, *_ in tree[1:]) == layout.order, "partitions() out of the key's order"
    for name, strategy, *_ in tree[1:]:  # a sub-tree asked for directly: its root keeps its bound's strategy
        sub = call(conn, "SELECT strategy FROM steward.partitions(%s::regclass) LIMIT 1", [name])
        if not isinstance(sub, psycopg.Error):
            assert sub == [(strategy,)], f"partitions({name})"

    managed = False
    if layout.manage is not None:
        preview = call(conn, f"SELECT action, ok, detail FROM steward.manage(%s, {layout.manage})", [layout.name])
        managed = not isinstance(preview, psycopg.Error)
        if managed:
            assert not any(a in ("drop", "detach", "archive") for a, *_ in preview), "manage() retired"
            assert not any(REPR.search(d or "") for *_, d in preview), preview
        assert digest(conn, layout.name) == rows, "manage() changed the rows"
    if managed:
        for run in range(2):  # a second run finds the first's work done, or reports the same failures
            done = call(conn, "SELECT action, ok, detail FROM steward.maintain_partitions(%s)", [layout.name])
            assert not isinstance(done, psycopg.Error), done
            assert not any(REPR.search(d or "") for *_, d in done), done
            if run:
                assert not any(a == "create" for a, *_ in done), done
        if layout.most_partitions is not None:  # far-apart integer rows make no gap filling of millions of slots
            assert len(tree_names(conn, layout.name)) - 1 <= layout.most_partitions
        if "retention" not in (layout.manage or ""):  # retention retires rows by design; nothing else may
            assert digest(conn, layout.name) == rows, "maintenance changed the rows"
        if layout.placeable_only_in_default:
            assert placeable_in_default(conn, layout.name) == 0, "a placeable row was left in DEFAULT"
        logged = conn.execute("SELECT detail FROM steward.partition_maintenance_log WHERE parent = %s",
                              [f"public.{layout.name}"]).fetchall()
        assert not any(REPR.search(d or "") for d, in logged), logged

    before = digest(conn, layout.name)
    if layout.start is not None:
        call(conn, "SELECT steward.create_partition(%s, %s, %s)", [layout.name, layout.start, layout.span])
        assert digest(conn, layout.name) == before, "create_partition changed the rows"
    for sql in ("SELECT * FROM steward.detach_steps(%s::regclass)",
                "SELECT * FROM steward.hot_partitions(%s::regclass)",
                "SELECT * FROM steward.partition_index_usage(%s::regclass)",
                "SELECT * FROM steward.drop_old_partitions(%s, '50 years', dry_run => true)"):
        call(conn, sql, [layout.name])
    assert not isinstance(call(conn, "SELECT count(*) FROM steward.partitions(%s::regclass)", [layout.name]),
                          psycopg.Error)
    assert digest(conn, layout.name) == before
