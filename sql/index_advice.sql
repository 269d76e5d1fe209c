-- steward.suggest_indexes on the seed tables, with explicit statements.
-- Without hypopg (not created here) the candidates are unverified: nothing is measured, costs after are NULL.
\set SHOW_CONTEXT never
CREATE SCHEMA index_advice;
SET search_path = index_advice;
\set ECHO none
\o /dev/null
\i python/pg_steward/workloads/seed_tables.sql
\o
\set ECHO all
ANALYZE;

SELECT table_name, columns, verified, reason, estimated_bytes > 0 AS sized, calls,
       cost_after IS NULL AS unmeasured, pg_catalog.split_part(create_statement, E'\n', 1) AS first_step,
       (pg_catalog.length(create_statement) - pg_catalog.length(pg_catalog.replace(create_statement, E'\n', ''))) + 1
           AS steps
FROM steward.suggest_indexes(statements => ARRAY[
    'SELECT * FROM sales_analytics WHERE customer_id = 42',
    'SELECT * FROM sales_analytics WHERE customer_id = $1 ORDER BY sale_date DESC LIMIT 10',
    'SELECT sale_date FROM sales_analytics WHERE region = ''North'' AND sale_date >= ''2024-03-01''',
    'SELECT * FROM sales_analytics WHERE sale_id = 5'])
ORDER BY table_name, columns;

-- A partitioned parent gets the recipe: ON ONLY the parent, each partition CONCURRENTLY, then ATTACH.
SELECT create_statement
FROM steward.suggest_indexes(statements => ARRAY['SELECT amount FROM regional_sales WHERE sale_date = ''2024-02-03''']);

-- An existing duplicate the workload does not need: drop it instead of adding an index (no hypopg needed).
CREATE INDEX sales_customer_idx ON sales_analytics (customer_id);
CREATE INDEX sales_customer_copy_idx ON sales_analytics (customer_id);
SELECT columns, create_statement IS NULL AS drop_instead, makes_redundant, drop_statements,
       write_cost <= 0 AS saves_writes, pg_catalog.split_part(reason, ';', 1) AS reason
FROM steward.suggest_indexes(statements => ARRAY['SELECT * FROM sales_analytics WHERE customer_id = 42'])
ORDER BY makes_redundant;
DROP INDEX sales_customer_copy_idx;
DROP INDEX sales_customer_idx;

-- Statements are only EXPLAINed: anything else is refused.
SELECT * FROM steward.suggest_indexes(statements => ARRAY['SELECT 1; DROP TABLE sales_analytics']);
SELECT * FROM steward.suggest_indexes(statements => ARRAY['DROP TABLE sales_analytics']);
RESET search_path;
DROP SCHEMA index_advice CASCADE;
