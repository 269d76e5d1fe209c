-- Partition lifecycle as a DBA sees it in psql.
\set SHOW_CONTEXT never
CREATE TABLE web_events (
    id bigint NOT NULL,
    day date NOT NULL,
    kind text NOT NULL
) PARTITION BY RANGE (day);
CREATE TABLE web_events_default PARTITION OF web_events DEFAULT;
INSERT INTO web_events SELECT n, DATE '2024-01-01' + n % 60, 'click' FROM generate_series(1, 6000) AS n;

-- Rows of January sit in DEFAULT; creating January's partition moves them.
SELECT count(*) FROM web_events_default WHERE day < '2024-02-01';
SELECT steward.create_monthly_partition('web_events', '2024-01-15');
SELECT count(*) AS left_in_default FROM web_events_default WHERE day < '2024-02-01';
SELECT count(*) FROM web_events_p2024_01;
-- Idempotent: the same partition again.
SELECT steward.create_monthly_partition('web_events', '2024-01-01');
-- Any span, and integer keys.
SELECT steward.create_partition('web_events', '2024-02-01', '1 week');
CREATE TABLE readings (id bigint NOT NULL) PARTITION BY RANGE (id);
SELECT steward.create_partition('readings', '0', '100000');

-- Overlap with different bounds is refused, and nothing is created.
SELECT steward.create_partition('web_events', '2024-01-20', '1 month');

-- Retention by catalog bounds, never by name.
CREATE TABLE web_events_2001 PARTITION OF web_events FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
CREATE TABLE web_events_2001_look_alike (day date);
SELECT * FROM steward.drop_old_partitions('web_events', '10 years', dry_run => true);
SELECT * FROM steward.drop_old_partitions('web_events', '10 years', 'detach');
SELECT relispartition FROM pg_class WHERE relname = 'web_events_2001';

-- Register once; maintenance premakes by the clock, rescues DEFAULT rows, applies retention.
-- (How many months it creates depends on today's date: from February 2024 to two months ahead.)
SELECT action, ok, count(*) > 2 AS several
FROM steward.manage('web_events', '1 month', premake => 2, retention => '50 years')
GROUP BY action, ok ORDER BY action;
SELECT count(*) AS left_in_default FROM web_events_default;
-- The next run has only the parent to analyze (its partitions changed; see parent_stats).
SELECT parent, action, partition, ok FROM steward.maintain_partitions();
SELECT parent, span, premake, retention, retention_mode, time_zone FROM steward.partition_config;

-- Bad input: clear errors.
SELECT * FROM steward.manage('web_events', premake => -1);
SELECT * FROM steward.manage('readings');
SELECT * FROM steward.drop_old_partitions('web_events', '-1 year');
SELECT steward.create_monthly_partition('readings', '2024-01-01');
SELECT steward.unmanage('web_events');
