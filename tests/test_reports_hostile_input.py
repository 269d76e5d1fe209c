"""Hostile input to the reports, the partition tree and maintenance entry points, and the internal functions:
regclass arguments naming tables with quotes, spaces, unicode and 63+ bytes, missing and wrong objects;
extreme numbers; internal functions called with arguments run_maintenance would never pass.

Every call either works or fails with a clear error of a known SQLSTATE, changes nothing when it fails, and
never crashes the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.hostile import BIGINT, EXAMPLES, FEW_EXAMPLES, NAME, call, make_victim, state

pytestmark = pytest.mark.usefixtures("same_postmaster")

# Partitioned tables (and a partition, an index, a view) with hostile names; cut to 63 bytes by the server.
HOSTILE = ["we'ird \"t☃\" " + "x" * 70, "sp ace", "ünï;cödé--", "a\\b", "DROP TABLE victim"]
# Arguments of a regclass parameter: the hostile tables, other kinds of objects, missing ones and OIDs.
RELATION = st.one_of(st.none(), st.sampled_from([
    *HOSTILE, "victim", "steward.partition_config", "steward.jobs", "pg_class", "pg_class_oid_index",
    "hostile_idx", "hostile_view", "missing", "public.missing", "nope.victim", "0", "1259", "4294967295",
    "victim; DROP TABLE victim", "\"unterminated", "", "a.b.c.d",
]))
TABLE_FUNCTIONS = ["partitions", "partition_index_usage", "hot_partitions", "maintain_partitions", "unmanage"]


@pytest.fixture
def rconn(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    make_victim(conn)
    conn.execute("CREATE EXTENSION pgstattuple")
    for name in HOSTILE:
        table = psycopg.sql.Identifier(name)
        conn.execute(psycopg.sql.SQL("CREATE TABLE {} (k date NOT NULL, v text) PARTITION BY RANGE (k)").format(
            table))
        conn.execute(psycopg.sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ('2024-01-01') TO "
                                     "('2024-02-01')").format(psycopg.sql.Identifier(name[:50] + " p"), table))
        conn.execute(psycopg.sql.SQL("CREATE INDEX ON {} (v)").format(table))
        conn.execute(psycopg.sql.SQL("INSERT INTO {} VALUES ('2024-01-05', 'x')").format(table))
    conn.execute("CREATE INDEX hostile_idx ON victim (x); CREATE VIEW hostile_view AS SELECT * FROM victim")
    conn.execute("SELECT * FROM steward.manage(%s::regclass, '1 month', 1)",
                 [psycopg.sql.Identifier(HOSTILE[0][:63]).as_string(conn)])
    yield conn


def regclass(conn: psycopg.Connection, name: str | None) -> str | None:
    """The text a caller would cast to regclass: hostile names quoted, the others as given."""
    if name in HOSTILE:
        return psycopg.sql.Identifier(name[:63]).as_string(conn)
    return name


@EXAMPLES
@given(function=st.sampled_from(TABLE_FUNCTIONS), relation=RELATION)
def test_table_functions_take_any_relation(rconn: psycopg.Connection, function: str, relation: str | None) -> None:
    call(rconn, f"SELECT * FROM steward.{function}(%s::regclass)", [regclass(rconn, relation)])


@EXAMPLES
@given(function=st.sampled_from(["table_bloat", "index_bloat"]), exact=st.one_of(st.none(), st.booleans()),
       relation=RELATION, min_bytes=BIGINT, exact_max_bytes=BIGINT)
def test_bloat_arguments(rconn: psycopg.Connection, function: str, exact: bool | None, relation: str | None,
                         min_bytes: int | None, exact_max_bytes: int | None) -> None:
    call(rconn, f"SELECT * FROM steward.{function}(%s, %s::regclass, %s, %s)",
         [exact, regclass(rconn, relation), min_bytes, exact_max_bytes])


@pytest.mark.parametrize("function", ["index_report", "health", "_tables_due", "job_status", "version",
                                      "_load_python"])
def test_functions_without_arguments_in_a_database_full_of_hostile_names(rconn: psycopg.Connection,
                                                                         function: str) -> None:
    call(rconn, f"SELECT * FROM steward.{function}()", [])


@FEW_EXAMPLES
@given(name=NAME)
def test_index_report_fixes_name_any_table(rconn: psycopg.Connection, name: str) -> None:
    # The reports quote the names they print in their fixes: any name survives a round trip through them.
    table = psycopg.sql.Identifier("hostile", name)
    rconn.execute(psycopg.sql.SQL("CREATE SCHEMA hostile; CREATE TABLE {} (a int)").format(table))
    try:
        rconn.execute(psycopg.sql.SQL("CREATE INDEX ON {} (a); CREATE INDEX ON {} (a)").format(table, table))
        fixes = rconn.execute("SELECT fix FROM steward.index_report() WHERE schema = 'hostile' "
                              "AND problem = 'duplicate'").fetchall()
        assert len(fixes) == 1
        rconn.execute(fixes[0][0])  # DROP INDEX CONCURRENTLY: outside a transaction block
        indexes = rconn.execute("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass",
                                [table.as_string(rconn)])
        assert indexes.fetchone() == (1,)
    finally:
        rconn.execute("DROP SCHEMA hostile CASCADE")


@FEW_EXAMPLES
@given(parent=st.one_of(st.none(), st.sampled_from(["victim", "0", "1259", "4294967295", "hostile"])),
       max_partitions=st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1)))
def test_maintain_step_with_arguments_run_maintenance_never_passes(rconn: psycopg.Connection, parent: str | None,
                                                                   max_partitions: int | None) -> None:
    # An OID as text: the managed hostile table's, a plain table's, 0, pg_class's, one that names nothing.
    name = regclass(rconn, HOSTILE[0]) if parent == "hostile" else parent
    oid = rconn.execute("SELECT %s::regclass::oid", [name]).fetchone()[0] if name else None
    call(rconn, "SELECT * FROM steward._maintain_step(%s::oid, %s)", [oid, max_partitions])


def test_run_maintenance_refuses_a_transaction_block_and_changes_nothing(rconn: psycopg.Connection) -> None:
    # It commits after each table it maintains: PostgreSQL refuses that inside a transaction block, and so does
    # pg_steward, before any work, with 25001 and a hint (not the bare 2D000 of the first commit).
    rconn.execute("UPDATE steward.partition_config SET premake = 3")
    with rconn.transaction(force_rollback=True):
        before = state(rconn)
        with pytest.raises(psycopg.errors.ActiveSqlTransaction, match="cannot run inside a transaction block"):
            with rconn.transaction():
                rconn.execute("CALL steward.run_maintenance()")
        assert state(rconn) == before


def test_run_maintenance_over_hostile_names(rconn: psycopg.Connection) -> None:
    # Out of a transaction block (as pg_cron calls it) it maintains the hostile table and logs under its name.
    parent = regclass(rconn, HOSTILE[0])
    rconn.execute("UPDATE steward.partition_config SET premake = 3")
    rconn.execute("CALL steward.run_maintenance()")
    logged = rconn.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                           "WHERE to_regclass(parent) = %s::regclass", [parent])
    assert logged.fetchone()[0] > 0
    rows = rconn.execute("SELECT count(*) FROM steward.partitions(%s::regclass) WHERE is_leaf", [parent])
    assert rows.fetchone()[0] >= 4
    assert rconn.execute("SELECT count(*) FROM victim").fetchone() == (1,)
