"""Errors that reach the user as a PostgreSQL error with a proper SQLSTATE.

Every SQLSTATE pg_steward raises or looks for is named here, and
``error_message`` / ``error_sqlstate`` / ``error_fields`` read any error (ours,
PL/Python's ``plpy.SPIError``, psycopg's) the same way wherever one is caught.
"""

from __future__ import annotations

from typing import Any

# SQLSTATE codes used by pg_steward (PostgreSQL Appendix A).
INVALID_PARAMETER_VALUE = "22023"
DATETIME_OVERFLOW = "22008"
NULL_VALUE_NOT_ALLOWED = "22004"
STRING_DATA_RIGHT_TRUNCATION = "22001"
CHECK_VIOLATION = "23514"
FOREIGN_KEY_VIOLATION = "23503"
RESTRICT_VIOLATION = "23001"  # a foreign key ON DELETE RESTRICT, from PostgreSQL 18 (23503 before)
INVALID_SCHEMA_NAME = "3F000"
INSUFFICIENT_PRIVILEGE = "42501"
PROHIBITED_SQL_STATEMENT_ATTEMPTED = "2F003"  # dblink: a non-superuser's connection without a password
SYNTAX_ERROR = "42601"
WRONG_OBJECT_TYPE = "42809"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
DUPLICATE_TABLE = "42P07"
NAME_TOO_LONG = "42622"
INVALID_OBJECT_DEFINITION = "42P17"
PROGRAM_LIMIT_EXCEEDED = "54000"
STATEMENT_TOO_COMPLEX = "54001"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
LOCK_NOT_AVAILABLE = "55P03"
FEATURE_NOT_SUPPORTED = "0A000"
ACTIVE_SQL_TRANSACTION = "25001"
INVALID_TRANSACTION_TERMINATION = "2D000"  # a COMMIT where PostgreSQL allows none (a CALL in a transaction block)
INVALID_SQL_STATEMENT_NAME = "26000"  # no prepared statement of that name
INTERNAL_ERROR = "XX000"
# pg_steward's own, in an implementation-defined class ("S" for steward): a run that did not do all its work.
MAINTENANCE_FAILED = "SW001"  # CALL steward.run_maintenance(): a table failed (its work logged, the rest committed)
CONVERSION_MISMATCH = "SW002"  # steward.partition_existing_table: the twin differs from the source (nothing swapped)


# The fields of a PostgreSQL error besides its message and SQLSTATE that pg_steward passes on, named as
# PL/Python's plpy.Error attributes (and psycopg's Diagnostic) name them.
ERROR_FIELDS = ("detail", "hint", "schema_name", "table_name", "column_name", "datatype_name",
                "constraint_name")

# Where each field sits in a plpy.SPIError's ``spidata`` tuple (PL/Python 15-18, plpy_spi.c:
# sqlerrcode, detail, hint, query, position, schema, table, column, datatype, constraint).
_SPIDATA_INDEX = {"detail": 1, "hint": 2, "schema_name": 5, "table_name": 6, "column_name": 7,
                  "datatype_name": 8, "constraint_name": 9}

# psycopg's Diagnostic calls two of them otherwise.
_DIAG_NAME = {"detail": "message_detail", "hint": "message_hint"}


class StewardError(Exception):
    """An error meant for the user: a message, a SQLSTATE, optional detail, hint and object names."""

    def __init__(
        self,
        message: str,
        sqlstate: str = INVALID_PARAMETER_VALUE,
        *,
        detail: str | None = None,
        hint: str | None = None,
        schema_name: str | None = None,
        table_name: str | None = None,
        column_name: str | None = None,
        datatype_name: str | None = None,
        constraint_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.schema_name = schema_name
        self.table_name = table_name
        self.column_name = column_name
        self.datatype_name = datatype_name
        self.constraint_name = constraint_name


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


def error_fields(error: BaseException) -> dict[str, str]:
    """The DETAIL, HINT and object names an error carries, keyed by ``ERROR_FIELDS``; absent ones left out.

    A ``StewardError`` has them as attributes; a ``plpy.SPIError`` has them in its ``spidata`` tuple, not
    as attributes (PL/Python fills only that, and reads only that when the error leaves the function
    unchanged); a psycopg error in its ``diag``.
    """
    spidata: Any = getattr(error, "spidata", None)
    diag: Any = getattr(error, "diag", None)
    fields: dict[str, str] = {}
    for name in ERROR_FIELDS:
        if isinstance(spidata, tuple) and len(spidata) > _SPIDATA_INDEX[name]:
            value = spidata[_SPIDATA_INDEX[name]]
        elif diag is not None:
            value = getattr(diag, _DIAG_NAME.get(name, name), None)
        else:
            value = getattr(error, name, None)
        if value is not None:
            fields[name] = str(value)
    return fields
