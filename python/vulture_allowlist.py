"""Names vulture cannot see used (a vulture allow-list; scripts/sql-entry-points adds the SQL's entry points)."""

# ruff: noqa
PsycopgDatabase  # pg_steward.db: the CLI's database, made in cli/
attach  # pg_steward.runtime: called by steward._load_python() (extension/runtime.sql)
planning_ms  # queries.plan.Plan fields, read by vars() into SQL rows
execution_ms
subplans_removed  # queries.pruning rows, read by vars() into SQL rows
partitions_executed
dbid  # queries.statstatements.Key: a field of pg_stat_statements' key
exc  # the context manager protocol's __exit__ arguments
MONTH  # bench/partition_maintenance.py settings, read by name
NEXT_MONTH
has_function  # cli/connect.py: owned by the CLI's rewrite
heap_expected_bytes  # reports.bloat_model: the one-table form of heap_expected_from_tuple, kept for its unit tests
