-- pg_steward 0.1.0, run once per database: the partition lifecycle's tables and types.
-- Reference: extension/partitions.md. See extension/build.py for the rules of incremental sources.

CREATE TABLE steward.partition_config (
    parent             regclass PRIMARY KEY,
    span               interval,
    integer_span       bigint CHECK (integer_span OPERATOR(pg_catalog.>) 0),
    premake            integer NOT NULL DEFAULT 3 CHECK (premake OPERATOR(pg_catalog.>=) 0),
    retention          interval,
    retention_mode     text NOT NULL DEFAULT 'drop'
                       CHECK (retention_mode OPERATOR(pg_catalog.=) ANY (ARRAY['drop', 'detach', 'archive'])),
    archive_schema     name,
    time_zone          text NOT NULL DEFAULT 'UTC',
    lock_timeout       interval NOT NULL DEFAULT '2 seconds',
    lock_retries       integer NOT NULL DEFAULT 3 CHECK (lock_retries OPERATOR(pg_catalog.>=) 0),
    tablespace         name,
    storage_parameters text[] NOT NULL DEFAULT '{}',
    "analyze"          boolean NOT NULL DEFAULT true,
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Operators are qualified: the extension script must not depend on search_path.
    CHECK ((span IS NULL) OPERATOR(pg_catalog.<>) (integer_span IS NULL)),
    CHECK (retention_mode OPERATOR(pg_catalog.<>) 'archive' OR archive_schema IS NOT NULL)
);
SELECT pg_catalog.pg_extension_config_dump('steward.partition_config', '');

CREATE TABLE steward.partition_maintenance_log (
    id         bigserial PRIMARY KEY,
    logged_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    parent     text,
    action     text NOT NULL,
    partition  text,
    ok         boolean NOT NULL,
    rows_moved bigint NOT NULL DEFAULT 0,
    detail     text,
    username   text NOT NULL DEFAULT CURRENT_USER
);
SELECT pg_catalog.pg_extension_config_dump('steward.partition_maintenance_log', '');
SELECT pg_catalog.pg_extension_config_dump('steward.partition_maintenance_log_id_seq', '');

CREATE TYPE steward.maintenance_action AS (
    parent    regclass,
    action    text,
    partition text,
    ok        boolean,
    detail    text
);
