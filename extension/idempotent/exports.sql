-- Retention mode export (extension/partitions.md#export-before-drop): the functions pg-steward export and
-- pg-steward import call, and who may write the record of exported partitions.

-- A row of steward.partition_exports says a partition's rows are in a verified file. Written by
-- steward.record_partition_export as the caller: a non-superuser writes rows only about a table it owns (is a
-- member of the owning role), with the real role and time, and changes no row. Deleting needs the DELETE
-- privilege, granted by a DBA.
CREATE OR REPLACE FUNCTION steward._check_partition_export()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
DECLARE
    owner oid;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles AS r
               WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND r.rolsuper) THEN
        RETURN NEW;  -- a superuser's rows keep what they say (pg_restore brings the record back)
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        RAISE EXCEPTION 'pg_steward: rows of steward.partition_exports cannot be changed'
            USING ERRCODE = '42501', HINT = 'The record is written by steward.record_partition_export only.';
    END IF;
    SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c
    WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(NEW.parent);
    IF owner IS NULL OR NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'pg_steward: must be owner of table % to record its exports', NEW.parent
            USING ERRCODE = '42501', HINT = 'The record is written by steward.record_partition_export only.';
    END IF;
    NEW.exported_by := CURRENT_USER;
    NEW.exported_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_partition_export() IS
  'Internal: steward.partition_exports rows carry the writing role and the clock; non-superusers record only their own tables and change no row';

CREATE OR REPLACE TRIGGER partition_exports_writer
    BEFORE INSERT OR UPDATE ON steward.partition_exports
    FOR EACH ROW EXECUTE FUNCTION steward._check_partition_export();

COMMENT ON TABLE steward.partition_exports IS
  'Partitions exported to a verified file (row count, SHA-256, location) and then dropped or detached';

GRANT SELECT ON steward.partition_exports TO PUBLIC;
GRANT INSERT (parent, partition, range_from, range_to, row_count, sha256, location, retired_as)
    ON steward.partition_exports TO PUBLIC;
GRANT USAGE ON SEQUENCE steward.partition_exports_id_seq TO PUBLIC;
-- pg_dump reads the sequence's value: the database's owner may, so that it can dump its own database.
GRANT SELECT ON SEQUENCE steward.partition_exports_id_seq TO pg_database_owner;

CREATE OR REPLACE FUNCTION steward.export_candidates(parent regclass DEFAULT NULL)
RETURNS TABLE (parent_table regclass, partition regclass, range_from text, range_to text, detail text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.export.export_candidates(parent)
$python$;

COMMENT ON FUNCTION steward.export_candidates(regclass) IS
  'The expired partitions of managed tables in retention mode export, awaiting export (pg-steward export)';

CREATE OR REPLACE FUNCTION steward.record_partition_export(
    partition regclass, row_count bigint, sha256 text, location text, then_mode text DEFAULT 'drop')
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.export.record_partition_export(partition, row_count, sha256, location, then_mode)
$python$;

COMMENT ON FUNCTION steward.record_partition_export(regclass, bigint, text, text, text) IS
  'Records the verified export of an expired partition (its rows counted again under its lock), then drops or detaches it';

CREATE OR REPLACE FUNCTION steward.prepare_partition_import(parent regclass, range_from text, range_to text)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.export.prepare_partition_import(parent, range_from, range_to)
$python$;

COMMENT ON FUNCTION steward.prepare_partition_import(regclass, text, text) IS
  'A new, empty partition of parent for an exported range (overlaps refused), which pg-steward import then loads';
