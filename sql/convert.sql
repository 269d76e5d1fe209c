-- Turning an existing table into a partitioned one: the dry run, a small conversion, a refusal.
-- Its rows are dated in 2999, so that the partitions made do not depend on today's date.
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE SCHEMA convert;
SET search_path = convert, public;
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY,
    ordered date NOT NULL,
    amount numeric NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (id, ordered)
);
CREATE INDEX orders_amount ON orders (amount);
INSERT INTO orders (ordered, amount)
SELECT date '2999-01-01' + g % 80, g FROM generate_series(1, 300) AS g;
ANALYZE orders;

-- The dry run: every step and the locks it takes; nothing is created.
SELECT step, action, locks FROM steward.partition_existing_table_plan('orders', 'ordered', '1 month', premake => 1);
CALL steward.partition_existing_table('orders', 'ordered', '1 month', premake => 1);
SELECT count(*) AS conversions FROM steward.table_conversions;

-- Create the twin and copy, in batches of 100.
CALL steward.partition_existing_table('orders', 'ordered', '1 month', action => 'start', premake => 1,
                                      batch_size => 100);
SELECT step, rows_copied, last_key FROM steward.table_conversions;
-- A write during the conversion reaches the twin through the trigger.
UPDATE orders SET amount = 1000 WHERE id = 1;
-- Verify and swap.
CALL steward.partition_existing_table('orders', 'ordered', '1 month', action => 'swap');
SELECT partition, range_from, range_to, is_default FROM steward.partitions('orders') ORDER BY partition::text;
SELECT count(*) AS rows, sum(amount) AS amount FROM orders;
SELECT count(*) AS rows, sum(amount) AS amount FROM orders_unpartitioned;
-- The identity counts on; the old table is kept until dropped by hand.
INSERT INTO orders (ordered, amount) VALUES ('2999-02-01', 1) RETURNING id;
CALL steward.partition_existing_table('orders', 'ordered', '1 month', action => 'finish');
SELECT step FROM steward.table_conversions;

-- Refused up front, with the reason and the fix: a unique key without the partition key.
CREATE TABLE customers (id bigint PRIMARY KEY, joined date NOT NULL);
CALL steward.partition_existing_table('customers', 'joined', '1 month');
\set VERBOSITY default
CALL steward.partition_existing_table('customers', 'joined', '1 month', action => 'start');
\set VERBOSITY terse
SELECT count(*) AS conversions FROM steward.table_conversions WHERE source = 'customers'::regclass;

DROP SCHEMA convert CASCADE;
