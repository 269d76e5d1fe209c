-- pg_steward: schema and shared objects.
-- Built into pg_steward--0.1.0.sql by the Makefile, which fills in
-- 0.1.0 and @PKGLIBDIR@ (pg_config --pkglibdir).

\echo Use "CREATE EXTENSION pg_steward CASCADE" to load this file. \quit

-- Schema "steward" is named in the control file: CREATE EXTENSION creates it
-- when missing (so it is not an extension member and DROP EXTENSION leaves it,
-- empty). When it already exists, it must not belong to an ordinary role:
-- that role could otherwise plant or replace objects among ours.
DO $guard$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace AS n
               JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
               WHERE n.nspname OPERATOR(pg_catalog.=) 'steward' AND NOT r.rolsuper
                 AND r.rolname OPERATOR(pg_catalog.<>) current_user) THEN
        RAISE EXCEPTION 'schema steward is owned by a role that is not a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Drop schema steward or make a superuser its owner before CREATE EXTENSION pg_steward.';
    END IF;
END
$guard$;


COMMENT ON SCHEMA steward IS 'pg_steward: partition lifecycle, slow-query analysis and health reports';

-- Every function runs as its caller (SECURITY INVOKER), so using them grants
-- nothing the caller does not already have: anyone may look them up.
GRANT USAGE ON SCHEMA steward TO PUBLIC;
-- pg_steward: loading the Python package inside the server, and versions.
-- Reference: extension/runtime.md

CREATE FUNCTION steward._load_python()
RETURNS void
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
import os
import sys

version = "0.1.0"
package_dir = "@PKGLIBDIR@/pg_steward/0.1.0"
loaded = sys.modules.get("pg_steward")
if loaded is None:
    if not os.path.isfile(os.path.join(package_dir, "pg_steward", "__init__.py")):
        plpy.error(
            "pg_steward Python package %s is not installed on this server" % version,
            detail="It is expected in %s." % package_dir,
            hint="Run \"make install\" (or \"pgxn install pg_steward\") for version %s." % version,
            sqlstate="58P01",
        )
    if package_dir not in sys.path:
        sys.path.insert(0, package_dir)
    import pg_steward as loaded
location = os.path.dirname(os.path.dirname(os.path.abspath(loaded.__file__)))
if loaded.__version__ != version or location != package_dir:
    plpy.error(
        "pg_steward version mismatch: the SQL objects are version %s, but this session loaded Python package %s"
        % (version, loaded.__version__),
        detail="The loaded package comes from %s; version %s belongs in %s." % (location, version, package_dir),
        hint="Open a new session. If the error persists, install version %s with \"make install\"." % version,
        sqlstate="55000",
    )
from pg_steward import runtime
runtime.attach(plpy)
GD["pg_steward"] = version
$python$;

COMMENT ON FUNCTION steward._load_python() IS
  'Internal: loads the pg_steward Python package of this SQL version into the session';

CREATE FUNCTION steward.version(
    OUT sql_version text,
    OUT python_version text,
    OUT package_dir text,
    OUT pglast_version text,
    OUT interpreter text)
RETURNS record
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call, versions
return call(versions)
$python$;

COMMENT ON FUNCTION steward.version() IS
  'Versions of the installed SQL objects, the loaded Python package, pglast and the server''s Python';
-- pg_steward: partition tree.
-- Reference: extension/partitions.md

CREATE FUNCTION steward.partitions(
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
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.tree import partition_tree
return call(partition_tree, parent)
$python$;

COMMENT ON FUNCTION steward.partitions(regclass) IS
  'The partition tree of a partitioned table: levels, strategies, bounds, DEFAULT, sizes and row estimates';

-- Partition lifecycle. Functions pin DateStyle, TimeZone and IntervalStyle
-- because they read bounds and intervals as text (see partitions/values.py).

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
COMMENT ON TABLE steward.partition_config IS 'Partitioned tables maintained by pg_steward (steward.manage / steward.unmanage)';
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
COMMENT ON TABLE steward.partition_maintenance_log IS 'Every action and failure of pg_steward partition maintenance';
SELECT pg_catalog.pg_extension_config_dump('steward.partition_maintenance_log', '');
SELECT pg_catalog.pg_extension_config_dump('steward.partition_maintenance_log_id_seq', '');

GRANT SELECT ON steward.partition_config, steward.partition_maintenance_log TO PUBLIC;

-- A registry row says what maintenance creates, drops, detaches or moves, and maintenance often runs as a
-- superuser (pg_cron). Table privileges on the registry cannot tell one table's row from another's, so a
-- role granted them (to manage its own tables) could otherwise register, re-configure or unregister
-- another owner's table, or have partitions archived into a schema (or created in a tablespace) it may
-- not create in. Checked as the role writing the row, whether through steward.manage or directly.
CREATE FUNCTION steward._check_partition_config()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
DECLARE
    owner oid;
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
    SELECT c.relowner INTO owner FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) NEW.parent;
    IF owner IS NOT NULL AND NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'pg_steward: must be owner of table % to manage its partitions', NEW.parent
            USING ERRCODE = '42501';
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
    RETURN NEW;
END
$plpgsql$;

COMMENT ON FUNCTION steward._check_partition_config() IS
  'Internal: only a table''s owner may write its steward.partition_config row, with a schema and tablespace it may create in';

CREATE TRIGGER partition_config_owner
    BEFORE INSERT OR UPDATE OR DELETE ON steward.partition_config
    FOR EACH ROW EXECUTE FUNCTION steward._check_partition_config();

CREATE TYPE steward.maintenance_action AS (
    parent    regclass,
    action    text,
    partition text,
    ok        boolean,
    detail    text
);

CREATE FUNCTION steward.create_partition(
    parent regclass, start text, span text DEFAULT '1 month', time_zone text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.create import create_partition
return call(create_partition, parent, start, span, time_zone)
$python$;

COMMENT ON FUNCTION steward.create_partition(regclass, text, text, text) IS
  'The range partition [start, start + span) of parent: existing, or created with the rows of its range moved out of DEFAULT';

CREATE FUNCTION steward.create_monthly_partition(parent regclass, month date, time_zone text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.create import create_monthly_partition
return call(create_monthly_partition, parent, month, time_zone)
$python$;

COMMENT ON FUNCTION steward.create_monthly_partition(regclass, date, text) IS
  'The partition of the month containing month: existing, or created with its DEFAULT rows moved into it';

CREATE FUNCTION steward.drop_old_partitions(
    parent regclass, retention interval, mode text DEFAULT 'drop', archive_schema name DEFAULT NULL,
    dry_run boolean DEFAULT false)
RETURNS TABLE (partition text, range_from text, range_to text, action text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.retention import drop_old_partitions
return call(drop_old_partitions, parent, retention, mode, archive_schema, dry_run)
$python$;

COMMENT ON FUNCTION steward.drop_old_partitions(regclass, interval, text, name, boolean) IS
  'Drops, detaches or archives the partitions whose whole range is older than now() - retention, by catalog bounds';

CREATE FUNCTION steward.maintain_partitions(parent regclass DEFAULT NULL)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.maintain import maintain_partitions
return call(maintain_partitions, parent)
$python$;

COMMENT ON FUNCTION steward.maintain_partitions(regclass) IS
  'Maintains every managed table (or one): premake, gaps, DEFAULT rows, retention, ANALYZE; one row per action';

CREATE FUNCTION steward.manage(
    parent regclass, span interval DEFAULT '1 month', premake integer DEFAULT 3, retention interval DEFAULT NULL,
    retention_mode text DEFAULT 'drop', archive_schema name DEFAULT NULL, time_zone text DEFAULT 'UTC',
    lock_timeout interval DEFAULT '2 seconds', lock_retries integer DEFAULT 3, integer_span bigint DEFAULT NULL,
    tablespace name DEFAULT NULL, storage_parameters text[] DEFAULT NULL)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.config import manage
from pg_steward.partitions.maintain import maintain_partitions
oid = call(manage, parent, span, premake, retention, retention_mode, archive_schema, time_zone,
           lock_timeout, lock_retries, integer_span, tablespace, storage_parameters)
return call(maintain_partitions, oid)
$python$;

COMMENT ON FUNCTION steward.manage(regclass, interval, integer, interval, text, name, text, interval, integer, bigint, name, text[]) IS
  'Registers (or re-configures) a partitioned table for maintenance and maintains it once';

CREATE FUNCTION steward.unmanage(parent regclass)
RETURNS boolean
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.config import unmanage
return call(unmanage, parent)
$python$;

COMMENT ON FUNCTION steward.unmanage(regclass) IS
  'Stops maintaining a table (its partitions stay); true if it was managed';

-- A procedure, so that it can COMMIT after each table: locks taken for one
-- table are not held while the others are maintained. Procedures that COMMIT
-- cannot carry SET clauses; this one runs only statements that do not depend
-- on search_path, and each table is maintained by maintain_partitions(),
-- which pins its own settings.
CREATE FUNCTION steward._tables_due()
RETURNS SETOF oid
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.maintain import tables_due
return call(tables_due)
$python$;

COMMENT ON FUNCTION steward._tables_due() IS
  'Internal: the enabled managed tables that maintenance has work for now (run_maintenance skips the others)';

CREATE FUNCTION steward._maintain_step(parent oid, max_partitions integer)
RETURNS SETOF steward.maintenance_action
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
SET IntervalStyle = 'iso_8601'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.maintain import maintain_step
return call(maintain_step, parent, max_partitions)
$python$;

COMMENT ON FUNCTION steward._maintain_step(oid, integer) IS
  'Internal: one managed table, at most max_partitions new partitions; a ''more'' row when more are due';

CREATE PROCEDURE steward.run_maintenance()
LANGUAGE plpython3u
SECURITY INVOKER
AS $python$
# No SET clauses (a procedure that commits cannot have them): the package qualifies every name, and the
# steps it runs are steward functions that pin their own settings.
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.maintain import run_maintenance
call(run_maintenance, plpy.commit)
$python$;

COMMENT ON PROCEDURE steward.run_maintenance() IS
  'Maintains every managed table, committing after each one (for pg_cron and scripts)';
-- pg_steward: statement fingerprints (pglast, through the guarded loader), the slow-query log
-- and its capture, and plan analysis.
-- Reference: extension/queries.md

CREATE FUNCTION steward.query_fingerprint(query text)
RETURNS text
LANGUAGE plpython3u
STABLE
STRICT
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.fingerprint import query_fingerprint
return call(query_fingerprint, query)
$python$;

COMMENT ON FUNCTION steward.query_fingerprint(text) IS
  'Parse-tree fingerprint of a statement (same shape, same fingerprint); NULL when it does not parse';

CREATE FUNCTION steward.normalize_query(query text)
RETURNS text
LANGUAGE plpython3u
STABLE
STRICT
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.fingerprint import normalize_query
return call(normalize_query, query)
$python$;

COMMENT ON FUNCTION steward.normalize_query(text) IS
  'A statement with its constants replaced by $n placeholders; NULL when it does not parse';

-- Slow-query log, pg_stat_statements snapshots, capture settings.

CREATE TABLE steward.query_performance_log (
    log_id            bigserial PRIMARY KEY,
    query_hash        text NOT NULL,
    query_text        text NOT NULL,
    execution_time_ms numeric NOT NULL CHECK (execution_time_ms OPERATOR(pg_catalog.>=) 0),
    rows_examined     bigint,
    rows_returned     bigint,
    execution_date    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    fingerprint       text,
    normalized_query  text,
    source            text NOT NULL DEFAULT 'manual'
                      CHECK (source OPERATOR(pg_catalog.=) ANY (ARRAY['manual', 'pg_stat_statements', 'pg_stat_activity'])),
    calls             bigint NOT NULL DEFAULT 1 CHECK (calls OPERATOR(pg_catalog.>) 0),
    mean_time_ms      numeric,
    max_time_ms       numeric,
    window_start      timestamptz,
    queryid           bigint,
    database_name     text,
    username          text,
    toplevel          boolean,
    pid               integer,
    shared_blks_hit   bigint,
    shared_blks_read  bigint,
    temp_blks_written bigint,
    -- Statements that parse group by their parse-tree fingerprint, the others by their text.
    group_key         text GENERATED ALWAYS AS (COALESCE(fingerprint, 'text:' OPERATOR(pg_catalog.||) query_hash)) STORED
);
CREATE INDEX query_performance_log_execution_date ON steward.query_performance_log (execution_date);
-- Captures look up a text's fingerprint here before parsing it again.
CREATE INDEX query_performance_log_query_hash ON steward.query_performance_log (query_hash, log_id);
-- One row per running statement, refreshed by each capture while it runs.
CREATE UNIQUE INDEX query_performance_log_activity ON steward.query_performance_log (pid, window_start)
    WHERE source OPERATOR(pg_catalog.=) 'pg_stat_activity';
COMMENT ON TABLE steward.query_performance_log IS
  'Slow statements: logged by hand (steward.log_slow_query), captured from pg_stat_statements and pg_stat_activity';
SELECT pg_catalog.pg_extension_config_dump('steward.query_performance_log', '');
SELECT pg_catalog.pg_extension_config_dump('steward.query_performance_log_log_id_seq', '');

CREATE TABLE steward.query_capture_settings (
    singleton              boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    slow_mean_time_ms      numeric NOT NULL DEFAULT 100 CHECK (slow_mean_time_ms OPERATOR(pg_catalog.>=) 0),
    slow_total_time_ms     numeric NOT NULL DEFAULT 1000 CHECK (slow_total_time_ms OPERATOR(pg_catalog.>=) 0),
    long_running_threshold interval NOT NULL DEFAULT '1 minute'
                           CHECK (long_running_threshold OPERATOR(pg_catalog.>=) '0'::interval)
);
COMMENT ON TABLE steward.query_capture_settings IS
  'Optional single row overriding what counts as slow for steward.capture_query_stats and capture_long_running';
SELECT pg_catalog.pg_extension_config_dump('steward.query_capture_settings', '');

CREATE TABLE steward.query_stats_snapshot (
    snapshot_id       bigserial PRIMARY KEY,
    captured_at       timestamptz NOT NULL,
    server_started_at timestamptz NOT NULL,
    stats_reset       timestamptz,
    dealloc           bigint,
    server_version    integer NOT NULL,
    entries           integer,
    logged            integer
);
CREATE INDEX query_stats_snapshot_captured_at ON steward.query_stats_snapshot (captured_at);
COMMENT ON TABLE steward.query_stats_snapshot IS 'One row per steward.capture_query_stats() run';
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot', '');
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot_snapshot_id_seq', '');

CREATE TABLE steward.query_stats_snapshot_entry (
    snapshot_id       bigint NOT NULL REFERENCES steward.query_stats_snapshot ON DELETE CASCADE,
    captured_at       timestamptz NOT NULL,
    userid            oid NOT NULL,
    dbid              oid NOT NULL,
    toplevel          boolean NOT NULL,
    queryid           bigint NOT NULL,
    calls             bigint NOT NULL,
    total_exec_time   float8 NOT NULL,
    total_plan_time   float8,
    min_exec_time     float8,
    max_exec_time     float8,
    rows              bigint,
    shared_blks_hit   bigint,
    shared_blks_read  bigint,
    temp_blks_read    bigint,
    temp_blks_written bigint,
    blk_read_time     float8,
    stats_since       timestamptz,
    PRIMARY KEY (snapshot_id, userid, dbid, toplevel, queryid)
);
COMMENT ON TABLE steward.query_stats_snapshot_entry IS
  'pg_stat_statements counters of the latest capture, the baseline of the next one';
-- Registered but dumped empty: counters of another server are no baseline for this one
-- (the first capture after a restore is a new baseline).
SELECT pg_catalog.pg_extension_config_dump('steward.query_stats_snapshot_entry', 'WHERE false');

-- Logged texts carry other roles' statements and their constants: readable by those who may
-- read pg_stat_activity and pg_stat_statements in full (pg_read_all_stats, included in pg_monitor).
GRANT SELECT ON steward.query_performance_log, steward.query_stats_snapshot, steward.query_stats_snapshot_entry
    TO pg_read_all_stats;
GRANT SELECT ON steward.query_capture_settings TO PUBLIC;

CREATE FUNCTION steward.log_slow_query(
    query text, execution_time_ms numeric, rows_examined bigint DEFAULT NULL, rows_returned bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.capture import log_slow_query
return call(log_slow_query, query, execution_time_ms, rows_examined, rows_returned)
$python$;

COMMENT ON FUNCTION steward.log_slow_query(text, numeric, bigint, bigint) IS
  'Log one slow execution with its fingerprint; returns its log_id';

CREATE FUNCTION steward.capture_query_stats(
    min_mean_time_ms numeric DEFAULT NULL,
    min_total_time_ms numeric DEFAULT NULL,
    OUT snapshot_id bigint,
    OUT captured_at timestamptz,
    OUT previous_captured_at timestamptz,
    OUT entries integer,
    OUT active integer,
    OUT logged integer,
    OUT new_entries integer,
    OUT started_again integer,
    OUT evicted integer,
    OUT full_reset boolean,
    OUT server_restarted boolean,
    OUT baseline boolean)
RETURNS record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.capture import capture_query_stats
return call(capture_query_stats, min_mean_time_ms, min_total_time_ms)
$python$;

COMMENT ON FUNCTION steward.capture_query_stats(numeric, numeric) IS
  'Snapshot pg_stat_statements (never reset) and log the statements slow since the previous snapshot';

CREATE FUNCTION steward.capture_long_running(threshold interval DEFAULT NULL, all_databases boolean DEFAULT false)
RETURNS TABLE (pid integer, username text, database text, started_at timestamptz, duration interval,
               query text, log_id bigint, new_entry boolean)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.capture import capture_long_running
return call(capture_long_running, threshold, all_databases)
$python$;

COMMENT ON FUNCTION steward.capture_long_running(interval, boolean) IS
  'Log statements running longer than threshold (pg_stat_activity); one log row per statement, refreshed';

CREATE FUNCTION steward.slow_queries(
    since interval DEFAULT '1 day', "limit" integer DEFAULT 20, order_by text DEFAULT 'total_time',
    source text DEFAULT NULL)
RETURNS TABLE (fingerprint text, query text, calls numeric, total_time_ms numeric, mean_time_ms numeric,
               max_time_ms numeric, rows_returned numeric, entries bigint, sources text[],
               first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
BEGIN
    IF since IS NULL OR since OPERATOR(pg_catalog.<) '0'::interval THEN
        RAISE EXCEPTION 'pg_steward: since must be a positive interval, got %', since USING ERRCODE = '22023';
    END IF;
    IF "limit" IS NULL OR "limit" OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'pg_steward: limit must be at least 1, got %', "limit" USING ERRCODE = '22023';
    END IF;
    IF order_by IS NULL OR NOT order_by OPERATOR(pg_catalog.=) ANY (ARRAY['total_time', 'mean_time', 'calls', 'max_time']) THEN
        RAISE EXCEPTION 'pg_steward: order_by must be total_time, mean_time, calls or max_time, got %', order_by
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT g.group_key, g.query, g.calls, g.total_ms, pg_catalog.round(g.total_ms OPERATOR(pg_catalog./) g.calls, 3),
           g.max_ms,
           g.rows_returned, g.entries, g.sources, g.first_seen, g.last_seen
    FROM (SELECT l.group_key,
                 -- a sample text of the group: the normalized form when there is one
                 (pg_catalog.array_agg(COALESCE(l.normalized_query, l.query_text) ORDER BY l.log_id DESC))[1] AS query,
                 pg_catalog.sum(l.calls) AS calls,
                 pg_catalog.round(pg_catalog.sum(l.execution_time_ms), 3) AS total_ms,
                 pg_catalog.round(pg_catalog.max(l.max_time_ms), 3) AS max_ms,
                 pg_catalog.sum(l.rows_returned) AS rows_returned,
                 pg_catalog.count(*) AS entries,
                 pg_catalog.array_agg(DISTINCT l.source) AS sources,
                 pg_catalog.min(l.execution_date) AS first_seen,
                 pg_catalog.max(l.execution_date) AS last_seen
          FROM steward.query_performance_log AS l
          WHERE l.execution_date OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) since)
            AND (slow_queries.source IS NULL OR l.source OPERATOR(pg_catalog.=) slow_queries.source)
          GROUP BY l.group_key) AS g
    ORDER BY CASE order_by WHEN 'total_time' THEN g.total_ms
                           WHEN 'mean_time' THEN g.total_ms OPERATOR(pg_catalog./) g.calls
                           WHEN 'calls' THEN g.calls
                           ELSE g.max_ms END DESC NULLS LAST,
             g.group_key
    LIMIT "limit";
END
$plpgsql$;

COMMENT ON FUNCTION steward.slow_queries(interval, integer, text, text) IS
  'The top statements of the log over a window, grouped by fingerprint';

-- Plan analysis: EXPLAIN in a subtransaction that is always rolled back.

CREATE FUNCTION steward.analyze_query_performance(
    query text, "analyze" boolean DEFAULT true, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (node_id integer, parent_id integer, depth integer, operation text, relation text,
               index_name text, time_ms numeric, exclusive_time_ms numeric, rows_estimate bigint,
               rows_actual bigint, accuracy_ratio numeric, loops bigint, shared_hit_blocks bigint,
               shared_read_blocks bigint, temp_read_blocks bigint, temp_written_blocks bigint,
               rows_removed_by_filter bigint, detail text, advice text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.explain import analyze_query_performance
return call(analyze_query_performance, query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.analyze_query_performance(text, boolean, boolean, text) IS
  'EXPLAIN (ANALYZE, BUFFERS) of a query, rolled back: one row per plan node with times, rows, buffers and advice';

CREATE FUNCTION steward.query_advice(
    query text, "analyze" boolean DEFAULT true, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (problem text, severity text, node_id integer, relation text, detail text, fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.explain import query_advice
return call(query_advice, query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.query_advice(text, boolean, boolean, text) IS
  'What makes a query slow, from its analyzed plan (rolled back), each with the statement that fixes it';

CREATE FUNCTION steward.check_pruning(
    query text, "analyze" boolean DEFAULT false, allow_writes boolean DEFAULT false,
    -- Evaluated where the function is called, before its own SET search_path applies:
    -- the query's table names resolve as the caller would resolve them.
    search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (partitioned_table text, partition_key text, partitions_total integer, partitions_in_plan integer,
               subplans_removed integer, partitions_executed integer, pruned boolean, fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.explain import check_pruning
return call(check_pruning, query, analyze, allow_writes, search_path)
$python$;

COMMENT ON FUNCTION steward.check_pruning(text, boolean, boolean, text) IS
  'Per partitioned table in a query''s plan: partitions scanned of how many, with run-time pruning';
-- pg_steward: bloat, index and health reports.
-- Reference: extension/reports.md

CREATE FUNCTION steward.table_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    relation text,
    kind text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    method text,
    trustworthy boolean,
    reason text,
    toast_bytes bigint,
    dead_tuples bigint,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.bloat import table_bloat
return call(table_bloat, exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.table_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each table: a statistics-based estimate, or measured by pgstattuple (exact => true); with the fix';

CREATE FUNCTION steward.index_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    index_name name,
    index text,
    method text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    measured_by text,
    trustworthy boolean,
    reason text,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.index_bloat import index_bloat
return call(index_bloat, exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.index_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each B-tree index: a statistics-based estimate, or measured by pgstatindex (exact => true); with the fix';

CREATE FUNCTION steward.index_report()
RETURNS TABLE (
    problem text,
    schema name,
    "table" name,
    index name,
    size_bytes bigint,
    detail text,
    fix text,
    severity text)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.indexes import index_report
return call(index_report)
$python$;

COMMENT ON FUNCTION steward.index_report() IS
  'One row per index problem (invalid, duplicate, redundant, unused, fk_without_index, missing_index) with its size and fix';

CREATE FUNCTION steward.partition_index_usage(parent regclass DEFAULT NULL)
RETURNS TABLE (
    parent text,
    partition text,
    index text,
    parent_index text,
    idx_scan bigint,
    idx_tup_read bigint,
    idx_tup_fetch bigint,
    size_bytes bigint,
    scan_share_percent numeric,
    unused boolean)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.indexes import partition_index_usage
return call(partition_index_usage, parent)
$python$;

COMMENT ON FUNCTION steward.partition_index_usage(regclass) IS
  'Scans of each leaf partition''s indexes, and their share of the scans of the parent''s index';

CREATE FUNCTION steward.hot_partitions(parent regclass DEFAULT NULL)
RETURNS TABLE (
    parent text,
    partition text,
    rank integer,
    total_scans bigint,
    seq_scan bigint,
    idx_scan bigint,
    index_usage_percent numeric,
    scan_share_percent numeric,
    tuples_read bigint,
    modifications bigint,
    modification_share_percent numeric,
    live_tuples bigint,
    size_bytes bigint)
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.indexes import hot_partitions
return call(hot_partitions, parent)
$python$;

COMMENT ON FUNCTION steward.hot_partitions(regclass) IS
  'Leaf partitions ranked by scans, with their share of the partitioned table''s scans and writes';

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
COMMENT ON TABLE steward.health_thresholds IS 'Thresholds of steward.health() checks that differ from the defaults';
SELECT pg_catalog.pg_extension_config_dump('steward.health_thresholds', '');
GRANT SELECT ON steward.health_thresholds TO PUBLIC;

CREATE FUNCTION steward.health()
RETURNS TABLE (
    check_name text,
    status text,
    value text,
    threshold text,
    detail text,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.health import health
return call(health)
$python$;

COMMENT ON FUNCTION steward.health() IS
  'One row per health check (vacuum, wraparound, sequences, cache, connections, sessions, locks, size, temp files): status ok, warning, critical or unknown, with the fix';
-- pg_steward: scheduling of pg_steward's jobs with pg_cron, and the purge of its logs.
-- Reference: extension/schedule.md

CREATE FUNCTION steward.schedule(
    job text, cron_expression text DEFAULT NULL, older_than interval DEFAULT NULL,
    OUT job_name text, OUT cron_job text, OUT jobid bigint, OUT schedule text, OUT command text,
    OUT cron_database text, OUT action text)
RETURNS record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = 'postgres'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.scheduling import schedule
row = call(schedule, job, cron_expression, older_than)
row["job_name"] = row.pop("job")
return row
$python$;

COMMENT ON FUNCTION steward.schedule(text, text, interval) IS
  'Schedules (or reschedules) one pg_steward job with pg_cron, by name: maintenance, capture_query_stats, capture_long_running, purge_logs';

CREATE FUNCTION steward.unschedule(job text)
RETURNS boolean
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.scheduling import unschedule
return call(unschedule, job)
$python$;

COMMENT ON FUNCTION steward.unschedule(text) IS
  'Removes one pg_steward job from pg_cron; true if it was scheduled';

CREATE FUNCTION steward.job_status(
    OUT job text, OUT cron_job text, OUT jobid bigint, OUT schedule text, OUT command text,
    OUT database text, OUT username text, OUT active boolean, OUT last_start timestamptz,
    OUT last_end timestamptz, OUT last_status text, OUT last_message text)
RETURNS SETOF record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.scheduling import job_status
return call(job_status)
$python$;

COMMENT ON FUNCTION steward.job_status() IS
  'This database''s pg_steward jobs in pg_cron, with their last run (the rows of view steward.jobs)';

CREATE VIEW steward.jobs AS
    SELECT job, cron_job, jobid, schedule, command, database, username, active,
           last_start, last_end, last_status, last_message
    FROM steward.job_status();

COMMENT ON VIEW steward.jobs IS
  'This database''s pg_steward jobs in pg_cron: schedule, last run, its status and message';

GRANT SELECT ON steward.jobs TO PUBLIC;

CREATE FUNCTION steward.purge_logs(older_than interval DEFAULT '30 days')
RETURNS TABLE (log text, deleted bigint, cutoff timestamptz)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $python$
if GD.get("pg_steward") != "0.1.0":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.purge import purge_logs
return call(purge_logs, older_than)
$python$;

COMMENT ON FUNCTION steward.purge_logs(interval) IS
  'Deletes pg_steward''s own log rows older than now() - older_than (the newest statistics snapshot is kept)';
