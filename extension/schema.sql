-- pg_steward: schema and shared objects.
-- Built into pg_steward--@VERSION@.sql by the Makefile, which fills in
-- @VERSION@ and @PKGLIBDIR@ (pg_config --pkglibdir).

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
