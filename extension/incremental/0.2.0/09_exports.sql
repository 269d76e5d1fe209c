-- pg_steward 0.2.0, run once per database: retention mode export and the record of exported partitions.
-- Reference: extension/partitions.md ("Export before drop"). See extension/build.py for the rules.

-- Retention mode export: maintenance keeps an expired partition until pg-steward export has written and verified
-- its file (steward.record_partition_export then retires it).
ALTER TABLE steward.partition_config DROP CONSTRAINT partition_config_retention_mode_check;
ALTER TABLE steward.partition_config ADD CONSTRAINT partition_config_retention_mode_check
    CHECK (retention_mode OPERATOR(pg_catalog.=) ANY (ARRAY['drop', 'detach', 'archive', 'export']));

-- One row per partition exported and then retired (steward.record_partition_export, in the transaction that
-- retires it): the file's row count and SHA-256 and where the client wrote it. Names are kept as text: the
-- partition is gone (or detached) once its row is written. Written by pg_steward for the parent's owner only
-- (trigger partition_exports_writer, extension/idempotent/partitions.sql).
CREATE TABLE steward.partition_exports (
    id          bigserial PRIMARY KEY,
    parent      text NOT NULL,
    partition   text NOT NULL,
    range_from  text NOT NULL,
    range_to    text NOT NULL,
    row_count   bigint NOT NULL CHECK (row_count OPERATOR(pg_catalog.>=) 0),
    sha256      text NOT NULL CHECK (sha256 OPERATOR(pg_catalog.~) '^[0-9a-f]{64}$'),
    location    text NOT NULL,
    retired_as  text NOT NULL CHECK (retired_as OPERATOR(pg_catalog.=) ANY (ARRAY['drop', 'detach'])),
    exported_by name NOT NULL DEFAULT CURRENT_USER,
    exported_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX partition_exports_parent ON steward.partition_exports (parent, exported_at);
SELECT pg_catalog.pg_extension_config_dump('steward.partition_exports', '');
SELECT pg_catalog.pg_extension_config_dump('steward.partition_exports_id_seq', '');
