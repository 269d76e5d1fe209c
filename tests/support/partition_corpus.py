"""A planted corpus of partition layouts users really have, for running every partition function over.

Each layout is a parent table (created in ``public`` with rows), how maintenance may manage it (``manage``:
the keyword arguments of ``steward.manage``, or None where pg_steward does not manage such a table and must say
so clearly), and a ``start`` for ``steward.create_partition`` (None: the table is not one create_partition
takes). The odd values are the point: NaN, infinities, BC dates, text that looks like numbers, enums, the
ends of integer ranges, far-apart integers (a
sentinel near 2^31 beside small ids), foreign keys in and out, sub-partitions, no DEFAULT.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str  # the parent table
    sql: str  # creates it (and what it needs) with its rows
    manage: str | None = None  # the arguments of steward.manage after the table, e.g. "'1 month', premake => 1"
    start: str | None = None  # a start for steward.create_partition(name, start, span)
    span: str = "1 month"
    placeable_only_in_default: bool = True  # after maintenance, DEFAULT holds only rows no partition can hold
    order: tuple[str, ...] = ()  # where given, the partitions as steward.partitions() lists them: the key's order
    most_partitions: int | None = None  # after maintenance, the tree has at most this many partitions


LAYOUTS = [
    Layout("float_key", """
        CREATE TABLE float_key (x float8, v int) PARTITION BY RANGE (x);
        CREATE TABLE float_key_low PARTITION OF float_key FOR VALUES FROM (MINVALUE) TO ('0');
        CREATE TABLE float_key_high PARTITION OF float_key FOR VALUES FROM ('0') TO ('Infinity');
        CREATE TABLE float_key_nan PARTITION OF float_key FOR VALUES FROM ('Infinity') TO (MAXVALUE);
        CREATE TABLE float_key_default PARTITION OF float_key DEFAULT;
        INSERT INTO float_key VALUES ('-Infinity', 1), (0.5, 2), ('NaN', 3), (1e308, 4), ('Infinity', 5), (NULL, 6);
    """),
    Layout("numeric_key", """
        CREATE TABLE numeric_key (x numeric, v int) PARTITION BY RANGE (x);
        CREATE TABLE numeric_key_a PARTITION OF numeric_key FOR VALUES FROM ('-1e30') TO ('0.000001');
        CREATE TABLE numeric_key_b PARTITION OF numeric_key FOR VALUES FROM ('0.000001') TO ('NaN');
        CREATE TABLE numeric_key_default PARTITION OF numeric_key DEFAULT;
        INSERT INTO numeric_key VALUES (-5, 1), (0.0000005, 2), (123456789.123456789, 3), ('NaN', 4), (-1e31, 5);
    """),
    Layout("text_key", """
        CREATE TABLE text_key (k text, v int) PARTITION BY RANGE (k);
        CREATE TABLE text_key_a PARTITION OF text_key FOR VALUES FROM ('') TO ('1');
        CREATE TABLE text_key_b PARTITION OF text_key FOR VALUES FROM ('1') TO ('nan');
        CREATE TABLE text_key_c PARTITION OF text_key FOR VALUES FROM ('nan') TO ('z''s');
        CREATE TABLE text_key_default PARTITION OF text_key DEFAULT;
        INSERT INTO text_key VALUES ('', 1), ('0042', 2), ('NaN', 3), ('nan', 4), ('O''Brien', 5), ('zzz', 6);
    """),
    Layout("text_list", """
        CREATE TABLE text_list (k text, v int) PARTITION BY LIST (k);
        CREATE TABLE text_list_nan PARTITION OF text_list FOR VALUES IN ('nan', '1');
        CREATE TABLE text_list_inf PARTITION OF text_list FOR VALUES IN ('Infinity', '-0', NULL);
        CREATE TABLE text_list_default PARTITION OF text_list DEFAULT;
        INSERT INTO text_list VALUES ('nan', 1), ('1', 2), (NULL, 3), ('-0', 4), ('other', 5);
    """),
    Layout("enum_list", """
        CREATE TYPE corpus_mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE enum_list (m corpus_mood, v int) PARTITION BY LIST (m);
        CREATE TABLE enum_list_happy PARTITION OF enum_list FOR VALUES IN ('happy');
        CREATE TABLE enum_list_sad PARTITION OF enum_list FOR VALUES IN ('sad');
        CREATE TABLE enum_list_ok PARTITION OF enum_list FOR VALUES IN ('ok');
        INSERT INTO enum_list VALUES ('sad', 1), ('ok', 2), ('happy', 3);
    """, order=("enum_list_sad", "enum_list_ok", "enum_list_happy")),
    Layout("date_bc", """
        CREATE TABLE date_bc (d date NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE date_bc_ad PARTITION OF date_bc FOR VALUES FROM ('0001-01-01') TO ('infinity');
        CREATE TABLE date_bc_late PARTITION OF date_bc FOR VALUES FROM ('0044-03-15 BC') TO ('0001-01-01');
        CREATE TABLE date_bc_early PARTITION OF date_bc FOR VALUES FROM ('0753-04-21 BC') TO ('0044-03-15 BC');
        CREATE TABLE date_bc_default PARTITION OF date_bc DEFAULT;
        INSERT INTO date_bc VALUES ('0500-01-01 BC', 1), ('0044-03-15 BC', 2), ('2024-05-05', 3),
            ('1000-01-01 BC', 4), ('infinity', 5);
    """, manage="'1 month', premake => 1", start="2031-01-01", placeable_only_in_default=False,
        order=("date_bc_early", "date_bc_late", "date_bc_ad", "date_bc_default")),
    Layout("numeric_list", """
        CREATE TABLE numeric_list (x numeric, v int) PARTITION BY LIST (x);
        CREATE TABLE numeric_list_ten PARTITION OF numeric_list FOR VALUES IN ('10', '1e3');
        CREATE TABLE numeric_list_nine PARTITION OF numeric_list FOR VALUES IN ('9.99', 'NaN');
        CREATE TABLE numeric_list_minus PARTITION OF numeric_list FOR VALUES IN ('-2', NULL);
        INSERT INTO numeric_list VALUES (10, 1), ('NaN', 2), (NULL, 3), (1000, 4);
    """, order=("numeric_list_minus", "numeric_list_nine", "numeric_list_ten")),
    Layout("date_odd", """
        CREATE TABLE date_odd (d date NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE date_odd_past PARTITION OF date_odd FOR VALUES FROM (MINVALUE) TO ('2000-01-01');
        CREATE TABLE date_odd_default PARTITION OF date_odd DEFAULT;
        INSERT INTO date_odd VALUES ('1999-06-01', 1), ('-infinity', 2), ('infinity', 3), ('0044-03-15 BC', 4),
            (current_date, 5), (current_date + 200, 6), ('9999-12-31', 7), ('294276-12-31', 8);
    """, manage="'1 month', premake => 1", start="2031-01-01"),
    Layout("tstz_odd", """
        CREATE TABLE tstz_odd (t timestamptz NOT NULL, v int) PARTITION BY RANGE (t);
        CREATE TABLE tstz_odd_ever PARTITION OF tstz_odd FOR VALUES FROM ('-infinity') TO ('2001-01-01 00:00+00');
        CREATE TABLE tstz_odd_default PARTITION OF tstz_odd DEFAULT;
        INSERT INTO tstz_odd VALUES ('-infinity', 1), ('infinity', 2), ('2000-05-05 12:00+00', 3),
            (now(), 4), (now() + interval '40 days', 5), ('9999-12-31 23:00+00', 6);
    """, manage="'1 day', premake => 2, time_zone => 'Asia/Tokyo'", start="2031-01-01", span="1 day"),
    Layout("multi_column", """
        CREATE TABLE multi_column (a int, d date, v int) PARTITION BY RANGE (a, d);
        CREATE TABLE multi_column_1 PARTITION OF multi_column
            FOR VALUES FROM (MINVALUE, MINVALUE) TO (10, '2024-01-01');
        CREATE TABLE multi_column_2 PARTITION OF multi_column
            FOR VALUES FROM (10, '2024-01-01') TO (MAXVALUE, MAXVALUE);
        INSERT INTO multi_column VALUES (1, '2020-01-01', 1), (10, '2024-06-01', 2), (99, '2030-01-01', 3);
    """, manage="'1 month'", start="2031-01-01"),
    Layout("expression_key", """
        CREATE TABLE expression_key (t timestamp NOT NULL, v int) PARTITION BY RANGE ((t::date));
        CREATE TABLE expression_key_old PARTITION OF expression_key FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
        CREATE TABLE expression_key_default PARTITION OF expression_key DEFAULT;
        INSERT INTO expression_key VALUES ('2020-01-01 10:00', 1), (now(), 2);
    """, manage="'1 month'", start="2031-01-01"),
    Layout("sub_partitioned", """
        CREATE TABLE sub_partitioned (d date NOT NULL, region text NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE sub_partitioned_old PARTITION OF sub_partitioned FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')
            PARTITION BY LIST (region);
        CREATE TABLE sub_partitioned_old_eu PARTITION OF sub_partitioned_old FOR VALUES IN ('eu');
        CREATE TABLE sub_partitioned_old_default PARTITION OF sub_partitioned_old DEFAULT;
        CREATE TABLE sub_partitioned_default PARTITION OF sub_partitioned DEFAULT;
        INSERT INTO sub_partitioned VALUES ('2020-01-05', 'eu', 1), ('2020-01-06', 'us', 2),
            (current_date, 'eu', 3), (current_date + 100, 'us', 4);
    """, manage="'1 month', premake => 1, retention => '1 year'", start="2031-01-01"),
    Layout("fk_out", """
        CREATE TABLE corpus_customer (id int PRIMARY KEY);
        INSERT INTO corpus_customer VALUES (1), (2);
        CREATE TABLE fk_out (d date NOT NULL, customer int REFERENCES corpus_customer, v int) PARTITION BY RANGE (d);
        CREATE TABLE fk_out_default PARTITION OF fk_out DEFAULT;
        INSERT INTO fk_out VALUES (current_date, 1, 1), (current_date + 70, 2, 2);
    """, manage="'1 month', premake => 0", start="2031-01-01"),
    Layout("fk_in", """
        CREATE TABLE fk_in (id int NOT NULL, d date NOT NULL, PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
        CREATE TABLE fk_in_default PARTITION OF fk_in DEFAULT;
        CREATE TABLE corpus_line (id int, order_id int, order_d date,
                                  FOREIGN KEY (order_id, order_d) REFERENCES fk_in ON DELETE RESTRICT);
        INSERT INTO fk_in VALUES (1, current_date + 70), (2, current_date + 300);
        INSERT INTO corpus_line VALUES (10, 1, current_date + 70);
    """, manage="'1 month', premake => 0", start="2031-01-01", placeable_only_in_default=False),
    Layout("no_default", """
        CREATE TABLE no_default (d date NOT NULL, v int) PARTITION BY RANGE (d);
        CREATE TABLE no_default_2020 PARTITION OF no_default FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
        INSERT INTO no_default VALUES ('2020-03-03', 1);
    """, manage="'1 year', premake => 1, retention => '10 years'", start="2031-01-01", span="1 year"),
    Layout("smallint_full", """
        CREATE TABLE smallint_full (id smallint NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE smallint_full_default PARTITION OF smallint_full DEFAULT;
        INSERT INTO smallint_full VALUES (32767), (32766), (32001);
    """, manage="integer_span => 1000, premake => 3", start="30000", span="1000"),
    Layout("int_full", """
        CREATE TABLE int_full (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE int_full_top PARTITION OF int_full FOR VALUES FROM (2147483000) TO (2147483500);
        CREATE TABLE int_full_default PARTITION OF int_full DEFAULT;
        INSERT INTO int_full VALUES (2147483001), (2147483647), (2147483600);
    """, manage="integer_span => 500, premake => 2", start="2147483500", span="100"),
    Layout("bigint_full", """
        CREATE TABLE bigint_full (id bigint NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE bigint_full_default PARTITION OF bigint_full DEFAULT;
        INSERT INTO bigint_full VALUES (9223372036854775807), (-9223372036854775808);
    """, manage="integer_span => 1000000000000000000, premake => 1", start="0", span="1000000000000000000"),
    Layout("int_far_apart", """
        CREATE TABLE int_far_apart (id integer NOT NULL, v int) PARTITION BY RANGE (id);
        CREATE TABLE int_far_apart_low PARTITION OF int_far_apart FOR VALUES FROM (1) TO (1001);
        CREATE TABLE int_far_apart_default PARTITION OF int_far_apart DEFAULT;
        INSERT INTO int_far_apart SELECT i, i FROM generate_series(1, 1500) AS i;
        INSERT INTO int_far_apart VALUES (2147483000, 0), (2147483647, -1);
    """, manage="integer_span => 1000, premake => 2", start="2000000001", span="1000", most_partitions=4),
    Layout("int_far_apart_no_default", """
        CREATE TABLE int_far_apart_no_default (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE int_far_apart_no_default_low PARTITION OF int_far_apart_no_default FOR VALUES FROM (0) TO (10);
        CREATE TABLE int_far_apart_no_default_top PARTITION OF int_far_apart_no_default
            FOR VALUES FROM (2000000000) TO (2000000010);
        INSERT INTO int_far_apart_no_default VALUES (3), (2000000005);
    """, manage="integer_span => 10, premake => 1", start="500", span="10", most_partitions=3),
    Layout("int_empty", """
        CREATE TABLE int_empty (id integer NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE int_empty_0 PARTITION OF int_empty FOR VALUES FROM (0) TO (100);
    """, manage="integer_span => 100, premake => 5", start="100", span="100"),
    Layout("hash_layout", """
        CREATE TABLE hash_layout (id int, v int) PARTITION BY HASH (id);
        CREATE TABLE hash_layout_0 PARTITION OF hash_layout FOR VALUES WITH (MODULUS 2, REMAINDER 0);
        CREATE TABLE hash_layout_1 PARTITION OF hash_layout FOR VALUES WITH (MODULUS 2, REMAINDER 1);
        INSERT INTO hash_layout SELECT i, i FROM generate_series(1, 20) AS i;
    """, manage="'1 month'", start="1"),
]
