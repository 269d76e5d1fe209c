-- pg_steward: checks run first by every install and upgrade script, before anything is created or
-- replaced. See extension/build.py.

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
