-- pg_steward 0.2.0, run once per database: the growth history behind steward.growth_forecasts().
-- Reference: extension/reports.md ("Forecasts"). See extension/build.py for the rules of incremental sources.

-- One row per object and capture (steward.capture_growth(), job capture_growth), every row of a capture with its
-- time: kind database (object: the database, value: its size in bytes), sequence (value: last_value, limit_value:
-- MAXVALUE, or MINVALUE when descending), integer_key (a table.column a sequence feeds: the sequence's value, the
-- bound of the column's type), premade_partitions (a managed table: the newest partition's upper bound, in
-- seconds since the epoch for a time key). sequence: the sequence a row's value comes from.
CREATE TABLE steward.growth_snapshot (
    captured_at timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY[
                    'database', 'sequence', 'integer_key', 'premade_partitions'])),
    object      text NOT NULL,
    sequence    text,
    value       numeric NOT NULL,
    limit_value numeric,
    PRIMARY KEY (kind, object, captured_at)
);
CREATE INDEX growth_snapshot_captured_at ON steward.growth_snapshot (captured_at);
SELECT pg_catalog.pg_extension_config_dump('steward.growth_snapshot', '');
