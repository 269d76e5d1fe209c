-- pg_steward 0.1.0, run once per database: the slow-query log, pg_stat_statements snapshots and capture
-- settings. Reference: extension/queries.md. See extension/build.py for the rules of incremental sources.

CREATE TABLE steward.query_performance_log (
    log_id            bigserial PRIMARY KEY,
    query_hash        text NOT NULL,
    query_text        text NOT NULL,
    execution_time_ms numeric NOT NULL CHECK (execution_time_ms OPERATOR(pg_catalog.>=) 0),
    rows_examined     bigint,
    rows_returned     bigint,
    execution_date    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    fingerprint       text,
    normalized_query  text,
    source            text NOT NULL DEFAULT 'manual'
                      CHECK (source OPERATOR(pg_catalog.=) ANY (ARRAY['manual', 'pg_stat_statements', 'pg_stat_activity'])),
    calls             bigint NOT NULL DEFAULT 1 CHECK (calls OPERATOR(pg_catalog.>) 0),
    mean_time_ms      numeric,
    max_time_ms       numeric,
    window_start      timestamptz,
    queryid           bigint,
    database_name     text,
    username          text,
    toplevel          boolean,
    pid               integer,
    shared_blks_hit   bigint,
    shared_blks_read  bigint,
    temp_blks_written bigint,
    -- Statements that parse group by their parse-tree fingerprint, the others by their text.
    group_key         text GENERATED ALWAYS AS (COALESCE(fingerprint, 'text:' OPERATOR(pg_catalog.||) query_hash)) STORED
);
CREATE INDEX query_performance_log_execution_date ON steward.query_performance_log (execution_date);
-- Captures look up a text's fingerprint here before parsing it again.
CREATE INDEX query_performance_log_query_hash ON steward.query_performance_log (query_hash, log_id);
-- One row per running statement, refreshed by each capture while it runs.
CREATE UNIQUE INDEX query_performance_log_activity ON steward.query_performance_log (pid, window_start)
    WHERE source OPERATOR(pg_catalog.=) 'pg_stat_activity';
SELECT pg_catalog.pg_extension_config_dump('steward.query_performance_log', '');
SELECT pg_catalog.pg_extension_config_dump('steward.query_performance_log_log_id_seq', '');

CREATE TABLE steward.query_capture_settings (
    singleton              boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    slow_mean_time_ms      numeric NOT NULL DEFAULT 100 CHECK (slow_mean_time_ms OPERATOR(pg_catalog.>=) 0),
    slow_total_time_ms     numeric NOT NULL DEFAULT 1000 CHECK (slow_total_time_ms OPERATOR(pg_catalog.>=) 0),
    long_running_threshold interval NOT NULL DEFAULT '1 minute'
                           CHECK (long_running_threshold OPERATOR(pg_catalog.>=) '0'::interval)
);
SELECT pg_catalog.pg_extension_config_dump('steward.query_capture_settings', '');

CREATE TABLE steward.query_stats_snapshot (
    snapshot_id       bigserial PRIMARY KEY,
    captured_at       timestamptz NOT NULL,
    server_started_at timestamptz NOT NULL,
    stats_reset       timestamptz,
    dealloc           bigint,
    server_version    integer NOT NULL,
    entries           integer,
    logged            integer
);
CREATE INDEX query_stats_snapshot_captured_at ON steward.query_stats_snapshot (captured_at);
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot', '');
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot_snapshot_id_seq', '');

CREATE TABLE steward.query_stats_snapshot_entry (
    snapshot_id       bigint NOT NULL REFERENCES steward.query_stats_snapshot ON DELETE CASCADE,
    captured_at       timestamptz NOT NULL,
    userid            oid NOT NULL,
    dbid              oid NOT NULL,
    toplevel          boolean NOT NULL,
    queryid           bigint NOT NULL,
    calls             bigint NOT NULL,
    total_exec_time   float8 NOT NULL,
    total_plan_time   float8,
    min_exec_time     float8,
    max_exec_time     float8,
    rows              bigint,
    shared_blks_hit   bigint,
    shared_blks_read  bigint,
    temp_blks_read    bigint,
    temp_blks_written bigint,
    blk_read_time     float8,
    stats_since       timestamptz,
    PRIMARY KEY (snapshot_id, userid, dbid, toplevel, queryid)
);
-- Registered but dumped empty: counters of another server are no baseline for this one
-- (the first capture after a restore is a new baseline).
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot_entry', 'WHERE false');
