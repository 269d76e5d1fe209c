"""Statement fingerprints and normalized text, from pglast's parse tree.

A fingerprint identifies a statement's shape: constants, IN-list lengths and
whitespace do not change it. Text that does not parse, or that is longer than
``statements.MAX_STATEMENT_BYTES``, gets ``None``, never an error, so captures can
log anything and group such text by other means; the SQL functions
``query_fingerprint`` and ``normalize_query`` refuse an over-long text (54000).
"""

from __future__ import annotations

from pg_steward import pglast_loader
from pg_steward.queries.statements import parsable, require_parsable


def fingerprint(sql: str) -> str | None:
    if not parsable(sql):
        return None
    parser = pglast_loader.load().parser
    try:
        return parser.fingerprint(sql)
    except parser.ParseError:
        return None


def normalize(sql: str) -> str | None:
    """The statement with its constants replaced by ``$n`` placeholders."""
    if not parsable(sql):
        return None
    parser = pglast_loader.load().parser
    try:
        return parser.normalize(sql)
    except parser.ParseError:
        return None


def query_fingerprint(_db: object, sql: str) -> str | None:
    require_parsable(sql)
    return fingerprint(sql)


def normalize_query(_db: object, sql: str) -> str | None:
    require_parsable(sql)
    return normalize(sql)
