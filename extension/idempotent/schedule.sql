-- pg_steward: scheduling of pg_steward's jobs with pg_cron, and the purge of its logs.
-- Reference: extension/schedule.md

CREATE OR REPLACE FUNCTION steward.schedule(
    job text, cron_expression text DEFAULT NULL, older_than interval DEFAULT NULL, run_as regrole DEFAULT NULL,
    OUT job_name text, OUT cron_job text, OUT jobid bigint, OUT schedule text, OUT command text,
    OUT cron_database text, OUT action text, OUT username text)
RETURNS record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = 'postgres'
AS $python$
@python pg_steward.schedule.scheduling.schedule(job, cron_expression, older_than, run_as)
$python$;

COMMENT ON FUNCTION steward.schedule(text, text, interval, regrole) IS
  'Schedules (or reschedules) one pg_steward job with pg_cron, by name: maintenance, capture_query_stats, capture_long_running, capture_growth, purge_logs; run_as (superusers) makes it run as another role';

CREATE OR REPLACE FUNCTION steward.unschedule(job text, run_as regrole DEFAULT NULL)
RETURNS boolean
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.schedule.scheduling.unschedule(job, run_as)
$python$;

COMMENT ON FUNCTION steward.unschedule(text, regrole) IS
  'Removes one pg_steward job from pg_cron; true if it was scheduled';

CREATE OR REPLACE FUNCTION steward.job_status(
    OUT job text, OUT cron_job text, OUT jobid bigint, OUT schedule text, OUT command text,
    OUT database text, OUT username text, OUT active boolean, OUT last_start timestamptz,
    OUT last_end timestamptz, OUT last_status text, OUT last_message text)
RETURNS SETOF record
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
@python pg_steward.schedule.scheduling.job_status()
$python$;

COMMENT ON FUNCTION steward.job_status() IS
  'This database''s pg_steward jobs in pg_cron, with their last run (the rows of view steward.jobs)';

CREATE OR REPLACE VIEW steward.jobs AS
    SELECT job, cron_job, jobid, schedule, command, database, username, active,
           last_start, last_end, last_status, last_message
    FROM steward.job_status();

COMMENT ON VIEW steward.jobs IS
  'This database''s pg_steward jobs in pg_cron: schedule, last run, its status and message';

GRANT SELECT ON steward.jobs TO PUBLIC;

CREATE OR REPLACE FUNCTION steward.purge_logs(older_than interval DEFAULT '30 days', dry_run boolean DEFAULT false)
RETURNS TABLE (log text, deleted bigint, cutoff timestamptz, note text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $python$
@python pg_steward.schedule.purge.purge_logs(older_than, dry_run)
$python$;

COMMENT ON FUNCTION steward.purge_logs(interval, boolean) IS
  'Deletes pg_steward''s own log rows, and in pg_cron''s database the run details of its jobs, older than now() - older_than (the newest statistics snapshot is kept); dry_run counts them and deletes nothing';

-- DROP EXTENSION pg_steward while pg_cron still has pg_steward jobs for this database would leave jobs that
-- fail on every run, for ever. This guard refuses such a DROP (2BP01) and names the jobs and the fix. It is
-- an event trigger of ddl_command_start, the only point at which pg_steward still exists; at that point
-- PostgreSQL does not say which extension a DROP EXTENSION names, so the guard reads the command's text and
-- does nothing unless it mentions pg_steward (a DROP EXTENSION made with dynamic SQL is not seen). SECURITY
-- INVOKER: it runs as the role dropping, who sees only the jobs pg_cron shows it. When pg_cron is not preloaded
-- nothing can be left behind; when it cannot be asked (no dblink, no connection), the drop goes on with a
-- WARNING that says so and how to find the jobs. SET steward.drop_with_jobs = allow is the DBA's opt-in to drop
-- it anyway (pg_restore --clean drops and recreates the extension): a WARNING names the jobs instead.
CREATE OR REPLACE FUNCTION steward._refuse_drop_with_jobs()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $plpgsql$
DECLARE
    scheduled text;
    unseen text;
BEGIN
    IF pg_catalog.current_query() OPERATOR(pg_catalog.!~*) '(^|[^a-z0-9_$])"?pg_steward"?($|[^a-z0-9_$])' THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_settings  -- pg_cron not preloaded: no job can be left behind
                   WHERE name OPERATOR(pg_catalog.=) 'cron.database_name'
                     AND context OPERATOR(pg_catalog.=) 'postmaster') THEN
        RETURN;
    END IF;
    BEGIN
        -- A role that may not read pg_cron's jobs gets one row saying so (last_status 'not visible').
        SELECT pg_catalog.string_agg(j.cron_job, ', ' ORDER BY j.cron_job) FILTER (WHERE j.jobid IS NOT NULL),
               pg_catalog.max(j.last_message) FILTER (WHERE j.last_status OPERATOR(pg_catalog.=) 'not visible')
          INTO scheduled, unseen
        FROM steward.job_status() AS j;
        IF unseen IS NOT NULL THEN
            RAISE EXCEPTION '%', unseen;
        END IF;
    EXCEPTION
        WHEN OTHERS THEN
            RAISE WARNING 'pg_steward: could not ask pg_cron for this database''s pg_steward jobs: %', SQLERRM
                USING HINT = 'Any left behind fail on every run: remove them in pg_cron''s database with '
                             'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE ''pg_steward:%''.';
            RETURN;
    END;
    IF scheduled IS NOT NULL AND pg_catalog.current_setting('steward.drop_with_jobs', true)
                                 OPERATOR(pg_catalog.=) 'allow' THEN
        -- The DBA's opt-in, e.g. for pg_restore --clean, which drops the extension and creates it again.
        RAISE WARNING 'pg_steward: dropped while pg_cron has jobs for this database: %', scheduled
            USING DETAIL = 'steward.drop_with_jobs = allow: they fail on every run until pg_steward is created again.',
                  HINT = 'Without pg_steward coming back, remove them in pg_cron''s database with '
                         'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE ''pg_steward:%''.';
        RETURN;
    END IF;
    IF scheduled IS NOT NULL THEN
        RAISE EXCEPTION 'pg_steward has jobs scheduled in pg_cron for this database: %', scheduled
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Without the extension they would fail on every run.',
                  HINT = 'Run SELECT steward.unschedule(job) FROM steward.jobs; then DROP EXTENSION pg_steward. '
                         'To drop it anyway (pg_restore --clean, which creates it again): '
                         'SET steward.drop_with_jobs = allow.';
    END IF;
END
$plpgsql$;

COMMENT ON FUNCTION steward._refuse_drop_with_jobs() IS
  'Internal (event trigger pg_steward_refuse_drop_with_jobs): refuses DROP EXTENSION pg_steward while pg_cron has its jobs';

DO $do$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger
                   WHERE evtname OPERATOR(pg_catalog.=) 'pg_steward_refuse_drop_with_jobs') THEN
        CREATE EVENT TRIGGER pg_steward_refuse_drop_with_jobs ON ddl_command_start
            WHEN TAG IN ('DROP EXTENSION') EXECUTE FUNCTION steward._refuse_drop_with_jobs();
    END IF;
END
$do$;
