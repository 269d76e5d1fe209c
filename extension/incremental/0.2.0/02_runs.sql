-- pg_steward 0.2.0, run once per database: the record of maintenance runs, capture's lock timeout.
-- Reference: extension/partitions.md ("Maintenance runs"), extension/queries.md (capture_query_stats),
-- extension/reports.md (health check maintenance_runs). See extension/build.py for the rules.

-- One row per run over every managed table (CALL steward.run_maintenance(), steward.maintain_partitions(), or a
-- client's run recorded with steward.record_run_start/record_run_end, as pg-steward maintain does):
-- started when the run starts, finished when it ends, with its counts. Never a row per table: the log keeps
-- what was done to each. A run that never finishes (stopped, cancelled) keeps finished_at NULL. Written by
-- pg_steward with the real role and time (trigger maintenance_runs_writer, extension/idempotent/partitions.sql).
CREATE TABLE steward.maintenance_runs (
    run_id       bigserial PRIMARY KEY,
    procedure    text NOT NULL
                 CHECK (procedure OPERATOR(pg_catalog.=) ANY (ARRAY['run_maintenance', 'maintain_partitions',
                                                       'pg-steward maintain'])),
    run_by       name NOT NULL DEFAULT CURRENT_USER,
    started_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at  timestamptz,
    tables_due   integer,
    actions      integer,
    failures     integer,
    other_owners integer
);
CREATE INDEX maintenance_runs_started_at ON steward.maintenance_runs (started_at);
SELECT pg_catalog.pg_extension_config_dump('steward.maintenance_runs', '');
SELECT pg_catalog.pg_extension_config_dump('steward.maintenance_runs_run_id_seq', '');

-- How long capture_query_stats waits for the snapshot lock (another capture) before failing with 55P03.
ALTER TABLE steward.query_capture_settings
    ADD COLUMN lock_timeout interval NOT NULL DEFAULT '5 seconds'
        CHECK (lock_timeout OPERATOR(pg_catalog.>) '0'::interval
               AND lock_timeout OPERATOR(pg_catalog.<=) '1 hour'::interval);

-- The health check maintenance_runs may have its own thresholds: see 03_reports.sql (one list of check names).

-- steward.health() reads the log since the last complete run, and purge_logs deletes by age.
CREATE INDEX partition_maintenance_log_logged_at ON steward.partition_maintenance_log (logged_at);
