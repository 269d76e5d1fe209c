"""Retention mode export, server side: registration, maintenance keeps expired partitions, the record
function's checks and retirement, the import's partition, the health check."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.partitions import changes_nothing, fails, relations

SHA = "a" * 64


def expiring(conn: psycopg.Connection, name: str = "events") -> None:
    """A table with two monthly partitions 30 and 29 months old (200 rows) and a current one."""
    conn.execute(f"CREATE TABLE {name} (id bigint, at date NOT NULL, note text) PARTITION BY RANGE (at)")
    for months_ago in (30, 29, 0):
        conn.execute("SELECT steward.create_monthly_partition(%s, (current_date - %s * interval '1 month')::date)",
                     [name, months_ago])
    conn.execute(f"INSERT INTO {name} SELECT n, date_trunc('month', current_date - interval '30 months')::date "
                 "+ n % 50, 'row ' || n FROM generate_series(1, 200) n")


def old_partitions(conn: psycopg.Connection, parent: str = "events") -> list[tuple[str, int]]:
    return [(r[0], conn.execute(f"SELECT count(*) FROM {r[0]}").fetchone()[0]) for r in conn.execute(
        "SELECT partition::text FROM steward.export_candidates(%s)", [parent]).fetchall()]


@pytest.fixture
def events(conn: psycopg.Connection) -> psycopg.Connection:
    expiring(conn)
    conn.execute("SELECT steward.manage('events', retention => '1 year', retention_mode => 'export')")
    return conn


def test_manage_and_maintenance_keep_expired_partitions(events: psycopg.Connection) -> None:
    before = relations(events)
    rows = events.execute("SELECT action, partition, ok FROM steward.maintain_partitions('events') "
                          "WHERE action = 'awaiting export'").fetchall()
    assert len(rows) == 2 and all(r[2] for r in rows)
    events.execute("CALL steward.run_maintenance()")
    assert relations(events) >= before  # nothing dropped or detached
    logged = events.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                            "WHERE action = 'awaiting export'").fetchone()[0]
    assert logged >= 4  # two partitions, two runs: never a silent skip
    assert len(old_partitions(events)) == 2


def test_drop_old_partitions_refuses_mode_export(events: psycopg.Connection) -> None:
    fails(events, "SELECT * FROM steward.drop_old_partitions('events', '1 year', mode => 'export')",
          errors.InvalidParameterValue, "run by a client", "events")


def test_record_checks_the_count_then_drops(events: psycopg.Connection) -> None:
    (first, rows), _ = old_partitions(events)
    fails(events, "SELECT * FROM steward.record_partition_export(%s, %s, %s, 'file:/x')",
          errors.ObjectNotInPrerequisiteState, "nothing recorded", "events", "steward.partition_exports",
          params=[first, rows + 1, SHA])
    done = events.execute("SELECT action, partition FROM steward.record_partition_export(%s, %s, %s, 'file:/x')",
                          [first, rows, SHA]).fetchall()
    assert done == [("export, drop", f"public.{first}")]
    assert first not in relations(events)
    record = events.execute("SELECT partition, row_count, sha256, location, retired_as, exported_by = current_user "
                            "FROM steward.partition_exports").fetchall()
    assert record == [(f"public.{first}", rows, SHA, "file:/x", "drop", True)]
    assert events.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                          "WHERE action = 'export, drop'").fetchone()[0] == 1


def test_record_can_detach(events: psycopg.Connection) -> None:
    (_, _), (second, rows) = old_partitions(events)
    events.execute("SELECT * FROM steward.record_partition_export(%s, %s, %s, 'f', 'detach')", [second, rows, SHA])
    assert events.execute("SELECT count(*) FROM pg_inherits WHERE inhrelid = %s::regclass", [second]).fetchone()[0] == 0


@pytest.mark.parametrize(("args", "error", "match"), [
    (["events_current", 0, SHA, "f", "drop"], errors.ObjectNotInPrerequisiteState, "not past the retention"),
    (["events", 0, SHA, "f", "drop"], errors.ObjectNotInPrerequisiteState, "is not a partition"),
    ([None, 0, SHA, "f", "drop"], errors.NullValueNotAllowed, "partition must not be NULL"),
    ([1, -1, SHA, "f", "drop"], errors.InvalidParameterValue, "row_count must be 0 or more"),
    ([1, 0, "ABC", "f", "drop"], errors.InvalidParameterValue, "sha256 must be"),
    ([1, 0, SHA, " ", "drop"], errors.InvalidParameterValue, "location must not be empty"),
    ([1, 0, SHA, "f", "archive"], errors.InvalidParameterValue, "then_mode must be one of"),
])
def test_record_bad_input(events: psycopg.Connection, args: list, error: type[Exception], match: str) -> None:
    first = old_partitions(events)[0][0]
    current = events.execute("SELECT relid::regclass::text FROM pg_partition_tree('events') WHERE isleaf "
                             "ORDER BY relid::regclass::text DESC LIMIT 1").fetchone()[0]
    args = [{"events_current": current}.get(a, a) if isinstance(a, str) else a for a in args]
    if args[0] == 1:
        args[0] = first
    fails(events, "SELECT * FROM steward.record_partition_export(%s, %s, %s, %s, %s)", error, match,
          "events", "steward.partition_exports", params=args)


def test_record_refuses_a_table_not_in_export_mode(conn: psycopg.Connection) -> None:
    expiring(conn, "plain")
    conn.execute("SELECT steward.manage('plain', retention => '1 year', retention_mode => 'detach')")
    part = conn.execute("SELECT partition FROM steward.maintain_partitions('plain') WHERE action = 'detach'")
    assert part.fetchall()  # detach mode retires by itself
    expiring(conn, "other")
    first = conn.execute("SELECT relid::regclass::text FROM pg_partition_tree('other') WHERE isleaf "
                         "ORDER BY 1 LIMIT 1").fetchone()[0]
    fails(conn, "SELECT * FROM steward.record_partition_export(%s, 0, %s, 'f')", errors.ObjectNotInPrerequisiteState,
          "retention_mode export", "other", params=[first, SHA])


def test_record_by_a_role_that_does_not_own_the_table(events: psycopg.Connection) -> None:
    first, rows = old_partitions(events)[0]
    events.execute("CREATE ROLE steward_export_stranger")  # roles are the cluster's: a name of its own, dropped
    events.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO steward_export_stranger")
    with changes_nothing(events, "events", "steward.partition_exports"):
        events.execute("SET ROLE steward_export_stranger")
        try:
            with pytest.raises(errors.InsufficientPrivilege, match="must be owner"):
                events.execute("SELECT * FROM steward.record_partition_export(%s, %s, %s, 'f')", [first, rows, SHA])
            with pytest.raises(errors.InsufficientPrivilege, match="must be owner"):
                events.execute("INSERT INTO steward.partition_exports (parent, partition, range_from, range_to, "
                               "row_count, sha256, location, retired_as) "
                               "VALUES ('events', 'x', 'a', 'b', 0, %s, 'f', 'drop')", [SHA])
        finally:
            events.execute("RESET ROLE")
    events.execute("DROP OWNED BY steward_export_stranger")
    events.execute("DROP ROLE steward_export_stranger")


def test_prepare_import_refuses_overlaps(events: psycopg.Connection) -> None:
    fails(events, "SELECT steward.prepare_partition_import('events', (current_date - 10)::text, "
          "(current_date + 400)::text)", errors.InvalidObjectDefinition, "would overlap", "events")
    (first, _), _ = old_partitions(events)
    lo, hi = events.execute("SELECT range_from, range_to FROM steward.export_candidates('events') "
                            "WHERE partition = %s::regclass", [first]).fetchone()
    fails(events, "SELECT steward.prepare_partition_import('events', %s, %s)", errors.ObjectNotInPrerequisiteState,
          "already holds", "events", params=[lo, hi])
    fails(events, "SELECT steward.prepare_partition_import('events', 'soon', 'later')",
          errors.InvalidParameterValue, "not values of date", "events")
    fails(events, "SELECT steward.prepare_partition_import('events', '2001-02-01', '2001-01-01')",
          errors.InvalidParameterValue, "empty range", "events")
    made = events.execute("SELECT steward.prepare_partition_import('events', '2001-01-01', '2001-02-01')::text")
    name = made.fetchone()[0]
    assert events.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)


def test_health_warns_once_overdue(events: psycopg.Connection) -> None:
    row = events.execute("SELECT status, value, detail FROM steward.health() "
                         "WHERE check_name = 'partition_exports'").fetchone()
    assert row[0] == "warning" and row[1] == "2 partitions", row
    for name, rows in old_partitions(events):
        events.execute("SELECT * FROM steward.record_partition_export(%s, %s, %s, 'f')", [name, rows, SHA])
    row = events.execute("SELECT status FROM steward.health() WHERE check_name = 'partition_exports'").fetchone()
    assert row == ("ok",)
