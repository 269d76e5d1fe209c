-- pg_steward 0.1.0, run once per database: the health checks' thresholds.
-- Reference: extension/reports.md. See extension/build.py for the rules of incremental sources.

-- Overrides of the health checks' default thresholds (the defaults are in
-- extension/reports.md); a row with enabled = false turns a check off.
CREATE TABLE steward.health_thresholds (
    check_name text PRIMARY KEY CHECK (check_name OPERATOR(pg_catalog.=) ANY (ARRAY[
        'vacuum', 'analyze', 'xid_wraparound', 'multixact_wraparound', 'sequences', 'cache_hit_ratio',
        'connections', 'idle_in_transaction', 'long_running_queries', 'blocked_queries', 'invalid_indexes',
        'database_size', 'temp_files'])),
    warning    numeric,
    critical   numeric,
    enabled    boolean NOT NULL DEFAULT true,
    note       text
);
SELECT pg_catalog.pg_extension_config_dump('steward.health_thresholds', '');
