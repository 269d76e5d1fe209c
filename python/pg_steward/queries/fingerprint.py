"""Statement fingerprints and normalized text, from pglast's parse tree.

A fingerprint identifies a statement's shape: constants, IN-list lengths and
whitespace do not change it. Text that does not parse gets ``None``, never an
error, so callers can log anything and group unparseable text by other means.
"""

from __future__ import annotations

from pg_steward import pglast_loader


def fingerprint(sql: str) -> str | None:
    parser = pglast_loader.load().parser
    try:
        return parser.fingerprint(sql)
    except parser.ParseError:
        return None


def normalize(sql: str) -> str | None:
    """The statement with its constants replaced by ``$n`` placeholders."""
    parser = pglast_loader.load().parser
    try:
        return parser.normalize(sql)
    except parser.ParseError:
        return None


def query_fingerprint(_db: object, sql: str) -> str | None:
    return fingerprint(sql)


def normalize_query(_db: object, sql: str) -> str | None:
    return normalize(sql)
