"""Candidate B-tree indexes read from statements' parse trees (pure logic, no server).

One home for "which columns would an index on this table use": ``query_advice``
reads a plan's scan filter with ``filter_columns``; ``suggest_indexes`` reads
whole statements with ``candidates``. The order of an index's columns follows
how a B-tree is searched: the columns compared for equality first, then one
column compared by range (or the ORDER BY columns), since a range stops the
use of the columns after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pg_steward.queries.statements import parse_tree, walk
from pg_steward.sqltext import quote_ident

_RANGE_OPS = {"<", ">", "<=", ">=", "~~"}
MAX_COLUMNS = 3  # wider keys rarely pay for their size
MAX_INCLUDE = 3  # an index-only scan is worth a few extra columns, not a copy of the table


@dataclass(frozen=True)
class Candidate:
    table: tuple[str | None, str]  # (schema as written or None, table name)
    columns: tuple[str, ...]
    where: str | None = None  # partial index predicate, SQL text
    include: tuple[str, ...] = ()

    def definition(self) -> str:
        """The part after ``ON table``: ``(a, b) INCLUDE (c) WHERE ...``."""
        text = "(" + ", ".join(quote_ident(c) for c in self.columns) + ")"
        if self.include:
            text += " INCLUDE (" + ", ".join(quote_ident(c) for c in self.include) + ")"
        if self.where:
            text += f" WHERE {self.where}"
        return text


@dataclass
class _Shape:
    """What one statement does with one table."""

    equal: list[str] = field(default_factory=list)
    ranged: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    ordered: list[str] = field(default_factory=list)
    grouped: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    constants: list[tuple[str, str]] = field(default_factory=list)  # (column, literal SQL) of col = 'literal'
    star: bool = False


def _unwrap(expr: dict) -> dict:
    while isinstance(expr, dict) and "TypeCast" in expr:
        expr = expr["TypeCast"]["arg"]
    return expr if isinstance(expr, dict) else {}


def _names(expr: dict) -> list[str] | None:
    fields = _unwrap(expr).get("ColumnRef", {}).get("fields")
    if not fields or not all("String" in f for f in fields):
        return None
    return [f["String"]["sval"] for f in fields]


def _column(expr: dict, alias: str | None) -> str | None:
    """The column of ``alias`` an operand names, through casts; None for anything else."""
    names = _names(expr)
    if names is None:
        return None
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and (alias is None or names[0] == alias):
        return names[1]
    return None


def _conjuncts(where: dict | None) -> list[dict]:
    if not where:
        return []
    if where.get("BoolExpr", {}).get("boolop") == "AND_EXPR":
        return [c for arg in where["BoolExpr"]["args"] for c in _conjuncts(arg)]
    return [where]


def _operator(expr: dict) -> str:
    return expr["name"][-1]["String"]["sval"] if expr.get("name") else ""


def _literal(expr: Any) -> str | None:
    """SQL text of a string or boolean constant that a partial index can keep (not a number: ids vary)."""
    expr = _unwrap(expr) if isinstance(expr, dict) else {}
    const = expr.get("A_Const", {})
    if "sval" in const:
        return "'" + const["sval"]["sval"].replace("'", "''") + "'"
    if "boolval" in const:
        return "true" if const["boolval"].get("boolval") else "false"
    return None


def _ordered_columns(equal: list[str], ranged: list[str]) -> list[str]:
    ordered = list(dict.fromkeys(equal))
    return ordered + [c for c in ranged if c not in ordered][:1]


def filter_columns(filter_text: str, alias: str | None) -> list[str]:
    """Index columns for a plan's scan filter: equality columns first, then one range column."""
    try:
        stmt = parse_tree(f"SELECT 1 WHERE {filter_text}")["stmts"][0]["stmt"]["SelectStmt"]
    except Exception:  # a filter we cannot read gets advice without an index definition
        return []
    equal: list[str] = []
    ranged: list[str] = []
    for conjunct in _conjuncts(stmt.get("whereClause")):
        _classify_predicate(conjunct, lambda expr: _column(expr, alias), equal, ranged, None)
    return _ordered_columns(equal, ranged)


def _classify_predicate(conjunct: dict, resolve: Any, equal: list[str], ranged: list[str],
                        constants: list[tuple[str, str]] | None) -> None:
    """Sort one conjunct into equality and range columns (and constant filters); comparisons of two columns
    (join keys) and anything else are left out."""
    if "NullTest" in conjunct:
        column = resolve(conjunct["NullTest"]["arg"])
        if column:
            equal.append(column)
        return
    expr = conjunct.get("A_Expr")
    if not expr:
        return
    lexpr = expr.get("lexpr", {})
    rexpr = expr.get("rexpr") if isinstance(expr.get("rexpr"), dict) else {}
    op = _operator(expr)
    left, right = resolve(lexpr), resolve(rexpr) if rexpr else None
    if left and right:  # two columns: a join key on each side, not a search by value
        return
    column = left or right
    # the other side is a value (a constant, a parameter, an expression), not a column of another table
    if not column or _names(rexpr if left else lexpr) is not None:
        return
    if op == "=" or expr["kind"] == "AEXPR_IN":
        equal.append(column)
        if constants is not None and op == "=" and expr["kind"] == "AEXPR_OP":
            literal = _literal(rexpr if left else lexpr)
            if literal:
                constants.append((column, literal))
    elif op in _RANGE_OPS or expr["kind"] == "AEXPR_BETWEEN":
        ranged.append(column)


def _tables(select: dict) -> dict[str, tuple[str | None, str]]:
    """Alias (or name) -> (schema, table) of the tables in a SELECT's FROM, subqueries left out."""
    out: dict[str, tuple[str | None, str]] = {}
    for node in select.get("fromClause", []):
        stack = [node]
        while stack:
            item = stack.pop()
            if "RangeVar" in item:
                rv = item["RangeVar"]
                name = rv.get("alias", {}).get("aliasname") or rv["relname"]
                out[name] = (rv.get("schemaname"), rv["relname"])
            elif "JoinExpr" in item:
                stack += [item["JoinExpr"]["larg"], item["JoinExpr"]["rarg"]]
    return out


def _statement_bodies(tree: dict) -> list[tuple[str, dict]]:
    """The SELECT-like bodies in a statement (its own, its CTEs', its subqueries'), each with tables to read."""
    bodies = []
    for kind, node in walk(tree):
        if kind == "SelectStmt" and "fromClause" in node:
            bodies.append((kind, node))
        elif kind in ("UpdateStmt", "DeleteStmt"):
            bodies.append((kind, node))
    return bodies


def _shapes(kind: str, body: dict) -> dict[tuple[str | None, str], _Shape]:
    if kind == "SelectStmt":
        tables = _tables(body)
    else:
        rv = body["relation"]
        tables = {rv.get("alias", {}).get("aliasname") or rv["relname"]: (rv.get("schemaname"), rv["relname"])}
        for extra in body.get("fromClause", body.get("usingClause", [])):
            if "RangeVar" in extra:
                e = extra["RangeVar"]
                tables[e.get("alias", {}).get("aliasname") or e["relname"]] = (e.get("schemaname"), e["relname"])
    if not tables:
        return {}
    shapes: dict[tuple[str | None, str], _Shape] = {t: _Shape() for t in tables.values()}

    def owner(expr: dict) -> tuple[tuple[str | None, str], str] | None:
        names = _names(expr)
        if names is None:
            return None
        if len(names) == 1 and len(tables) == 1:
            return next(iter(tables.values())), names[0]
        if len(names) == 2 and names[0] in tables:
            return tables[names[0]], names[1]
        return None  # a bare column of a join cannot be placed without the catalog

    conjuncts = _conjuncts(body.get("whereClause"))
    for kind_, node in walk(body.get("fromClause", [])):
        if kind_ == "JoinExpr" and node.get("quals"):
            conjuncts += _conjuncts(node["quals"])
    for conjunct in conjuncts:
        for table, shape in shapes.items():
            def mine(expr: dict, table: tuple[str | None, str] = table) -> str | None:
                found = owner(expr)
                return found[1] if found and found[0] == table else None

            _classify_predicate(conjunct, mine, shape.equal, shape.ranged, shape.constants)
        expr = conjunct.get("A_Expr", {})
        if expr and _operator(expr) == "=" and expr.get("kind") == "AEXPR_OP":
            left, right = owner(expr.get("lexpr", {})), owner(expr.get("rexpr") or {})
            if left and right and left[0] != right[0]:
                shapes[left[0]].joins.append(left[1])
                shapes[right[0]].joins.append(right[1])
    for item in body.get("sortClause", []):
        found = owner(item["SortBy"]["node"])
        if found:
            shapes[found[0]].ordered.append(found[1])
    for item in body.get("groupClause", []):
        found = owner(item)
        if found:
            shapes[found[0]].grouped.append(found[1])
    for target in body.get("targetList", body.get("returningList", [])) if kind == "SelectStmt" else []:
        value = target.get("ResTarget", {}).get("val", {})
        for kind_, node in [("root", value), *walk(value)]:
            ref = node.get("ColumnRef") if kind_ == "root" else (node if kind_ == "ColumnRef" else None)
            if ref is None:
                continue
            if any("A_Star" in f for f in ref.get("fields", [])):
                for shape in shapes.values():
                    shape.star = True
                continue
            found = owner({"ColumnRef": ref})
            if found:
                shapes[found[0]].selected.append(found[1])
    return shapes


def _for_shape(table: tuple[str | None, str], shape: _Shape) -> list[Candidate]:
    found: list[Candidate] = []
    equal = list(dict.fromkeys(shape.equal))
    searched = _ordered_columns(equal, shape.ranged)
    sorted_by = list(dict.fromkeys(shape.ordered or shape.grouped))

    def add(columns: list[str], where: str | None = None) -> None:
        columns = list(dict.fromkeys(columns))[:MAX_COLUMNS]
        if columns:
            found.append(Candidate(table, tuple(columns), where))

    if searched:
        add(searched)
    if equal and sorted_by and not shape.ranged:
        add(equal + sorted_by)  # the equality columns select, the next ones return the rows in order
    elif sorted_by and not equal:
        add(sorted_by)
    for key in dict.fromkeys(shape.joins):
        add([key] + [c for c in equal if c != key])
    # A constant compared with a string or boolean literal: the same rows stay out of the index for every
    # execution, so a partial index holds only the rows searched for.
    for column, literal in shape.constants:
        rest = [c for c in searched if c != column] or [c for c in sorted_by if c != column]
        if rest:
            add(rest, f"{quote_ident(column)} = {literal}")
    if not shape.star:
        used = set(shape.equal) | set(shape.ranged) | set(shape.ordered) | set(shape.grouped) | set(shape.joins)
        for candidate in list(found):
            extra = [c for c in dict.fromkeys(shape.selected) if c not in candidate.columns
                     and (candidate.where is None or c not in {x for x, _ in shape.constants})]
            if extra and len(extra) <= MAX_INCLUDE and used:
                found.append(Candidate(table, candidate.columns, candidate.where, tuple(extra)))
    return found


def candidates(sql: str) -> list[Candidate]:
    """The candidate indexes of one statement, per table, best-first within each table, without duplicates."""
    tree = parse_tree(sql)
    out: list[Candidate] = []
    for kind, body in _statement_bodies(tree):
        for table, shape in _shapes(kind, body).items():
            for candidate in _for_shape(table, shape):
                if candidate not in out:
                    out.append(candidate)
    return out


def covered(candidate: Candidate, existing: list[tuple[tuple[str, ...], bool]]) -> bool:
    """True if an existing index (its key columns, whether it is partial) starts with the candidate's columns
    in the same order: a partial candidate is covered by a full index too, an INCLUDE one only if the index's
    keys hold the included columns as well."""
    needed = candidate.columns + candidate.include
    for columns, partial in existing:
        if partial:
            continue
        if columns[:len(candidate.columns)] == candidate.columns and (
                not candidate.include or set(needed) <= set(columns)):
            return True
    return False


def parameters(sql: str) -> list[tuple[int, int, str | None]]:
    """Each ``$n`` of a statement: (byte offset, length in bytes, the column it is compared with or None)."""
    found: dict[int, tuple[int, int, str | None]] = {}
    tree = parse_tree(sql)
    for kind, node in walk(tree):
        if kind == "A_Expr":
            sides = [node.get("lexpr"), node.get("rexpr")]
            for index, side in enumerate(sides):
                other = sides[1 - index]
                values = side.get("List", {}).get("items", []) if isinstance(side, dict) and "List" in side else [side]
                for value in values:
                    param = _unwrap(value).get("ParamRef") if isinstance(value, dict) else None
                    names = _names(other) if isinstance(other, dict) else None
                    if param is not None and names:
                        found[param["location"]] = (param["location"], 1 + len(str(param["number"])), names[-1])
        elif kind == "ParamRef" and node.get("location", -1) not in found:
            found[node["location"]] = (node["location"], 1 + len(str(node.get("number", 0))), None)
    return sorted(found.values())


def substitute(sql: str, values: dict[int, str]) -> str:
    """``sql`` with the ``$n`` at each byte offset of ``values`` replaced by its SQL text."""
    data = sql.encode("utf-8")
    for offset, length, _column in sorted(parameters(sql), reverse=True):
        if offset in values:
            data = data[:offset] + values[offset].encode("utf-8") + data[offset + length:]
    return data.decode("utf-8")
