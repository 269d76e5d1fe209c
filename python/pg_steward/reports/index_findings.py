"""Index problems found from index descriptions (pure logic): duplicates, redundant prefixes, missing FK indexes.

An ``IndexInfo`` is what pg_index says about one index; reports/indexes.py reads
them. Two indexes are duplicates when a lookup could use either one the same
way: same table, access method, key columns, operator classes, collations,
sort options, expressions, predicate and INCLUDE columns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from pg_steward.sqltext import qualified, quote_ident


@dataclass(frozen=True)
class IndexInfo:
    oid: int
    schema: str
    table: str
    table_oid: int
    name: str
    method: str
    columns: tuple[int, ...]       # pg_index.indkey: key columns then INCLUDE columns; 0 = expression
    key_count: int                 # indnkeyatts
    opclasses: tuple[str, ...]
    collations: tuple[str, ...]
    options: tuple[str, ...]       # indoption (DESC, NULLS FIRST)
    expressions: str | None
    predicate: str | None
    unique: bool
    constraint: bool               # enforces a constraint (primary key, unique, exclusion, or backs a foreign key)
    replica_identity: bool
    valid: bool
    partitioned: bool              # an index of a partitioned table (relkind I)
    child: bool                    # attached to an index of the parent table
    size_bytes: int
    scans: int | None
    last_scan: str | None = None     # pg_stat_all_indexes.last_idx_scan (PostgreSQL 16 on), the latest of partitions
    idle_days: float | None = None   # days since last_scan

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def table_qualified(self) -> str:
        return qualified(self.schema, self.table)

    def signature(self) -> tuple[object, ...]:
        return (self.table_oid, self.method, self.columns, self.key_count, self.opclasses, self.collations,
                self.options, self.expressions, self.predicate)

    def keys(self) -> int:
        return self.key_count

    def must_stay(self) -> bool:
        """Dropping it would change behaviour, not only speed."""
        return self.unique or self.constraint or self.replica_identity


@dataclass(frozen=True)
class Finding:
    problem: str
    index: IndexInfo
    detail: str
    fix: str
    severity: str


def drop_statement(index: IndexInfo) -> str:
    """DROP INDEX CONCURRENTLY, which PostgreSQL refuses on a partitioned index: there a plain DROP."""
    if index.partitioned:
        return f"DROP INDEX {index.qualified};  -- partitioned index: takes ACCESS EXCLUSIVE on the table's partitions"
    return f"DROP INDEX CONCURRENTLY {index.qualified};"


def _keeper(group: list[IndexInfo]) -> IndexInfo:
    """The index of a duplicate group to keep: one that must stay, else the most used, else the oldest."""
    return sorted(group, key=lambda i: (not i.must_stay(), not i.valid, -(i.scans or 0), i.oid))[0]


def duplicates(indexes: list[IndexInfo]) -> list[Finding]:
    groups: dict[tuple[object, ...], list[IndexInfo]] = defaultdict(list)
    for index in indexes:
        if not index.child:
            groups[index.signature()].append(index)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        keep = _keeper(group)
        for index in group:
            if index is keep:
                continue
            if index.must_stay():
                fix = (f"-- {index.qualified} enforces a constraint: drop the constraint it backs "
                       f"(ALTER TABLE {index.table_qualified} DROP CONSTRAINT ...) if {keep.qualified} can take it")
            else:
                fix = drop_statement(index)
            out.append(Finding("duplicate", index, f"same definition as {keep.qualified}", fix, "warning"))
    return out


def _prefix_of(short: IndexInfo, long: IndexInfo) -> bool:
    n = short.key_count
    return (short.table_oid == long.table_oid and short.method == long.method == "btree"
            and short.expressions is None and long.expressions is None
            and short.predicate == long.predicate and n < long.key_count
            and short.columns == short.columns[:n] and short.columns[:n] == long.columns[:n]
            and short.opclasses[:n] == long.opclasses[:n] and short.collations[:n] == long.collations[:n]
            and short.options[:n] == long.options[:n])


def redundant(indexes: list[IndexInfo], names: dict[tuple[int, int], str]) -> list[Finding]:
    """B-tree indexes whose keys are a left prefix of another valid B-tree's keys on the same table."""
    out = []
    candidates = [i for i in indexes if not i.child and i.valid]
    for short in candidates:
        if short.must_stay() or len(short.columns) != short.key_count:
            continue
        for long in candidates:
            if long is not short and _prefix_of(short, long):
                out.append(Finding(
                    "redundant", short,
                    f"its keys ({column_list(short, names)}) are a left prefix of {long.qualified} "
                    f"({column_list(long, names)}), which serves the same lookups",
                    drop_statement(short), "warning"))
                break
    return out


def column_list(index: IndexInfo, names: dict[tuple[int, int], str]) -> str:
    return ", ".join(names.get((index.table_oid, c), "expression") for c in index.columns[:index.key_count])


# An index last scanned longer ago than this is reported as unused (where the server records the last scan).
UNUSED_AFTER_DAYS = 30
_STANDBYS = "scans on standbys are not counted here: check them before dropping"
NO_LAST_SCAN = ("this server does not record when an index was last scanned (last_idx_scan is from PostgreSQL 16): "
                "an index used only long ago cannot be told from one in use")


def unused(indexes: list[IndexInfo], since: str, last_scan_known: bool = True) -> list[Finding]:
    """Indexes never scanned since the statistics began, and (PostgreSQL 16+) those not scanned for
    UNUSED_AFTER_DAYS days; ``last_scan_known`` says whether the server records last scans."""
    out = []
    for index in indexes:
        if index.child or not index.valid or index.must_stay() or index.scans is None:
            continue
        if index.scans == 0:
            detail = f"no index scans {since}; " + (_STANDBYS if last_scan_known else f"{NO_LAST_SCAN}; {_STANDBYS}")
        elif last_scan_known and index.idle_days is not None and index.idle_days >= UNUSED_AFTER_DAYS:
            detail = (f"not scanned since {index.last_scan} ({int(index.idle_days)} days), {index.scans} index scans "
                      f"before that {since}; {_STANDBYS}")
        else:
            continue
        out.append(Finding("unused", index, detail, drop_statement(index),
                           "warning" if index.size_bytes >= 1 << 20 else "info"))
    return out


_LEFTOVER = re.compile(r"_cc(new|old)[0-9]*$")


def invalid(indexes: list[IndexInfo], definitions: dict[int, str]) -> list[Finding]:
    """Invalid indexes: a failed CREATE INDEX CONCURRENTLY (rebuild) or REINDEX CONCURRENTLY leftover (drop)."""
    out = []
    for index in indexes:
        if index.valid or index.partitioned:
            continue
        if _LEFTOVER.search(index.name):
            detail = "left behind by a failed REINDEX CONCURRENTLY; the original index is still there"
            fix = f"DROP INDEX CONCURRENTLY {index.qualified};"
        else:
            detail = ("invalid (a failed CREATE INDEX CONCURRENTLY): never used by queries, "
                      "yet kept up to date by every write")
            fix = f"REINDEX INDEX CONCURRENTLY {index.qualified};  -- or drop it: DROP INDEX CONCURRENTLY ..."
            if index.unique:
                detail += "; it still enforces uniqueness on new rows"
        definition = definitions.get(index.oid)
        if definition:
            detail += f"; definition: {definition}"
        out.append(Finding("invalid", index, detail, fix, "critical" if index.unique else "warning"))
    return out


def covers_foreign_key(index: IndexInfo, fk_columns: tuple[int, ...]) -> bool:
    """A usable index for the FK's lookups: its leading keys are exactly the FK columns, in any order."""
    n = len(fk_columns)
    return (index.valid and index.method == "btree" and index.predicate is None and index.key_count >= n
            and set(index.columns[:n]) == set(fk_columns))


def create_index_statement(schema: str, table: str, columns: list[str], partitioned: bool) -> str:
    cols = ", ".join(quote_ident(c) for c in columns)
    if partitioned:
        return (f"CREATE INDEX ON {qualified(schema, table)} ({cols});  -- partitioned table: no CONCURRENTLY; "
                f"or build it CONCURRENTLY per partition, then CREATE INDEX ON ONLY ... and ATTACH PARTITION")
    return f"CREATE INDEX CONCURRENTLY ON {qualified(schema, table)} ({cols});"
