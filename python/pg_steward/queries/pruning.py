"""Partition pruning seen in a plan: per partitioned table, partitions scanned of how many (pure logic).

Pruning happens in three places and the plan shows each: at planning (pruned
partitions are simply absent), at executor start-up ("Subplans Removed" on
the Append), and during execution (a partition's scan "never executed").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pg_steward.queries.facts import Facts
from pg_steward.queries.plan import Plan, descendants

_APPENDS = {"Append", "Merge Append"}
# The node of an INSERT, UPDATE, DELETE or MERGE names its target, which it writes but does not scan: the
# partitions it reads are the scans below it.
_TARGETS = {"ModifyTable"}


@dataclass
class PruningRow:
    partitioned_table: str
    partition_key: str
    partitions_total: int
    partitions_in_plan: int
    subplans_removed: int
    partitions_executed: int | None  # None without ANALYZE
    pruned: bool
    fix: str | None


def key_columns(partkeydef: str) -> str:
    """``RANGE (sale_date)`` -> ``sale_date``."""
    found = re.search(r"\((.*)\)\s*$", partkeydef)
    return found.group(1) if found else partkeydef


def _root_of_subtree(plan: Plan, node_id: int, facts: Facts) -> str | None:
    node = next(n for n in plan.nodes if n.node_id == node_id)
    for below in descendants(plan, node):
        known = facts.relations.get(below.relation or "")
        if known and known.root:
            return known.root
    return None


def pruning(plan: Plan, facts: Facts) -> list[PruningRow]:
    in_plan: dict[str, set[str]] = {}
    executed: dict[str, set[str]] = {}
    removed: dict[str, int] = {}
    for node in plan.nodes:
        known = facts.relations.get(node.relation or "")
        if known is None or known.root is None or node.get("Node Type") in _TARGETS:
            continue
        in_plan.setdefault(known.root, set()).add(known.quoted)
        if node.executed:
            executed.setdefault(known.root, set()).add(known.quoted)
    for node in plan.nodes:
        if node.get("Node Type") in _APPENDS and node.get("Subplans Removed"):
            root = _root_of_subtree(plan, node.node_id, facts)
            if root is not None:
                removed[root] = removed.get(root, 0) + int(node.get("Subplans Removed"))
    rows = []
    for root, scanned in sorted(in_plan.items()):
        info = facts.roots[root]
        ran = len(executed.get(root, ())) if plan.analyzed else None
        effective = min(len(scanned), ran) if ran is not None else len(scanned)
        pruned = effective < info.leaves
        fix = None
        if not pruned and info.leaves > 1:
            fix = (f"filter {info.quoted} on its partition key ({key_columns(info.key)}) with a condition the "
                   f"planner can compare to constants or parameters, e.g. {key_columns(info.key)} >= ... "
                   f"AND {key_columns(info.key)} < ...")
        rows.append(PruningRow(info.quoted, info.key, info.leaves, len(scanned), removed.get(root, 0), ran,
                               pruned, fix))
    return rows
