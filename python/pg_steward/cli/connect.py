"""Connections for the command line: DSNs, one-line errors, the extension check.

Every problem a DBA can cause with a connection string (a typo, a refused
or unreachable server, a wrong password, a database without pg_steward)
becomes a ``CliError``: one line that names the database, never a traceback.
Passwords never appear in what is printed.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict


class CliError(Exception):
    """A problem explained in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: str) -> str:
    """A multi-line server or libpq message as one line."""
    parts = [p.strip() for p in str(text).strip().splitlines() if p.strip()]
    return "; ".join(parts) if parts else "unknown error"


def describe(error: BaseException) -> str:
    """One line for an error: a server error's message and hint, without PL/Python's traceback context."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        hint = getattr(diag, "message_hint", None)
        return one_line(primary + (f" (hint: {hint})" if hint else ""))
    text = str(error).strip()
    return one_line(text) if text else type(error).__name__


def label(dsn: str) -> str:
    """How a database is named in output: host:port/dbname, without the password."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<invalid DSN>"
    host = str(info.get("host") or info.get("hostaddr") or "local")
    port = str(info.get("port") or "5432")
    dbname = str(info.get("dbname") or info.get("user") or "")
    return f"{host}:{port}/{dbname}"


def read_dsn_file(path: str) -> list[str]:
    """DSNs of a fleet, one per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise CliError(f"cannot read DSN file {path}: {error.strerror}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def connect(dsn: str, *, connect_timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection; a ``CliError`` naming the database when it cannot be made."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise CliError(f"invalid DSN: {one_line(str(error))}") from None
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout,
                               application_name="pg-steward")
    except psycopg.Error as error:
        raise CliError(f"cannot connect to {label(dsn)}: {one_line(str(error))}") from None


def require_extension(conn: psycopg.Connection) -> str:
    """The installed pg_steward version; a ``CliError`` when the database does not have it."""
    row = conn.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_steward'").fetchone()
    if row is None:
        database = conn.info.dbname
        raise CliError(f"pg_steward is not installed in database {database}: "
                       "run CREATE EXTENSION pg_steward CASCADE there (or try: pg-steward demo)")
    version: str = row[0]
    return version


def has_function(conn: psycopg.Connection, signature: str) -> bool:
    return bool(conn.execute("SELECT pg_catalog.to_regprocedure(%s) IS NOT NULL", [signature]).fetchone()[0])
