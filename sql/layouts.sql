-- Hash and list layouts on the seed's user_analytics (HASH, 8 partitions) and regional_sales (LIST with DEFAULT).
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE SCHEMA layouts;
SET search_path = layouts, public;
\set ECHO none
\i python/pg_steward/workloads/seed_tables.sql
\set ECHO all

-- The seed's 8 hash partitions are all there: nothing is created, nothing changes.
SELECT partition, remainder, created FROM steward.create_hash_partitions('user_analytics', 8);
-- Another modulus, a non-hash table, a bad modulus: refused.
SELECT * FROM steward.create_hash_partitions('user_analytics', 4);
SELECT * FROM steward.create_hash_partitions('regional_sales', 4);
SELECT * FROM steward.create_hash_partitions('user_analytics', 0);

-- A new hash table in one call; again is idempotent.
CREATE TABLE user_events (user_id bigint NOT NULL, happened date NOT NULL) PARTITION BY HASH (user_id);
CREATE INDEX ON user_events (happened);
SELECT partition, remainder, created FROM steward.create_hash_partitions('user_events', 4);
SELECT count(*) AS created FROM steward.create_hash_partitions('user_events', 4) WHERE created;
SELECT c.relname, count(i.indexrelid) AS indexes
FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid LEFT JOIN pg_index i ON i.indrelid = c.oid
WHERE h.inhparent = 'user_events'::regclass GROUP BY 1 ORDER BY 1;

-- ZA rows sit in DEFAULT; a list partition for them takes them out, none lost.
SELECT count(*) AS rows_before, count(*) FILTER (WHERE region = 'ZA') AS za_rows FROM regional_sales;
SELECT count(*) AS za_in_default FROM regional_sales_other WHERE region = 'ZA';
SELECT steward.add_list_partition('regional_sales', ARRAY['ZA']);
SELECT count(*) AS rows_after FROM regional_sales;
SELECT count(*) AS za_in_default FROM regional_sales_other WHERE region = 'ZA';
SELECT count(*) AS za_in_partition FROM regional_sales_za;
SELECT partition, bound FROM steward.partitions('regional_sales') WHERE level = 1 ORDER BY partition::text;
-- Again: the same partition.
SELECT steward.add_list_partition('regional_sales', ARRAY['ZA']);
-- A named partition for values not stored yet.
SELECT steward.add_list_partition('regional_sales', ARRAY['NG', 'KE'], 'regional_sales_africa');

-- Values held by another partition, no value, NULL, a name too long: refused, nothing changed.
SELECT steward.add_list_partition('regional_sales', ARRAY['EG', 'US']);
SELECT steward.add_list_partition('regional_sales', ARRAY[]::text[]);
SELECT steward.add_list_partition('regional_sales', ARRAY['EG', NULL]);
SELECT steward.add_list_partition('regional_sales', ARRAY['EG'], repeat('x', 64));
SELECT steward.add_list_partition('user_analytics', ARRAY['1']);

-- A value that is not of the key's type.
CREATE TABLE coded (code integer NOT NULL) PARTITION BY LIST (code);
CREATE TABLE coded_other PARTITION OF coded DEFAULT;
INSERT INTO coded SELECT n % 5 FROM generate_series(1, 50) AS n;
SELECT steward.add_list_partition('coded', ARRAY['abc']);
SELECT steward.add_list_partition('coded', ARRAY[' 03', '4']);
SELECT count(*) AS in_default FROM coded_other;

-- Changing the span of a managed table for the future: the next partitions start at the newest upper bound.
CREATE TABLE readings (at date NOT NULL, v int) PARTITION BY RANGE (at);
SELECT count(*) > 0 AS made FROM steward.manage('readings', '1 month', premake => 1);
SELECT previous_span, span,
       switch_at::date = (SELECT max(range_to::date) FROM steward.partitions('readings') WHERE level = 1)
         AS at_newest_bound
FROM steward.change_span('readings', '1 day');
UPDATE steward.partition_config SET premake = 70 WHERE parent = 'readings'::regclass;
SELECT count(*) > 0 AS made FROM steward.maintain_partitions('readings') WHERE action = 'create';
-- One run of partitions, no gap and no overlap; the new ones are days.
-- (Dates by the table's clock, UTC: the session's own zone may be on another day.)
SELECT count(*) FILTER (WHERE prev_to IS NOT NULL AND prev_to <> range_from::date) AS gaps_or_overlaps,
       count(*) FILTER (WHERE range_to::date - range_from::date = 1) > 0 AS daily,
       max(range_to::date) = (now() AT TIME ZONE 'UTC')::date + 71 AS premade_with_new_span
FROM (SELECT range_from, range_to, lag(range_to::date) OVER (ORDER BY range_from::date) AS prev_to
      FROM steward.partitions('readings') WHERE level = 1) AS t;
-- Spans the clock cannot cut slots by, and tables that have no interval span: refused.
SELECT * FROM steward.change_span('readings', '90 minutes');
SELECT * FROM steward.change_span('readings', '1 month 2 days');
SELECT * FROM steward.change_span('readings', '-1 day');
SELECT * FROM steward.change_span('regional_sales', '1 day');
SELECT * FROM steward.change_span('sales_analytics', '1 day');

-- Foreign partitions (postgres_fdw, a loopback server to this database): never moved into or out of, detached by
-- retention instead of dropped, read by the reports.
CREATE EXTENSION postgres_fdw;
\set ECHO none
SELECT format('CREATE SERVER loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
              coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
              current_setting('port'), current_database()) \gexec
\set ECHO all
CREATE USER MAPPING FOR CURRENT_USER SERVER loop OPTIONS (user 'postgres');
CREATE TABLE far_store (at date NOT NULL, v int);
INSERT INTO far_store SELECT DATE '2020-01-01' + n % 31, n FROM generate_series(1, 300) AS n;
CREATE TABLE far_default_store (at date NOT NULL, v int);
INSERT INTO far_default_store SELECT (now() AT TIME ZONE 'UTC')::date + n, n FROM generate_series(0, 9) AS n;
CREATE TABLE spread (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE FOREIGN TABLE spread_2020_01 PARTITION OF spread FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')
    SERVER loop OPTIONS (schema_name 'layouts', table_name 'far_store');
CREATE FOREIGN TABLE spread_default PARTITION OF spread DEFAULT
    SERVER loop OPTIONS (schema_name 'layouts', table_name 'far_default_store');
SELECT partition, action FROM steward.drop_old_partitions('spread', '1 year', dry_run => true);
SELECT action, partition, ok FROM steward.manage('spread', '1 month', premake => 1, retention => '1 year')
WHERE action IN ('warning', 'would detach', 'would drop');
SELECT action, partition, ok FROM steward.maintain_partitions('spread') WHERE action <> 'create';
SELECT relkind, (SELECT count(*) FROM pg_inherits WHERE inhrelid = c.oid) AS attached
FROM pg_class AS c WHERE relname = 'spread_2020_01';
SELECT count(*) AS remote_rows FROM far_store;
SELECT count(*) AS remote_default_rows FROM far_default_store;
SELECT count(*) > 2 AS tree_read, count(*) FILTER (WHERE is_default) AS defaults,
       bool_and(total_bytes IS NULL) FILTER (WHERE is_default) AS foreign_size_unknown
FROM steward.partitions('spread');
SELECT count(*) >= 0 AS health_reads FROM steward.health();
SELECT count(*) >= 0 AS hot_partitions_reads FROM steward.hot_partitions('spread');
SELECT count(*) >= 0 AS index_usage_reads FROM steward.partition_index_usage('spread');
SELECT count(*) >= 0 AS bloat_reads FROM steward.table_bloat();
SELECT count(*) >= 0 AS index_report_reads FROM steward.index_report();
SELECT steward.unmanage('spread');
DROP SERVER loop CASCADE;
DROP EXTENSION postgres_fdw;

RESET search_path;
DROP SCHEMA layouts CASCADE;
