-- pg_steward: schema steward (named in the control file, created by CREATE EXTENSION).
-- Reference: extension/runtime.md

COMMENT ON SCHEMA steward IS 'pg_steward: partition lifecycle, slow-query analysis and health reports';

-- Every function runs as its caller (SECURITY INVOKER), so using them grants
-- nothing the caller does not already have: anyone may look them up.
GRANT USAGE ON SCHEMA steward TO PUBLIC;
