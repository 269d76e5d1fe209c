"""The one small database interface shared by the in-server and client code.

Queries are written once, with PostgreSQL's own ``$1, $2`` placeholders and
explicit casts where a parameter is not plain text (``$1::regclass``). In the
server they run through ``plpy`` prepared plans; from the command line through
a psycopg ``RawCursor``, which sends the same placeholders to the server.
Rows come back as dictionaries keyed by column name.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol

Row = dict[str, Any]


class Database(Protocol):
    def query(self, sql: str, *params: object) -> list[Row]:
        """Run a statement and return its rows."""

    def execute(self, sql: str, *params: object) -> int:
        """Run a statement whose rows, if any, are not needed; returns how many rows it processed."""

    def script(self, statements: Sequence[str]) -> list[Row]:
        """Run statements without parameters in order and return the rows of the last one (none unless it is a
        SELECT). A failing one stops the rest, its error raised as it is; all or nothing (the others' changes
        rolled back) but through ``owner_rights.OwnerDatabase``. In the server they go in one ``plpy.execute``,
        which PL/Python runs in a subtransaction (whose end costs more the more relations and locks the
        transaction holds)."""

    def notice(self, message: str) -> None:
        """Tell the user about progress (a NOTICE in SQL, a line on stderr in the CLI)."""

    def warning(self, message: str) -> None:
        """Tell the user about something left undone on purpose (a WARNING in SQL, a line on stderr in the CLI)."""

    def subtransaction(self) -> AbstractContextManager[Any]:
        """A block that is rolled back alone when it raises (a savepoint)."""


def plpy_type(value: object) -> str:
    """The SQL type a Python parameter is declared with in a plpy plan (and cast to by owner_rights.literal).

    Qualified with pg_catalog: PL/Python resolves these names through the caller's search_path, where a schema
    listed before pg_catalog could hold a domain ``text`` whose CHECK runs on every cast (procedures, which
    cannot pin search_path with a SET clause, prepare statements too).
    """
    if value is None or isinstance(value, str):
        return "pg_catalog.text"
    if isinstance(value, bool):
        return "pg_catalog.bool"
    if isinstance(value, int):
        return "pg_catalog.int8"
    if isinstance(value, float):
        return "pg_catalog.float8"
    if isinstance(value, Decimal):
        return "pg_catalog.numeric"
    if isinstance(value, dt.datetime):
        return "pg_catalog.timestamptz" if value.tzinfo else "pg_catalog.timestamp"
    if isinstance(value, dt.date):
        return "pg_catalog.date"
    if isinstance(value, (list, tuple)):
        kinds = {plpy_type(v) for v in value if v is not None} or {"pg_catalog.text"}
        if len(kinds) != 1:
            raise TypeError(f"array parameter mixes types: {sorted(kinds)}")
        return kinds.pop() + "[]"
    raise TypeError(f"no SQL type for a parameter of type {type(value).__name__}")


class PlpyDatabase:
    """Database access inside the server through PL/Python's ``plpy`` module."""

    # Saved plans are few and reused: every relcache invalidation (each DDL statement) makes PostgreSQL visit
    # every saved plan of the session, so keeping one per dynamic statement made maintenance of N tables
    # cost O(N^2). Statements without parameters (DDL, mostly) are not prepared at all; the others are kept
    # in a small LRU cache, and an evicted plan is freed with its Python object.
    PLAN_CACHE_SIZE = 64

    def __init__(self, plpy: Any) -> None:
        self._plpy = plpy
        self._plans: OrderedDict[tuple[str, tuple[str, ...]], Any] = OrderedDict()

    def _plan(self, sql: str, params: Sequence[object]) -> Any:
        types = tuple(plpy_type(p) for p in params)
        key = (sql, types)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plpy.prepare(sql, list(types))
            self._plans[key] = plan
            if len(self._plans) > self.PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    def _run(self, sql: str, params: Sequence[object]) -> Any:
        if not params:
            return self._plpy.execute(sql)
        return self._plpy.execute(self._plan(sql, params), list(params))

    def query(self, sql: str, *params: object) -> list[Row]:
        return [dict(row) for row in self._run(sql, params)]

    def execute(self, sql: str, *params: object) -> int:
        return int(self._run(sql, params).nrows())

    def script(self, statements: Sequence[str]) -> list[Row]:
        # SPI runs a string of several statements one after another, each parsed and planned just before it
        # runs (a statement may use a table the one before created), the result being the last one's.
        return [dict(row) for row in self._plpy.execute(";\n".join(statements))]

    def notice(self, message: str) -> None:
        self._plpy.notice(message)

    def warning(self, message: str) -> None:
        self._plpy.warning(message)

    def subtransaction(self) -> AbstractContextManager[Any]:
        return self._plpy.subtransaction()


class PsycopgDatabase:
    """Database access from a client through a psycopg 3 connection."""

    def __init__(self, conn: Any) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self.conn = conn
        self._cursor_class = psycopg.RawCursor
        self._dict_row = dict_row

    def _cursor(self) -> Any:
        return self._cursor_class(self.conn, row_factory=self._dict_row)

    def query(self, sql: str, *params: object) -> list[Row]:
        with self._cursor() as cur:
            cur.execute(sql, list(params))
            return list(cur.fetchall()) if cur.description else []

    def execute(self, sql: str, *params: object) -> int:
        with self._cursor() as cur:
            cur.execute(sql, list(params))
            return max(cur.rowcount, 0)

    def script(self, statements: Sequence[str]) -> list[Row]:
        rows: list[Row] = []
        with self.conn.transaction():  # a savepoint inside a transaction: all or nothing
            for sql in statements:
                rows = self.query(sql)
        return rows

    def notice(self, message: str) -> None:
        import sys

        print(message, file=sys.stderr)

    def warning(self, message: str) -> None:
        import sys

        print(f"WARNING: {message}", file=sys.stderr)

    def subtransaction(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()
