-- pg_steward: bloat, index and health reports.
-- Reference: extension/reports.md

CREATE OR REPLACE FUNCTION steward.table_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    relation text,
    kind text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    method text,
    trustworthy boolean,
    reason text,
    toast_bytes bigint,
    dead_tuples bigint,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.bloat.table_bloat(exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.table_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each table: a statistics-based estimate, or measured by pgstattuple (exact => true); with the fix';

CREATE OR REPLACE FUNCTION steward.index_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    index_name name,
    index text,
    method text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    measured_by text,
    trustworthy boolean,
    reason text,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.index_bloat.index_bloat(exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.index_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each B-tree index: a statistics-based estimate, or measured by pgstatindex (exact => true); with the fix';

CREATE OR REPLACE FUNCTION steward.index_report()
RETURNS TABLE (
    problem text,
    schema name,
    "table" name,
    index name,
    size_bytes bigint,
    detail text,
    fix text,
    severity text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.indexes.index_report()
$python$;

COMMENT ON FUNCTION steward.index_report() IS
  'One row per index problem (invalid, duplicate, redundant, unused, fk_without_index, missing_index) with its size and fix';

CREATE OR REPLACE FUNCTION steward.partition_index_usage(parent regclass DEFAULT NULL)
RETURNS TABLE (
    parent text,
    partition text,
    index text,
    parent_index text,
    idx_scan bigint,
    idx_tup_read bigint,
    idx_tup_fetch bigint,
    size_bytes bigint,
    scan_share_percent numeric,
    unused boolean)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.partitions.partition_index_usage(parent)
$python$;

COMMENT ON FUNCTION steward.partition_index_usage(regclass) IS
  'Scans of each leaf partition''s indexes, and their share of the scans of the parent''s index';

CREATE OR REPLACE FUNCTION steward.hot_partitions(parent regclass DEFAULT NULL)
RETURNS TABLE (
    parent text,
    partition text,
    rank integer,
    total_scans bigint,
    seq_scan bigint,
    idx_scan bigint,
    index_usage_percent numeric,
    scan_share_percent numeric,
    tuples_read bigint,
    modifications bigint,
    modification_share_percent numeric,
    live_tuples bigint,
    size_bytes bigint)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.partitions.hot_partitions(parent)
$python$;

COMMENT ON FUNCTION steward.hot_partitions(regclass) IS
  'Leaf partitions ranked by scans, with their share of the partitioned table''s scans and writes';
COMMENT ON TABLE steward.health_thresholds IS 'Thresholds of steward.health() checks that differ from the defaults';
GRANT SELECT ON steward.health_thresholds TO PUBLIC;

CREATE OR REPLACE FUNCTION steward.health()
RETURNS TABLE (
    check_name text,
    status text,
    value text,
    threshold text,
    detail text,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.health.health()
$python$;

COMMENT ON FUNCTION steward.health() IS
  'One row per health check (vacuum, wraparound, sequences, cache, connections, sessions, locks, size, temp files): status ok, warning, critical or unknown, with the fix';

COMMENT ON TABLE steward.growth_snapshot IS
  'Growth history: database size, sequence values, integer keys and newest partition bounds, per capture';
-- Sequence values of every role: readable like the statistics (pg_read_all_stats, in pg_monitor), and by the
-- database's owner so that it can dump its own database (the table is extension configuration).
GRANT SELECT ON steward.growth_snapshot TO pg_read_all_stats, pg_database_owner;

CREATE OR REPLACE FUNCTION steward.capture_growth()
RETURNS TABLE (
    kind text,
    objects integer,
    note text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.growth.capture_growth()
$python$;

COMMENT ON FUNCTION steward.capture_growth() IS
  'Records one growth snapshot (database size, sequences, integer keys, newest premade partitions) into steward.growth_snapshot';

CREATE OR REPLACE FUNCTION steward.growth_forecasts(history interval DEFAULT '30 days')
RETURNS TABLE (
    kind text,
    object text,
    current numeric,
    "limit" numeric,
    growth_per_day numeric,
    runs_out_on date,
    days_left numeric,
    detail text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.reports.growth.growth_forecasts(history)
$python$;

COMMENT ON FUNCTION steward.growth_forecasts(interval) IS
  'When each sequence, integer key and premade partition range runs out at its current growth, and database growth per day';
