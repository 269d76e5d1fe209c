"""What the advice needs to know about the database besides the plan itself.

Gathered by ``explain.py`` from the catalog; plain data here so the advice and
pruning logic is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RelationFacts:
    quoted: str  # "schema"."name", ready for a fix
    reltuples: float
    root: str | None = None  # the top partitioned table, when a partition
    index_leading_columns: set[str] = field(default_factory=set)
    modified_since_analyze: int | None = None
    last_analyzed: str | None = None


@dataclass
class RootFacts:
    quoted: str
    leaves: int
    key: str  # pg_get_partkeydef: RANGE (sale_date)


@dataclass
class Facts:
    relations: dict[str, RelationFacts] = field(default_factory=dict)  # by PlanNode.relation
    roots: dict[str, RootFacts] = field(default_factory=dict)  # by RelationFacts.root
    work_mem_kb: int = 4096
    hash_mem_multiplier: float = 2.0
    read_only: bool = False  # transaction_read_only: the analysis cannot record its own scans
