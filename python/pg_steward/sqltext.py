"""Quoting for the SQL text we must build (DDL takes no parameters).

Identifiers are always quoted; literals are only ever made from values we
computed ourselves (dates, numbers), and quoted all the same.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def quote_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("literals cannot contain NUL")
    if "\\" in value:  # E'' keeps the meaning whatever standard_conforming_strings says
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"
