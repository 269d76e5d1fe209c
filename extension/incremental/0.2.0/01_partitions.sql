-- pg_steward 0.2.0, run once per database: registry identity, maintenance ceilings.
-- Reference: extension/partitions.md ("Registry integrity", "Ceilings"). See extension/build.py for the rules.

-- Who and what a registry row was written for: the relation's owner, schema and name when it was last written,
-- and the role that wrote it. Maintenance acts on a row only while the relation is still that one (an owner
-- change, or an oid reused by another relation, is refused: extension/partitions.md#registry-integrity).
ALTER TABLE steward.partition_config
    ADD COLUMN registered_owner  oid,
    ADD COLUMN registered_schema name,
    ADD COLUMN registered_name   name,
    ADD COLUMN registered_by     name;

-- Rows of 0.1.0 (an upgrade): the relation as it is now, written by the role that upgrades.
UPDATE steward.partition_config AS pc
SET registered_owner = c.relowner, registered_schema = n.nspname, registered_name = c.relname,
    registered_by = CURRENT_USER
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE c.oid OPERATOR(pg_catalog.=) pc.parent;

-- Ceilings a superuser sets for every table: no row means the defaults (lock_timeout 10 s, 10 retries, a
-- budget of 60 s per table and run, integer-key gaps of up to 100 slots filled). One row at most.
CREATE TABLE steward.maintenance_limits (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    max_lock_timeout interval NOT NULL DEFAULT '10 seconds'
                     CHECK (max_lock_timeout OPERATOR(pg_catalog.>) '0'::interval),
    max_lock_retries integer NOT NULL DEFAULT 10 CHECK (max_lock_retries OPERATOR(pg_catalog.>=) 0),
    table_budget     interval NOT NULL DEFAULT '60 seconds'
                     CHECK (table_budget OPERATOR(pg_catalog.>) '0'::interval),
    max_gap_slots    integer NOT NULL DEFAULT 100 CHECK (max_gap_slots OPERATOR(pg_catalog.>=) 0)
);
SELECT pg_catalog.pg_extension_config_dump('steward.maintenance_limits', '');
