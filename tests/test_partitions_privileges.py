"""Privileges: pg_steward's partition functions run as the caller, so a role can do through them only what it
could do itself; a table owner who was granted the registry can manage and maintain its own tables."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from support.partitions import fails

DELEGATE = """
GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO {role};
GRANT INSERT ON steward.partition_maintenance_log TO {role};
GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {role};
"""


@pytest.fixture
def roles(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """bob owns table b (DEFAULT and one stranded row) and was granted the registry; alice owns nothing."""
    conn.execute("CREATE ROLE bob; CREATE ROLE alice; GRANT CREATE ON SCHEMA public TO bob;" + DELEGATE.format(
        role="bob"))
    conn.execute("SET ROLE bob")
    conn.execute("CREATE TABLE b (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                 "CREATE TABLE b_default PARTITION OF b DEFAULT;"
                 "INSERT INTO b VALUES ('2031-05-05', 1); GRANT SELECT ON b, b_default TO alice")
    conn.execute("RESET ROLE")
    yield conn
    conn.execute("RESET ROLE; DROP OWNED BY bob, alice; DROP ROLE bob, alice")  # roles outlive the database


def test_an_owner_granted_the_registry_manages_and_maintains_its_table(roles: psycopg.Connection) -> None:
    conn = roles
    conn.execute("SET ROLE bob")
    made = conn.execute("SELECT action, ok FROM steward.manage('b', premake => 1)").fetchall()
    assert ("create", True) in made and all(ok for _, ok in made)
    conn.execute("UPDATE steward.partition_config SET premake = 3")
    made = conn.execute("SELECT action, ok FROM steward.maintain_partitions()").fetchall()
    assert {a for a, _ in made} == {"create", "analyze parent"} and all(ok for _, ok in made)
    conn.execute("RESET ROLE")
    owners = conn.execute("SELECT DISTINCT pg_get_userbyid(c.relowner)::text FROM pg_inherits i "
                          "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'b'::regclass").fetchall()
    assert owners == [("bob",)]
    # The parent's grant reached every new partition.
    assert conn.execute("SELECT count(*), bool_and(has_table_privilege('alice', i.inhrelid, 'SELECT')) "
                        "FROM pg_inherits i WHERE i.inhparent = 'b'::regclass AND i.inhrelid <> 'b_default'::regclass"
                        ).fetchone()[1] is True
    assert conn.execute("SELECT count(*) FROM b_default").fetchone() == (0,)


@pytest.mark.parametrize("sql, error, match", [
    ("SELECT steward.create_partition('b', '2031-05-01', '1 month')", errors.InsufficientPrivilege,
     "must be owner|permission denied"),
    ("SELECT steward.create_monthly_partition('b', '2040-01-01')", errors.InsufficientPrivilege,
     "must be owner|permission denied"),
    ("SELECT * FROM steward.drop_old_partitions('b', '1 day')", errors.InsufficientPrivilege,
     "must be owner|permission denied"),
    ("SELECT * FROM steward.manage('b')", errors.InsufficientPrivilege, "must be owner"),
    ("SELECT steward.unmanage('b')", errors.InsufficientPrivilege, "must be owner|permission denied"),
])
def test_another_role_changes_nothing_through_pg_steward(roles: psycopg.Connection, sql: str,
                                                         error: type[Exception], match: str) -> None:
    conn = roles
    conn.execute("SET ROLE bob")
    conn.execute("SELECT * FROM steward.manage('b', premake => 0)")
    conn.execute("INSERT INTO b VALUES ('2035-01-01', 2)")  # stranded: work a maintenance run would do
    conn.execute("CREATE TABLE b_old PARTITION OF b FOR VALUES FROM ('2001-01-01') TO ('2001-02-01')")  # expired
    conn.execute("SET ROLE alice")
    fails(conn, sql, error, match, "b", "b_default")


def test_maintenance_by_a_role_without_rights_logs_an_error_and_changes_nothing(
        roles: psycopg.Connection) -> None:
    conn = roles
    conn.execute("SET ROLE bob")
    conn.execute("SELECT * FROM steward.manage('b', premake => 0)")
    conn.execute("INSERT INTO b VALUES ('2035-01-01', 2)")
    conn.execute("REVOKE SELECT ON b_default FROM alice")  # not even readable: the survey must not fail the run
    conn.execute("RESET ROLE")
    conn.execute(DELEGATE.format(role="alice"))  # alice may write the log, not bob's table
    conn.execute("SET ROLE alice")
    rows = conn.execute("SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()").fetchall()
    assert [(p, a, ok) for p, a, ok, _ in rows] == [("b", "error", False)]
    assert "must be owner" in rows[0][3] or "permission denied" in rows[0][3]
    conn.execute("RESET ROLE")
    assert conn.execute("SELECT count(*) FROM b_default").fetchone() == (1,)
