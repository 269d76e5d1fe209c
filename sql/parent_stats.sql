-- Statistics of a partitioned parent: maintenance analyzes it after its partitions changed.
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE visits (day date NOT NULL, page int) PARTITION BY RANGE (day);
CREATE TABLE visits_default PARTITION OF visits DEFAULT;
INSERT INTO visits SELECT (now() AT TIME ZONE 'UTC')::date + n % 30, n FROM generate_series(1, 500) AS n;
ANALYZE visits;
-- 1,500 more rows of last year land in DEFAULT: the parent's estimate still says 500.
INSERT INTO visits SELECT date_trunc('year', (now() AT TIME ZONE 'UTC')::date - 365)::date + n % 200, n FROM generate_series(1, 1500) AS n;
SELECT reltuples FROM pg_class WHERE oid = 'visits'::regclass;

-- The settings: on by default, at most once an hour.
SELECT count(*) > 0 AS made FROM steward.manage('visits', '1 year', premake => 1);
SELECT analyze_parent, analyze_parent_interval FROM steward.partition_config WHERE parent = 'visits'::regclass;

-- manage moved the rows into their partitions; the next run analyzes the parent.
SELECT reltuples FROM pg_class WHERE oid = 'visits'::regclass;
SELECT action, partition, ok FROM steward.maintain_partitions('visits');
SELECT reltuples FROM pg_class WHERE oid = 'visits'::regclass;
SELECT action, ok, detail LIKE '% partition changes since no analysis by maintenance; %' AS why
FROM steward.partition_maintenance_log WHERE action = 'analyze parent' AND parent = 'public.visits';

-- A change within the interval waits; switched off, nothing is analyzed.
UPDATE steward.partition_config SET premake = 2 WHERE parent = 'visits'::regclass;
SELECT action, ok FROM steward.maintain_partitions('visits');
UPDATE steward.partition_config SET analyze_parent = false WHERE parent = 'visits'::regclass;
SELECT action, ok FROM steward.analyze_parents('visits');
UPDATE steward.partition_config SET analyze_parent = true, analyze_parent_interval = '0' WHERE parent = 'visits'::regclass;
SELECT action, ok FROM steward.analyze_parents('visits');
-- A negative interval is refused.
UPDATE steward.partition_config SET analyze_parent_interval = '-1 hour' WHERE parent = 'visits'::regclass;
