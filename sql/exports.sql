-- Retention mode export: maintenance keeps expired partitions until a verified export is recorded for them.
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE SCHEMA exports;
SET search_path = exports, public;

CREATE TABLE events (at date NOT NULL, v int) PARTITION BY RANGE (at);
SELECT steward.create_monthly_partition('events', '2020-01-01');
SELECT steward.create_monthly_partition('events', '2020-02-01');
INSERT INTO events VALUES ('2020-01-10', 1), ('2020-01-20', 2), ('2020-02-10', 3);
-- Registered in mode export: nothing is retired, each expired partition is awaiting export.
SELECT action, partition FROM steward.manage('events', premake => 0, retention => '1 year',
                                             retention_mode => 'export')
WHERE action NOT IN ('create');
SELECT action, partition, ok FROM steward.maintain_partitions('events') WHERE action = 'awaiting export';
SELECT partition, range_from, range_to FROM steward.export_candidates('events');
-- drop_old_partitions has no file to write.
SELECT * FROM steward.drop_old_partitions('events', '1 year', mode => 'export');
-- A count that is not the partition's: refused, nothing changed.
SELECT * FROM steward.record_partition_export('events_p2020_01', 3, repeat('a', 64), '/backups/a.copy.gz');
SELECT * FROM steward.record_partition_export('events_p2020_01', 2, 'not a hash', '/backups/a.copy.gz');
SELECT count(*) AS recorded FROM steward.partition_exports;
-- The right count: recorded, then dropped (or detached).
SELECT action, partition FROM steward.record_partition_export('events_p2020_01', 2, repeat('a', 64),
                                                              '/backups/a.copy.gz');
SELECT action, partition FROM steward.record_partition_export('events_p2020_02', 1, repeat('b', 64),
                                                              '/backups/b.copy.gz', 'detach');
SELECT partition, range_from, range_to, row_count, retired_as FROM steward.partition_exports ORDER BY id;
SELECT to_regclass('events_p2020_01') IS NULL AS dropped, to_regclass('events_p2020_02') IS NOT NULL AS kept,
       NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = 'events_p2020_02'::regclass) AS detached;
-- An import's partition: overlaps refused, then an empty partition for the range.
ALTER TABLE events ATTACH PARTITION events_p2020_02 FOR VALUES FROM ('2020-02-01') TO ('2020-03-01');
SELECT steward.prepare_partition_import('events', '2020-01-15', '2020-03-01');
SELECT steward.prepare_partition_import('events', '2020-01-01', '2020-02-01');
SELECT steward.prepare_partition_import('events', '2020-01-01', '2020-02-01');
SELECT count(*) AS rows FROM events_p2020_01_01;
DROP SCHEMA exports CASCADE;
