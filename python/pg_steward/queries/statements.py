"""What kind of statement a text is, from pglast's parse tree (pure logic).

``analyze_query_performance`` executes the statement it explains, so it must
know, before running anything, whether the text is one plain query or
something that writes. The server's own parser is the final word (the
statement runs as a single prepared statement, which refuses several
commands), but the decision to run it at all is made here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pg_steward import pglast_loader
from pg_steward.errors import (
    FEATURE_NOT_SUPPORTED,
    PROGRAM_LIMIT_EXCEEDED,
    STATEMENT_TOO_COMPLEX,
    SYNTAX_ERROR,
    StewardError,
)

# Statements that change data wherever they appear in a tree.
_WRITES = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
# What EXPLAIN accepts besides SELECT / VALUES and the writes above.
_EXPLAINABLE_WRITES = {"CreateTableAsStmt"} | _WRITES


@dataclass(frozen=True)
class Statement:
    kind: str  # the parse node of the statement: SelectStmt, DeleteStmt, ...
    writes: list[str]  # why it is not a plain query; empty for a plain query
    prepared: str | None = None  # EXECUTE: the prepared statement's name (classify_prepared tells what it is)


# The longest statement text pg_steward parses: 1 MiB, the most track_activity_query_size can keep. Parsing
# multiplies memory (a parse tree, its JSON text, its Python objects: about 150 MB of backend memory for a 1 MiB
# IN list, 500 MB for 4 MiB), so a longer text is refused before the parser sees it.
MAX_STATEMENT_BYTES = 1024 * 1024


def parsable(sql: str) -> bool:
    """True if ``sql`` is short enough to parse (``MAX_STATEMENT_BYTES`` in UTF-8)."""
    return len(sql) <= MAX_STATEMENT_BYTES // 4 or len(sql.encode("utf-8")) <= MAX_STATEMENT_BYTES


def require_parsable(sql: str) -> None:
    """``StewardError`` 54000 for a text longer than ``MAX_STATEMENT_BYTES``."""
    if not parsable(sql):
        raise StewardError(
            f"the statement is {len(sql.encode('utf-8'))} bytes long; pg_steward parses at most "
            f"{MAX_STATEMENT_BYTES} bytes", PROGRAM_LIMIT_EXCEEDED,
            detail="Parsing a statement takes many times its length in server memory.",
            hint="Pass a shorter statement: a long IN or VALUES list can be cut without changing the plan's shape.",
        )


def parse_tree(sql: str) -> dict[str, Any]:
    require_parsable(sql)
    parser = pglast_loader.load().parser
    try:
        return json.loads(parser.parse_sql_json(sql))
    except parser.ParseError as error:
        raise StewardError(f"the statement does not parse: {error}", SYNTAX_ERROR) from None


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (node type, node) pair below ``node`` in pglast's JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key[:1].isupper() and isinstance(value, dict):
                yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def classify(sql: str) -> Statement:
    """The one statement in ``sql`` and the reasons it is not a plain query."""
    try:
        return _classify(sql)
    except RecursionError:  # a tree deeper than Python walks: refuse rather than guess
        raise StewardError("the statement is nested too deeply to be checked", STATEMENT_TOO_COMPLEX) from None


def _classify(sql: str) -> Statement:
    stmts = parse_tree(sql).get("stmts", [])
    if len(stmts) != 1:
        raise StewardError(
            f"expected exactly one statement, found {len(stmts)}", SYNTAX_ERROR,
            hint="Pass one SELECT (or, with allow_writes => true, one data-modifying statement).",
        )
    kind, body = next(iter(stmts[0]["stmt"].items()))
    if kind == "ExecuteStmt":
        return Statement(kind, [], prepared=body["name"])
    return _classify_node(kind, body)


def classify_prepared(name: str, text: str, from_sql: bool) -> Statement:
    """What ``EXECUTE name`` runs, from ``pg_prepared_statements``' ``statement`` and ``from_sql``.

    A statement prepared through the protocol is stored as itself; one made by SQL ``PREPARE`` as the whole
    query string that held the PREPARE (maybe beside other statements), where the PREPARE of that name is
    found. EXECUTE's own parameters cannot hold a subquery, so they add no write.
    """
    if not from_sql:
        return classify(text)
    try:
        stmts = parse_tree(text).get("stmts", [])
        queries = [body["query"] for kind, body in (next(iter(s["stmt"].items())) for s in stmts)
                   if kind == "PrepareStmt" and body.get("name") == name]
        if len(queries) != 1:
            raise StewardError(
                f'cannot tell what prepared statement "{name}" runs: its query string holds '
                f"{len(queries)} PREPAREs of that name", FEATURE_NOT_SUPPORTED,
                hint=f"PREPARE {name} again in a query string of its own.")
        return _classify_node(*next(iter(queries[0].items())))
    except RecursionError:
        raise StewardError("the statement is nested too deeply to be checked", STATEMENT_TOO_COMPLEX) from None


def _classify_node(kind: str, body: dict[str, Any]) -> Statement:
    writes = []
    if kind in _EXPLAINABLE_WRITES:
        writes.append(f"it is {_with_article(_label(kind))} statement")
    elif kind != "SelectStmt":
        raise StewardError(f"EXPLAIN cannot analyze {_with_article(_label(kind))} statement", FEATURE_NOT_SUPPORTED,
                           hint="Pass a SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE or CREATE TABLE AS.")
    for inner, node in walk(body):
        if inner in _WRITES and inner != kind:
            writes.append(f"it contains a data-modifying {_label(inner)} (in a WITH clause)")
        elif inner == "IntoClause" or (inner == "SelectStmt" and "intoClause" in node):
            writes.append("it creates a table (SELECT INTO)")
        elif inner == "LockingClause":
            writes.append("it locks rows (FOR UPDATE / FOR SHARE)")
    if kind == "SelectStmt" and "intoClause" in body:
        writes.append("it creates a table (SELECT INTO)")
    if kind == "SelectStmt" and "lockingClause" in body:
        writes.append("it locks rows (FOR UPDATE / FOR SHARE)")
    return Statement(kind, sorted(set(writes)))


def _with_article(label: str) -> str:
    return ("an " if label[0] in "AEIOU" else "a ") + label


def _label(kind: str) -> str:
    names = {"CreateTableAsStmt": "CREATE TABLE AS", "SelectStmt": "SELECT"}
    return names.get(kind, kind.removesuffix("Stmt").upper())


def require_plain(statement: Statement, allow_writes: bool) -> None:
    if statement.writes and not allow_writes:
        raise StewardError(
            "refusing to execute a statement that is not a plain query: " + "; ".join(statement.writes),
            FEATURE_NOT_SUPPORTED,
            detail="EXPLAIN ANALYZE runs the statement. pg_steward always rolls it back, "
                   "but runs a write only when asked.",
            hint="Pass allow_writes => true to run it inside a subtransaction that is rolled back, "
                 "or analyze => false for the plan alone.",
        )
