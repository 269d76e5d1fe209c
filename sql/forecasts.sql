-- steward.growth_forecasts() on a controlled growth: snapshots planted with chosen times and values.
\set SHOW_CONTEXT never
CREATE SEQUENCE orders_seq AS integer;
SELECT setval('orders_seq', 5000000);
CREATE TABLE events (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) > 0 AS managed FROM steward.manage('events', '1 month', premake => 3);

-- A sequence growing by one million a day, the database by 2 MB a day, over five daily snapshots.
INSERT INTO steward.growth_snapshot (captured_at, kind, object, sequence, value, limit_value)
SELECT now() - (4 - d) * interval '1 day', 'sequence', '"public"."orders_seq"', '"public"."orders_seq"',
       1000000 * (d + 1), 2147483647
FROM generate_series(0, 4) AS d;
INSERT INTO steward.growth_snapshot (captured_at, kind, object, value)
SELECT now() - (4 - d) * interval '1 day', 'database', 'db', (10 + 2 * d) * 1048576
FROM generate_series(0, 4) AS d;

SELECT kind, object, current, "limit", round(growth_per_day) AS per_day, days_left,
       runs_out_on - (now() AT TIME ZONE 'UTC')::date AS days_to_date
FROM steward.growth_forecasts()
WHERE kind IN ('sequence', 'database')
ORDER BY kind;

-- The premade partitions need no history: three months ahead and the current one.
SELECT kind, object, days_left BETWEEN 85 AND 125 AS three_to_four_months, current IS NULL AS no_current
FROM steward.growth_forecasts() WHERE kind = 'premade_partitions';

-- A window shorter than the history fits the newest snapshots only.
SELECT object, detail LIKE 'least squares over 2 snapshots%' AS two
FROM steward.growth_forecasts('1 day 1 hour') WHERE kind = 'sequence';

SELECT * FROM steward.growth_forecasts('-1 day');
SELECT * FROM steward.growth_forecasts(NULL);

SELECT check_name, status FROM steward.health() WHERE check_name = 'premake_runway';

-- The caller's date style and time zone do not change the runway.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Pacific/Kiritimati';
SELECT kind, days_left BETWEEN 85 AND 125 AS three_to_four_months
FROM steward.growth_forecasts() WHERE kind = 'premade_partitions';
SELECT check_name, status FROM steward.health() WHERE check_name = 'premake_runway';
RESET DateStyle;
RESET TimeZone;
