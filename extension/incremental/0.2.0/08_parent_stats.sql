-- pg_steward 0.2.0, run once per database: statistics of partitioned parents.
-- Reference: extension/partitions.md ("Statistics of partitioned parents"). See extension/build.py for the rules.

-- Autovacuum never analyzes a partitioned table, so the statistics the planner uses over a parent (its row
-- estimate, its inherited column statistics) stay as they were. Maintenance analyzes a parent once its partitions
-- changed (a partition created, retired, rows moved out of DEFAULT), at most once per analyze_parent_interval.
ALTER TABLE steward.partition_config
    ADD COLUMN analyze_parent          boolean  NOT NULL DEFAULT true,
    ADD COLUMN analyze_parent_interval interval NOT NULL DEFAULT '1 hour'
               CHECK (analyze_parent_interval OPERATOR(pg_catalog.>=) '0'::interval);

-- The parents one run analyzes at most (the others wait for the next run, oldest statistics first).
ALTER TABLE steward.maintenance_limits
    ADD COLUMN max_parent_analyzes integer NOT NULL DEFAULT 20 CHECK (max_parent_analyzes OPERATOR(pg_catalog.>=) 0);

-- A parent's last analysis and the changes after it are read from the log, table by table: each an index probe,
-- whatever the length of the log.
CREATE INDEX partition_maintenance_log_parent ON steward.partition_maintenance_log (parent, logged_at);
CREATE INDEX partition_maintenance_log_parent_analyses ON steward.partition_maintenance_log (parent, logged_at)
    WHERE action OPERATOR(pg_catalog.=) 'analyze parent' AND ok;
