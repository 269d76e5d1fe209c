-- steward.partitions(parent): the partition tree, from the catalog.
\set SHOW_CONTEXT never
CREATE TABLE sales_analytics (
    sale_id bigint NOT NULL,
    sale_date date NOT NULL,
    region text NOT NULL,
    PRIMARY KEY (sale_id, sale_date)
) PARTITION BY RANGE (sale_date);
CREATE TABLE sales_analytics_2024_02 PARTITION OF sales_analytics FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE sales_analytics_2024_01 PARTITION OF sales_analytics FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE sales_analytics_default PARTITION OF sales_analytics DEFAULT;
INSERT INTO sales_analytics
SELECT n, DATE '2024-01-01' + n % 70, 'North' FROM generate_series(1, 7000) AS n;
ANALYZE sales_analytics;

SELECT partition, partition_of, level, strategy, range_from, range_to, is_default,
       total_bytes > 0 AS has_size, estimated_rows
FROM steward.partitions('sales_analytics');

-- Hash and list layouts, and a DEFAULT in a sub-partition.
CREATE TABLE user_analytics (user_id bigint NOT NULL, username text NOT NULL) PARTITION BY HASH (user_id);
CREATE TABLE user_analytics_p1 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE user_analytics_p0 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 4, REMAINDER 0);
SELECT partition, strategy, hash_modulus, hash_remainder
FROM steward.partitions('user_analytics');

CREATE TABLE transaction_log (transaction_date date NOT NULL, region text NOT NULL) PARTITION BY RANGE (transaction_date);
CREATE TABLE transaction_log_2024 PARTITION OF transaction_log
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (region);
CREATE TABLE transaction_log_2024_us PARTITION OF transaction_log_2024 FOR VALUES IN ('US');
CREATE TABLE transaction_log_2024_eu PARTITION OF transaction_log_2024 FOR VALUES IN ('UK', 'DE', 'FR');
CREATE TABLE transaction_log_2024_other PARTITION OF transaction_log_2024 DEFAULT;
SELECT repeat('  ', level) || partition AS tree, strategy, partitioned_by, bound, list_values
FROM steward.partitions('transaction_log');

-- Bad input: clear errors, nothing changed.
CREATE TABLE not_partitioned (id int);
SELECT * FROM steward.partitions('not_partitioned');
SELECT * FROM steward.partitions('sales_analytics_2024_01');
SELECT * FROM steward.partitions('no_such_table');
SELECT * FROM steward.partitions(NULL);
