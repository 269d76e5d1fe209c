"""Connections for the command line: DSNs, the pinned search_path, names, one-line errors, the extension check.

Every problem a DBA can cause with a connection string (a typo, a refused
or unreachable server, a wrong password, a database without pg_steward)
becomes a ``CliError``: one line that names the database, never a traceback.
Passwords never appear in what is printed.

Every statement the command line sends goes through one ``Client`` (a
``PsycopgDatabase``: ``$1`` placeholders, rows as dictionaries). Its session
runs with ``search_path = pg_catalog, pg_temp``, set before anything else
is run: a database owner may give the database a search_path with schemas of
their own first, whose operators and functions would otherwise be chosen for
the unqualified names in our statements, and run with the rights of whoever
runs ``pg-steward`` (often a superuser). Statements qualify their functions,
tables and types all the same (operators are found in pg_catalog by the
pin). Names are shown, and ``--table`` is read, as in the database's own
search_path (``events``, not ``public.events``): the client looks the names
up in the catalog, which runs no code of anyone's.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pg_steward.db import PsycopgDatabase

PINNED_SEARCH_PATH = "pg_catalog, pg_temp"


class CliError(Exception):
    """A problem explained in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: str) -> str:
    """A multi-line server or libpq message as one line. Names in it are data: whatever writes it out shows it
    through ``printable`` (once)."""
    parts = [p.strip() for p in str(text).strip().splitlines() if p.strip()]
    return "; ".join(parts) if parts else "unknown error"


def describe(error: BaseException) -> str:
    """One line for an error: a server error's message, DETAIL and HINT, without PL/Python's traceback context."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        detail, hint = getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)
        return one_line(primary + (f" (detail: {detail})" if detail else "") + (f" (hint: {hint})" if hint else ""))
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


# The schemas a name is looked up in by the database's own search_path, in order (pg_catalog, and pg_temp once
# it exists, included where PostgreSQL searches them implicitly). Read before the pin; running a qualified
# function on a constant, it cannot reach code of the database's owner.
_SCHEMAS_SQL = "SELECT pg_catalog.current_schemas(true)::pg_catalog.text[] AS schemas"
_PIN_SQL = "SELECT pg_catalog.set_config('search_path', $1, false)"

# A relation as regclass prints it under the database's search_path: unqualified when the first schema of the
# path holding a relation of that name is its own.
_NAMES_SQL = """
SELECT c.oid::pg_catalog.int8 AS oid,
       CASE WHEN c.relnamespace = (
                SELECT n.oid FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS p (nspname, position)
                JOIN pg_catalog.pg_namespace AS n ON n.nspname = p.nspname
                WHERE EXISTS (SELECT FROM pg_catalog.pg_class AS s
                              WHERE s.relnamespace = n.oid AND s.relname = c.relname)
                ORDER BY p.position LIMIT 1)
            THEN pg_catalog.quote_ident(c.relname)
            ELSE pg_catalog.quote_ident(k.nspname) || '.' || pg_catalog.quote_ident(c.relname) END AS name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS k ON k.oid = c.relnamespace
WHERE c.oid = ANY ($1::pg_catalog.int8[]::pg_catalog.oid[])
"""

# A table named by the user: a qualified name as it says, an unqualified one by the database's search_path.
_RELATION_SQL = """
SELECT CASE WHEN pg_catalog.cardinality(i.parts) > 1 THEN pg_catalog.to_regclass($1)::pg_catalog.oid::pg_catalog.int8
            ELSE (SELECT c.oid::pg_catalog.int8
                  FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS p (nspname, position)
                  JOIN pg_catalog.pg_namespace AS n ON n.nspname = p.nspname
                  JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = i.parts[1]
                  ORDER BY p.position LIMIT 1) END AS oid
FROM (SELECT pg_catalog.parse_ident($1) AS parts) AS i
"""


class Client(PsycopgDatabase):
    """One database for one command: an autocommit session with the pinned search_path."""

    def __init__(self, conn: psycopg.Connection[Any], schemas: list[str]) -> None:
        super().__init__(conn)
        self.schemas = schemas  # the database's own search_path, for names
        self.dbname: str = conn.info.dbname

    def __enter__(self) -> Client:
        return self

    def __exit__(self, _kind: type[BaseException] | None, _error: BaseException | None,
                 _trace: TracebackType | None) -> None:
        self.conn.close()

    @contextmanager
    def warnings(self) -> Iterator[list[str]]:
        """The WARNINGs the server sends while the block runs: what a function left undone on purpose, for
        the command to show beside its result."""
        found: list[str] = []

        def keep(diag: psycopg.errors.Diagnostic) -> None:
            if diag.severity_nonlocalized == "WARNING":
                found.append(diag.message_primary or "")

        self.conn.add_notice_handler(keep)
        try:
            yield found
        finally:
            self.conn.remove_notice_handler(keep)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C during the block cancels the statement running on the server, then raises KeyboardInterrupt
        once the statement has ended, even if it was caught in a NOTICE handler: libpq calls those back from C,
        where a KeyboardInterrupt raised by Python's own handler is printed as "Exception ignored" and lost,
        and the statement goes on to its end. Outside the main thread (no signal handler there) a no-op."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        interrupted: list[int] = []

        def on_interrupt(signum: int, _frame: object) -> None:
            if interrupted:
                return
            interrupted.append(signum)
            if self.conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                self.conn.cancel_safe(timeout=10)

        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            yield
        except psycopg.errors.QueryCanceled:
            if not interrupted:
                raise
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt

    def value(self, sql: str, *params: object) -> Any:
        """The first column of the first row (None without rows)."""
        rows = self.query(sql, *params)
        return next(iter(rows[0].values())) if rows else None

    def names(self, oids: Iterable[int | None]) -> dict[int, str]:
        """How each relation is named in the database's search_path (as ``regclass`` prints it there)."""
        wanted = sorted({o for o in oids if o is not None})
        if not wanted:
            return {}
        return {r["oid"]: r["name"] for r in self.query(_NAMES_SQL, wanted, self.schemas)}

    def relation(self, name: str) -> int | None:
        """The oid of the table a user named, found as the database's search_path finds it; None if none."""
        try:
            with self.conn.transaction():  # a name that is not an identifier (parse_ident) is simply not found
                oid: int | None = self.value(_RELATION_SQL, name, self.schemas)
                return oid
        except psycopg.errors.InvalidParameterValue:
            return None


def connect(dsn: str, *, connect_timeout: int = 10) -> Client:
    """A ``Client`` with the pinned search_path; a ``CliError`` naming the database when it cannot be made."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise CliError(f"invalid DSN: {one_line(str(error))}") from None
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout,
                               application_name="pg-steward")
    except psycopg.Error as error:
        raise CliError(f"cannot connect to {label(dsn)}: {one_line(str(error))}") from None
    try:
        session = PsycopgDatabase(conn)
        schemas = session.query(_SCHEMAS_SQL)[0]["schemas"]
        session.query(_PIN_SQL, PINNED_SEARCH_PATH)
    except BaseException:
        conn.close()
        raise
    return Client(conn, schemas)


def require_extension(db: Client) -> str:
    """The installed pg_steward version; a ``CliError`` when the database does not have it."""
    version: str | None = db.value(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_steward'")
    if version is None:
        raise CliError(f"pg_steward is not installed in database {db.dbname}: "
                       "run CREATE EXTENSION pg_steward CASCADE there (or try: pg-steward demo)")
    return version


def has_functions(db: Client, names: Iterable[str]) -> set[str]:
    """Which of these steward functions (by name) the installed pg_steward has."""
    rows = db.query("SELECT proname::pg_catalog.text AS name FROM pg_catalog.pg_proc "
                    "WHERE pronamespace = 'steward'::pg_catalog.regnamespace "
                    "AND proname::pg_catalog.text = ANY ($1::pg_catalog.text[])", list(names))
    return {r["name"] for r in rows}
