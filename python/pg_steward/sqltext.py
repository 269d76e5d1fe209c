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


def unquoted(name: str) -> str:
    """A qualified name for people to read: ``"public"."Big"`` as ``public.Big``, each part as the
    identifier it is (quotes taken off, doubled quotes made single), parts joined by dots. Text that is not a
    chain of identifiers is returned as it is."""
    parts: list[str] = []
    position, length = 0, len(name)
    while position < length:
        if name[position] == '"':
            end, part = position + 1, []
            while True:
                if end >= length:
                    return name
                if name[end] == '"':
                    if end + 1 < length and name[end + 1] == '"':
                        part.append('"')
                        end += 2
                        continue
                    break
                part.append(name[end])
                end += 1
            parts.append("".join(part))
            position = end + 1
        else:
            end = position
            while end < length and name[end] not in '."':
                end += 1
            if end == position or any(c.isspace() for c in name[position:end]):
                return name  # an unquoted identifier is never empty and has no space
            parts.append(name[position:end])
            position = end
        if position < length:
            if name[position] != ".":
                return name
            position += 1
            if position == length:
                return name
    return ".".join(parts)
