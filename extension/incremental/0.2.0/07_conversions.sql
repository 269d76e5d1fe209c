-- pg_steward 0.2.0, run once per database: the state of steward.partition_existing_table().
-- Reference: extension/partitions.md ("Converting an existing table"). See extension/build.py for the rules.

-- One row per table being converted into a partitioned one (CALL steward.partition_existing_table): the source
-- (its oid stays with the old table after the swap), the partitioned twin, the trigger function keeping the twin in
-- step, the step reached and the primary key of the last row copied (text of each column), so that a run killed
-- at any point resumes, or is undone before the swap, with nothing lost. Written by pg_steward for the owner of
-- the source only (trigger table_conversions_owner, extension/idempotent/partitions.sql).
CREATE TABLE steward.table_conversions (
    source        oid PRIMARY KEY,
    twin          oid NOT NULL,
    sync_function name NOT NULL,
    key_column    name NOT NULL,
    span          interval NOT NULL,
    step          text NOT NULL
                  CHECK (step OPERATOR(pg_catalog.=) ANY (ARRAY['copying', 'copied', 'swapped', 'finished'])),
    last_key      text[],
    rows_copied   bigint NOT NULL DEFAULT 0,
    rows_estimate bigint,
    started_by    name NOT NULL DEFAULT CURRENT_USER,
    started_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
SELECT pg_catalog.pg_extension_config_dump('steward.table_conversions', '');
