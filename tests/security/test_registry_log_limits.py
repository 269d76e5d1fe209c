"""A table owner granted the registry and the log (extension/partitions.md#privileges) harms no other owner.

Maintenance runs as a superuser (pg_cron); sec_owner and sec_other are ordinary roles, each granted what the
documentation grants a table owner. The attacks of 0.1.0, each refused now:

- registry integrity: rows planted for oids no relation has yet (the next table created inherits a policy that
  drops its partitions), rows for a table given to another owner, rows outliving their table;
- ceilings: a lock_timeout of a day or a million retries stalls the run for every table;
- log integrity: rows forged with any role, time and table;
- dump: the database's owner could not pg_dump its own database.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pg_steward.localserver import bindir

ROLES = ("sec_owner", "sec_other")
GRANTS = """
GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO {role};
GRANT INSERT ON steward.partition_maintenance_log TO {role};
GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {role};
GRANT CREATE ON SCHEMA public TO {role};
"""
TABLE = "CREATE TABLE public.{name} (id bigint, at date NOT NULL) PARTITION BY RANGE (at)"


@pytest.fixture
def owners(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    for role in ROLES:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(GRANTS.format(role=role))
    yield conn
    for role in ROLES:
        conn.execute(f"DROP OWNED BY {role} CASCADE")
        conn.execute(f"DROP ROLE {role}")


def _as(conn: psycopg.Connection, role: str) -> psycopg.Connection:
    return psycopg.connect(conn.info.dsn, user=role, autocommit=True)


def _sqlstate(conn: psycopg.Connection, sql: str, *params: object) -> str | None:
    try:
        conn.execute(sql, params or None)
    except psycopg.Error as error:
        return error.sqlstate
    return None


def test_no_row_for_a_relation_that_does_not_exist(owners: psycopg.Connection) -> None:
    """sec_other plants rows for the next oids: refused, so the next table created inherits nothing."""
    with _as(owners, "sec_other") as other:
        next_oid = other.execute("SELECT max(oid::oid::bigint) + 1 FROM pg_class").fetchone()[0]
        for oid in range(next_oid, next_oid + 20):
            assert _sqlstate(other, "INSERT INTO steward.partition_config (parent, span, retention) "
                                    "VALUES (%s::bigint::oid::regclass, '1 month', '1 second')", oid) == "42P01"
    assert owners.execute("SELECT count(*) FROM steward.partition_config").fetchone() == (0,)


def test_no_row_for_a_table_that_is_not_partitioned_or_not_the_writers(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("CREATE TABLE public.plain (id int)")
    with _as(owners, "sec_other") as other:
        assert _sqlstate(other, "INSERT INTO steward.partition_config (parent, span) "
                                "VALUES ('public.mine', '1 month')") == "42501"
        other.execute("CREATE TABLE public.flat (id int)")
        assert _sqlstate(other, "INSERT INTO steward.partition_config (parent, span) "
                                "VALUES ('public.flat', '1 month')") == "42809"


def test_the_registered_identity_is_written_by_pg_steward(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("INSERT INTO steward.partition_config (parent, span, premake, registered_owner, "
                      "registered_name, registered_by) VALUES ('public.mine', '1 month', 0, 10, 'x', 'postgres')")
    assert owners.execute("SELECT registered_owner::regrole::text, registered_schema::text, registered_name::text, "
                          "registered_by::text FROM steward.partition_config").fetchone() == (
        "sec_owner", "public", "mine", "sec_owner")


def test_an_owner_change_is_a_finding_not_an_inheritance(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("SELECT * FROM steward.manage('public.mine', premake => 1, retention => '1 day')").fetchall()
    owners.execute("ALTER TABLE public.mine OWNER TO sec_other")
    owners.execute("CREATE TABLE public.mine_old PARTITION OF public.mine FOR VALUES FROM ('2000-01-01') "
                   "TO ('2000-02-01')")
    rows = owners.execute("SELECT action, ok, detail FROM steward.maintain_partitions('public.mine')").fetchall()
    assert [(a, ok) for a, ok, _ in rows] == [("error", False)]
    assert "owner changed from sec_owner to sec_other: re-register with steward.manage" in rows[0][2]
    assert owners.execute("SELECT to_regclass('public.mine_old') IS NOT NULL").fetchone() == (True,)
    logged = owners.execute("SELECT detail FROM steward.partition_maintenance_log WHERE action = 'error'").fetchall()
    assert any("owner changed" in d for (d,) in logged)
    # The new owner accepts the policy by registering it again.
    with _as(owners, "sec_other") as other:
        other.execute("SELECT * FROM steward.manage('public.mine', premake => 1, retention => '1 day')").fetchall()
    assert owners.execute("SELECT registered_owner::regrole::text, registered_by::text "
                          "FROM steward.partition_config").fetchone() == ("sec_other", "sec_other")


def test_a_dropped_tables_row_goes_with_it(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("SELECT * FROM steward.manage('public.mine', premake => 0)").fetchall()
        owner.execute("DROP TABLE public.mine")
    assert owners.execute("SELECT count(*) FROM steward.partition_config").fetchone() == (0,)


def test_a_row_whose_oid_names_another_relation_is_refused(owners: psycopg.Connection) -> None:
    """As if the oid had been reused after a drop the event trigger did not see: the row is not applied."""
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("SELECT * FROM steward.manage('public.mine', premake => 1, retention => '1 day')").fetchall()
    owners.execute("ALTER TABLE steward.partition_config DISABLE TRIGGER partition_config_owner")
    owners.execute("UPDATE steward.partition_config SET registered_name = 'dropped_one'")
    owners.execute("ALTER TABLE steward.partition_config ENABLE TRIGGER partition_config_owner")
    owners.execute("CREATE TABLE public.mine_old PARTITION OF public.mine FOR VALUES FROM ('2000-01-01') "
                   "TO ('2000-02-01')")
    rows = owners.execute("SELECT action, ok, detail FROM steward.maintain_partitions('public.mine')").fetchall()
    assert [(a, ok) for a, ok, _ in rows] == [("error", False)]
    assert "was registered as public.dropped_one" in rows[0][2]
    assert owners.execute("SELECT to_regclass('public.mine_old') IS NOT NULL").fetchone() == (True,)


def test_manage_refuses_values_above_the_ceilings(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        for args in ("lock_timeout => '1 day'", "lock_retries => 1000000"):
            with pytest.raises(psycopg.Error) as raised:
                owner.execute(f"SELECT * FROM steward.manage('public.mine', {args})")
            assert raised.value.sqlstate == "22023"
            assert "steward.maintenance_limits" in (raised.value.diag.message_hint or "")
        # Only a superuser sets the ceilings.
        assert _sqlstate(owner, "INSERT INTO steward.maintenance_limits (max_lock_timeout) "
                                "VALUES ('1 day')") == "42501"
        assert owner.execute("SELECT count(*) FROM steward.maintenance_limits").fetchone() == (0,)


def test_the_per_table_budget_stops_one_table_and_the_others_go_on(owners: psycopg.Connection) -> None:
    owners.execute("INSERT INTO steward.maintenance_limits (table_budget) VALUES ('1 millisecond')")
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("INSERT INTO steward.partition_config (parent, span, premake) "
                      "VALUES ('public.mine', '1 day', 40)")
        owner.execute(TABLE.format(name="small"))
        owner.execute("INSERT INTO steward.partition_config (parent, span, premake) "
                      "VALUES ('public.small', '1 month', 0)")
    rows = owners.execute("SELECT parent::text, action FROM steward.maintain_partitions()").fetchall()
    assert ("public.mine", "budget") in rows or ("mine", "budget") in rows, rows
    assert any(a == "create" and p.endswith("small") for p, a in rows), rows
    assert owners.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                          "WHERE action = 'budget'").fetchone() == (1,)


def test_log_rows_carry_the_real_role_and_time(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
    with _as(owners, "sec_other") as other:
        assert _sqlstate(other, "INSERT INTO steward.partition_maintenance_log (parent, action, ok, username) "
                                "VALUES ('public.mine', 'drop', true, 'postgres')") == "42501"
        assert _sqlstate(other, "INSERT INTO steward.partition_maintenance_log (parent, action, ok) "
                                "VALUES (NULL, 'drop', true)") == "42501"
    with _as(owners, "sec_owner") as owner:
        owner.execute("INSERT INTO steward.partition_maintenance_log (parent, action, ok, username, logged_at) "
                      "VALUES ('public.mine', 'drop', true, 'postgres', '2000-01-01')")
        assert owner.execute("SELECT username, logged_at > now() - interval '1 hour' "
                             "FROM steward.partition_maintenance_log").fetchall() == [("sec_owner", True)]
    owners.execute("GRANT UPDATE ON steward.partition_maintenance_log TO sec_owner")
    with _as(owners, "sec_owner") as owner:
        assert _sqlstate(owner, "UPDATE steward.partition_maintenance_log SET username = 'postgres'") == "42501"


def test_an_owner_maintaining_its_own_table_still_logs(owners: psycopg.Connection) -> None:
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("SELECT * FROM steward.manage('public.mine', premake => 1)").fetchall()
    assert owners.execute("SELECT DISTINCT action, username FROM steward.partition_maintenance_log").fetchall() == [
        ("create", "sec_owner")]


def test_the_database_owner_can_dump_its_database(owners: psycopg.Connection, tmp_path: Path) -> None:
    owners.execute("INSERT INTO steward.maintenance_limits DEFAULT VALUES")
    owners.execute(f'ALTER DATABASE "{owners.info.dbname}" OWNER TO sec_owner')
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("SELECT * FROM steward.manage('public.mine', premake => 1)").fetchall()
    info = owners.info
    dsn = make_conninfo(host=info.host, port=info.port, dbname=info.dbname, user="sec_owner")
    result = subprocess.run([str(bindir() / "pg_dump"), f"--file={tmp_path / 'd.sql'}", dsn],
                            capture_output=True, text=True)
    owners.execute(f'ALTER DATABASE "{owners.info.dbname}" OWNER TO CURRENT_USER')
    assert result.returncode == 0, result.stderr


def test_the_ceilings_apply_to_a_row_written_directly(owners: psycopg.Connection) -> None:
    """A registry row written with INSERT (not manage()) asking for a day's lock_timeout and a million retries
    is held to the superuser's ceilings when maintenance runs: the step gives up after 50 ms, twice."""
    owners.execute("INSERT INTO steward.maintenance_limits (max_lock_timeout, max_lock_retries) "
                   "VALUES ('50 milliseconds', 1)")
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        written = _sqlstate(owner, "INSERT INTO steward.partition_config (parent, span, premake, lock_timeout, "
                                   "lock_retries) VALUES ('public.mine', '1 month', 1, '1 day', 1000000)")
    if written is not None:  # refused outright is as good as capped
        assert written == "22023"
        return
    with psycopg.connect(owners.info.dsn, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE public.mine IN SHARE UPDATE EXCLUSIVE MODE")  # readers and writers go on
        rows = owners.execute("SELECT action, ok, detail FROM steward.maintain_partitions('public.mine')").fetchall()
        holder.execute("ROLLBACK")
    failed = [detail for _, ok, detail in rows if not ok]
    assert failed and "within 50 ms, 2 attempts" in failed[0], rows


def test_the_per_table_budget_holds_across_the_steps_of_run_maintenance(owners: psycopg.Connection) -> None:
    """run_maintenance works a backlog off in committed steps; the budget counts them all, not each alone."""
    owners.execute("INSERT INTO steward.maintenance_limits (table_budget) VALUES ('1 millisecond')")
    with _as(owners, "sec_owner") as owner:
        owner.execute(TABLE.format(name="mine"))
        owner.execute("INSERT INTO steward.partition_config (parent, span, premake) "
                      "VALUES ('public.mine', '1 day', 200)")  # more than one step's worth
        owner.execute(TABLE.format(name="small"))
        owner.execute("INSERT INTO steward.partition_config (parent, span, premake) "
                      "VALUES ('public.small', '1 month', 0)")
    owners.execute("CALL steward.run_maintenance()")
    logged = owners.execute("SELECT parent::regclass::text, action FROM steward.partition_maintenance_log").fetchall()
    assert ("mine", "budget") in logged or ("public.mine", "budget") in logged, logged
    made = owners.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.mine'::regclass").fetchone()[0]
    assert 0 < made < 201, "stopped part way, after at least one step"
    assert owners.execute("SELECT count(*) FROM pg_inherits "
                          "WHERE inhparent = 'public.small'::regclass").fetchone()[0] >= 1, "the others go on"
