-- The partitioned tables of the seed documents, with deterministic data.
-- sales_analytics: monthly RANGE partitions for 2024-01..06 and a DEFAULT,
--   with a few rows of early July 2024 that land in the DEFAULT partition.
-- user_analytics: 8 HASH partitions.  regional_sales: LIST with DEFAULT.
-- transaction_log: yearly RANGE, sub-partitioned by LIST with DEFAULT.

CREATE TABLE sales_analytics (
    sale_id BIGSERIAL,
    sale_date DATE NOT NULL,
    product_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price NUMERIC(10,2) NOT NULL,
    total_amount NUMERIC(10,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    region TEXT NOT NULL,
    sales_rep_id INTEGER,
    PRIMARY KEY (sale_id, sale_date)
) PARTITION BY RANGE (sale_date);

CREATE TABLE sales_analytics_2024_01 PARTITION OF sales_analytics FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE sales_analytics_2024_02 PARTITION OF sales_analytics FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE sales_analytics_2024_03 PARTITION OF sales_analytics FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
CREATE TABLE sales_analytics_2024_04 PARTITION OF sales_analytics FOR VALUES FROM ('2024-04-01') TO ('2024-05-01');
CREATE TABLE sales_analytics_2024_05 PARTITION OF sales_analytics FOR VALUES FROM ('2024-05-01') TO ('2024-06-01');
CREATE TABLE sales_analytics_2024_06 PARTITION OF sales_analytics FOR VALUES FROM ('2024-06-01') TO ('2024-07-01');
CREATE TABLE sales_analytics_default PARTITION OF sales_analytics DEFAULT;

-- 186 days from 2024-01-01: Jan..Jun, plus 2024-07-01..04 in the DEFAULT partition.
INSERT INTO sales_analytics (sale_date, product_id, customer_id, quantity, unit_price, region, sales_rep_id)
SELECT DATE '2024-01-01' + (n % 186),
       1 + n % 1000,
       1 + (n * 7) % 9999,
       1 + n % 10,
       10 + (n % 200),
       (ARRAY['North', 'South', 'East', 'West', 'Central'])[1 + n % 5],
       1 + n % 50
FROM generate_series(1, 100000) AS n;

CREATE TABLE user_analytics (
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    activity_date DATE NOT NULL,
    page_views INTEGER DEFAULT 0,
    session_duration INTEGER DEFAULT 0,
    actions_count INTEGER DEFAULT 0,
    PRIMARY KEY (user_id, username)
) PARTITION BY HASH (user_id);

CREATE TABLE user_analytics_p0 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE user_analytics_p1 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE user_analytics_p2 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE user_analytics_p3 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE user_analytics_p4 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE user_analytics_p5 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE user_analytics_p6 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE user_analytics_p7 PARTITION OF user_analytics FOR VALUES WITH (MODULUS 8, REMAINDER 7);

INSERT INTO user_analytics (user_id, username, activity_date, page_views, session_duration, actions_count)
SELECT n, 'user_' || n, DATE '2024-06-30' - n % 30, n % 100, n % 3600, n % 50
FROM generate_series(1, 100000) AS n;

CREATE TABLE regional_sales (
    sale_id BIGSERIAL,
    region TEXT NOT NULL,
    country TEXT NOT NULL,
    sale_date DATE NOT NULL,
    amount NUMERIC(10,2) NOT NULL,
    PRIMARY KEY (sale_id, region)
) PARTITION BY LIST (region);

CREATE TABLE regional_sales_americas PARTITION OF regional_sales FOR VALUES IN ('US', 'CA', 'MX', 'BR', 'AR');
CREATE TABLE regional_sales_europe PARTITION OF regional_sales FOR VALUES IN ('UK', 'DE', 'FR', 'IT', 'ES', 'NL');
CREATE TABLE regional_sales_asia PARTITION OF regional_sales FOR VALUES IN ('JP', 'CN', 'IN', 'SG', 'KR', 'AU');
CREATE TABLE regional_sales_other PARTITION OF regional_sales DEFAULT;

INSERT INTO regional_sales (region, country, sale_date, amount)
SELECT (ARRAY['US', 'UK', 'DE', 'JP', 'CA', 'FR', 'ZA'])[1 + n % 7],
       (ARRAY['US', 'UK', 'DE', 'JP', 'CA', 'FR', 'ZA'])[1 + n % 7],
       DATE '2024-06-30' - n % 365,
       10 + n % 1000
FROM generate_series(1, 50000) AS n;

CREATE TABLE transaction_log (
    transaction_id BIGSERIAL,
    transaction_date DATE NOT NULL,
    region TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    amount NUMERIC(12,2) NOT NULL,
    PRIMARY KEY (transaction_id, transaction_date, region)
) PARTITION BY RANGE (transaction_date);

CREATE TABLE transaction_log_2024 PARTITION OF transaction_log
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (region);
CREATE TABLE transaction_log_2024_us PARTITION OF transaction_log_2024 FOR VALUES IN ('US');
CREATE TABLE transaction_log_2024_eu PARTITION OF transaction_log_2024 FOR VALUES IN ('UK', 'DE', 'FR', 'IT', 'ES');
CREATE TABLE transaction_log_2024_asia PARTITION OF transaction_log_2024 FOR VALUES IN ('JP', 'CN', 'IN', 'SG');
CREATE TABLE transaction_log_2024_other PARTITION OF transaction_log_2024 DEFAULT;

INSERT INTO transaction_log (transaction_date, region, customer_id, amount)
SELECT DATE '2024-01-01' + n % 366,
       (ARRAY['US', 'UK', 'JP', 'BR'])[1 + n % 4],
       1 + n % 5000,
       n % 1000
FROM generate_series(1, 20000) AS n;

ANALYZE sales_analytics, user_analytics, regional_sales, transaction_log;
