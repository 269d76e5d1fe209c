"""Errors reach the user as PostgreSQL reports them: SQLSTATE, DETAIL, HINT and object names kept.

In 0.1.0 ``runtime.call`` read ``detail`` and ``hint`` attributes that ``plpy.SPIError`` does not have
(PL/Python keeps them in its ``spidata`` tuple), so an error of a statement pg_steward ran lost
PostgreSQL's DETAIL and HINT: the row a CHECK refused, what a table owner's trigger said. Each test reads
the error through psycopg's ``Diagnostic``, as a client sees it.
"""

from __future__ import annotations

import re

import psycopg
import pytest

PARENT = """
CREATE TABLE public.orders (id bigint NOT NULL CHECK (id > 0), at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.orders_default PARTITION OF public.orders DEFAULT;
INSERT INTO public.orders VALUES (7, '2026-03-05');
"""

# PL/Python gives every error raised from Python a traceback CONTEXT; for an expected error it may name only
# the SQL function's one line (<module>) and runtime.call, which raised it: none of the frames below.
FRAME = re.compile(r'^  PL/Python function "[^"]*", line \d+, in (\S+)$', re.MULTILINE)


def _error(conn: psycopg.Connection, sql: str) -> psycopg.errors.Diagnostic:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql)
    return caught.value.diag


def _no_package_frames(diag: psycopg.errors.Diagnostic) -> None:
    context = diag.context or ""
    assert set(FRAME.findall(context)) <= {"<module>", "call"}, context
    assert ".py" not in context, context


def test_owner_error_while_moving_default_rows_keeps_detail_and_hint(conn: psycopg.Connection) -> None:
    """A table owner's trigger refuses the row create_partition moves out of DEFAULT: its DETAIL and HINT."""
    conn.execute(PARENT)
    conn.execute("""
        CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'orders are frozen' USING ERRCODE = '55006',
                DETAIL = 'order ' || OLD.id || ' may not move', HINT = 'thaw the orders first';
        END $$;
        CREATE TRIGGER refuse BEFORE DELETE ON public.orders_default FOR EACH ROW
            EXECUTE FUNCTION public.refuse();
    """)
    diag = _error(conn, "SELECT steward.create_partition('public.orders', '2026-03-01', '1 month')")
    assert diag.sqlstate == "55006"
    assert diag.message_primary == "pg_steward: orders are frozen"
    assert diag.message_detail == "order 7 may not move"
    assert diag.message_hint == "thaw the orders first"
    _no_package_frames(diag)
    assert conn.execute("SELECT count(*) FROM public.orders_default").fetchone() == (1,)  # nothing changed


# The owner's trigger on DEFAULT copies each row it loses into a table of its own, whose constraint refuses it:
# PostgreSQL's own DETAIL ("Failing row contains ...", "Key (...)=(...) already exists.") and names.
CONSTRAINT_ERRORS = {
    "check violation": ("""
        CREATE TABLE public.order_moves (id bigint CHECK (id > 0), at date);
        CREATE FUNCTION public.keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.order_moves VALUES (-OLD.id, OLD.at); RETURN OLD; END $$;
    """, "23514", "Failing row contains (-7, 2026-03-05).", "order_moves_id_check", "order_moves"),
    "unique violation": ("""
        CREATE TABLE public.order_moves (id bigint PRIMARY KEY);
        INSERT INTO public.order_moves VALUES (7);
        CREATE FUNCTION public.keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.order_moves VALUES (OLD.id); RETURN OLD; END $$;
    """, "23505", "Key (id)=(7) already exists.", "order_moves_pkey", "order_moves"),
}


@pytest.mark.parametrize("case", list(CONSTRAINT_ERRORS))
def test_constraint_error_keeps_postgres_detail_and_names(conn: psycopg.Connection, case: str) -> None:
    """A constraint error in a statement create_partition runs keeps its DETAIL, constraint and table."""
    setup, sqlstate, detail, constraint, table = CONSTRAINT_ERRORS[case]
    conn.execute(PARENT)
    conn.execute(setup)
    conn.execute("CREATE TRIGGER keep BEFORE DELETE ON public.orders_default FOR EACH ROW "
                 "EXECUTE FUNCTION public.keep()")
    diag = _error(conn, "SELECT steward.create_partition('public.orders', '2026-03-01', '1 month')")
    assert (diag.sqlstate, diag.message_detail) == (sqlstate, detail)
    assert (diag.schema_name, diag.table_name, diag.constraint_name) == ("public", table, constraint)
    _no_package_frames(diag)


def test_steward_error_keeps_its_hint(conn: psycopg.Connection) -> None:
    """Our own refusal keeps its SQLSTATE and HINT, and shows none of the package's frames."""
    conn.execute(PARENT)
    diag = _error(conn, "SELECT steward.manage('public.orders', '1 month', lock_timeout => '1 day')")
    assert diag.sqlstate == "22023"
    assert diag.message_primary.startswith("pg_steward: lock_timeout")
    assert diag.message_hint and "max_lock_timeout" in diag.message_hint
    _no_package_frames(diag)

