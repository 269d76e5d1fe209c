"""Advice from an analyzed plan, each with the statement that fixes it (pure logic).

Thresholds are deliberately conservative: a finding should be worth a DBA's
time. They are documented in extension/queries.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pg_steward.queries.facts import Facts
from pg_steward.queries.index_candidates import filter_columns
from pg_steward.queries.plan import Plan, PlanNode, descendants
from pg_steward.queries.pruning import pruning
from pg_steward.sqltext import quote_ident

MISESTIMATE_FACTOR = 10.0
MISESTIMATE_MIN_ROWS = 100  # 3 rows estimated, 40 found rarely changes a plan
LARGE_TABLE_ROWS = 10_000
SEQ_SCAN_DISCARDED = 0.9
HEAP_FETCH_SHARE = 0.1
# A sort that spilled N kB needs more than N kB in memory: tuples in memory
# carry headers and pointers that the on-disk format drops.
SORT_MEMORY_PER_DISK = 3.0
HASH_HEADROOM = 1.25


@dataclass
class Advice:
    problem: str
    severity: str
    node_id: int | None
    relation: str | None
    detail: str
    fix: str


def _quoted(node: PlanNode, facts: Facts) -> str | None:
    if node.relation is None:
        return None
    known = facts.relations.get(node.relation)
    if known:
        return known.quoted
    return ".".join(quote_ident(p) for p in (node.schema, node.relation_name) if p)


def _work_mem(kb: float) -> str:
    return f"{max(1, math.ceil(kb / 1024))}MB"


def _misestimated(node: PlanNode) -> bool:
    factor = node.misestimate_factor
    return (factor is not None and factor >= MISESTIMATE_FACTOR
            and max(node.rows_actual or 0, node.rows_estimate) >= MISESTIMATE_MIN_ROWS)


def misestimates(plan: Plan, facts: Facts) -> list[Advice]:
    found = []
    for node in plan.nodes:
        below = descendants(plan, node)
        # Report where a misestimate starts, not every node above it that inherits it.
        if not _misestimated(node) or any(_misestimated(n) for n in below):
            continue
        tables = []
        for n in [node, *below]:
            quoted = _quoted(n, facts)
            if quoted and quoted not in tables:
                tables.append(quoted)
        direction = "more" if (node.rows_actual or 0) > node.rows_estimate else "fewer"
        detail = (f"{node.operation}: estimated {node.rows_estimate:.0f} rows, got {node.rows_actual:.0f} per loop "
                  f"({node.misestimate_factor:.0f}x {direction})")
        for table in tables:
            known = next((f for f in facts.relations.values() if f.quoted == table), None)
            if known and known.modified_since_analyze is not None:
                detail += (f"; {table}: {known.modified_since_analyze} rows changed since it was last analyzed"
                           f" ({known.last_analyzed or 'never'})")
        fix = " ".join(f"ANALYZE {t};" for t in tables) or "ANALYZE the tables of this query;"
        if node.relation is None:
            fix += " If the estimate stays off, CREATE STATISTICS on the correlated columns."
        found.append(Advice("row misestimate", "warning", node.node_id, _quoted(node, facts), detail, fix))
    return found


def _sort_disk_kb(node: PlanNode) -> float:
    spaces = [node.raw, *node.get("Workers", [])]
    return max((float(s.get("Sort Space Used", 0)) for s in spaces if s.get("Sort Space Type") == "Disk"),
               default=0.0)


def spills(plan: Plan, facts: Facts) -> list[Advice]:
    found = []
    now = f"work_mem is {facts.work_mem_kb}kB"
    for node in plan.nodes:
        if node.get("Node Type") == "Sort" and _sort_disk_kb(node) > 0:
            kb = _sort_disk_kb(node)
            need = _work_mem(kb * SORT_MEMORY_PER_DISK)
            found.append(Advice("sort spills to disk", "warning", node.node_id, None,
                                f"the sort wrote {kb:.0f}kB to disk ({node.get('Sort Method')}); {now}",
                                f"SET work_mem = '{need}';  -- for this query's session or role"))
        elif node.get("Node Type") == "Hash" and int(node.get("Hash Batches", 1) or 1) > 1:
            batches = int(node.get("Hash Batches"))
            kb = float(node.get("Peak Memory Usage", 0)) * batches * HASH_HEADROOM / facts.hash_mem_multiplier
            found.append(Advice("hash spills to disk", "warning", node.node_id, None,
                                f"the hash table was split into {batches} batches "
                                f"(peak {node.get('Peak Memory Usage')}kB each); {now}, "
                                f"hash_mem_multiplier {facts.hash_mem_multiplier:g}",
                                f"SET work_mem = '{_work_mem(kb)}';  -- for this query's session or role"))
        elif node.get("Strategy") in ("Hashed", "Mixed") and float(node.get("Disk Usage", 0) or 0) > 0:
            disk = float(node.get("Disk Usage"))
            kb = (float(node.get("Peak Memory Usage", 0)) + disk * SORT_MEMORY_PER_DISK) / facts.hash_mem_multiplier
            found.append(Advice("hash aggregate spills to disk", "warning", node.node_id, None,
                                f"the aggregate wrote {disk:.0f}kB to disk in {node.get('HashAgg Batches')} "
                                f"batches; {now}, hash_mem_multiplier {facts.hash_mem_multiplier:g}",
                                f"SET work_mem = '{_work_mem(kb)}';  -- for this query's session or role"))
    return found


def seq_scans(plan: Plan, facts: Facts) -> list[Advice]:
    found = []
    for node in plan.nodes:
        if node.get("Node Type") != "Seq Scan" or not node.executed or not node.get("Filter"):
            continue
        removed, kept = node.total("Rows Removed by Filter"), node.rows_actual_total
        known = facts.relations.get(node.relation or "")
        size = max(known.reltuples if known else 0.0, (removed + kept) / max(node.loops or 1, 1))
        if size < LARGE_TABLE_ROWS or removed < SEQ_SCAN_DISCARDED * (removed + kept):
            continue
        table = _quoted(node, facts)
        columns = filter_columns(node.get("Filter"), node.alias)
        detail = (f"sequential scan of {table} kept {kept:.0f} rows and discarded {removed:.0f} "
                  f"({100 * removed / (removed + kept):.1f}%) with Filter: {node.get('Filter')}")
        if not columns:
            fix = f"an index on {table} matching: {node.get('Filter')}"
        else:
            fix = f"CREATE INDEX CONCURRENTLY ON {table} ({', '.join(quote_ident(c) for c in columns)});"
            if known and columns[0] in known.index_leading_columns:
                detail += (f"; an index starting with {columns[0]} exists but was not chosen: "
                           "check the row estimate (ANALYZE) before adding another")
        found.append(Advice("sequential scan discards most rows", "warning", node.node_id, table, detail, fix))
    return found


def heap_fetches(plan: Plan, facts: Facts) -> list[Advice]:
    found = []
    for node in plan.nodes:
        fetches = float(node.get("Heap Fetches", 0) or 0)  # a total over loops, unlike rows removed
        if node.get("Node Type") != "Index Only Scan" or fetches <= 0:
            continue
        if fetches < HEAP_FETCH_SHARE * max(node.rows_actual_total, 1):
            continue
        table = _quoted(node, facts)
        found.append(Advice(
            "index-only scan visits the heap", "warning", node.node_id, table,
            f"{fetches:.0f} heap fetches for {node.rows_actual_total:.0f} rows through {node.index_name}: "
            "the visibility map of the table is out of date",
            f"VACUUM (ANALYZE) {table};"))
    return found


def unpruned(plan: Plan, facts: Facts) -> list[Advice]:
    found = []
    for row in pruning(plan, facts):
        if row.fix is None:
            continue
        found.append(Advice(
            "partitions not pruned", "warning", None, row.partitioned_table,
            f"{row.partitions_in_plan} of {row.partitions_total} partitions of {row.partitioned_table} "
            f"scanned (partitioned by {row.partition_key})", row.fix))
    return found


def advise(plan: Plan, facts: Facts) -> list[Advice]:
    found = unpruned(plan, facts)
    if plan.analyzed:
        found += misestimates(plan, facts) + spills(plan, facts) + seq_scans(plan, facts) + heap_fetches(plan, facts)
    return found
