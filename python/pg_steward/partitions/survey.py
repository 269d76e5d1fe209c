"""Which managed tables certainly need nothing this run, found for all of them in a few queries.

Most runs of maintenance find nothing to do for most tables. Reading each
table on its own costs about ten statements and a subtransaction; here the
registry, the parents and every partition's bounds are read in three queries,
and the DEFAULT partitions are checked for rows: an empty one by its size, the
others in batches. A table is idle when its partitions cover every slot from
the oldest one (or the retention cutoff) to ``premake`` spans past now, nothing
is past retention, and its DEFAULT holds no row. Anything else (an integer key, an unusual layout, a
DEFAULT whose lock is not available) is left to the full path in
``maintain.py``, which re-reads the table under its locks: the survey only
ever skips work that the full path would find empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pg_steward.db import Database
from pg_steward.partitions import catalog
from pg_steward.partitions.bounds import Unbounded, parse_bound, simple_range
from pg_steward.partitions.clock import now_as_key, now_utc
from pg_steward.partitions.config import read_configs
from pg_steward.partitions.locking import with_lock_retries
from pg_steward.partitions.model import Config, LockPolicy, Parent, RangePartition
from pg_steward.partitions.plan import wanted_ranges
from pg_steward.partitions.retention import expired
from pg_steward.partitions.spans import Key, Span, advance_within, floor, subtract, zone
from pg_steward.partitions.values import Bound, from_text, order
from pg_steward.sqltext import qualified

DEFAULT_BATCH = 200  # DEFAULT partitions checked per statement

_BOUNDS_SQL = """
SELECT i.inhparent::bigint AS parent_oid, pg_catalog.array_agg(pg_catalog.pg_get_expr(c.relpartbound, 0)) AS bounds
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = ANY($1::bigint[]::oid[])
GROUP BY i.inhparent
"""


def _ranges(texts: list[str], key_type: str) -> list[RangePartition]:
    out = []
    for text in texts:
        bound = parse_bound(text)
        if bound.kind == "range":
            out.append(RangePartition(0, "", "", from_text(bound.range_from[0], key_type),
                                      from_text(bound.range_to[0], key_type), False))
    return out


def _covered(parent: Parent, config: Config, parts: list[RangePartition], now_key: object) -> bool:
    """Nothing to create and nothing to retire, by the rules maintenance applies (``plan.wanted_ranges``)."""
    tz = zone(config.time_zone)
    cutoff = subtract(now_key, config.retention, tz) if config.retention else None  # type: ignore[arg-type]
    if wanted_ranges(parts, config, now_key, cutoff, []):  # type: ignore[arg-type]
        return False
    return cutoff is None or not expired(parts, cutoff)


class SlotMemo:
    """The slot arithmetic of one survey, computed once per distinct input: the tables of a database mostly share
    their span, zone, premake and even their bounds, and ``floor`` and friends are the per-table cost."""

    def __init__(self) -> None:
        self._memo: dict[tuple[object, ...], object] = {}

    def _get(self, key: tuple[object, ...], compute: Callable[[], object]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def floor(self, value: Key, span: Span, time_zone: str) -> Key:
        return self._get(("floor", value, span, time_zone), lambda: floor(value, span, zone(time_zone)))

    def horizon(self, current: Key, config: Config) -> Bound:
        return self._get(("horizon", current, config.span, config.time_zone, config.premake),
                         lambda: advance_within(current, config.span, zone(config.time_zone), None,
                                                config.premake + 1))

    def cutoff(self, now_key: Key, retention: Span, time_zone: str) -> Key:
        return self._get(("cutoff", now_key, retention, time_zone),
                         lambda: subtract(now_key, retention, zone(time_zone)))


def plainly_covered(texts: list[str], config: Config, now_key: Key, key_type: str,
                    memo: SlotMemo | None = None) -> bool:
    """Whether ``_covered`` certainly holds, decided without planning: True only for the usual layout, where the
    range partitions (``texts``, their catalog bounds; DEFAULT skipped) form one unbroken chain from ``S`` to an
    end at or past the premake horizon, the slot gap filling would start from (the clock's, the oldest
    partition's, or the retention cutoff's) is not below ``S``, and the oldest partition ends after the cutoff.
    False means "not decided here": ``_covered`` decides.

    Bounds are chained by their text: the catalog prints a value of a key type one way (the SQL functions pin
    DateStyle and TimeZone), so equal texts are equal values. Only the ends of the chain are parsed."""
    memo = memo or SlotMemo()
    following: dict[str, str] = {}
    for text in texts:
        if text == "DEFAULT":
            continue
        pair = simple_range(text)
        if pair is None or pair[0] in following:
            return False  # another form of bound (MINVALUE, several columns): planned in full
        following[pair[0]] = pair[1]
    if not following:
        return False
    ends = set(following.values())
    heads = [start for start in following if start not in ends]
    if len(heads) != 1:
        return False  # a gap (two chains) or none
    tail, links = heads[0], 0
    while tail in following and links <= len(following):
        tail, links = following[tail], links + 1
    if links != len(following):
        return False
    start, end = from_text(heads[0], key_type), from_text(tail, key_type)
    first_end = from_text(following[heads[0]], key_type)
    if isinstance(start, Unbounded) or isinstance(end, Unbounded) or isinstance(first_end, Unbounded):
        return False  # infinity or a BC date at an end: planned in full
    span, time_zone = config.span, config.time_zone
    current = memo.floor(now_key, span, time_zone)
    # As plan.reach: gaps are filled from the oldest start or the clock's slot, or from the cutoff's slot above.
    low = min(current, start, key=order)  # type: ignore[arg-type]
    if config.retention:
        cutoff = memo.cutoff(now_key, config.retention, time_zone)
        if order(first_end) <= order(cutoff):
            return False  # the oldest partition is past retention
        if order(low) < order(cutoff):
            low = memo.floor(cutoff, span, time_zone)
    return (order(memo.floor(low, span, time_zone)) >= order(start)
            and order(memo.horizon(current, config)) <= order(end))


# Plain tables without a block in their main fork hold no row. Reading the size opens the relation, as a query
# would, but plans nothing and reads no statistics: in a new session, where every DEFAULT's catalog entries are
# read for the first time, the EXISTS of each DEFAULT cost several times as much. A table the caller may not
# read is never counted as empty: its EXISTS fails, as it did before, and the full path reports it.
# The DEFAULTs are found by the oid index first and only then opened (the subquery with OFFSET 0 keeps the size
# out of the scan's filter): a filter of a scan over pg_class is ordered by cost, and the size, cheaper than a
# comparison with 1,000 oids, was read for every table of the database, each opened and locked.
_EMPTY_SQL = """
SELECT d.oid::pg_catalog.int8 AS oid
FROM (SELECT c.oid, c.relkind FROM pg_catalog.pg_class AS c
      WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]::pg_catalog.oid[]) OFFSET 0) AS d
WHERE d.relkind OPERATOR(pg_catalog.=) 'r' AND pg_catalog.pg_relation_size(d.oid) OPERATOR(pg_catalog.=) 0
  AND pg_catalog.has_table_privilege(d.oid, 'SELECT')
"""


def _empty_tables(db: Database, oids: list[int], policy: LockPolicy) -> set[int]:
    """Of ``oids``, the plain tables that certainly hold no row (an empty main fork), read under ``policy``'s
    lock_timeout: none when a lock is not available (the EXISTS of each then decides, as for the others)."""
    if not oids:
        return set()
    try:
        rows = with_lock_retries(db, policy, "survey of DEFAULT partitions", lambda: db.query(_EMPTY_SQL, oids))
    except Exception:
        return set()
    return {r["oid"] for r in rows}


def _defaults_with_rows(db: Database, parents: list[Parent], timeout_ms: int) -> set[int]:
    """Parents whose DEFAULT partition holds a row with a key; all of a batch that could not be read."""
    names: dict[int, tuple[str, str]] = {}  # quoted only for the DEFAULTs read (most are found empty first)
    foreign: set[int] = set()
    if parents:
        rows = db.query(
            "SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name, "
            "c.relkind = 'f' AS is_foreign "
            "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = ANY($1::bigint[]::oid[])", [p.default_oid for p in parents])
        # A foreign DEFAULT is never read here nor moved out of (maintain.stranded_values): no work in it.
        foreign = {r["oid"] for r in rows if r["is_foreign"]}
        names = {r["oid"]: (r["schema"], r["name"]) for r in rows if not r["is_foreign"]}
    found: set[int] = set()
    if names and not db.query("SELECT r.rolsuper OR r.rolbypassrls AS bypass FROM pg_catalog.pg_roles AS r "
                              "WHERE r.rolname = current_user")[0]["bypass"]:
        # Reading a DEFAULT with row security as the caller would run its owner's policies with the caller's
        # rights: such tables take the full path, which reads them with their owner's rights.
        secured = {r["oid"] for r in db.query(
            "SELECT c.oid::bigint AS oid FROM pg_catalog.pg_class AS c "
            "WHERE c.oid = ANY($1::bigint[]::oid[]) AND c.relrowsecurity", list(names))}
        found |= {p.oid for p in parents if p.default_oid in secured}
        names = {oid: name for oid, name in names.items() if oid not in secured}
    policy = LockPolicy(timeout_ms=timeout_ms, retries=0)
    empty = _empty_tables(db, list(names), policy)
    for i in range(0, len(parents), DEFAULT_BATCH):
        batch = [p for p in parents[i:i + DEFAULT_BATCH] if p.default_oid in names and p.default_oid not in empty]
        found |= {p.oid for p in parents[i:i + DEFAULT_BATCH]
                  if p.default_oid not in names and p.default_oid not in foreign}
        if not batch:
            continue
        sql = " UNION ALL ".join(
            f"SELECT {int(p.oid)}::bigint AS oid WHERE EXISTS "
            f"(SELECT FROM {qualified(*names[p.default_oid])} WHERE {p.key_sql} IS NOT NULL)" for p in batch)
        try:
            rows = with_lock_retries(db, policy, "survey of DEFAULT partitions", lambda sql=sql: db.query(sql))
            found |= {r["oid"] for r in rows}
        except Exception:
            # A lock not available, a DEFAULT the caller may not read: the full path takes each table on its
            # own (with retries), and reports a table's failure without stopping the others.
            found |= {p.oid for p in batch}
    return found


def idle_tables(db: Database, oids: list[int]) -> set[int]:
    """The tables among ``oids`` (managed ones) that maintenance would find nothing to do for right now."""
    if not oids:
        return set()
    parents = {p.oid: p for p in catalog.read_parents(db, oids)}
    configs = read_configs(db, {oid: p.key_type for oid, p in parents.items()})
    bounds = {r["parent_oid"]: r["bounds"] for r in db.query(_BOUNDS_SQL, list(parents))}
    now = now_utc(db)
    covered: list[Parent] = []
    memo = SlotMemo()
    # The tables of a database mostly share their bounds as well as their policy: the answer of the chain walk
    # is pure in them, so it is worked out once per distinct (bounds, policy, key type).
    plain: dict[tuple[object, ...], bool] = {}
    clocks: dict[tuple[str, str], Key] = {}
    for oid, parent in parents.items():
        config = configs.get(oid)
        if config is None or parent.strategy != "range" or parent.key_column is None or not parent.is_time:
            continue  # integer keys follow their highest value, which takes a query: the full path reads it
        assert parent.key_type is not None
        try:
            texts = bounds.get(oid) or []
            clock = (parent.key_type, config.time_zone)
            if clock not in clocks:
                clocks[clock] = now_as_key(now, parent.key_type, zone(config.time_zone))
            now_key = clocks[clock]
            shape = (tuple(sorted(texts)), parent.key_type, config.time_zone, config.span, config.premake,
                     config.retention)
            if shape not in plain:
                plain[shape] = plainly_covered(texts, config, now_key, parent.key_type, memo)
            if plain[shape] or _covered(parent, config, _ranges(texts, parent.key_type), now_key):
                covered.append(parent)
        except Exception:  # pure computation on odd data (a bound, a zone): the full path reports it properly
            continue
    if not covered:
        return set()
    timeout = min(configs[p.oid].options.lock.timeout_ms for p in covered)
    busy = _defaults_with_rows(db, [p for p in covered if p.default_oid], timeout)
    return {p.oid for p in covered if p.oid not in busy}
