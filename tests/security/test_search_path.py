"""CALL steward.run_maintenance() by a superuser in a database whose owner set a hostile search_path.

The procedure commits between tables, so it cannot carry ``SET search_path`` as the functions do: whatever it
runs itself must find none of the owner's objects that shadow pg_catalog's (CVE-2018-1058). The traps of
tests/test_cli_search_path.py (operators and functions in schema ``evil``, first in the database's search_path)
are joined by domains named like the types our statements cast to (``$1::oid``): a domain's CHECK runs when a
value is cast to it. Each trap tries to make the owner superuser and notes that it ran.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from test_cli_search_path import evil_ran, hostile, is_superuser  # noqa: F401 (hostile is a fixture)

# Type names the grammar does not map to pg_catalog itself (integer, bigint, boolean, numeric, interval do).
CAST_TYPES = ("oid", "int4", "int8", "text", "regclass", "regnamespace", "regrole", "regprocedure", "timestamptz",
              "date", "bool", "jsonb", "name", "float8")


def type_traps(owner: str) -> str:
    sql = [f"SET ROLE {owner};",
           """CREATE FUNCTION evil.checked(what text) RETURNS boolean LANGUAGE plpgsql AS $$
              BEGIN PERFORM evil.trap(what); RETURN true; END $$;"""]
    for kind in CAST_TYPES:
        sql.append(f"CREATE DOMAIN evil.{kind} AS pg_catalog.{kind} CHECK (evil.checked('::{kind}'));")
    sql.append("RESET ROLE;")
    return "\n".join(sql)


def test_run_maintenance_runs_none_of_the_owners_code(
        hostile: Callable[[bool], tuple[str, str]]) -> None:  # noqa: F811 (the fixture imported above)
    url, owner = hostile(True)
    with psycopg.connect(url, autocommit=True, options="-c search_path=pg_catalog") as conn:
        conn.execute(type_traps(owner))
        # Work for the run: a row in DEFAULT of a month with no partition yet.
        conn.execute("CREATE TABLE public.orders (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
        conn.execute("CREATE TABLE public.orders_default PARTITION OF public.orders DEFAULT")
        conn.execute("INSERT INTO public.orders VALUES (1, current_date + 200)")
        conn.execute("SELECT * FROM steward.manage('public.orders', '1 month', premake => 1)")
    with psycopg.connect(url, autocommit=True) as conn:  # the database's search_path: evil first
        assert conn.execute("SHOW search_path").fetchone()[0].startswith("evil")
        conn.execute("SELECT '1'::oid")  # the type traps work too
        assert evil_ran(url) == [("postgres", "::oid")]
        conn.execute("TRUNCATE evil.ran")
        conn.execute(f"ALTER ROLE {owner} NOSUPERUSER")
        conn.execute("CALL steward.run_maintenance()")
        assert conn.execute("SHOW search_path").fetchone()[0].startswith("evil"), "the caller's setting is kept"
    ran = evil_ran(url)
    assert ran == [], sorted(set(ran))
    assert not is_superuser(url, owner)
    with psycopg.connect(url, options="-c search_path=pg_catalog") as conn:
        assert conn.execute("SELECT count(*) FROM public.orders_default").fetchone() == (0,)
