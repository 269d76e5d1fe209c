"""CREATE EXTENSION from nothing, versions, the security baseline, and the version guard."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

import pg_steward
from conftest import pg_config

VERSION = pg_steward.__version__
PACKAGE_DIR = Path(pg_config("--pkglibdir")) / "pg_steward" / VERSION


def test_create_extension_cascade_on_a_bare_database(new_database: Callable[..., str]) -> None:
    with psycopg.connect(new_database(extension=False), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'").fetchone() == (0,)
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        row = conn.execute("SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'pg_steward'")
        assert row.fetchone() == (VERSION, False)


def test_version_reports_sql_and_python(conn: psycopg.Connection) -> None:
    sql_version, python_version, package_dir, pglast_version, interpreter = conn.execute(
        "SELECT * FROM steward.version()"
    ).fetchone()
    assert sql_version == python_version == VERSION
    assert Path(package_dir) == PACKAGE_DIR
    requirement = (Path(__file__).parent.parent / "python" / "requirements-server.txt").read_text()
    assert f"pglast=={pglast_version}" in requirement
    assert interpreter.startswith("3.")


def test_every_object_lives_in_schema_steward(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """
        SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
               coalesce(p.pronamespace, c.relnamespace, t.typnamespace)::regnamespace::text AS schema
        FROM pg_depend d
        LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
        LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
        LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
        WHERE d.refclassid = 'pg_extension'::regclass
          AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_steward')
          AND d.deptype = 'e'
        """
    ).fetchall()
    assert rows, "the extension owns no objects"
    outside = [obj for obj, schema in rows if schema not in ("steward", None)]
    assert outside == []
    # Event triggers have no schema: one forgets the registry rows of dropped tables, one refuses DROP EXTENSION
    # while pg_cron has pg_steward's jobs.
    unschemed = sorted(obj for obj, schema in rows if schema is None)
    assert unschemed == ["event trigger pg_steward_forget_dropped", "event trigger pg_steward_refuse_drop_with_jobs"], \
        f"objects of unexpected kinds: {unschemed}"


def test_every_function_is_invoker_with_pinned_search_path(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """
        SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig, p.prokind
        FROM pg_proc p WHERE p.pronamespace = 'steward'::regnamespace
        """
    ).fetchall()
    assert len(rows) >= 5
    # The one exception: the event trigger's function, which deletes only the registry rows of the tables the
    # current DROP removed (any role dropping its table must not need the registry's DELETE privilege) and
    # which no role may call (EXECUTE revoked from PUBLIC; an event trigger function cannot be called anyway).
    definers = [signature for signature, security_definer, _, _ in rows if security_definer]
    assert definers == ["steward._forget_dropped()"], definers
    assert not conn.execute("SELECT has_function_privilege('public', 'steward._forget_dropped()', 'EXECUTE')"
                            ).fetchone()[0]
    for signature, _, config, kind in rows:
        if kind == "p":
            # A procedure that COMMITs cannot have SET clauses (PostgreSQL refuses them);
            # it must run only search_path-independent statements (see extension/idempotent/partitions.sql).
            assert signature in ("steward.run_maintenance()", "steward.partition_existing_table(regclass,text,"
                                 "interval,text,integer,integer,interval,integer,text,boolean)"), signature
            continue
        assert config and "search_path=pg_catalog, pg_temp" in config, (signature, config)


def test_every_table_and_sequence_is_registered_for_pg_dump(conn: psycopg.Connection) -> None:
    tables = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c "
        "WHERE c.relnamespace = 'steward'::regnamespace AND c.relkind IN ('r', 'p', 'S')"
    ).fetchall()
    registered = conn.execute(
        "SELECT coalesce(array_agg(x::regclass::text), '{}') FROM pg_extension, unnest(extconfig) x "
        "WHERE extname = 'pg_steward'"
    ).fetchone()[0]
    assert sorted(t for (t,) in tables) == sorted(registered)


def test_drop_extension_leaves_only_the_empty_schema(conn: psycopg.Connection) -> None:
    conn.execute("SELECT * FROM steward.version()")
    conn.execute("DROP EXTENSION pg_steward")
    left = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'steward'::regnamespace "
        "UNION ALL SELECT count(*) FROM pg_proc WHERE pronamespace = 'steward'::regnamespace"
    ).fetchall()
    assert left == [(0,), (0,)]
    conn.execute("CREATE EXTENSION pg_steward")
    assert conn.execute("SELECT python_version FROM steward.version()").fetchone() == (VERSION,)


def test_schema_owned_by_an_ordinary_role_is_refused(new_database: Callable[..., str]) -> None:
    with psycopg.connect(new_database(extension=False), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS squatter")
        conn.execute("CREATE ROLE squatter")
        conn.execute("CREATE SCHEMA steward AUTHORIZATION squatter")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="owned by a role that is not a superuser"):
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_steward'").fetchone() == (0,)
        conn.execute("DROP SCHEMA steward")
        conn.execute("DROP ROLE squatter")


def test_an_object_planted_in_schema_steward_is_not_replaced(new_database: Callable[..., str]) -> None:
    """The sources CREATE OR REPLACE every function and view; PostgreSQL refuses to replace one that is not
    the extension's own, so a function planted in schema steward beforehand stops the install instead of
    being taken over (or keeping its planter as owner)."""
    with psycopg.connect(new_database(extension=False), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA steward")
        conn.execute("CREATE FUNCTION steward.unmanage(parent regclass) RETURNS boolean LANGUAGE sql RETURN true")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is not a member of extension"):
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_steward'").fetchone()[0] == 0


def test_package_loaded_in_another_version_is_a_clear_error(conn: psycopg.Connection) -> None:
    """An ALTER EXTENSION UPDATE while a session holds the old package must not mix versions."""
    conn.execute("SELECT * FROM steward.version()")
    # Make this session look like one that loaded an older package before the SQL was updated.
    conn.execute(
        """DO LANGUAGE plpython3u $$
import sys
sys.modules["pg_steward"].__version__ = "0.0.1"
GD.pop("pg_steward")
$$"""
    )
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState) as error:
        conn.execute("SELECT * FROM steward.version()")
    message = str(error.value)
    assert f"the SQL objects are version {VERSION}" in message and "Python package 0.0.1" in message
    assert error.value.diag.message_hint.startswith("Open a new session")


def test_missing_package_is_a_clear_error(new_database: Callable[..., str]) -> None:
    url = new_database()
    hidden = PACKAGE_DIR.with_name(PACKAGE_DIR.name + ".hidden")
    os.rename(PACKAGE_DIR, hidden)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.UndefinedFile) as error:
                conn.execute("SELECT * FROM steward.version()")
        assert f"Python package {VERSION} is not installed" in str(error.value)
        assert "make install" in error.value.diag.message_hint
    finally:
        os.rename(hidden, PACKAGE_DIR)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT python_version FROM steward.version()").fetchone() == (VERSION,)


def test_package_loads_once_per_session(conn: psycopg.Connection) -> None:
    conn.execute("SELECT * FROM steward.version()")
    conn.execute(
        f"""CREATE FUNCTION pg_temp.load_count() RETURNS int LANGUAGE plpython3u AS $$
import sys
return sum(1 for p in sys.path if p.endswith("/pg_steward/{VERSION}"))
$$"""
    )
    for _ in range(3):
        conn.execute("SELECT * FROM steward.version()")
    assert conn.execute("SELECT pg_temp.load_count()").fetchone() == (1,)
