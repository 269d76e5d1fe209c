-- The slow-query log, grouped by parse-tree fingerprint, and plan analysis.
\set VERBOSITY terse
SELECT steward.log_slow_query('SELECT * FROM orders WHERE id = 1', 12.5, 1000, 1) > 0 AS logged;
SELECT steward.log_slow_query('select * from orders where id = 42', 30, 1000, 1) > 0 AS logged;
SELECT steward.log_slow_query('SELECT * FROM orders WHERE status = ''open''', 250, 100000, 40) > 0 AS logged;
SELECT steward.log_slow_query('SELEC not sql', 5, NULL, NULL) > 0 AS logged;  -- logged, grouped by its text

SELECT query, calls, total_time_ms, mean_time_ms, max_time_ms, sources
FROM steward.slow_queries(since => '1 hour');

SELECT steward.log_slow_query('SELECT 1', -1, 0, 0);

-- Plans: one row per node. Estimates only here (analyze => false), so the output is stable.
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, total numeric NOT NULL);
INSERT INTO orders SELECT g, CASE WHEN g % 100 = 0 THEN 'open' ELSE 'done' END, g % 50
FROM generate_series(1, 20000) AS g;
ANALYZE orders;
SELECT node_id, parent_id, operation, relation, index_name, rows_estimate
FROM steward.analyze_query_performance('SELECT status, count(*) FROM orders WHERE id < 100 GROUP BY status',
                                       "analyze" => false);

-- Executed (and rolled back): actual rows per node, and advice with its fix.
SELECT operation, relation, rows_actual, loops, rows_removed_by_filter, advice
FROM steward.analyze_query_performance('SELECT * FROM orders WHERE status = ''open''');
SELECT problem, relation, fix FROM steward.query_advice('SELECT * FROM orders WHERE status = ''open''');

-- Writes run only when asked, and are always rolled back.
SELECT * FROM steward.analyze_query_performance('WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d');
SELECT operation, rows_actual FROM steward.analyze_query_performance('DELETE FROM orders WHERE total = 0',
                                                                     allow_writes => true);
SELECT count(*) FROM orders;

-- Partition pruning, per partitioned table.
CREATE TABLE sales (sold date NOT NULL, amount int) PARTITION BY RANGE (sold);
CREATE TABLE sales_q1 PARTITION OF sales FOR VALUES FROM ('2024-01-01') TO ('2024-04-01');
CREATE TABLE sales_q2 PARTITION OF sales FOR VALUES FROM ('2024-04-01') TO ('2024-07-01');
CREATE TABLE sales_q3 PARTITION OF sales FOR VALUES FROM ('2024-07-01') TO ('2024-10-01');
SELECT * FROM steward.check_pruning('SELECT sum(amount) FROM sales WHERE sold >= ''2024-05-01''');
SELECT partitions_in_plan, partitions_total, pruned, fix FROM steward.check_pruning('SELECT sum(amount) FROM sales');
