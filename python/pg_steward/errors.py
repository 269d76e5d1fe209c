"""Errors that reach the user as a PostgreSQL error with a proper SQLSTATE."""

from __future__ import annotations

# SQLSTATE codes used by pg_steward (PostgreSQL Appendix A).
INVALID_PARAMETER_VALUE = "22023"
DATETIME_OVERFLOW = "22008"
NULL_VALUE_NOT_ALLOWED = "22004"
WRONG_OBJECT_TYPE = "42809"
UNDEFINED_TABLE = "42P01"
UNDEFINED_FILE = "58P01"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
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
