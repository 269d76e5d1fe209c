-- pg_steward 0.2.0, run once per database: the health checks added in 0.2.0 (the one list of the check names a
-- threshold row may name, one a line).
-- Reference: extension/reports.md. See extension/build.py for the rules of incremental sources.

ALTER TABLE steward.health_thresholds DROP CONSTRAINT health_thresholds_check_name_check;
ALTER TABLE steward.health_thresholds ADD CONSTRAINT health_thresholds_check_name_check
    CHECK (check_name OPERATOR(pg_catalog.=) ANY (ARRAY[
        -- one check name a line, each after a comma: a new check is one added line
        'vacuum'
        , 'analyze'
        , 'xid_wraparound'
        , 'multixact_wraparound'
        , 'sequences'
        , 'cache_hit_ratio'
        , 'connections'
        , 'idle_in_transaction'
        , 'long_running_queries'
        , 'blocked_queries'
        , 'invalid_indexes'
        , 'database_size'
        , 'temp_files'
        , 'checkpoints'
        , 'maintenance_runs'
        , 'cron_job_failures'
        , 'cron_job_connections'
        , 'disabled_triggers'
        , 'not_valid_constraints'
        , 'tables_without_primary_key'
        , 'index_problems'
        , 'default_partition_rows'
        , 'prepared_transactions'
        , 'replication_slots'
        , 'table_bloat'
        , 'index_bloat'
        , 'premake_runway'
        , 'partition_exports'
    ]::pg_catalog.text[]));
