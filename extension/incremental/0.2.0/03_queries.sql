-- pg_steward 0.2.0, run once per database: what newer servers' pg_stat_statements count, and nested statements
-- grouped apart from top-level ones. Reference: extension/queries.md. See extension/build.py for the rules.

-- Snapshot entries keep what each server version has (NULL where it has no such column): block write time and
-- local block I/O time (17 splits shared from local), minmax_stats_since (17), WAL buffers full and parallel
-- workers (18).
ALTER TABLE steward.query_stats_snapshot_entry
    ADD COLUMN blk_write_time             float8,
    ADD COLUMN local_blk_read_time        float8,
    ADD COLUMN local_blk_write_time       float8,
    ADD COLUMN minmax_stats_since         timestamptz,
    ADD COLUMN wal_buffers_full           bigint,
    ADD COLUMN parallel_workers_to_launch bigint,
    ADD COLUMN parallel_workers_launched  bigint;

-- The same per logged window: time reading and writing data file blocks (shared and local, with
-- track_io_timing), and from PostgreSQL 18 WAL buffers full and parallel workers planned and launched.
ALTER TABLE steward.query_performance_log
    ADD COLUMN blk_read_time_ms           float8,
    ADD COLUMN blk_write_time_ms          float8,
    ADD COLUMN wal_buffers_full           bigint,
    ADD COLUMN parallel_workers_to_launch bigint,
    ADD COLUMN parallel_workers_launched  bigint;

-- A statement run inside a function (a nested entry of pg_stat_statements, toplevel = false) is grouped apart
-- from the same statement run directly: its time is already part of the calling statement's.
ALTER TABLE steward.query_performance_log DROP COLUMN group_key;
ALTER TABLE steward.query_performance_log ADD COLUMN group_key text GENERATED ALWAYS AS (
    COALESCE(fingerprint, 'text:' OPERATOR(pg_catalog.||) query_hash)
    OPERATOR(pg_catalog.||) CASE WHEN toplevel IS FALSE THEN ' (nested)' ELSE '' END) STORED;

-- Sequential scans made by pg_steward's own plan analysis (EXPLAIN ANALYZE runs the statement, so its scans
-- are counted in pg_stat_all_tables like the application's): index_report's missing_index subtracts them.
-- One row per relation, counting since `since`; an analysis after the database's statistics were reset starts
-- the count again. Writers are the roles that ran an analysis, each only for relations it may read (a trigger,
-- extension/idempotent/queries.sql).
CREATE TABLE steward.analysis_seq_scans (
    relid     oid         PRIMARY KEY,
    seq_scans bigint      NOT NULL CHECK (seq_scans OPERATOR(pg_catalog.>=) 0),
    since     timestamptz NOT NULL,
    last_at   timestamptz NOT NULL
);
-- Registered, its rows never dumped: they count scans of this cluster's statistics, which a dump does not keep.
SELECT pg_catalog.pg_extension_config_dump('steward.analysis_seq_scans', 'WHERE false');
