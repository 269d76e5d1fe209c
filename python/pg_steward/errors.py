"""Errors that reach the user as a PostgreSQL error with a proper SQLSTATE.

Every SQLSTATE pg_steward raises or looks for is named here, and
``error_message`` / ``error_sqlstate`` read any error (ours, PL/Python's
``plpy.SPIError``, psycopg's) the same way wherever one is caught.
"""

from __future__ import annotations

# SQLSTATE codes used by pg_steward (PostgreSQL Appendix A).
INVALID_PARAMETER_VALUE = "22023"
DATETIME_OVERFLOW = "22008"
NULL_VALUE_NOT_ALLOWED = "22004"
CHECK_VIOLATION = "23514"
INVALID_SCHEMA_NAME = "3F000"
INSUFFICIENT_PRIVILEGE = "42501"
SYNTAX_ERROR = "42601"
WRONG_OBJECT_TYPE = "42809"
UNDEFINED_TABLE = "42P01"
DUPLICATE_TABLE = "42P07"
INVALID_OBJECT_DEFINITION = "42P17"
PROGRAM_LIMIT_EXCEEDED = "54000"
STATEMENT_TOO_COMPLEX = "54001"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
LOCK_NOT_AVAILABLE = "55P03"
FEATURE_NOT_SUPPORTED = "0A000"
INTERNAL_ERROR = "XX000"


class StewardError(Exception):
    """An error meant for the user: a message, a SQLSTATE, optional detail and hint."""

    def __init__(
        self,
        message: str,
        sqlstate: str = INVALID_PARAMETER_VALUE,
        *,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


def error_message(error: BaseException, default: str | None = None) -> str:
    """The message of any error caught around a statement, without its class name.

    A ``StewardError`` gives its ``message``; a ``plpy.SPIError`` or a psycopg
    error the first argument PostgreSQL's message was raised with; an error
    without arguments gives ``default`` if one is given, else ``str(error)``.
    """
    message = getattr(error, "message", None)
    if message:
        return str(message)
    if error.args:
        return str(error.args[0])
    return default if default is not None else str(error)


def error_first_line(error: BaseException) -> str:
    """The first line of ``error_message(error)``: for a report's one-line reason."""
    lines = error_message(error).splitlines()
    return lines[0] if lines else ""


def error_sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE an error carries (ours, plpy's or psycopg's), or None for a plain Python error."""
    return getattr(error, "sqlstate", None)
