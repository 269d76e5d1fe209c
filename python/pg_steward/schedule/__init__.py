"""Scheduling pg_steward's jobs with pg_cron, and the purge of pg_steward's own logs."""
