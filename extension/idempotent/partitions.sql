-- pg_steward: the partition tree and the partition lifecycle. Functions that read bounds and intervals
-- as text fix their text forms (@text_formats, see partitions/values.py).
-- Reference: extension/partitions.md

CREATE OR REPLACE FUNCTION steward.partitions(
    parent regclass,
    OUT partition regclass,
    OUT partition_of regclass,
    OUT level integer,
    OUT is_leaf boolean,
    OUT is_default boolean,
    OUT strategy text,
    OUT bound text,
    OUT range_from text,
    OUT range_to text,
    OUT list_values text[],
    OUT hash_modulus integer,
    OUT hash_remainder integer,
    OUT partitioned_by text,
    OUT total_bytes bigint,
    OUT estimated_rows bigint)
RETURNS SETOF record
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $python$
@python pg_steward.partitions.tree.partition_tree(parent)
$python$;

COMMENT ON FUNCTION steward.partitions(regclass) IS
  'The partition tree of a partitioned table: levels, strategies, bounds, DEFAULT, sizes and row estimates';
COMMENT ON TABLE steward.partition_config IS 'Partitioned tables maintained by pg_steward (steward.manage / steward.unmanage)';
COMMENT ON TABLE steward.partition_maintenance_log IS 'Every action and failure of pg_steward partition maintenance';

GRANT SELECT ON steward.partition_config, steward.partition_maintenance_log TO PUBLIC;

-- A registry row says what maintenance creates, drops, detaches or moves, and maintenance often runs as a
-- superuser (pg_cron). Table privileges on the registry cannot tell one table's row from another's, so a
-- role granted them (to manage its own tables) could otherwise register, re-configure or unregister
-- another owner's table, register an oid no relation has yet (to catch a table created later), or have
-- partitions archived into a schema (or created in a tablespace) it may not create in. Checked as the role
-- writing the row, whether through steward.manage or directly. Every INSERT and UPDATE records the relation's
-- identity (owner, schema, name) and the writer: maintenance refuses a row whose relation is no longer that
-- one (extension/partitions.md#registry-integrity).
CREATE OR REPLACE FUNCTION steward._check_partition_config()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
DECLARE
    owner oid;
    kind "char";
    schema_name name;
    relation_name name;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'INSERT' THEN
        SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) OLD.parent;
        -- A row whose table is gone (owner NULL) harms nobody: anyone granted the registry may clear it.
        IF owner IS NOT NULL AND NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
            RAISE EXCEPTION 'pg_steward: must be owner of table % to change its maintenance', OLD.parent
                USING ERRCODE = '42501';
        END IF;
        IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            RETURN OLD;
        END IF;
    END IF;
    SELECT c.relowner, c.relkind, n.nspname, c.relname INTO owner, kind, schema_name, relation_name
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) NEW.parent;
    IF owner IS NULL THEN
        RAISE EXCEPTION 'pg_steward: relation with oid % does not exist', NEW.parent::oid
            USING ERRCODE = '42P01', HINT = 'Register an existing partitioned table with steward.manage().';
    END IF;
    IF NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'pg_steward: must be owner of table % to manage its partitions', NEW.parent
            USING ERRCODE = '42501';
    END IF;
    IF kind OPERATOR(pg_catalog.<>) 'p' THEN
        RAISE EXCEPTION 'pg_steward: % is not a partitioned table', NEW.parent
            USING ERRCODE = '42809', HINT = 'Only a table created with PARTITION BY can be managed.';
    END IF;
    IF NEW.archive_schema IS NOT NULL
       AND (TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.archive_schema IS DISTINCT FROM OLD.archive_schema)
       AND NOT pg_catalog.has_schema_privilege(NEW.archive_schema, 'CREATE') THEN
        RAISE EXCEPTION 'pg_steward: permission denied to archive partitions into schema %', NEW.archive_schema
            USING ERRCODE = '42501', HINT = 'Archiving needs the CREATE privilege on the archive schema.';
    END IF;
    IF NEW.tablespace IS NOT NULL
       AND (TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.tablespace IS DISTINCT FROM OLD.tablespace)
       AND NOT pg_catalog.has_tablespace_privilege(NEW.tablespace, 'CREATE') THEN
        RAISE EXCEPTION 'pg_steward: permission denied to create partitions in tablespace %', NEW.tablespace
            USING ERRCODE = '42501', HINT = 'Creating partitions there needs the CREATE privilege on the tablespace.';
    END IF;
    -- The identity the row is for, whatever the writer gave: written by pg_steward only.
    NEW.registered_owner := owner;
    NEW.registered_schema := schema_name;
    NEW.registered_name := relation_name;
    NEW.registered_by := CURRENT_USER;
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_partition_config() IS
  'Internal: only a table''s owner may write its steward.partition_config row, for an existing partitioned table, with a schema and tablespace it may create in; records the table''s identity';

CREATE OR REPLACE TRIGGER partition_config_owner
    BEFORE INSERT OR UPDATE OR DELETE ON steward.partition_config
    FOR EACH ROW EXECUTE FUNCTION steward._check_partition_config();

-- A dropped table's registry row (and its count of pg_steward's own scans) goes with it, so that its oid, when
-- PostgreSQL gives it to a new relation,
-- carries no policy. SECURITY DEFINER: the role dropping its table need not be granted the registry; it
-- deletes only the rows of the relations this very command dropped.
CREATE OR REPLACE FUNCTION steward._forget_dropped()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
BEGIN
    DELETE FROM steward.partition_config AS pc
    USING pg_catalog.pg_event_trigger_dropped_objects() AS d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objsubid OPERATOR(pg_catalog.=) 0
      AND d.objid OPERATOR(pg_catalog.=) pc.parent::oid;
    DELETE FROM steward.analysis_seq_scans AS a
    USING pg_catalog.pg_event_trigger_dropped_objects() AS d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objsubid OPERATOR(pg_catalog.=) 0
      AND d.objid OPERATOR(pg_catalog.=) a.relid;
END
$plpgsql$;

COMMENT ON FUNCTION steward._forget_dropped() IS
  'Internal (event trigger pg_steward_forget_dropped): deletes the steward.partition_config and steward.analysis_seq_scans rows of dropped tables';

REVOKE ALL ON FUNCTION steward._forget_dropped() FROM PUBLIC;

DO $do$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname OPERATOR(pg_catalog.=) 'pg_steward_forget_dropped') THEN
        CREATE EVENT TRIGGER pg_steward_forget_dropped ON sql_drop EXECUTE FUNCTION steward._forget_dropped();
    END IF;
END
$do$;

-- The log says what maintenance did, as whom and when: written by pg_steward's maintenance with the real role
-- and time. Whatever a non-superuser writer gives, username is the role writing the row (current_user: the role whose
-- privileges the maintenance used) and logged_at the clock; a non-superuser may log only about a table it may
-- manage, and may not change a row. Deleting needs the DELETE privilege (steward.purge_logs), granted by a DBA.
CREATE OR REPLACE FUNCTION steward._check_maintenance_log()
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
        -- A superuser may write anything anyway; its rows keep what they say (pg_restore brings the log back).
        RETURN NEW;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        RAISE EXCEPTION 'pg_steward: rows of steward.partition_maintenance_log cannot be changed'
            USING ERRCODE = '42501', HINT = 'The log is written by pg_steward''s maintenance only.';
    END IF;
    SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c
    WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(NEW.parent);
    IF owner IS NULL OR NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'pg_steward: must be owner of table % to log its maintenance', NEW.parent
            USING ERRCODE = '42501', HINT = 'The log is written by pg_steward''s maintenance only.';
    END IF;
    NEW.username := CURRENT_USER;
    NEW.logged_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_maintenance_log() IS
  'Internal: steward.partition_maintenance_log rows carry the writing role and the clock; non-superusers log only their own tables and change no row';

CREATE OR REPLACE TRIGGER partition_maintenance_log_writer
    BEFORE INSERT OR UPDATE ON steward.partition_maintenance_log
    FOR EACH ROW EXECUTE FUNCTION steward._check_maintenance_log();

-- A run over every managed table is one row of steward.maintenance_runs (extension/partitions.md#maintenance-runs),
-- which steward.health() reads. Every role may record its own runs (a table owner's scheduled run needs no
-- grant), never another role's: whatever a non-superuser writes, run_by is the writing role and started_at and
-- finished_at the clock; a run is finished once, by the role that started it. Superusers' rows are kept as
-- written (pg_restore).
CREATE OR REPLACE FUNCTION steward._check_maintenance_run()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles AS r
               WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND r.rolsuper) THEN
        RETURN NEW;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        NEW.run_by := CURRENT_USER;
        NEW.started_at := pg_catalog.clock_timestamp();
        NEW.finished_at := NULL;
        RETURN NEW;
    END IF;
    IF OLD.finished_at IS NOT NULL OR OLD.run_by OPERATOR(pg_catalog.<>) CURRENT_USER THEN
        RAISE EXCEPTION 'pg_steward: run % of steward.maintenance_runs cannot be changed', OLD.run_id
            USING ERRCODE = '42501', HINT = 'A run is finished once, by the role that started it.';
    END IF;
    NEW.run_id := OLD.run_id;
    NEW.procedure := OLD.procedure;
    NEW.run_by := OLD.run_by;
    NEW.started_at := OLD.started_at;
    NEW.finished_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_maintenance_run() IS
  'Internal: steward.maintenance_runs rows carry the writing role and the clock; a run is finished once, by the role that started it';

CREATE OR REPLACE TRIGGER maintenance_runs_writer
    BEFORE INSERT OR UPDATE ON steward.maintenance_runs
    FOR EACH ROW EXECUTE FUNCTION steward._check_maintenance_run();

COMMENT ON TABLE steward.maintenance_runs IS
  'One row per maintenance run over every managed table (run_maintenance, maintain_partitions): start, end, counts';

GRANT SELECT ON steward.maintenance_runs TO PUBLIC;
GRANT INSERT (procedure), UPDATE (finished_at, tables_due, actions, failures, other_owners)
    ON steward.maintenance_runs TO PUBLIC;
GRANT USAGE ON SEQUENCE steward.maintenance_runs_run_id_seq TO PUBLIC;

-- pg_dump of a database dumps the rows of the extension's configuration tables and the values of their
-- sequences, which needs SELECT on each: the database's owner (pg_database_owner) may read them so that it
-- can dump its own database.
GRANT SELECT ON steward.partition_maintenance_log_id_seq, steward.maintenance_limits, steward.query_performance_log,
    steward.query_performance_log_log_id_seq, steward.query_stats_snapshot, steward.query_stats_snapshot_snapshot_id_seq,
    steward.query_stats_snapshot_entry, steward.maintenance_runs_run_id_seq TO pg_database_owner;
GRANT SELECT ON steward.maintenance_limits TO PUBLIC;

CREATE OR REPLACE FUNCTION steward.create_partition(
    parent regclass, start text, span text DEFAULT '1 month', time_zone text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.create.create_partition(parent, start, span, time_zone)
$python$;

COMMENT ON FUNCTION steward.create_partition(regclass, text, text, text) IS
  'The range partition [start, start + span) of parent: existing, or created with the rows of its range moved out of DEFAULT';

CREATE OR REPLACE FUNCTION steward.create_monthly_partition(parent regclass, month date, time_zone text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.create.create_monthly_partition(parent, month, time_zone)
$python$;

COMMENT ON FUNCTION steward.create_monthly_partition(regclass, date, text) IS
  'The partition of the month containing month: existing, or created with its DEFAULT rows moved into it';

CREATE OR REPLACE FUNCTION steward.drop_old_partitions(
    parent regclass, retention interval, mode text DEFAULT 'drop', archive_schema name DEFAULT NULL,
    dry_run boolean DEFAULT false)
RETURNS TABLE (partition text, range_from text, range_to text, action text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.retention.drop_old_partitions(parent, retention, mode, archive_schema, dry_run)
$python$;

COMMENT ON FUNCTION steward.drop_old_partitions(regclass, interval, text, name, boolean) IS
  'Drops, detaches or archives the partitions whose whole range is older than now() - retention, by catalog bounds';

CREATE OR REPLACE FUNCTION steward.maintain_partitions(parent regclass DEFAULT NULL)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.maintain.maintain_partitions(parent)
$python$;

COMMENT ON FUNCTION steward.maintain_partitions(regclass) IS
  'Maintains every managed table (or one): premake, gaps, DEFAULT rows, retention, ANALYZE; one row per action';

CREATE OR REPLACE FUNCTION steward.manage(
    parent regclass, span interval DEFAULT '1 month', premake integer DEFAULT 3, retention interval DEFAULT NULL,
    retention_mode text DEFAULT 'drop', archive_schema name DEFAULT NULL, time_zone text DEFAULT 'UTC',
    lock_timeout interval DEFAULT '2 seconds', lock_retries integer DEFAULT 3, integer_span bigint DEFAULT NULL,
    tablespace name DEFAULT NULL, storage_parameters text[] DEFAULT NULL)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.maintain.manage(parent, span, premake, retention, retention_mode, archive_schema, time_zone, lock_timeout, lock_retries, integer_span, tablespace, storage_parameters)
$python$;

COMMENT ON FUNCTION steward.manage(regclass, interval, integer, interval, text, name, text, interval, integer, bigint, name, text[]) IS
  'Registers (or re-configures) a partitioned table for maintenance and maintains it once';

CREATE OR REPLACE FUNCTION steward.unmanage(parent regclass)
RETURNS boolean
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.partitions.config.unmanage(parent)
$python$;

COMMENT ON FUNCTION steward.unmanage(regclass) IS
  'Stops maintaining a table (its partitions stay); true if it was managed';

CREATE OR REPLACE FUNCTION steward._tables_due()
RETURNS SETOF oid
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.maintain.tables_due()
$python$;

COMMENT ON FUNCTION steward._tables_due() IS
  'Internal: the enabled managed tables that maintenance has work for now (run_maintenance skips the others)';

CREATE OR REPLACE FUNCTION steward._maintain_step(parent oid, max_partitions integer)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.maintain.maintain_step(parent, max_partitions)
$python$;

COMMENT ON FUNCTION steward._maintain_step(oid, integer) IS
  'Internal: one managed table, at most max_partitions new partitions; a ''more'' row when more are due';

-- A procedure, so that it can COMMIT after each table: locks taken for one
-- table are not held while the others are maintained. Procedures that COMMIT
-- cannot carry SET clauses; this one runs only statements that do not depend
-- on search_path, and each table is maintained by maintain_partitions(),
-- which pins its own settings.
CREATE OR REPLACE PROCEDURE steward.run_maintenance()
LANGUAGE plpython3u
SECURITY INVOKER
AS $python$
# No SET clauses (a procedure that commits cannot have them): the package qualifies every name, and the
# steps it runs are steward functions that pin their own settings.
@python pg_steward.partitions.maintain.run_maintenance(plpy.commit)
$python$;

COMMENT ON PROCEDURE steward.run_maintenance() IS
  'Maintains every managed table, committing after each one (for pg_cron and scripts)';

-- DETACH PARTITION ... CONCURRENTLY cannot run in a function: these say what a
-- client (pg-steward maintain --concurrently) should run, and log what it ran.
CREATE OR REPLACE FUNCTION steward.detach_steps(parent regclass DEFAULT NULL)
RETURNS TABLE (parent_table regclass, partition regclass, step text, statement text, lock_timeout text,
               detail text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.detach.detach_steps(parent)
$python$;

COMMENT ON FUNCTION steward.detach_steps(regclass) IS
  'What a client should run to detach expired partitions concurrently (FINALIZE of pending detaches first), per managed table in detach mode';

-- A client that maintains every managed table itself, one transaction per table (pg-steward maintain), records its
-- run as run_maintenance does, so that steward.health() sees it.
CREATE OR REPLACE FUNCTION steward.record_run_start(procedure text DEFAULT 'pg-steward maintain')
RETURNS bigint
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.partitions.maintain.record_run_start(procedure)
$python$;

COMMENT ON FUNCTION steward.record_run_start(text) IS
  'Starts a row of steward.maintenance_runs for a client''s run over every managed table; its run_id';

CREATE OR REPLACE FUNCTION steward.record_run_end(
    run_id bigint, tables_due integer, actions integer, failures integer, other_owners integer DEFAULT 0)
RETURNS void
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.partitions.maintain.record_run_end(run_id, tables_due, actions, failures, other_owners)
$python$;

COMMENT ON FUNCTION steward.record_run_end(bigint, integer, integer, integer, integer) IS
  'Finishes a client''s run started with steward.record_run_start, with its counts';

CREATE OR REPLACE FUNCTION steward.record_detach(
    parent regclass, partition text, step text, ok boolean, detail text DEFAULT NULL)
RETURNS void
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.partitions.detach.record_detach(parent, partition, step, ok, detail)
$python$;

COMMENT ON FUNCTION steward.record_detach(regclass, text, text, boolean, text) IS
  'Logs in steward.partition_maintenance_log a detach step that a client ran (see steward.detach_steps)';

CREATE OR REPLACE FUNCTION steward.create_hash_partitions(parent regclass, modulus integer)
RETURNS TABLE (partition regclass, remainder integer, created boolean)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.partitions.layouts.create_hash_partitions(parent, modulus)
$python$;

COMMENT ON FUNCTION steward.create_hash_partitions(regclass, integer) IS
  'The hash partitions of remainders 0 to modulus - 1 of a hash-partitioned table: existing ones kept, missing ones created';

CREATE OR REPLACE FUNCTION steward.add_list_partition(parent regclass, list_values text[], name text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.layouts.add_list_partition(parent, list_values, name)
$python$;

COMMENT ON FUNCTION steward.add_list_partition(regclass, text[], text) IS
  'A list partition for new values of a list-partitioned table, with their rows moved out of DEFAULT';

CREATE OR REPLACE FUNCTION steward.change_span(parent regclass, new_span interval)
RETURNS TABLE (previous_span interval, span interval, switch_at text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.span_change.change_span(parent, new_span)
$python$;

COMMENT ON FUNCTION steward.change_span(regclass, interval) IS
  'Changes the span of a managed range table for the partitions still to be made: they start at the newest upper bound, no gap, no overlap';

-- Converting an existing table into a partitioned one (extension/partitions.md#converting-an-existing-table).
-- The state rows say which twin and trigger function belong to a table, and undo drops them: only the table's
-- owner (a member of that role, or a superuser) may write its row, whether through the procedure or directly.
CREATE OR REPLACE FUNCTION steward._check_table_conversion()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
DECLARE
    owner oid;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'INSERT' THEN
        SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) OLD.source;
        -- A row whose table is gone (owner NULL) harms nobody: anyone granted the table may clear it.
        IF owner IS NOT NULL AND NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
            RAISE EXCEPTION 'pg_steward: must be owner of table % to change its conversion', OLD.source::regclass
                USING ERRCODE = '42501';
        END IF;
        IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            RETURN OLD;
        END IF;
        IF NEW.source OPERATOR(pg_catalog.<>) OLD.source OR NEW.twin OPERATOR(pg_catalog.<>) OLD.twin
           OR NEW.sync_function OPERATOR(pg_catalog.<>) OLD.sync_function THEN
            RAISE EXCEPTION 'pg_steward: the tables and function of a conversion cannot be changed'
                USING ERRCODE = '42501';
        END IF;
        NEW.started_by := OLD.started_by;
        NEW.started_at := OLD.started_at;
        RETURN NEW;
    END IF;
    SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) NEW.source;
    IF owner IS NULL OR NOT pg_catalog.pg_has_role(owner, 'USAGE')
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_class AS t WHERE t.oid OPERATOR(pg_catalog.=) NEW.twin
                      AND t.relowner OPERATOR(pg_catalog.=) owner) THEN
        RAISE EXCEPTION 'pg_steward: must be owner of tables % and % to convert them', NEW.source, NEW.twin
            USING ERRCODE = '42501';
    END IF;
    NEW.started_by := CURRENT_USER;
    NEW.started_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_table_conversion() IS
  'Internal: only a table''s owner may write its steward.table_conversions row; records who started it';

CREATE OR REPLACE TRIGGER table_conversions_owner
    BEFORE INSERT OR UPDATE OR DELETE ON steward.table_conversions
    FOR EACH ROW EXECUTE FUNCTION steward._check_table_conversion();

COMMENT ON TABLE steward.table_conversions IS
  'Tables being converted into partitioned ones by steward.partition_existing_table: step and last key copied';

GRANT SELECT, INSERT, UPDATE, DELETE ON steward.table_conversions TO PUBLIC;

-- A procedure, since it commits between batches: it cannot carry SET clauses, so the package pins the
-- functions' settings after each commit (runtime.pin_settings) and qualifies every name.
CREATE OR REPLACE PROCEDURE steward.partition_existing_table(
    source regclass, key text, span interval, action text DEFAULT 'plan', premake integer DEFAULT 3,
    batch_size integer DEFAULT 10000, lock_timeout interval DEFAULT '2 seconds', lock_retries integer DEFAULT 5,
    time_zone text DEFAULT 'UTC', manage boolean DEFAULT false)
LANGUAGE plpython3u
SECURITY INVOKER
AS $python$
@python pg_steward.partitions.convert.partition_existing_table(plpy.commit, source, key, span, action, premake, batch_size, lock_timeout, lock_retries, time_zone, manage)
$python$;

COMMENT ON PROCEDURE steward.partition_existing_table(regclass, text, interval, text, integer, integer, interval, integer, text, boolean) IS
  'Turns a table into a partitioned one while it is written to: plan, start (or resume), swap, undo, finish';

CREATE OR REPLACE FUNCTION steward.partition_existing_table_plan(
    source regclass, key text, span interval, premake integer DEFAULT 3, batch_size integer DEFAULT 10000,
    lock_timeout interval DEFAULT '2 seconds', time_zone text DEFAULT 'UTC')
RETURNS TABLE (step integer, action text, statement text, locks text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.convert.partition_existing_table_plan(source, key, span, premake, batch_size, lock_timeout, time_zone)
$python$;

COMMENT ON FUNCTION steward.partition_existing_table_plan(regclass, text, interval, integer, integer, interval, text) IS
  'The steps of steward.partition_existing_table and the locks of each, or why the table cannot be converted; changes nothing';

-- Statistics of partitioned parents (extension/partitions.md): the last pass of every maintenance run, callable
-- alone (pg-steward maintain gets it through maintain_partitions(table)).
CREATE OR REPLACE FUNCTION steward.analyze_parents(parent regclass DEFAULT NULL)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
@text_formats
AS $python$
@python pg_steward.partitions.parent_stats.analyze_parents_sql(parent)
$python$;

COMMENT ON FUNCTION steward.analyze_parents(regclass) IS
  'ANALYZEs the managed parents whose partitions maintenance changed (at most once per analyze_parent_interval)';
