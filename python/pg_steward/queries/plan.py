"""EXPLAIN (FORMAT JSON) output as a flat list of plan nodes (pure logic).

Times in EXPLAIN are per loop and, under a Gather, per process: "Actual Total
Time" is the average over all loops of all processes. A node's wall-clock
share is therefore time x loops / processes, where processes is the number
of workers launched by the Gather above it plus the leader. Exclusive time is
a node's inclusive time minus that of its children (InitPlans and SubPlans
included: their time is spent inside the node that runs them).

Both shapes of output are read: up to PostgreSQL 17, buffers appear only with
BUFFERS; from 18 ANALYZE adds them by default, index scans carry "Index
Searches" (descents into the index, summed over loops and workers: an
``= ANY`` list or a skip scan makes several), nodes say whether they were
"Disabled", "Actual Rows" is fractional (an average per loop) and the
top-level "Planning" holds the planner's buffers. A key a server does not
print is absent, never zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_GATHERS = {"Gather", "Gather Merge"}


@dataclass
class PlanNode:
    node_id: int
    parent_id: int | None
    depth: int
    operation: str
    schema: str | None
    relation_name: str | None
    alias: str | None
    index_name: str | None
    rows_estimate: float
    rows_actual: float | None  # per loop; None without ANALYZE
    loops: int | None
    time_ms: float | None  # inclusive, wall clock
    exclusive_time_ms: float | None = None
    processes: int = 1
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def relation(self) -> str | None:
        if self.relation_name is None:
            return None
        return f"{self.schema}.{self.relation_name}" if self.schema else self.relation_name

    @property
    def executed(self) -> bool:
        return bool(self.loops)

    @property
    def rows_actual_total(self) -> float:
        return (self.rows_actual or 0) * (self.loops or 0)

    @property
    def accuracy_ratio(self) -> float | None:
        """Actual rows over estimated rows, per loop; None when not executed."""
        if not self.executed or self.rows_actual is None:
            return None
        return self.rows_actual / max(self.rows_estimate, 1)

    @property
    def misestimate_factor(self) -> float | None:
        """How many times off the estimate is, in either direction (>= 1)."""
        if not self.executed or self.rows_actual is None:
            return None
        actual, estimate = max(self.rows_actual, 1.0), max(self.rows_estimate, 1.0)
        return max(actual / estimate, estimate / actual)

    @property
    def index_searches(self) -> int | None:
        """Times the index was descended into, over all loops (PostgreSQL 18 on); None where not printed."""
        value = self.raw.get("Index Searches")
        return None if value is None else int(value)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def total(self, key: str) -> float:
        """A per-loop counter of EXPLAIN (rows removed ...) summed over loops."""
        return float(self.raw.get(key, 0) or 0) * (self.loops or 0)


def _operation(raw: dict[str, Any]) -> str:
    """The node's name as text-format EXPLAIN prints it (Parallel Seq Scan, Partial HashAggregate, ...)."""
    kind = raw["Node Type"]
    if kind == "Aggregate":
        kind = {"Sorted": "GroupAggregate", "Hashed": "HashAggregate", "Mixed": "MixedAggregate"}.get(
            raw.get("Strategy"), kind)
        if raw.get("Partial Mode", "Simple") != "Simple":
            kind = f"{raw['Partial Mode']} {kind}"
    if kind.endswith("Join") and raw.get("Join Type", "Inner") != "Inner":
        kind = f"{kind} ({raw['Join Type']})"
    if raw.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    return kind


def _inclusive_ms(raw: dict[str, Any], processes: int) -> float | None:
    if "Actual Total Time" not in raw:
        return None
    loops = raw.get("Actual Loops", 0) or 0
    return float(raw["Actual Total Time"]) * loops / processes


def _walk(raw: dict[str, Any], parent: int | None, depth: int, processes: int,
          counter: Iterator[int], out: list[PlanNode]) -> PlanNode:
    node = PlanNode(
        node_id=next(counter), parent_id=parent, depth=depth, operation=_operation(raw),
        schema=raw.get("Schema"), relation_name=raw.get("Relation Name"), alias=raw.get("Alias"),
        index_name=raw.get("Index Name"), rows_estimate=float(raw.get("Plan Rows", 0)),
        rows_actual=float(raw["Actual Rows"]) if "Actual Rows" in raw else None,
        loops=int(raw["Actual Loops"]) if "Actual Loops" in raw else None,
        time_ms=_inclusive_ms(raw, processes), processes=processes, raw=raw,
    )
    out.append(node)
    below = processes
    if raw["Node Type"] in _GATHERS:
        # The leader runs the subtree too unless parallel_leader_participation is off;
        # counting it gives the same wall-clock figure EXPLAIN users expect.
        below = int(raw.get("Workers Launched", raw.get("Workers Planned", 0))) + 1
    children = [_walk(child, node.node_id, depth + 1, below, counter, out) for child in raw.get("Plans", [])]
    if node.time_ms is not None:
        spent_below = sum(child.time_ms or 0.0 for child in children)
        node.exclusive_time_ms = max(node.time_ms - spent_below, 0.0)
    return node


@dataclass
class Plan:
    nodes: list[PlanNode]
    planning_ms: float | None
    execution_ms: float | None
    analyzed: bool


def parse_plan(explain: Any) -> Plan:
    """Nodes of EXPLAIN (FORMAT JSON) output, depth first, numbered from 1."""
    top = explain[0] if isinstance(explain, list) else explain
    nodes: list[PlanNode] = []
    counter = iter(range(1, 1_000_000))
    _walk(top["Plan"], None, 0, 1, counter, nodes)
    return Plan(nodes, top.get("Planning Time"), top.get("Execution Time"), "Execution Time" in top)


def children(plan: Plan, node: PlanNode) -> list[PlanNode]:
    return [n for n in plan.nodes if n.parent_id == node.node_id]


def descendants(plan: Plan, node: PlanNode) -> list[PlanNode]:
    found, frontier = [], [node.node_id]
    while frontier:
        current = frontier.pop()
        for n in plan.nodes:
            if n.parent_id == current:
                found.append(n)
                frontier.append(n.node_id)
    return found


_DETAIL_KEYS = (
    "Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter", "Sort Key",
    "Sort Method", "Heap Fetches", "Index Searches", "Subplans Removed", "Workers Launched", "Hash Batches",
    "Original Hash Batches", "Peak Memory Usage", "Disk Usage", "HashAgg Batches",
)


def detail(node: PlanNode) -> str | None:
    """The EXPLAIN properties a reader needs to recognise the node, one line."""
    parts = []
    for key in _DETAIL_KEYS:
        value = node.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if key == "Index Searches" and (node.loops or 0) > 1:
            value = f"{node.index_searches} over {node.loops} loops"
        parts.append(f"{key}: {value}")
    if node.get("Sort Space Used") is not None:
        parts.append(f"Sort Space: {node.get('Sort Space Used')}kB ({node.get('Sort Space Type')})")
    if node.loops == 0:
        parts.append("never executed")
    return "; ".join(parts) or None
