"""Partition bounds as PostgreSQL prints them, parsed into values.

``pg_get_expr(relpartbound, 0)`` prints one of::

    DEFAULT
    FOR VALUES IN ('US', 'CA', NULL)
    FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')
    FOR VALUES FROM (MINVALUE, 0) TO (10, MAXVALUE)
    FOR VALUES WITH (modulus 8, remainder 3)

Constants come out as quoted literals (quotes doubled) or bare tokens
(numbers, booleans); ``MINVALUE``, ``MAXVALUE`` and ``NULL`` are bare
keywords. Nothing here touches the database.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class Unbounded(enum.Enum):
    MINVALUE = "MINVALUE"
    MAXVALUE = "MAXVALUE"


Value = str | Unbounded | None


@dataclass(frozen=True)
class PartitionBound:
    kind: str  # 'default', 'range', 'list' or 'hash'
    range_from: tuple[Value, ...] = ()
    range_to: tuple[Value, ...] = ()
    list_values: tuple[Value, ...] = ()
    modulus: int | None = None
    remainder: int | None = None


class BoundSyntaxError(ValueError):
    pass


def _split_values(text: str) -> tuple[Value, ...]:
    """Split ``'a', 'b''c', NULL, 42`` into values; quoted ones unquoted."""
    values: list[Value] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == "'":
            j, chunk = i + 1, []
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise BoundSyntaxError(f"unterminated literal in {text!r}")
                chunk.append(text[j:k])
                if text.startswith("''", k):
                    chunk.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            values.append("".join(chunk))
        else:
            k = text.find(",", i)
            k = n if k < 0 else k
            token = text[i:k].strip()
            if not token:
                raise BoundSyntaxError(f"empty value in {text!r}")
            values.append(_bare(token))
            i = k
        while i < n and text[i] == " ":
            i += 1
        if i < n:
            if text[i] != ",":
                raise BoundSyntaxError(f"expected ',' at {i} in {text!r}")
            i += 1
    return tuple(values)


def _bare(token: str) -> Value:
    upper = token.upper()
    if upper == "NULL":
        return None
    if upper in ("MINVALUE", "MAXVALUE"):
        return Unbounded(upper)
    return token


def _parenthesized(text: str, start: int) -> tuple[str, int]:
    """The text inside the parentheses opening at ``start``, and the index after them."""
    if text[start] != "(":
        raise BoundSyntaxError(f"expected '(' at {start} in {text!r}")
    depth, i, in_quote = 0, start, False
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == "'":
                if text.startswith("''", i):
                    i += 1
                else:
                    in_quote = False
        elif ch == "'":
            in_quote = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    raise BoundSyntaxError(f"unbalanced parentheses in {text!r}")


_HASH = re.compile(r"modulus (\d+), remainder (\d+)")


# The usual one-column range bound, with plain quoted values: read without the general parser (maintenance
# of thousands of tables reads every partition's bound on every run).
_SIMPLE_RANGE = re.compile(r"FOR VALUES FROM \('([^']*)'\) TO \('([^']*)'\)")


def simple_range(text: str) -> tuple[str, str] | None:
    """The lower and upper bound texts of the usual one-column range bound with quoted values; None otherwise
    (``parse_bound`` reads every form)."""
    simple = _SIMPLE_RANGE.fullmatch(text)
    return (simple[1], simple[2]) if simple else None


def parse_bound(text: str) -> PartitionBound:
    simple = simple_range(text)
    if simple:
        return PartitionBound("range", range_from=(simple[0],), range_to=(simple[1],))
    if text == "DEFAULT":
        return PartitionBound("default")
    if text.startswith("FOR VALUES IN "):
        inner, _ = _parenthesized(text, len("FOR VALUES IN "))
        return PartitionBound("list", list_values=_split_values(inner))
    if text.startswith("FOR VALUES FROM "):
        low, after = _parenthesized(text, len("FOR VALUES FROM "))
        if not text.startswith(" TO ", after):
            raise BoundSyntaxError(f"expected TO in {text!r}")
        high, _ = _parenthesized(text, after + len(" TO "))
        return PartitionBound("range", range_from=_split_values(low), range_to=_split_values(high))
    if text.startswith("FOR VALUES WITH "):
        inner, _ = _parenthesized(text, len("FOR VALUES WITH "))
        match = _HASH.fullmatch(inner)
        if not match:
            raise BoundSyntaxError(f"unexpected hash bound {text!r}")
        return PartitionBound("hash", modulus=int(match[1]), remainder=int(match[2]))
    raise BoundSyntaxError(f"unrecognized partition bound {text!r}")


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def value_text(value: Value) -> str | None:
    if isinstance(value, Unbounded):
        return value.value
    return value


def values_text(values: tuple[Value, ...]) -> str | None:
    """One bound as text: the plain value for a one-column key, else a tuple."""
    if not values:
        return None
    if len(values) == 1:
        return value_text(values[0])
    parts = ["NULL" if v is None else v.value if isinstance(v, Unbounded) else quote_literal(v) for v in values]
    return "(" + ", ".join(parts) + ")"


Ranks = Sequence[Mapping[str, int]]  # per key column: a bound value as printed -> its place in the key's order


def _value_key(value: Value, ranks: Mapping[str, int] | None = None) -> tuple:
    if value is Unbounded.MINVALUE:
        return (0,)
    if value is Unbounded.MAXVALUE or value is None:
        return (2,)
    if ranks is not None and value in ranks:
        return (1, 0, ranks[value], 0)
    try:
        number = Decimal(value)
    except InvalidOperation:
        return (1, 1, value)
    # NaN (a float or numeric 'NaN', a text 'nan') sorts after every number, as PostgreSQL orders it; Decimal
    # refuses to compare it.
    return (1, 0, Decimal("Infinity"), 1) if number.is_nan() else (1, 0, number, 0)


def _column_ranks(ranks: Ranks | None, position: int) -> Mapping[str, int] | None:
    return ranks[position] if ranks is not None and position < len(ranks) else None


def sort_key(bound: PartitionBound | None, ranks: Ranks | None = None) -> tuple:
    """Order siblings as a DBA reads them (and as PostgreSQL keeps them): by lower bound, DEFAULT last.

    ``ranks`` gives each key column's values their place in the key's own order (the database sorts them:
    enum sort order, dates as dates, the key's collation). Without it, numbers compare as numbers and
    anything else as text, which is the order of ISO dates and timestamps of our era.
    """
    if bound is None:
        return (0, ())
    if bound.kind == "default":
        return (1, ())
    if bound.kind == "range":
        return (0, tuple(_value_key(v, _column_ranks(ranks, i)) for i, v in enumerate(bound.range_from)))
    if bound.kind == "list":
        # PostgreSQL places a list partition by its lowest value; one holding only NULL comes after the others.
        return (0, tuple(sorted(_value_key(v, _column_ranks(ranks, 0)) for v in bound.list_values))[:1])
    return (0, ((1, 0, Decimal(bound.remainder or 0)), (1, 0, Decimal(bound.modulus or 0))))
