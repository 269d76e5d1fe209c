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
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.scheduling import schedule
return call(schedule, job, cron_expression, older_than)
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
if GD.get("pg_steward") != "@VERSION@":
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
if GD.get("pg_steward") != "@VERSION@":
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
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.schedule.purge import purge_logs
return call(purge_logs, older_than)
$python$;

COMMENT ON FUNCTION steward.purge_logs(interval) IS
  'Deletes pg_steward''s own log rows older than now() - older_than (the newest statistics snapshot is kept)';
