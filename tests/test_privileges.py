"""Privileges of every pg_steward function: a role with no rights on another role's tables cannot read, change
or drop them through pg_steward, nor read the statements other roles ran; what it does get is what the
catalog and the statistics views show anyone.

The victim role owns ``secret`` (rows, an index) and ``secret_partitioned`` (DEFAULT with a stranded row, an
expired partition, managed with a retention); the superuser logged and captured the victim's statements.
mallory logs in with no membership and owns nothing. The superuser session watches (it may read everything).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo

from pg_steward.localserver import SERVER_USER
from pg_steward.reports.health_checks import CHECKS
from support.partitions import changes_nothing, digest, relations
from support.reports import flush_stats, rows

VICTIMS = ("secret", "secret_partitioned", "secret_partitioned_default")
SECRET_TEXT = "confidential-7"  # a constant in the victim's statements and in a row of secret

DELEGATE = """
GRANT INSERT, UPDATE, DELETE ON steward.partition_config TO {role};
GRANT INSERT ON steward.partition_maintenance_log TO {role};
GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {role};
"""

SETUP = """
CREATE EXTENSION IF NOT EXISTS pgstattuple;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT CREATE ON SCHEMA public TO {owner};
{delegate}
SET ROLE {owner};
CREATE TABLE secret (id int PRIMARY KEY, a int, note text);
INSERT INTO secret SELECT g, g % 10, 'confidential-' || g FROM generate_series(1, 3000) g;
CREATE INDEX secret_a ON secret (a);
CREATE TABLE secret_partitioned (d date NOT NULL, v text) PARTITION BY RANGE (d);
CREATE TABLE secret_partitioned_default PARTITION OF secret_partitioned DEFAULT;
CREATE INDEX ON secret_partitioned (d);
SELECT count(*) FROM steward.manage('secret_partitioned', premake => 1, retention => '1 year');
-- Work a maintenance run would do: a stranded row to move, an expired partition to drop.
INSERT INTO secret_partitioned VALUES ('2035-03-03', 'stranded {secret}');
CREATE TABLE secret_partitioned_old PARTITION OF secret_partitioned FOR VALUES FROM ('2001-01-01') TO ('2001-02-01');
INSERT INTO secret_partitioned VALUES ('2001-01-05', 'expired {secret}');
SELECT count(*) FROM secret WHERE note = '{secret}';
RESET ROLE;
ANALYZE secret, secret_partitioned;
SELECT steward.log_slow_query('SELECT * FROM secret WHERE note = ''{secret}''', 1234);
SELECT count(*) FROM steward.capture_query_stats();
SELECT count(*) FROM steward.capture_query_stats(0, 0);
"""


@dataclass
class Scene:
    admin: psycopg.Connection  # superuser: sets up and watches
    mallory: psycopg.Connection  # a login role with no membership that owns nothing
    name: str  # mallory's role
    owner: str  # the victim role

    def delegate(self, *more: str) -> None:
        """Grant mallory the registry and the log, as an owner of tables of its own is (extension/partitions.md)."""
        self.admin.execute(DELEGATE.format(role=f'"{self.name}"') + "".join(f"{m};" for m in more))

    def connect_as(self, role: str) -> psycopg.Connection:
        return psycopg.connect(make_conninfo(self.admin.info.dsn, user=role), autocommit=True)


@pytest.fixture
def scene(conn: psycopg.Connection) -> Iterator[Scene]:
    tag = uuid.uuid4().hex[:8]
    owner, name = f"victim_{tag}", f"mallory_{tag}"
    conn.execute(f'CREATE ROLE "{owner}" LOGIN; CREATE ROLE "{name}" LOGIN')
    try:
        conn.execute(SETUP.format(owner=f'"{owner}"', delegate=DELEGATE.format(role=f'"{owner}"'),
                                  secret=SECRET_TEXT))
        with psycopg.connect(make_conninfo(conn.info.dsn, user=name), autocommit=True) as mallory:
            yield Scene(conn, mallory, name, owner)
    finally:
        conn.execute("RESET ROLE")
        conn.execute(f'DROP OWNED BY "{owner}", "{name}"; DROP ROLE "{owner}", "{name}"')  # roles are cluster-wide


def refused(scene: Scene, sql: str, params: list | None = None) -> psycopg.Error:
    """``sql`` run by mallory fails with 42501 and changes nothing anywhere (tables, logs, registry, relations)."""
    with changes_nothing(scene.admin, *VICTIMS, everything=True), \
            pytest.raises(errors.InsufficientPrivilege) as info:
        scene.mallory.execute(sql, params)
    return info.value


def error_text(error: psycopg.Error) -> str:
    diag = error.diag
    return " ".join(filter(None, (diag.message_primary, diag.message_detail, diag.message_hint, diag.context)))


# --- reading -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "SELECT * FROM steward.analyze_query_performance(%s)",
    "SELECT * FROM steward.analyze_query_performance(%s, false)",
    "SELECT * FROM steward.query_advice(%s)",
    "SELECT * FROM steward.query_advice(%s, false)",
    "SELECT * FROM steward.check_pruning(%s)",
    "SELECT * FROM steward.check_pruning(%s, true)",
])
@pytest.mark.parametrize("query", [
    f"SELECT * FROM secret WHERE note = '{SECRET_TEXT}'",
    "SELECT count(*) FROM secret_partitioned WHERE d > '2030-01-01'",
])
def test_plan_analysis_of_a_table_the_role_may_not_read_is_refused(scene: Scene, call: str, query: str) -> None:
    error = refused(scene, call, [query])
    text = error_text(error)
    assert "permission denied for table secret" in text
    # Neither rows nor the plan's row counts come out with the error.
    assert "confidential" not in text.replace(SECRET_TEXT, "") and "rows" not in text.lower()


def test_allowed_writes_on_a_table_the_role_may_not_write_are_refused(scene: Scene) -> None:
    for sql in ("DELETE FROM secret", "UPDATE secret_partitioned SET v = 'x'"):
        refused(scene, "SELECT * FROM steward.analyze_query_performance(%s, allow_writes => true)", [sql])


def test_logged_statements_of_other_roles_need_pg_read_all_stats(scene: Scene) -> None:
    for table in ("query_performance_log", "query_stats_snapshot", "query_stats_snapshot_entry"):
        refused(scene, f"SELECT * FROM steward.{table}")
    refused(scene, "SELECT * FROM steward.slow_queries('1 day', 100)")
    # What extension/queries.md promises: pg_read_all_stats (or pg_monitor) reads them.
    scene.admin.execute(f'GRANT pg_read_all_stats TO "{scene.name}"')
    texts = [r[0] for r in scene.mallory.execute("SELECT query_text FROM steward.query_performance_log")]
    assert any(SECRET_TEXT in t for t in texts)
    assert scene.mallory.execute("SELECT count(*) FROM steward.slow_queries('1 day', 100)").fetchone()[0] >= 1
    assert scene.mallory.execute("SELECT count(*) > 0 FROM steward.query_stats_snapshot_entry").fetchone() == (True,)


def test_capture_long_running_does_not_see_other_roles_statements(scene: Scene) -> None:
    with scene.connect_as(scene.owner) as victim:
        sleeper = threading.Thread(target=victim.execute, args=(f"SELECT pg_sleep(3), '{SECRET_TEXT}'",))
        sleeper.start()
        try:
            deadline = time.monotonic() + 5
            while not scene.admin.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                          "AND query LIKE %s", [f"%{SECRET_TEXT}%"]).fetchone()[0]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            with changes_nothing(scene.admin, *VICTIMS, everything=True):
                seen = scene.mallory.execute("SELECT * FROM steward.capture_long_running('0')").fetchall()
            assert seen == []  # pg_stat_activity shows mallory "<insufficient privilege>": nothing to log
        finally:
            sleeper.join()


def test_partition_tree_shows_what_the_catalog_shows_anyone(scene: Scene) -> None:
    """pg_class, pg_inherits and the size functions are readable by every role: so is steward.partitions.
    The rows themselves stay out of reach."""
    tree = {r["partition"]: r for r in rows(scene.mallory, "SELECT partition::text, bound, total_bytes "
                                                           "FROM steward.partitions('secret_partitioned')")}
    catalog = {r["relid"]: r for r in rows(scene.mallory, """
        SELECT t.relid::text, pg_get_expr(c.relpartbound, c.oid) AS bound, pg_total_relation_size(t.relid) AS size
        FROM pg_partition_tree('secret_partitioned') t JOIN pg_class c ON c.oid = t.relid""")}
    assert set(tree) == set(catalog) and "secret_partitioned_old" in tree
    assert all(tree[n]["bound"] == catalog[n]["bound"] for n in tree if catalog[n]["bound"])
    refused(scene, "SELECT * FROM secret_partitioned")


def test_bloat_measures_only_what_the_role_may_measure(scene: Scene) -> None:
    table = rows(scene.mallory, "SELECT * FROM steward.table_bloat(true, 'secret') WHERE kind = 'table'")[0]
    assert table["waste_bytes"] is None and "permission denied for function pgstattuple" in table["reason"]
    indexes = rows(scene.mallory, "SELECT * FROM steward.index_bloat(true, 'secret')")
    assert indexes and all(r["waste_bytes"] is None and "permission denied for function pgstatindex" in r["reason"]
                           for r in indexes)
    # The estimate reads pg_stats, which hides the columns of a table the role may not read.
    estimate = rows(scene.mallory, "SELECT * FROM steward.table_bloat(relation => 'secret')")[0]
    assert estimate["waste_bytes"] is None and estimate["reason"].startswith("statistics not visible")
    scene.admin.execute(f'GRANT pg_stat_scan_tables TO "{scene.name}"')  # the grant pgstattuple asks for
    table = rows(scene.mallory, "SELECT * FROM steward.table_bloat(true, 'secret') WHERE kind = 'table'")[0]
    assert table["method"] == "pgstattuple" and table["waste_bytes"] is not None


def test_statistics_reports_show_what_the_statistics_views_show(scene: Scene) -> None:
    scene.admin.execute("SELECT count(*) FROM secret_partitioned")
    flush_stats(scene.admin)
    hot = {r["partition"]: r["seq_scan"] for r in rows(
        scene.mallory, "SELECT * FROM steward.hot_partitions('secret_partitioned')")}
    seen = {r["name"]: r["seq_scan"] for r in rows(scene.mallory, """
        SELECT format('%s.%s', schemaname, relname) AS name, seq_scan FROM pg_stat_all_tables
        WHERE relid IN (SELECT relid FROM pg_partition_tree('secret_partitioned') WHERE isleaf)""")}
    assert hot == seen and sum(hot.values()) > 0
    usage = rows(scene.mallory, "SELECT * FROM steward.partition_index_usage('secret_partitioned')")
    assert {r["partition"] for r in usage} == set(hot)
    problems = {(r["problem"], r["index"]) for r in rows(scene.mallory, "SELECT * FROM steward.index_report()")}
    assert ("unused", "secret_a") in problems  # pg_stat_all_indexes: readable by all
    checks = {r["check_name"]: r for r in rows(scene.mallory, "SELECT * FROM steward.health()")}
    assert len(checks) == len(CHECKS)
    assert not any((c["detail"] or "").startswith("could not run") for c in checks.values())


# --- changing and dropping -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "SELECT steward.log_slow_query('SELECT 1', 5)",
    "SELECT * FROM steward.capture_query_stats()",
    "SELECT * FROM steward.capture_growth()",
    "SELECT * FROM steward.purge_logs('1 second')",
    "SELECT * FROM steward._maintain_step('secret_partitioned'::regclass, NULL)",
    "SELECT * FROM steward.maintain_partitions('secret_partitioned')",
    "SELECT * FROM steward.maintain_partitions()",
    "SELECT steward.unmanage('secret_partitioned')",
    "SELECT * FROM steward.manage('secret_partitioned', premake => 5, retention => '1 day')",
    "SELECT steward.create_partition('secret_partitioned', '2035-03-01')",
    "SELECT steward.create_monthly_partition('secret_partitioned', '2035-03-01')",
    "SELECT * FROM steward.change_span('secret_partitioned', '1 day')",
    "SELECT * FROM steward.drop_old_partitions('secret_partitioned', '1 year')",
    "SELECT * FROM steward.drop_old_partitions('secret_partitioned', '1 year', 'detach')",
    "UPDATE steward.partition_config SET retention = '1 day'",
    "DELETE FROM steward.partition_config",
])
def test_a_role_without_rights_changes_nothing(scene: Scene, sql: str) -> None:
    error = refused(scene, sql)
    # A clean message, the procedure's too: no Python exception class in front of it.
    assert "spiexceptions" not in str(error) and "Error:" not in str(error), str(error)


def test_a_run_by_a_role_without_rights_leaves_other_owners_tables_alone(scene: Scene) -> None:
    """CALL run_maintenance() maintains the tables of owners the caller is a member of; the others are left to
    them, said in a NOTICE and counted in the run's row (which health() does not count as a complete run)."""
    notices: list[str] = []
    scene.mallory.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    with changes_nothing(scene.admin, *VICTIMS):
        scene.mallory.execute("CALL steward.run_maintenance()")
    assert notices == ["pg_steward: 1 of 1 tables due belong to owners this role is not a member of: "
                       "left to them or to a superuser"]
    assert scene.admin.execute("SELECT run_by::text = %s, tables_due, actions, failures, other_owners "
                               "FROM steward.maintenance_runs", [scene.name]).fetchall() == [(True, 1, 0, 0, 1)]
    assert scene.admin.execute("SELECT count(*) FROM steward.partition_maintenance_log WHERE username = %s",
                               [scene.name]).fetchone() == (0,)


def test_tables_due_tells_only_what_the_registry_shows_anyone(scene: Scene) -> None:
    with changes_nothing(scene.admin, *VICTIMS, everything=True):
        due = scene.mallory.execute("SELECT steward._tables_due()::regclass::text").fetchall()
    assert due == [("secret_partitioned",)]  # readable in steward.partition_config (GRANT SELECT TO PUBLIC)


def test_a_role_granted_the_registry_cannot_write_another_owners_rows(scene: Scene) -> None:
    """The grants that let an owner manage its own tables (extension/partitions.md) do not reach other
    owners' rows: a row says what maintenance, often run by a superuser, drops."""
    scene.delegate()
    scene.admin.execute(f'SET ROLE "{scene.owner}"; CREATE TABLE other_events (d date NOT NULL) '
                        "PARTITION BY RANGE (d); RESET ROLE")
    for sql in ("UPDATE steward.partition_config SET retention = '1 day', retention_mode = 'drop'",
                "DELETE FROM steward.partition_config",
                "INSERT INTO steward.partition_config (parent, span, retention) "
                "VALUES ('other_events', '1 month', '1 day')",
                "SELECT * FROM steward.manage('other_events', retention => '1 day')"):
        error = refused(scene, sql)
        assert "must be owner of table" in error_text(error)


def test_a_role_manages_its_own_table_only_with_an_archive_schema_it_may_create_in(scene: Scene) -> None:
    scene.delegate(f'GRANT CREATE ON SCHEMA public TO "{scene.name}"',
                   f'CREATE SCHEMA vault AUTHORIZATION "{scene.owner}"',
                   f'CREATE SCHEMA mine AUTHORIZATION "{scene.name}"')
    scene.mallory.execute("CREATE TABLE own_events (d date NOT NULL) PARTITION BY RANGE (d)")
    scene.mallory.execute("SELECT * FROM steward.manage('own_events', premake => 0)")
    for sql in ("SELECT * FROM steward.manage('own_events', retention => '1 year', retention_mode => 'archive', "
                "archive_schema => 'vault')",
                "UPDATE steward.partition_config SET retention_mode = 'archive', archive_schema = 'vault' "
                "WHERE parent = 'own_events'::regclass",
                "UPDATE steward.partition_config SET parent = 'secret_partitioned' "
                "WHERE parent = 'own_events'::regclass"):
        refused(scene, sql)
    done = scene.mallory.execute("SELECT count(*) FROM steward.manage('own_events', retention => '1 year', "
                                 "retention_mode => 'archive', archive_schema => 'mine')").fetchone()
    assert done is not None
    assert scene.admin.execute("SELECT archive_schema::text FROM steward.partition_config "
                               "WHERE parent = 'own_events'::regclass").fetchone() == ("mine",)
    scene.mallory.execute("SELECT steward.unmanage('own_events')")


def test_maintenance_by_a_role_granted_the_registry_drops_and_moves_nothing_of_another_owner(scene: Scene) -> None:
    scene.delegate()  # mallory may write the log, not the victim's tables
    before = (relations(scene.admin), [digest(scene.admin, t) for t in VICTIMS])
    scene.mallory.execute("CALL steward.run_maintenance()")
    oid = scene.admin.execute("SELECT 'secret_partitioned'::regclass::oid::bigint").fetchone()[0]
    step = scene.mallory.execute("SELECT action, ok FROM steward._maintain_step(%s::oid, NULL)", [oid]).fetchall()
    assert step == [("error", False)]
    assert (relations(scene.admin), [digest(scene.admin, t) for t in VICTIMS]) == before
    # The refusal is returned, not logged: a role logs only about the tables it may manage.
    logged = scene.admin.execute("SELECT DISTINCT action, ok, detail FROM steward.partition_maintenance_log "
                                 "WHERE username = %s", [scene.name]).fetchall()
    assert logged == []


def test_a_role_manages_its_own_table_only_in_a_tablespace_it_may_create_in(scene: Scene) -> None:
    directory = Path(tempfile.mkdtemp(prefix="steward_ts_"))
    owner = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
    if owner is not None:  # the server runs as another user: the tablespace directory must be its own
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    space = f"steward_ts_{scene.name}"
    scene.admin.execute(f"CREATE TABLESPACE \"{space}\" LOCATION '{directory}'")
    try:
        scene.delegate(f'GRANT CREATE ON SCHEMA public TO "{scene.name}"')
        scene.mallory.execute("CREATE TABLE own_events (d date NOT NULL) PARTITION BY RANGE (d)")
        manage = "SELECT * FROM steward.manage('own_events', premake => 1, tablespace => %s)"
        error = refused(scene, manage, [space])
        assert "tablespace" in error_text(error)
        scene.admin.execute(f'GRANT CREATE ON TABLESPACE "{space}" TO "{scene.name}"')
        scene.mallory.execute(manage, [space])
        assert scene.admin.execute("SELECT count(*) > 0 FROM pg_class WHERE reltablespace = "
                                   "(SELECT oid FROM pg_tablespace WHERE spcname = %s)", [space]).fetchone() == (True,)
    finally:
        scene.admin.execute("DROP TABLE IF EXISTS own_events")
        scene.admin.execute(f'DROP TABLESPACE "{space}"')
        shutil.rmtree(directory, ignore_errors=True)


def test_query_capture_by_a_monitor_granted_the_logs(scene: Scene) -> None:
    """The grants extension/runtime.md names for capturing without superuser are enough."""
    tables = "steward.query_performance_log, steward.query_stats_snapshot, steward.query_stats_snapshot_entry"
    refused(scene, "SELECT * FROM steward.capture_query_stats()")
    scene.admin.execute(f'GRANT pg_monitor TO "{scene.name}"')
    refused(scene, "SELECT * FROM steward.capture_query_stats()")  # reading is not writing
    scene.admin.execute(f'GRANT INSERT, UPDATE, DELETE ON {tables} TO "{scene.name}";'
                        "GRANT USAGE ON SEQUENCE steward.query_performance_log_log_id_seq, "
                        f'steward.query_stats_snapshot_snapshot_id_seq TO "{scene.name}"')
    captured = rows(scene.mallory, "SELECT * FROM steward.capture_query_stats(0, 0)")[0]
    assert captured["baseline"] is False and captured["logged"] > 0
    assert scene.mallory.execute("SELECT steward.log_slow_query('SELECT 2', 7) > 0").fetchone() == (True,)
    refused(scene, "SELECT * FROM steward.purge_logs('1 second')")  # the partition log too
    scene.admin.execute(f'GRANT DELETE ON steward.partition_maintenance_log TO "{scene.name}"')
    refused(scene, "SELECT * FROM steward.purge_logs('1 second')")  # and the maintenance runs
    scene.admin.execute(f'GRANT DELETE ON steward.maintenance_runs TO "{scene.name}"')
    purged = dict(scene.mallory.execute("SELECT log, deleted FROM steward.purge_logs('1 second')").fetchall())
    assert set(purged) >= {"steward.query_performance_log", "steward.partition_maintenance_log",
                           "steward.maintenance_runs"}
