-- Scheduling pg_steward's jobs with pg_cron, as a DBA sees it in psql.
\set SHOW_CONTEXT never

-- Bad input is refused before pg_cron is asked anything.
SELECT * FROM steward.schedule('vacuum_everything');
SELECT * FROM steward.schedule('maintenance', 'every 5 minutes');
SELECT * FROM steward.schedule('maintenance', older_than => '7 days');
SELECT * FROM steward.schedule('purge_logs', older_than => '-7 days');

-- pg_cron keeps its jobs in one database (cron.database_name); from any other
-- database pg_steward reaches it through dblink.
SELECT current_setting('cron.database_name') <> current_database() AS cron_is_elsewhere;
SELECT * FROM steward.schedule('maintenance');
SELECT current_setting('cron.database_name') AS cron_database \gset
\c :cron_database
SET client_min_messages = warning;  -- other tests may have created it already
CREATE EXTENSION IF NOT EXISTS pg_cron;
\c contrib_regression
\set SHOW_CONTEXT never
CREATE EXTENSION dblink;

-- Idempotent by job name: scheduled, unchanged, updated.
SELECT job_name, cron_job, schedule, command, action FROM steward.schedule('maintenance', '30 3 * * *');
SELECT job_name, schedule, action FROM steward.schedule('maintenance', '30 3 * * *');
SELECT job_name, schedule, action FROM steward.schedule('maintenance', '45 3 * * *');
SELECT job_name, schedule, command, action FROM steward.schedule('purge_logs', '0 4 * * 0', older_than => '90 days');
SELECT job, cron_job, schedule, command, database, active FROM steward.jobs ORDER BY job;

SELECT steward.unschedule('maintenance') AS was_scheduled, steward.unschedule('maintenance') AS again;
SELECT steward.unschedule('purge_logs');
SELECT count(*) AS jobs_left FROM steward.jobs;

-- The purge of pg_steward's own logs.
INSERT INTO steward.partition_maintenance_log (logged_at, parent, action, ok)
VALUES (now() - interval '100 days', 'old', 'create', true), (now(), 'new', 'create', true);
SELECT log, deleted FROM steward.purge_logs('30 days') WHERE log = 'steward.partition_maintenance_log';
SELECT parent FROM steward.partition_maintenance_log WHERE parent IN ('old', 'new');
DELETE FROM steward.partition_maintenance_log WHERE parent = 'new';
DROP EXTENSION dblink;
