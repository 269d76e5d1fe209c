"""steward.partition_index_usage and steward.hot_partitions: how the partitions of each table are used.

The trees come from ``partitions.tree.partition_walk``, which takes no lock,
so a session holding one partition in ACCESS EXCLUSIVE mode delays neither
report; sizes of such a partition are not read (NULL).
"""

from __future__ import annotations

from typing import Any

from pg_steward.db import Database, Row
from pg_steward.partitions.catalog import partitioned_oid
from pg_steward.partitions.tree import BUSY_SQL, measurable, partition_walk

_PARTITIONED_SQL = """
SELECT c.oid::bigint AS oid FROM pg_catalog.pg_class AS c
WHERE c.relkind = 'p' AND NOT c.relispartition
"""


def _roots(db: Database, parent: Any) -> list[int]:
    if parent is not None:
        return [partitioned_oid(db, str(parent))]
    return [int(r["oid"]) for r in db.query(_PARTITIONED_SQL)]


_USAGE_SQL = f"""
WITH busy AS ({BUSY_SQL})
SELECT $1::bigint::oid::regclass::text AS parent, t.relid::regclass::text AS partition,
       i.indexrelid::regclass::text AS index, h.inhparent::regclass::text AS parent_index,
       coalesce(s.idx_scan, 0) AS idx_scan, coalesce(s.idx_tup_read, 0) AS idx_tup_read,
       coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
       CASE WHEN NOT EXISTS (SELECT FROM busy WHERE busy.relation = i.indexrelid)
            THEN pg_catalog.pg_relation_size(i.indexrelid) END AS size_bytes
FROM {partition_walk("$1::bigint")} AS t
JOIN pg_catalog.pg_index AS i ON i.indrelid = t.relid
LEFT JOIN pg_catalog.pg_inherits AS h ON h.inhrelid = i.indexrelid
LEFT JOIN pg_catalog.pg_stat_all_indexes AS s ON s.indexrelid = i.indexrelid
WHERE t.isleaf
ORDER BY t.level, t.relid::regclass::text, i.indexrelid::regclass::text
"""


def partition_index_usage(db: Database, parent: Any) -> list[Row]:
    """Rows of steward.partition_index_usage: each leaf partition's indexes, with their share of the scans."""
    out = []
    for root in _roots(db, parent):
        rows = db.query(_USAGE_SQL, root)
        totals: dict[str | None, int] = {}
        for r in rows:
            totals[r["parent_index"]] = totals.get(r["parent_index"], 0) + int(r["idx_scan"])
        for r in rows:
            total = totals[r["parent_index"]]
            share = round(100.0 * int(r["idx_scan"]) / total, 1) if total else None
            out.append(dict(r, scan_share_percent=share, unused=int(r["idx_scan"]) == 0))
    return out


_HOT_SQL = f"""
WITH busy AS ({BUSY_SQL})
SELECT $1::bigint::oid::regclass::text AS parent, t.relid::regclass::text AS partition,
       coalesce(s.seq_scan, 0) AS seq_scan, coalesce(s.idx_scan, 0) AS idx_scan,
       coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) AS tuples_read,
       coalesce(s.n_tup_ins, 0) + coalesce(s.n_tup_upd, 0) + coalesce(s.n_tup_del, 0) AS modifications,
       coalesce(s.n_live_tup, 0) AS live_tuples,
       CASE WHEN {measurable("c")} THEN pg_catalog.pg_total_relation_size(t.relid) END AS size_bytes
FROM {partition_walk("$1::bigint")} AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.relid
LEFT JOIN pg_catalog.pg_stat_all_tables AS s ON s.relid = t.relid
WHERE t.isleaf
"""


def hot_partitions(db: Database, parent: Any) -> list[Row]:
    """Rows of steward.hot_partitions: leaf partitions by scans, with their share of the table's activity."""
    out = []
    for root in _roots(db, parent):
        rows = db.query(_HOT_SQL, root)
        total_scans = sum(int(r["seq_scan"]) + int(r["idx_scan"]) for r in rows)
        total_mods = sum(int(r["modifications"]) for r in rows)
        ranked = sorted(rows, key=lambda r: (-(int(r["seq_scan"]) + int(r["idx_scan"])), -int(r["modifications"]),
                                             r["partition"]))
        for rank, r in enumerate(ranked, start=1):
            scans = int(r["seq_scan"]) + int(r["idx_scan"])
            out.append(dict(
                r, rank=rank, total_scans=scans,
                index_usage_percent=round(100.0 * int(r["idx_scan"]) / scans, 1) if scans else None,
                scan_share_percent=round(100.0 * scans / total_scans, 1) if total_scans else None,
                modification_share_percent=round(100.0 * int(r["modifications"]) / total_mods, 1)
                if total_mods else None))
    return out
