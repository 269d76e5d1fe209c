"""Index problems found from index descriptions (pure logic): duplicates, redundant prefixes, missing FK indexes.

An ``IndexInfo`` is what pg_index says about one index; reports/indexes.py reads
them. Two indexes are duplicates when a lookup could use either one the same
way: same table, access method, key columns, operator classes, collations,
sort options, expressions, predicate and INCLUDE columns. A UNIQUE NULLS NOT
DISTINCT index and a plain UNIQUE one on the same columns enforce different
constraints (one NULL key at most, against any number): never duplicates.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
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
    nulls_not_distinct: bool = False  # UNIQUE NULLS NOT DISTINCT (PostgreSQL 15 on): one NULL key at most
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
                self.options, self.expressions, self.predicate, self.nulls_not_distinct)

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
    kept: IndexInfo | None = None  # duplicate: the index of the same definition that stays


def drop_statement(index: IndexInfo) -> str:
    """DROP INDEX CONCURRENTLY, which PostgreSQL refuses on a partitioned index: there a plain DROP."""
    if index.partitioned:
        return f"DROP INDEX {index.qualified};  -- partitioned index: takes ACCESS EXCLUSIVE on the table's partitions"
    return f"DROP INDEX CONCURRENTLY {index.qualified};"


def _keeper(group: list[IndexInfo]) -> IndexInfo:
    """The index of a group of valid duplicates to keep: one that backs a constraint (a primary key, a unique
    constraint, one a foreign key references), else a unique or replica-identity one, else the most used, else
    the oldest."""
    return sorted(group, key=lambda i: (not i.constraint, not i.must_stay(), -(i.scans or 0), i.oid))[0]


def droppable_beside(index: IndexInfo, keep: IndexInfo) -> bool:
    """Whether dropping ``index`` loses nothing that ``keep``, of the same definition, does not provide."""
    return not index.constraint and not index.replica_identity and (keep.unique or not index.unique)


def duplicates(indexes: list[IndexInfo]) -> list[Finding]:
    """Valid indexes of the same definition as another one: all but the keeper go. An invalid index serves no
    lookup, so it never keeps (nor joins) a group: invalid() reports it."""
    groups: dict[tuple[object, ...], list[IndexInfo]] = defaultdict(list)
    for index in indexes:
        if not index.child and index.valid:
            groups[index.signature()].append(index)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        keep = _keeper(group)
        for index in group:
            if index is keep:
                continue
            if droppable_beside(index, keep):
                fix = drop_statement(index)
            else:
                fix = (f"-- {index.qualified} backs a constraint or the replica identity: move that to "
                       f"{keep.qualified} first (ALTER TABLE {index.table_qualified} ...), then drop it")
            out.append(Finding("duplicate", index, f"same definition as {keep.qualified}", fix, "warning", keep))
    return out


def kept_duplicates(findings: Iterable[Finding]) -> dict[int, list[IndexInfo]]:
    """The indexes duplicate findings keep, each with the duplicates those findings drop beside it."""
    out: dict[int, list[IndexInfo]] = defaultdict(list)
    for finding in findings:
        if finding.problem == "duplicate" and finding.kept is not None:
            out[finding.kept.oid].append(finding.index)
    return dict(out)


def _prefix_of(short: IndexInfo, long: IndexInfo) -> bool:
    n = short.key_count
    return (short.table_oid == long.table_oid and short.method == long.method == "btree"
            and short.expressions is None and long.expressions is None
            and short.predicate == long.predicate and n < long.key_count
            and short.columns == short.columns[:n] and short.columns[:n] == long.columns[:n]
            and short.opclasses[:n] == long.opclasses[:n] and short.collations[:n] == long.collations[:n]
            and short.options[:n] == long.options[:n])


def redundant(indexes: list[IndexInfo], names: dict[tuple[int, int], str],
              dropped: frozenset[int] = frozenset()) -> list[Finding]:
    """B-tree indexes whose keys are a left prefix of another valid B-tree's keys on the same table; the longer
    index must be one that stays (not in ``dropped``, the indexes other findings propose to drop)."""
    out = []
    candidates = [i for i in indexes if not i.child and i.valid]
    for short in candidates:
        if short.must_stay() or len(short.columns) != short.key_count:
            continue
        for long in candidates:
            if long is not short and long.oid not in dropped and _prefix_of(short, long):
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


def unused(indexes: list[IndexInfo], since: str, last_scan_known: bool = True,
           foreign_keys: Iterable[tuple[int, tuple[int, ...]]] = (),
           dropped: frozenset[int] = frozenset(),
           kept: Mapping[int, list[IndexInfo]] | None = None) -> list[Finding]:
    """Indexes never scanned since the statistics began, and (PostgreSQL 16+) those not scanned for
    UNUSED_AFTER_DAYS days; ``last_scan_known`` says whether the server records last scans. An index that
    serves a foreign key's lookups (``foreign_keys``: table oid and columns) is in use whatever its scans say,
    and one in ``dropped`` is already proposed for dropping by another finding. One that ``kept`` maps to
    duplicates (kept_duplicates()) is what their drop relies on: its finding waits for those drops, with no
    SQL until they are done, so that following every finding never drops both of a pair."""
    fks = list(foreign_keys)
    out = []
    for index in indexes:
        if index.child or not index.valid or index.must_stay() or index.scans is None or index.oid in dropped:
            continue
        if any(table == index.table_oid and covers_foreign_key(index, columns) for table, columns in fks):
            continue
        if index.scans == 0:
            detail = f"no index scans {since}; " + (_STANDBYS if last_scan_known else f"{NO_LAST_SCAN}; {_STANDBYS}")
        elif last_scan_known and index.idle_days is not None and index.idle_days >= UNUSED_AFTER_DAYS:
            detail = (f"not scanned since {index.last_scan} ({int(index.idle_days)} days), {index.scans} index scans "
                      f"before that {since}; {_STANDBYS}")
        else:
            continue
        fix = drop_statement(index)
        twins = (kept or {}).get(index.oid)
        if twins:
            others = ", ".join(t.qualified for t in twins)
            detail += (f"; it is the one of its duplicate pair ({index.qualified} and {others}) that the duplicate "
                       f"finding keeps: drop {others} first, never both")
            fix = (f"-- waits for the drop of its duplicate {others} (the duplicate finding): once that is gone, "
                   f"read this report again; if {index.qualified} is still unused, its DROP is given then")
        out.append(Finding("unused", index, detail, fix, "warning" if index.size_bytes >= 1 << 20 else "info"))
    return out


_LEFTOVER = re.compile(r"_cc(new|old)[0-9]*$")


def _valid_twin(index: IndexInfo, indexes: list[IndexInfo]) -> IndexInfo | None:
    """A valid index of the same definition that serves everything ``index`` would, if there is one."""
    for other in indexes:
        if other.valid and other.signature() == index.signature() and (other.unique or not index.unique):
            return other
    return None


def _invalid_partitioned(index: IndexInfo, definition: str | None) -> tuple[str, str]:
    detail = ("invalid partitioned index (CREATE INDEX ON ONLY not attached on every partition): "
              "queries on the partitions lacking it cannot use it, and new partitions do not get it")
    recreate = definition.replace(" ON ONLY ", " ON ", 1) if definition else "CREATE INDEX ON the table ..."
    attach = (f"for each partition without it: CREATE INDEX CONCURRENTLY ON the partition, then ALTER INDEX "
              f"{index.qualified} ATTACH PARTITION ...")
    if index.constraint or index.scans:
        # Its partitions' indexes serve lookups (or a constraint): they stay, and the missing ones are added.
        return detail, f"-- {attach}; or rebuild it on every partition: DROP INDEX {index.qualified}; {recreate};"
    # Never scanned on any partition: the same evidence on which an unused index goes.
    return detail + "; its partitions' indexes were never scanned", \
        f"DROP INDEX {index.qualified};  -- to have it on every partition instead: {attach}"


def invalid(indexes: list[IndexInfo], definitions: dict[int, str]) -> list[Finding]:
    """Invalid indexes: a failed CREATE INDEX CONCURRENTLY or a REINDEX CONCURRENTLY leftover, which no query
    ever used (dropped, its rebuild told beside), a partitioned index not attached on every partition."""
    out = []
    for index in indexes:
        if index.valid or index.child:
            continue
        definition = definitions.get(index.oid)
        if index.partitioned:
            detail, fix = _invalid_partitioned(index, definition)
        elif _LEFTOVER.search(index.name):
            detail = "left behind by a failed REINDEX CONCURRENTLY; the original index is still there"
            fix = f"DROP INDEX CONCURRENTLY {index.qualified};"
        elif index.constraint:
            detail = "invalid, and a constraint depends on it: it must be rebuilt"
            fix = f"REINDEX INDEX CONCURRENTLY {index.qualified};"
        else:
            twin = _valid_twin(index, indexes)
            detail = ("invalid (a failed CREATE INDEX CONCURRENTLY): never used by queries, yet kept up to date "
                      "by every write")
            if twin is not None:
                detail += f"; {twin.qualified} already serves the same lookups"
            if index.unique:
                # The usual cause is a duplicate key, on which a REINDEX fails again: PostgreSQL's advice is to
                # drop the index and build it anew once the data allows it.
                detail += "; it still enforces uniqueness on new rows (a duplicate key is the usual cause)"
            retry = f": {_concurrently(definition)}" if definition else ""
            fix = (f"DROP INDEX CONCURRENTLY {index.qualified};  -- as PostgreSQL advises; to have it, once "
                   f"its build can succeed{retry}")
        if definition:
            detail += f"; definition: {definition}"
        out.append(Finding("invalid", index, detail, fix, "critical" if index.unique else "warning"))
    return out


def _concurrently(definition: str) -> str:
    return re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", definition, count=1)


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
