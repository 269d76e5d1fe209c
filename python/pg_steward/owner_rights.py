"""Statements on a user's table run with the rights of the table's owner, never with the caller's.

Maintenance is often run by a superuser (pg_cron), and moving rows out of a
DEFAULT partition, adding a CHECK, attaching a partition or reading a key
evaluates code the table's owner wrote: triggers, CHECK / DEFAULT / generated
expressions, partition key and index expressions, row security policies. Run
with the caller's rights, that code could make its author superuser.
PostgreSQL's own VACUUM, ANALYZE and REINDEX switch to the table's owner for
the same reason (CVE-2022-1552); this module does the same for our statements.

How: ``as_owner(db, owner)`` gives a ``Database`` whose statements go through a
``SECURITY DEFINER`` PL/pgSQL function owned by ``owner``, created for the
purpose in this session's ``pg_temp`` (invisible to other sessions until commit,
and dropped before it: ``owner_rights``). Inside a security-definer function
PostgreSQL refuses ``SET ROLE``, ``RESET ROLE`` and ``SET SESSION
AUTHORIZATION`` ("cannot set parameter ... within security-definer function"),
so owner code cannot climb back to the caller. What owner code could still do
to our session is checked around every statement:

- the function itself (owned by ``owner``, so ``owner`` may alter or replace
  it): before each call its catalog row must be the one we created (security
  definer, owner, language, body, no settings), or the call is refused;
- settings that outlive the call (a plain ``SET search_path`` persists after a
  function returns): after each call the settings pg_steward relies on must be
  unchanged, or the step fails with an error, whose rollback also undoes the
  change.

A caller that is the owner, or whose owner is a superuser (nothing to gain),
gets ``db`` itself: no function, no cost.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pg_steward.db import Database, Row, plpy_type
from pg_steward.errors import INSUFFICIENT_PRIVILEGE, INTERNAL_ERROR, StewardError
from pg_steward.sqltext import quote_ident, quote_literal

# The body of the function: runs one statement; rows come back as jsonb, or the number of rows processed.
_BODY = """
DECLARE
    processed bigint;
BEGIN
    IF returns_rows THEN
        RETURN QUERY EXECUTE 'SELECT pg_catalog.to_jsonb(r) FROM (' OPERATOR(pg_catalog.||) statement
                             OPERATOR(pg_catalog.||) ') AS r';
    ELSE
        EXECUTE statement;
        GET DIAGNOSTICS processed = ROW_COUNT;
        RETURN NEXT pg_catalog.to_jsonb(processed);
    END IF;
END
"""

# Settings our own statements and parsing depend on; owner code must leave them as they were.
WATCHED_SETTINGS = ("search_path", "DateStyle", "TimeZone", "IntervalStyle", "lock_timeout", "statement_timeout")
_SETTINGS_SQL = "SELECT " + ", ".join(
    f"pg_catalog.current_setting('{name}') AS \"{name}\"" for name in WATCHED_SETTINGS)

# A parameter reference, or a token it may appear in without being one: a quoted identifier ("t$1" is a table
# name), an escape string or a standard string (quote_literal writes only these two forms).
_PARAMETER = re.compile(r"""("(?:[^"]|"")*"|[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')|\$(\d+)""", re.DOTALL)


def literal(value: object) -> str:
    """A parameter value written into a statement as a typed SQL literal."""
    kind = plpy_type(value)
    if value is None:
        return f"NULL::{kind}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return f"{quote_literal(str(value))}::{kind}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{quote_literal(value.isoformat())}::{kind}"
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(literal(v) for v in value) + f"]::{kind}"
    return f"{quote_literal(str(value))}::{kind}"


def inline(sql: str, params: tuple[object, ...]) -> str:
    """``sql`` with ``$1, $2, ...`` replaced by the parameters' literals, outside quoted identifiers and strings."""
    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:  # quoted: kept as it is
            return match.group(1)
        index = int(match.group(2)) - 1
        if not 0 <= index < len(params):
            raise StewardError(f"statement refers to ${index + 1}, given {len(params)} parameters",
                               INTERNAL_ERROR)
        return literal(params[index])

    return _PARAMETER.sub(replace, sql)


class OwnerDatabase:
    """A ``Database`` whose statements run with the rights of ``owner`` (see the module docstring)."""

    def __init__(self, db: Database, owner: str) -> None:
        self.caller = db
        self.owner = owner
        self._function: str | None = None
        self._oid: int | None = None

    def _create(self) -> str:
        # os.urandom is what secrets.token_hex reads; importing secrets would add random, hmac and base64 to
        # every maintenance session.
        name = f"pg_steward_as_owner_{os.urandom(8).hex()}"
        function = f"pg_temp.{name}(statement text, returns_rows boolean)"
        self.caller.execute(
            f"CREATE FUNCTION {function} RETURNS SETOF jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER "
            f"AS {quote_literal(_BODY)}")
        self.caller.execute(f"ALTER FUNCTION {function} OWNER TO {quote_ident(self.owner)}")
        self._oid = self.caller.query("SELECT $1::text::pg_catalog.regprocedure::oid::bigint AS oid",
                                      f"pg_temp.{name}(text, boolean)")[0]["oid"]
        self._function = f"pg_temp.{name}"
        return self._function

    def _verify(self) -> None:
        """The function about to run is still ours: same oid under its name, definer, owner, body, no settings."""
        ok = self.caller.query(
            "SELECT (p.oid = $1::bigint::oid AND p.prosecdef AND p.proowner = $2::text::pg_catalog.regrole "
            "        AND p.prosrc = $3 AND p.proconfig IS NULL "
            "        AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language AS l WHERE l.lanname = 'plpgsql')) "
            "       IS TRUE AS ok "
            "FROM pg_catalog.pg_proc AS p WHERE p.oid = $4::text::pg_catalog.regprocedure",
            self._oid, self.owner, _BODY, f"{self._function}(text, boolean)")
        if not (ok and ok[0]["ok"]):
            raise StewardError(
                f"pg_steward's function running statements as {self.owner} was changed while it ran",
                INSUFFICIENT_PRIVILEGE,
                hint="Code of the table's owner (a trigger, a CHECK or DEFAULT expression, a policy) altered or "
                     "replaced it; nothing more ran. Review that code.")

    def _run(self, sql: str, params: tuple[object, ...], returns_rows: bool) -> list[Any]:
        function = self._function or self._create()
        self._verify()
        before = self.caller.query(_SETTINGS_SQL)[0]
        try:
            out = self.caller.query(f"SELECT r::text AS r FROM {function}($1, $2) AS r",
                                    inline(sql, params), returns_rows)
        finally:
            after = self.caller.query(_SETTINGS_SQL)[0]
            changed = sorted(name for name in WATCHED_SETTINGS if after[name] != before[name])
        if changed:
            raise StewardError(
                f"code of {self.owner} changed the session's {', '.join(changed)} while pg_steward ran a "
                "statement as the table's owner",
                INSUFFICIENT_PRIVILEGE,
                detail="The step is undone with its transaction, and the setting with it.",
                hint="A trigger, CHECK or DEFAULT expression or policy of the table sets it: make it use "
                     "SET LOCAL inside a function with its own SET clause, or remove it.")
        return [json.loads(row["r"]) for row in out]

    def query(self, sql: str, *params: object) -> list[Row]:
        return self._run(sql, params, True)

    def execute(self, sql: str, *params: object) -> int:
        return int(self._run(sql, params, False)[0])

    def script(self, statements: Sequence[str]) -> list[Row]:
        # One call of the function per statement: each is checked (the function, the settings) on its own. Not
        # all or nothing (a subtransaction each would cost more than the scripts save): the creations, its only
        # users, run it inside their attempt's subtransaction.
        rows: list[Row] = []
        for sql in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                rows = self.query(sql)
            else:
                self.execute(sql)
                rows = []
        return rows

    def notice(self, message: str) -> None:
        self.caller.notice(message)

    def warning(self, message: str) -> None:
        self.caller.warning(message)

    def subtransaction(self) -> AbstractContextManager[Any]:
        return self.caller.subtransaction()

    def close(self) -> None:
        if self._function is not None:
            self.caller.execute(f"DROP FUNCTION IF EXISTS {self._function}(text, boolean)")
            self._function = self._oid = None


@dataclass(frozen=True)
class CallerRights:
    """What the caller is to a table's owner, read in one statement (``caller_rights``): a caller that works on
    one table in several steps reads it once and hands it to each."""

    owner: str
    member: bool  # the caller may act as the owner (is it, a member of it, or a superuser)
    needs_owner_function: bool  # owner code could gain from the caller's rights (``needs_owner_rights``)
    is_owner: bool  # current_user is the owner itself


def caller_rights(db: Database, owner: str) -> CallerRights:
    """``require_owner_rights``'s and ``needs_owner_rights``' facts about ``owner``, in one statement."""
    row = db.query(
        "SELECT current_user::text AS caller, pg_catalog.pg_has_role(current_user, $1::text, 'USAGE') AS member, "
        "       (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = $1) AS owner_super", owner)[0]
    return CallerRights(owner=owner, member=bool(row["member"]),
                        needs_owner_function=row["caller"] != owner and not row["owner_super"],
                        is_owner=row["caller"] == owner)


def needs_owner_rights(db: Database, owner: str) -> bool:
    """Whether owner code could gain from running as the caller: the caller is not the owner, and the owner
    is not a superuser (a superuser's code has every right already)."""
    row = db.query(
        "SELECT current_user::text AS caller, "
        "       (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = $1) AS owner_super", owner)[0]
    return row["caller"] != owner and not row["owner_super"]


def require_owner_rights(db: Database, owner: str, table: str, rights: CallerRights | None = None) -> None:
    """The caller may act as ``owner`` (is it, or a member of it, or a superuser): 42501 otherwise. ``rights``:
    the facts when the caller has read them (``caller_rights``)."""
    if rights is not None and rights.owner == owner:
        member = rights.member
    else:
        member = db.query("SELECT pg_catalog.pg_has_role(current_user, $1::text, 'USAGE') AS ok", owner)[0]["ok"]
    if not member:
        raise StewardError(f"must be owner of table {table}", INSUFFICIENT_PRIVILEGE,
                           hint=f"pg_steward changes a table only for its owner ({owner}), a member of that role, "
                                "or a superuser.")


@contextmanager
def owner_rights(db: Database, owner: str, table: str, rights: CallerRights | None = None) -> Iterator[Database]:
    """A ``Database`` running statements with ``owner``'s rights for the block (``db`` when that gains nothing).

    ``table`` names the table in the error a caller without the owner's rights gets. ``rights``: the facts when
    the caller has read them (``caller_rights``), so that they are not read again."""
    known = rights if rights is not None and rights.owner == owner else None
    require_owner_rights(db, owner, table, known)
    if not (known.needs_owner_function if known is not None else needs_owner_rights(db, owner)):
        yield db
        return
    as_owner = OwnerDatabase(db, owner)
    try:
        yield as_owner
    finally:
        as_owner.close()
