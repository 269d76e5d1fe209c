"""The package's own imports: no cycle, and pure modules never reach a module that reads the database.

The graph is read with ``ast`` from the source of python/pg_steward: every
``import pg_steward.x`` and ``from pg_steward.x import y`` (``y`` counts as
the module ``pg_steward.x.y`` when that is a module), at module level or
inside a function, is an edge. ``from __future__`` and names outside the
package are ignored.

A module *reads the database* when it imports ``pg_steward.db`` (the one
database interface) or its code calls ``.query(`` or ``.execute(`` on
something: a module that does neither cannot reach the database except
through a module it imports. A module declared pure below must not import,
directly or through other modules, any module that reads the database.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "pg_steward"

PURE = [
    "pg_steward.errors",
    "pg_steward.sqltext",
    "pg_steward.catalog_filters",
    "pg_steward.partitions.bounds",
    "pg_steward.partitions.model",
    "pg_steward.partitions.naming",
    "pg_steward.partitions.plan",
    "pg_steward.partitions.spans",
    "pg_steward.partitions.values",
    "pg_steward.queries.advice",
    "pg_steward.queries.facts",
    "pg_steward.queries.fingerprint",
    "pg_steward.queries.plan",
    "pg_steward.queries.pruning",
    "pg_steward.queries.statements",
    "pg_steward.queries.statstatements",
    "pg_steward.reports.bloat_model",
    "pg_steward.reports.bloat_verdict",
    "pg_steward.reports.health_checks",
    "pg_steward.reports.index_findings",
    "pg_steward.schedule.jobs",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(tree: ast.Module, known: set[str]) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "pg_steward"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pg_steward":
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return {name for name in out if name in known}


def graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: imports(tree, known) - {name} for name, tree in trees.items()}


def reads_database(tree: ast.Module, edges: set[str]) -> bool:
    if "pg_steward.db" in edges:
        return True
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in ("query", "execute") for node in ast.walk(tree))


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_graph_is_read():
    edges = graph()
    assert "pg_steward.partitions.model" in edges["pg_steward.partitions.plan"]
    assert "pg_steward.db" in edges["pg_steward.partitions.catalog"]


def test_no_import_cycle():
    edges = graph()
    cycles = sorted(name for name in edges if name in reachable(edges, name))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_pure_modules_reach_no_database_reader():
    trees = modules()
    edges = graph()
    readers = {name for name, tree in trees.items() if reads_database(tree, edges[name])}
    assert "pg_steward.partitions.catalog" in readers
    for name in PURE:
        assert name in edges, f"{name} is not a module of the package"
        assert name not in readers, f"{name} is declared pure but reads the database"
        bad = sorted(reachable(edges, name) & readers)
        assert bad == [], f"{name} is declared pure but imports modules that read the database: {bad}"
