-- pg_steward: schema and shared objects.
-- Built into pg_steward--@VERSION@.sql by the Makefile; @VERSION@ and
-- @PYTHON_DIR@ are filled in there.

\echo Use "CREATE EXTENSION pg_steward CASCADE" to load this file. \quit

-- Schema "steward" is created by CREATE EXTENSION from the control file.
COMMENT ON SCHEMA steward IS 'pg_steward: partition lifecycle, slow-query analysis and health reports';
