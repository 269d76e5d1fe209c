"""In-server runtime: the session's database handle and the SQL entry point.

``steward._load_python()`` (extension/idempotent/runtime.sql) puts the versioned package
directory at the front of ``sys.path``, checks the version and calls
``attach(plpy)`` once per session. Every SQL function then calls
``call(function, *args)``, which hands the function the session's database
and turns a ``StewardError`` into a PostgreSQL error with its SQLSTATE.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pg_steward.db import Database, PlpyDatabase
from pg_steward.errors import (
    ACTIVE_SQL_TRANSACTION,
    INTERNAL_ERROR,
    INVALID_TRANSACTION_TERMINATION,
    StewardError,
    error_fields,
    error_message,
    error_sqlstate,
)

T = TypeVar("T")

_plpy: Any = None
_database: Database | None = None
_SQLError: type[Exception] = Exception


def attach(plpy: Any) -> None:
    global _plpy, _database, _SQLError
    _plpy = plpy
    _database = PlpyDatabase(plpy)
    # PL/Python prefixes an error's message with its exception class, as
    # "module.Class: message", but leaves out the module for builtins. A
    # plpy.Error subclass named like this reads "pg_steward: message" and
    # keeps the sqlstate, detail and hint attributes PL/Python looks for.
    _SQLError = type("pg_steward", (plpy.Error,), {"__module__": "builtins"})


def database() -> Database:
    if _database is None:
        raise StewardError(
            "pg_steward's Python runtime is not attached to this session",
            INTERNAL_ERROR,
            hint="Call the steward.* SQL functions; they load the runtime first.",
        )
    return _database


def sql_error(message: str, sqlstate: str | None, fields: dict[str, str]) -> Exception:
    """The exception PL/Python turns into the PostgreSQL error the user sees.

    PL/Python reads a ``plpy.Error``'s ``sqlstate``, ``detail``, ``hint`` and object-name attributes
    (``ERROR_FIELDS``) into the error's fields; the message loses a ``pg_steward: `` prefix it already
    has (an error of a steward function that ours called), since PL/Python adds one.
    """
    prefix = "pg_steward: "
    error = _SQLError(message[len(prefix):] if message.startswith(prefix) else message)
    for name, value in {"sqlstate": sqlstate, **fields}.items():
        if value is not None:
            setattr(error, name, value)
    return error


def call(function: Callable[..., T], *args: object) -> T:
    """Run ``function(database, *args)`` for a SQL function, with clean SQL errors.

    Our own errors and errors of the statements we run reach the user with their SQLSTATE, DETAIL, HINT
    and object names, as ``pg_steward: <message>``; the Python stack below this call is left out of
    them (they are expected). Any other exception is a bug and reaches the user as PL/Python reports it,
    traceback included.
    """
    try:
        return function(database(), *args)
    except StewardError as error:
        raise sql_error(error.message, error.sqlstate, error_fields(error)) from None
    except _plpy.SPIError as error:
        message = error_message(error, "error in a statement run by pg_steward")
        raise sql_error(message, error_sqlstate(error), error_fields(error)) from None


# What the SET clauses of every pg_steward function give it (search_path and extension/build.py's @text_formats).
# A procedure that commits cannot carry SET clauses and runs under its caller's settings, where a search_path
# with a hostile schema before pg_catalog would resolve its names, casts and plpy plan types there.
PINNED_SETTINGS = (("search_path", "pg_catalog, pg_temp"), ("DateStyle", "ISO, YMD"), ("TimeZone", "UTC"),
                   ("IntervalStyle", "iso_8601"))
_PIN_SQL = "SELECT " + ", ".join(
    f"pg_catalog.set_config('{name}', '{value}', true) AS \"{name}\"" for name, value in PINNED_SETTINGS)


def pin_settings(db: Database) -> None:
    """The functions' settings for the rest of this transaction (a procedure calls it again after each commit).

    The statement itself resolves nothing through search_path: a qualified function, string literals, and a
    boolean constant. Transaction-local, so the caller's session keeps its own settings after the CALL.
    """
    db.query(_PIN_SQL)


def pinned_commit(db: Database, commit: Callable[[], None]) -> Callable[[], None]:
    """``commit`` followed by ``pin_settings``: what a procedure passes around instead of ``plpy.commit``."""
    def commit_and_pin() -> None:
        commit()
        pin_settings(db)

    return commit_and_pin


def own_transactions(db: Database, commit: Callable[[], None], procedure: str, instead: str) -> Callable[[], None]:
    """The first thing a procedure that commits does: commit once, before any work, and return ``pinned_commit``.

    A CALL inside a transaction block (or from a function, or in a multi-statement query string) cannot
    commit; PostgreSQL refuses the first COMMIT with a bare "invalid transaction termination". Trying it
    before anything is done changes nothing either way, and turns the refusal into a clear 25001 that says
    how to run the procedure, or ``instead`` (a function doing the same work in the caller's transaction).
    """
    try:
        commit()
    except Exception as error:  # plpy.SPIError: the one error PL/Python's commit raises
        if error_sqlstate(error) != INVALID_TRANSACTION_TERMINATION:
            raise
        raise StewardError(
            f"{procedure} cannot run inside a transaction block", ACTIVE_SQL_TRANSACTION,
            detail=f"{procedure} commits as it goes, so that the locks of one step are not held for the "
                   "whole run; inside a transaction block (BEGIN, a function, a multi-statement query string) "
                   "it cannot commit.",
            hint=f"CALL {procedure} on its own, outside BEGIN ... COMMIT, or use {instead}.",
        ) from None
    return pinned_commit(db, commit)


def versions(db: Database) -> dict[str, str | None]:
    """Row of ``steward.version()``."""
    import os

    import pg_steward

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(pg_steward.__file__)))
    sql_version = db.query(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_steward'"
    )
    # pip names the metadata directory NAME-VERSION.dist-info; reading the name spares every session that
    # asks for the versions the import of importlib.metadata (email, zipfile, csv, ...).
    try:
        entries = os.listdir(package_dir)
    except OSError:
        entries = []
    pglast = [entry[len("pglast-"):-len(".dist-info")] for entry in sorted(entries)
              if entry.startswith("pglast-") and entry.endswith(".dist-info")]
    return {
        "sql_version": sql_version[0]["extversion"] if sql_version else None,
        "python_version": pg_steward.__version__,
        "package_dir": package_dir,
        "pglast_version": pglast[0] if pglast else None,
        "interpreter": sys.version.split()[0],
    }
