"""steward.drop_old_partitions: by catalog bounds, never by name; drop, detach, archive; dry run; bad input."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from support.partitions import fails, relations

LAYOUT = """
CREATE TABLE events (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE events_old PARTITION OF events FOR VALUES FROM ('2019-01-01') TO ('2019-02-01');
CREATE TABLE "renamed: was events_2019_02" PARTITION OF events FOR VALUES FROM ('2019-02-01') TO ('2019-03-01');
CREATE TABLE events_two_months PARTITION OF events FOR VALUES FROM (current_date - 45) TO (current_date + 15);
CREATE TABLE events_future PARTITION OF events FOR VALUES FROM (current_date + 15) TO (current_date + 45);
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events VALUES ('2019-01-05', 1), ('2019-02-05', 2), (current_date - 40, 3), ('2000-01-01', 4);
-- Look-alikes: they share the name prefix but are not partitions of events.
CREATE TABLE events_2018_01 (at date, v int);
INSERT INTO events_2018_01 VALUES ('2018-01-01', 9);
CREATE TABLE events_archive (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_archive_2017 PARTITION OF events_archive FOR VALUES FROM ('2017-01-01') TO ('2018-01-01');
"""


@pytest.fixture
def events(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute(LAYOUT)
    return conn


def test_by_bounds_not_by_name(events: psycopg.Connection) -> None:
    rows = events.execute("SELECT partition, range_from, range_to, action "
                          "FROM steward.drop_old_partitions('events', '30 days')").fetchall()
    assert rows == [
        ("public.events_old", "2019-01-01", "2019-02-01", "drop"),
        ('public.renamed: was events_2019_02', "2019-02-01", "2019-03-01", "drop"),
    ]
    left = set(relations(events))
    assert {"events_two_months", "events_future", "events_default", "events_2018_01",
            "events_archive_2017"} <= left
    assert not {"events_old", '"renamed: was events_2019_02"'} & left
    # The DEFAULT partition keeps even its old rows; the look-alike keeps its rows.
    assert events.execute("SELECT count(*) FROM events_default").fetchone() == (1,)
    assert events.execute("SELECT count(*) FROM events_2018_01").fetchone() == (1,)


def test_a_partition_reaching_past_the_cutoff_stays(events: psycopg.Connection) -> None:
    rows = events.execute("SELECT partition FROM steward.drop_old_partitions('events', '20 days')").fetchall()
    assert ("public.events_two_months",) not in rows
    rows = events.execute("SELECT partition FROM steward.drop_old_partitions('events', '1 day', dry_run => true) "
                          "WHERE partition = 'public.events_two_months'").fetchall()
    assert rows == []


def test_dry_run_changes_nothing(events: psycopg.Connection) -> None:
    before = relations(events)
    rows = events.execute("SELECT partition, action FROM steward.drop_old_partitions('events', '30 days', "
                          "dry_run => true)").fetchall()
    assert rows == [("public.events_old", "would drop"), ('public.renamed: was events_2019_02', "would drop")]
    assert relations(events) == before


def test_detach_keeps_the_tables(events: psycopg.Connection) -> None:
    events.execute("SELECT * FROM steward.drop_old_partitions('events', '30 days', 'detach')")
    assert events.execute("SELECT count(*) FROM events_old").fetchone() == (1,)
    assert events.execute("SELECT relispartition FROM pg_class WHERE relname = 'events_old'").fetchone() == (False,)
    kept = events.execute("SELECT count(*) FROM events WHERE at >= '2019-01-01' AND at < '2019-03-01'").fetchone()
    assert kept == (0,)


def test_archive_moves_them_to_a_schema(events: psycopg.Connection) -> None:
    events.execute("CREATE SCHEMA attic")
    rows = events.execute("SELECT partition, action FROM steward.drop_old_partitions('events', '30 days', "
                          "'archive', 'attic')").fetchall()
    assert rows == [("attic.events_old", "archive"), ("attic.renamed: was events_2019_02", "archive")]
    assert events.execute("SELECT count(*) FROM attic.events_old").fetchone() == (1,)


def test_retention_is_logged(events: psycopg.Connection) -> None:
    events.execute("SELECT * FROM steward.drop_old_partitions('events', '30 days')")
    events.execute("SELECT * FROM steward.manage('events', premake => 0, retention => '30 days')")
    assert events.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                          "WHERE parent = 'events' AND NOT ok").fetchone() == (0,)


@pytest.mark.parametrize(
    ("sql", "error", "match"),
    [
        ("SELECT * FROM steward.drop_old_partitions('events', NULL)", errors.NullValueNotAllowed, "retention"),
        ("SELECT * FROM steward.drop_old_partitions('events', '-1 month')", errors.InvalidParameterValue,
         "positive"),
        ("SELECT * FROM steward.drop_old_partitions('events', '0 days')", errors.InvalidParameterValue, "positive"),
        ("SELECT * FROM steward.drop_old_partitions('events', '30 days', 'shred')", errors.InvalidParameterValue,
         "mode must be one of"),
        ("SELECT * FROM steward.drop_old_partitions('events', '30 days', 'archive')", errors.InvalidParameterValue,
         "archive_schema"),
        ("SELECT * FROM steward.drop_old_partitions('events', '30 days', 'archive', 'nowhere')",
         errors.InvalidSchemaName, "does not exist"),
        ("SELECT * FROM steward.drop_old_partitions('events', '30 days', 'archive', 'attic')",
         errors.DuplicateTable, "already exists"),
        ("SELECT * FROM steward.drop_old_partitions('hashed', '30 days')", errors.WrongObjectType, "HASH"),
        ("SELECT * FROM steward.drop_old_partitions('events_2018_01', '30 days')", errors.WrongObjectType,
         "not a partitioned table"),
        ("SELECT * FROM steward.drop_old_partitions('ints', '30 days')", errors.WrongObjectType, "integer"),
    ],
)
def test_bad_input(events: psycopg.Connection, sql: str, error: type[Exception], match: str) -> None:
    events.execute("CREATE SCHEMA attic; CREATE TABLE attic.events_old (x int);"
                   "CREATE TABLE hashed (id int) PARTITION BY HASH (id);"
                   "CREATE TABLE ints (i int NOT NULL) PARTITION BY RANGE (i)")
    fails(events, sql, error, match, "events", "events_2018_01")
