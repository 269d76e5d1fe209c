"""In-server runtime: the session's database handle and the SQL entry point.

``steward._load_python()`` (extension/runtime.sql) puts the versioned package
directory at the front of ``sys.path``, checks the version and calls
``attach(plpy)`` once per session. Every SQL function then calls
``call(function, *args)``, which hands the function the session's database
and turns a ``StewardError`` into a PostgreSQL error with its SQLSTATE.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, TypeVar

from pg_steward.db import Database, PlpyDatabase
from pg_steward.errors import INTERNAL_ERROR, StewardError

T = TypeVar("T")

_plpy: Any = None
_database: Database | None = None


def attach(plpy: Any) -> None:
    global _plpy, _database
    _plpy = plpy
    _database = PlpyDatabase(plpy)


def in_server() -> bool:
    return "plpy" in sys.modules


def database() -> Database:
    if _database is None:
        raise StewardError(
            "pg_steward's Python runtime is not attached to this session",
            INTERNAL_ERROR,
            hint="Call the steward.* SQL functions; they load the runtime first.",
        )
    return _database


def call(function: Callable[..., T], *args: object) -> T:
    """Run ``function(database, *args)`` for a SQL function, with SQL errors."""
    try:
        return function(database(), *args)
    except StewardError as error:
        _plpy.error(error.message, detail=error.detail, hint=error.hint, sqlstate=error.sqlstate)
        raise  # plpy.error always raises; this keeps type checkers informed


def versions(db: Database) -> dict[str, str | None]:
    """Row of ``steward.version()``."""
    import os
    from importlib import metadata

    import pg_steward

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(pg_steward.__file__)))
    sql_version = db.query(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_steward'"
    )
    pglast = [d.version for d in metadata.distributions(name="pglast", path=[package_dir])]
    return {
        "sql_version": sql_version[0]["extversion"] if sql_version else None,
        "python_version": pg_steward.__version__,
        "package_dir": package_dir,
        "pglast_version": pglast[0] if pglast else None,
        "interpreter": sys.version.split()[0],
    }
