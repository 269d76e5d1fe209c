-- Bloat, index and health reports as seen from psql.
\set SHOW_CONTEXT never
CREATE SCHEMA report_demo;
SET search_path = report_demo;

-- Index problems, each with its fix.
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, status text, placed date);
CREATE INDEX orders_status ON orders (status);
CREATE INDEX orders_status_copy ON orders (status);
CREATE INDEX orders_status_placed ON orders (status, placed);
SELECT problem, "table", index, fix
FROM steward.index_report()
WHERE schema = 'report_demo' AND problem IN ('duplicate', 'redundant', 'fk_without_index')
ORDER BY problem, index;

-- A table never analyzed: the estimate says unknown, and why.
CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off);
INSERT INTO events SELECT g, 'x' FROM generate_series(1, 1000) g;
SELECT relation, waste_bytes, trustworthy, reason, fix
FROM steward.table_bloat(relation => 'events');

-- Exact mode without pgstattuple is a clear error.
SELECT * FROM steward.table_bloat(exact => true, relation => 'events');

-- A sequence at 95 % of its type.
CREATE TABLE tickets (id smallserial, note text);
SELECT setval('tickets_id_seq', 31130) IS NOT NULL AS set;
SELECT check_name, status, value, threshold, fix
FROM steward.health() WHERE check_name = 'sequences';
INSERT INTO steward.health_thresholds (check_name, warning, critical) VALUES ('sequences', 96, 99);
SELECT check_name, status, value, threshold FROM steward.health() WHERE check_name = 'sequences';
DELETE FROM steward.health_thresholds;

-- Not a partitioned table.
SELECT * FROM steward.hot_partitions('orders');

RESET search_path;
DROP SCHEMA report_demo CASCADE;
