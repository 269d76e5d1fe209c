-- Problems for pg_steward's reports to find, on top of seed_tables.sql:
-- a duplicate index, and a table whose dead rows autovacuum leaves alone.

CREATE INDEX sales_analytics_customer_idx ON sales_analytics (customer_id);
CREATE INDEX sales_analytics_customer_copy_idx ON sales_analytics (customer_id);

CREATE TABLE order_events (
    id bigint PRIMARY KEY,
    status text NOT NULL,
    payload text NOT NULL
) WITH (autovacuum_enabled = off);
INSERT INTO order_events SELECT n, 'new', repeat('x', 200) FROM generate_series(1, 50000) AS n;
-- Three rows in four get a new version: the old ones stay as dead rows (bloat).
UPDATE order_events SET status = 'shipped' WHERE id % 4 <> 0;
ANALYZE order_events;
