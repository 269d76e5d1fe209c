-- pg_steward: bloat, index and health reports.
-- Reference: extension/reports.md

CREATE FUNCTION steward.table_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    relation text,
    kind text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    method text,
    trustworthy boolean,
    reason text,
    toast_bytes bigint,
    dead_tuples bigint,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.bloat import table_bloat
return call(table_bloat, exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.table_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each table: a statistics-based estimate, or measured by pgstattuple (exact => true); with the fix';

CREATE FUNCTION steward.index_bloat(
    exact boolean DEFAULT false,
    relation regclass DEFAULT NULL,
    min_bytes bigint DEFAULT 0,
    exact_max_bytes bigint DEFAULT 1073741824)
RETURNS TABLE (
    schema name,
    table_name name,
    index_name name,
    index text,
    method text,
    size_bytes bigint,
    expected_bytes bigint,
    waste_bytes bigint,
    waste_percent numeric,
    measured_by text,
    trustworthy boolean,
    reason text,
    fix text)
LANGUAGE plpython3u
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $python$
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.reports.index_bloat import index_bloat
return call(index_bloat, exact, relation, min_bytes, exact_max_bytes)
$python$;

COMMENT ON FUNCTION steward.index_bloat(boolean, regclass, bigint, bigint) IS
  'Wasted space of each B-tree index: a statistics-based estimate, or measured by pgstatindex (exact => true); with the fix';
