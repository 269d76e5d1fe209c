-- pg_steward: statement fingerprints (pglast, through the guarded loader).
-- Reference: extension/queries.md

CREATE FUNCTION steward.query_fingerprint(query text)
RETURNS text
LANGUAGE plpython3u
STABLE
STRICT
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "@VERSION@":
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
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.queries.fingerprint import normalize_query
return call(normalize_query, query)
$python$;

COMMENT ON FUNCTION steward.normalize_query(text) IS
  'A statement with its constants replaced by $n placeholders; NULL when it does not parse';
