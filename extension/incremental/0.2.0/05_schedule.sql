-- pg_steward 0.2.0: steward.schedule and steward.unschedule take run_as (a superuser schedules a job that runs
-- as another role, so that no password is stored anywhere); the 0.1.0 signatures go, and idempotent/schedule.sql
-- creates the new ones.
DROP FUNCTION IF EXISTS steward.schedule(text, text, interval);
DROP FUNCTION IF EXISTS steward.unschedule(text);
-- steward.purge_logs also trims pg_cron's cron.job_run_details and returns a note (what it skipped and why): a
-- new OUT column, so the 0.1.0 function goes and idempotent/schedule.sql creates the new one.
DROP FUNCTION IF EXISTS steward.purge_logs(interval);
