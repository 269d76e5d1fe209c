-- pg_steward: statement fingerprints (pglast, through the guarded loader), the slow-query log
-- and its capture, and plan analysis.
-- Reference: extension/queries.md

CREATE OR REPLACE FUNCTION steward.query_fingerprint(query text)
RETURNS text
LANGUAGE plpython3u
STABLE
STRICT
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.fingerprint.query_fingerprint(query)
$python$;

COMMENT ON FUNCTION steward.query_fingerprint(text) IS
  'Parse-tree fingerprint of a statement (same shape, same fingerprint); NULL when it does not parse';

CREATE OR REPLACE FUNCTION steward.normalize_query(query text)
RETURNS text
LANGUAGE plpython3u
STABLE
STRICT
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.fingerprint.normalize_query(query)
$python$;

COMMENT ON FUNCTION steward.normalize_query(text) IS
  'A statement with its constants replaced by $n placeholders; NULL when it does not parse';
COMMENT ON TABLE steward.query_performance_log IS
  'Slow statements: logged by hand (steward.log_slow_query), captured from pg_stat_statements and pg_stat_activity';
COMMENT ON TABLE steward.query_capture_settings IS
  'Optional single row overriding what counts as slow for steward.capture_query_stats and capture_long_running';
COMMENT ON TABLE steward.query_stats_snapshot IS 'One row per steward.capture_query_stats() run';
COMMENT ON TABLE steward.query_stats_snapshot_entry IS
  'pg_stat_statements counters of the latest capture, the baseline of the next one';

-- Logged texts carry other roles' statements and their constants: readable by those who may
-- read pg_stat_activity and pg_stat_statements in full (pg_read_all_stats, included in pg_monitor).
GRANT SELECT ON steward.query_performance_log, steward.query_stats_snapshot, steward.query_stats_snapshot_entry
    TO pg_read_all_stats;
GRANT SELECT ON steward.query_capture_settings TO PUBLIC;
-- Every role that runs a plan analysis adds its scans, only for relations it may read (pg_dump refuses a table
-- under row security to a non-superuser, so a trigger checks it). Superusers' rows are kept as written.
CREATE OR REPLACE FUNCTION steward._check_analysis_scans()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles AS r
               WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND r.rolsuper) THEN
        RETURN NEW;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.relid OPERATOR(pg_catalog.<>) OLD.relid
       OR NOT coalesce(pg_catalog.has_table_privilege(NEW.relid, 'SELECT'), false) THEN
        RAISE EXCEPTION 'pg_steward: steward.analysis_seq_scans takes scans only of relations the role may read'
            USING ERRCODE = '42501', HINT = 'Rows are written by the plan analysis functions.';
    END IF;
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_analysis_scans() IS
  'Internal: a steward.analysis_seq_scans row is written only for a relation its writer may read';

CREATE OR REPLACE TRIGGER analysis_seq_scans_writer
    BEFORE INSERT OR UPDATE ON steward.analysis_seq_scans
    FOR EACH ROW EXECUTE FUNCTION steward._check_analysis_scans();

GRANT SELECT, INSERT, UPDATE (seq_scans, since, last_at) ON steward.analysis_seq_scans TO PUBLIC;
COMMENT ON TABLE steward.analysis_seq_scans IS
  'Sequential scans made by pg_steward''s own EXPLAIN ANALYZE, per relation; index_report does not count them';

CREATE OR REPLACE FUNCTION steward.log_slow_query(
    query text, execution_time_ms numeric, rows_examined bigint DEFAULT NULL, rows_returned bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.capture.log_slow_query(query, execution_time_ms, rows_examined, rows_returned)
$python$;

COMMENT ON FUNCTION steward.log_slow_query(text, numeric, bigint, bigint) IS
  'Log one slow execution with its fingerprint; returns its log_id';

CREATE OR REPLACE FUNCTION steward.capture_query_stats(
    min_mean_time_ms numeric DEFAULT NULL,
    min_total_time_ms numeric DEFAULT NULL,
    OUT snapshot_id bigint,
    OUT captured_at timestamptz,
    OUT previous_captured_at timestamptz,
    OUT entries integer,
    OUT active integer,
    OUT logged integer,
    OUT new_entries integer,
    OUT started_again integer,
    OUT evicted integer,
    OUT full_reset boolean,
    OUT server_restarted boolean,
    OUT baseline boolean)
RETURNS record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.capture.capture_query_stats(min_mean_time_ms, min_total_time_ms)
$python$;

COMMENT ON FUNCTION steward.capture_query_stats(numeric, numeric) IS
  'Snapshot pg_stat_statements (never reset) and log the statements slow since the previous snapshot';

CREATE OR REPLACE FUNCTION steward.capture_long_running(threshold interval DEFAULT NULL, all_databases boolean DEFAULT false)
RETURNS TABLE (pid integer, username text, database text, started_at timestamptz, duration interval,
               query text, log_id bigint, new_entry boolean)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.capture.capture_long_running(threshold, all_databases)
$python$;

COMMENT ON FUNCTION steward.capture_long_running(interval, boolean) IS
  'Log statements running longer than threshold (pg_stat_activity); one log row per statement, refreshed';

CREATE OR REPLACE FUNCTION steward.slow_queries(
    since interval DEFAULT '1 day', "limit" integer DEFAULT 20, order_by text DEFAULT 'total_time',
    source text DEFAULT NULL)
RETURNS TABLE (fingerprint text, query text, calls numeric, total_time_ms numeric, mean_time_ms numeric,
               max_time_ms numeric, rows_returned numeric, entries bigint, sources text[],
               first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
BEGIN
    IF since IS NULL OR since OPERATOR(pg_catalog.<) '0'::interval THEN
        RAISE EXCEPTION 'pg_steward: since must be a positive interval, got %', since USING ERRCODE = '22023';
    END IF;
    IF "limit" IS NULL OR "limit" OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'pg_steward: limit must be at least 1, got %', "limit" USING ERRCODE = '22023';
    END IF;
    IF order_by IS NULL OR NOT order_by OPERATOR(pg_catalog.=) ANY (ARRAY['total_time', 'mean_time', 'calls', 'max_time']) THEN
        RAISE EXCEPTION 'pg_steward: order_by must be total_time, mean_time, calls or max_time, got %', order_by
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT g.group_key, g.query, g.calls, g.total_ms, pg_catalog.round(g.total_ms OPERATOR(pg_catalog./) g.calls, 3),
           g.max_ms,
           g.rows_returned, g.entries, g.sources, g.first_seen, g.last_seen
    FROM (SELECT l.group_key,
                 -- a sample text of the group: the normalized form when there is one
                 (pg_catalog.array_agg(COALESCE(l.normalized_query, l.query_text) ORDER BY l.log_id DESC))[1] AS query,
                 pg_catalog.sum(l.calls) AS calls,
                 pg_catalog.round(pg_catalog.sum(l.execution_time_ms), 3) AS total_ms,
                 pg_catalog.round(pg_catalog.max(l.max_time_ms), 3) AS max_ms,
                 pg_catalog.sum(l.rows_returned) AS rows_returned,
                 pg_catalog.count(*) AS entries,
                 pg_catalog.array_agg(DISTINCT l.source) AS sources,
                 pg_catalog.min(l.execution_date) AS first_seen,
                 pg_catalog.max(l.execution_date) AS last_seen
          FROM steward.query_performance_log AS l
          WHERE l.execution_date OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) since)
            AND (slow_queries.source IS NULL OR l.source OPERATOR(pg_catalog.=) slow_queries.source)
          GROUP BY l.group_key) AS g
    ORDER BY CASE order_by WHEN 'total_time' THEN g.total_ms
                           WHEN 'mean_time' THEN g.total_ms OPERATOR(pg_catalog./) g.calls
                           WHEN 'calls' THEN g.calls
                           ELSE g.max_ms END DESC NULLS LAST,
             g.group_key
    LIMIT "limit";
END
$plpgsql$;

COMMENT ON FUNCTION steward.slow_queries(interval, integer, text, text) IS
  'The top statements of the log over a window, grouped by fingerprint';

-- Plan analysis: EXPLAIN in a subtransaction that is always rolled back.

CREATE OR REPLACE FUNCTION steward.analyze_query_performance(
    query text, "analyze" boolean DEFAULT true, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (node_id integer, parent_id integer, depth integer, operation text, relation text,
               index_name text, time_ms numeric, exclusive_time_ms numeric, rows_estimate bigint,
               rows_actual bigint, accuracy_ratio numeric, loops bigint, shared_hit_blocks bigint,
               shared_read_blocks bigint, temp_read_blocks bigint, temp_written_blocks bigint,
               rows_removed_by_filter bigint, detail text, advice text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.explain.analyze_query_performance(query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.analyze_query_performance(text, boolean, boolean, text) IS
  'EXPLAIN (ANALYZE, BUFFERS) of a query, rolled back: one row per plan node with times, rows, buffers and advice';

CREATE OR REPLACE FUNCTION steward.query_advice(
    query text, "analyze" boolean DEFAULT true, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (problem text, severity text, node_id integer, relation text, detail text, fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.explain.query_advice(query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.query_advice(text, boolean, boolean, text) IS
  'What makes a query slow, from its analyzed plan (rolled back), each with the statement that fixes it';

CREATE OR REPLACE FUNCTION steward.check_pruning(
    query text, "analyze" boolean DEFAULT false, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (partitioned_table text, partition_key text, partitions_total integer, partitions_in_plan integer,
               subplans_removed integer, partitions_executed integer, pruned boolean, fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.explain.check_pruning(query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.check_pruning(text, boolean, boolean, text) IS
  'Per partitioned table in a query''s plan: partitions scanned of how many, with run-time pruning';

-- Index advice: candidates from the workload's parse trees, costed with hypopg's hypothetical indexes.

CREATE OR REPLACE FUNCTION steward.suggest_indexes(
    since interval DEFAULT '7 days', statements text[] DEFAULT NULL,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the statements' table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (table_name text, columns text[], create_statement text, estimated_bytes bigint,
               fingerprints text[], calls bigint, cost_before numeric, cost_after numeric,
               est_ms_saved_per_day numeric, write_cost numeric, verified boolean, reason text,
               makes_redundant text[], drop_statements text[])
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.queries.suggest.suggest_indexes(since, statements, search_path)
$python$;

COMMENT ON FUNCTION steward.suggest_indexes(interval, text[], text) IS
  'Indexes that would serve the captured workload (or the statements given), measured with hypopg when installed; never creates one';
