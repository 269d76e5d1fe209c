-- pg_steward: partition tree.
-- Reference: extension/partitions.md

CREATE FUNCTION steward.partitions(
    parent regclass,
    OUT partition regclass,
    OUT partition_of regclass,
    OUT level integer,
    OUT is_leaf boolean,
    OUT is_default boolean,
    OUT strategy text,
    OUT bound text,
    OUT range_from text,
    OUT range_to text,
    OUT list_values text[],
    OUT hash_modulus integer,
    OUT hash_remainder integer,
    OUT partitioned_by text,
    OUT total_bytes bigint,
    OUT estimated_rows bigint)
RETURNS SETOF record
LANGUAGE plpython3u
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $python$
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from pg_steward.partitions.tree import partition_tree
return call(partition_tree, parent)
$python$;

COMMENT ON FUNCTION steward.partitions(regclass) IS
  'The partition tree of a partitioned table: levels, strategies, bounds, DEFAULT, sizes and row estimates';
