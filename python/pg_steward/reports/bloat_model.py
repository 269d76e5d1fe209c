"""How many bytes a table or B-tree index would need if it were freshly rewritten.

Pure arithmetic over the page layout of PostgreSQL (src/include/storage/bufpage.h,
access/htup_details.h, access/nbtree.h); the catalog rows come from reports/bloat.py.
The waste of a relation is its real size minus this expected size: the bytes a
VACUUM FULL (or pg_repack) or a REINDEX would give back. Everything the classic
estimate queries miscount is modelled here: per-column alignment, the null
bitmap, fillfactor, the line pointer, the page header and B-tree special
space, dropped columns, and B-tree deduplication into posting lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PAGE_HEADER = 24            # SizeOfPageHeaderData
ITEM_ID = 4                 # ItemIdData, one per tuple
HEAP_TUPLE_HEADER = 23      # SizeofHeapTupleHeader (t_bits follows)
INDEX_TUPLE_HEADER = 8      # IndexTupleData
INDEX_NULL_BITMAP = 4       # IndexAttributeBitMapData (INDEX_MAX_KEYS bits)
BTREE_SPECIAL = 16          # BTPageOpaqueData, MAXALIGNed
HEAP_TID = 6                # ItemPointerData, one per heap row in a posting list
BTREE_LEAF_FILLFACTOR = 90  # BTREE_DEFAULT_FILLFACTOR
BTREE_PIVOT_FILLFACTOR = 70  # BTREE_NONLEAF_FILLFACTOR
SHORT_VARLENA_MAX = 126     # values up to this size get a 1-byte header and no alignment
ALIGN = {"c": 1, "s": 2, "i": 4, "d": 8}


def align(offset: float, boundary: int) -> float:
    return math.ceil(offset / boundary) * boundary


@dataclass(frozen=True)
class Column:
    """One attribute as the estimate sees it (from pg_attribute, pg_type and pg_stats)."""

    typlen: int                # -1 varlena, -2 cstring, > 0 fixed
    typalign: str              # c, s, i, d
    avg_width: float | None    # pg_stats.avg_width of non-null values (on-disk, TOAST pointers included)
    null_frac: float | None
    dropped: bool = False
    constant_width: bool = False  # a varlena whose sampled values all have one length (pg_stats)

    def width(self) -> float:
        if self.typlen > 0:
            return float(self.typlen)
        return float(self.avg_width or 0)


def _power_of_two_dividing(n: float, limit: int) -> int:
    """Largest power of two up to ``limit`` dividing ``n`` (1 when ``n`` is not a whole number)."""
    if not float(n).is_integer():
        return 1
    k = limit
    while k > 1 and int(n) % k:
        k //= 2
    return k


def _layout(columns: list[Column], maxalign: int = 8) -> tuple[float, float]:
    """(average bytes of a tuple's data part, average padding after it up to MAXALIGN).

    The data starts MAXALIGNed (after a heap or index tuple header). Padding is
    exact while the offset is known modulo the alignment asked for: fixed-width
    values that are never NULL keep it known; a NULL-able value keeps it known
    modulo the power of two dividing its size; a variable-width value loses it, and
    then an alignment of ``a`` costs ``(a - known) / 2`` bytes on average. Null and
    dropped values take no space; a short varlena (1-byte header) is not aligned.
    """
    offset = 0.0
    known, rem = maxalign, 0  # offset modulo ``known`` is ``rem`` in every tuple
    for col in columns:
        if col.dropped:
            continue
        present = 1.0 - (col.null_frac or 0.0)
        if present <= 0.0:
            continue
        width = col.width()
        a = ALIGN.get(col.typalign, 1) if (col.typlen > 0 or width > SHORT_VARLENA_MAX) else 1
        before = (known, rem)
        if a <= known:
            pad: float = (-rem) % a
            step = pad + width  # how far the offset moves, as far as the known remainder is concerned
        else:
            pad = (a - known) / 2 if rem % known == 0 else (a - 1) / 2
            known, rem = a, 0  # aligned now, whatever came before
            step = width
        offset += present * (pad + width)
        fixed = col.typlen > 0 or (col.constant_width and float(width).is_integer())
        if not fixed:
            known, rem = 1, 0  # variable width: nothing known after it
        elif present >= 1.0:
            rem = int(rem + step) % known
        elif known != before[0]:
            # Realigned when present, untouched when NULL: only what both paths agree on is known.
            k = min(before[0], _power_of_two_dividing(width, maxalign))
            known, rem = (k, 0) if before[1] % k == 0 else (1, 0)
        else:
            # Present or NULL: the offset moves by step or not at all.
            known = min(known, _power_of_two_dividing(step, maxalign))
            rem %= known
    final = float((-rem) % maxalign) if known == maxalign else (maxalign - known) / 2 if rem == 0 else \
        (maxalign - 1) / 2
    return offset, final


def heap_tuple_bytes(columns: list[Column], maxalign: int = 8) -> float:
    """Average bytes a live heap tuple takes on its page (MAXALIGNed), line pointer excluded."""
    has_dropped = any(c.dropped for c in columns)
    no_nulls = 1.0
    for col in columns:
        if not col.dropped:
            no_nulls *= 1.0 - (col.null_frac or 0.0)
    # After a rewrite a dropped column is NULL in every row: all rows carry the bitmap.
    with_bitmap = 1.0 if has_dropped else 1.0 - no_nulls
    bitmap_header = align(HEAP_TUPLE_HEADER + math.ceil(len(columns) / 8), maxalign)
    plain_header = align(HEAP_TUPLE_HEADER, maxalign)
    header = with_bitmap * bitmap_header + (1.0 - with_bitmap) * plain_header
    data, pad = _layout(columns, maxalign)
    return header + data + pad


def heap_tuples_per_page(tuple_bytes: float, fillfactor: int, block_size: int) -> int:
    """Tuples an INSERT (or a rewrite) puts on one heap page before moving to the next.

    The heap leaves ``block_size * (100 - fillfactor) / 100`` bytes free on each page
    (RelationGetTargetPageFreeSpace) and holds at most MaxHeapTuplesPerPage tuples.
    """
    reserve = block_size * (100 - fillfactor) // 100
    usable = block_size - PAGE_HEADER - reserve
    max_tuples = (block_size - PAGE_HEADER) // (align(HEAP_TUPLE_HEADER, 8) + ITEM_ID)
    return max(1, min(int(usable // (tuple_bytes + ITEM_ID)), int(max_tuples)))


def heap_expected_bytes(rows: float, columns: list[Column], fillfactor: int = 100,
                        block_size: int = 8192) -> int:
    """Bytes of the main fork holding ``rows`` live rows, freshly packed at ``fillfactor``."""
    return heap_expected_from_tuple(rows, heap_tuple_bytes(columns), fillfactor, block_size)


def heap_expected_from_tuple(rows: float, tuple_bytes: float, fillfactor: int = 100, block_size: int = 8192) -> int:
    """Bytes of the main fork holding ``rows`` live rows of ``tuple_bytes`` each (heap_tuple_bytes)."""
    if rows <= 0:
        return 0
    per_page = heap_tuples_per_page(tuple_bytes, fillfactor, block_size)
    return math.ceil(rows / per_page) * block_size


@dataclass(frozen=True)
class BtreeShape:
    """What the B-tree estimate needs about one index."""

    rows: float                # index entries (live heap rows covered by the index)
    keys: list[Column]
    distinct: float | None     # distinct key values (None: assume all distinct)
    deduplicate: bool          # deduplication applies (not unique, deduplicate_items on, equality-image types)
    fillfactor: int = BTREE_LEAF_FILLFACTOR
    block_size: int = 8192


def _index_header(keys: list[Column], maxalign: int = 8) -> float:
    any_null = 1.0
    for key in keys:
        any_null *= 1.0 - (key.null_frac or 0.0)
    return (1.0 - any_null) * align(INDEX_TUPLE_HEADER + INDEX_NULL_BITMAP, maxalign) + \
        any_null * INDEX_TUPLE_HEADER


def _index_tuple_bytes(keys: list[Column], maxalign: int = 8) -> tuple[float, float]:
    """(average bytes of an index tuple before MAXALIGN, the average MAXALIGN padding)."""
    data, pad = _layout(keys, maxalign)
    return _index_header(keys, maxalign) + data, pad


def _max_posting_bytes(block_size: int) -> float:
    """Largest posting-list tuple a B-tree build makes: 10% of a page (nbtsort.c), less a line pointer."""
    return (block_size * 10 // 100) // 8 * 8 - ITEM_ID


def _group_bytes(rows: float, groups: float, plain: float, plain_pad: float, dedup: bool, block_size: int,
                 maxalign: int) -> tuple[float, float]:
    """(tuples, bytes with line pointers) for ``rows`` entries falling into ``groups`` equal keys."""
    if rows <= 0:
        return 0.0, 0.0
    per_key = rows / max(groups, 1.0)
    if not dedup or per_key < 2:
        return rows, rows * (plain + plain_pad + ITEM_ID)
    tids_per_tuple = max(2, int((_max_posting_bytes(block_size) - align(plain, 2)) // HEAP_TID))
    tuples = max(groups, 1.0) * math.ceil(per_key / tids_per_tuple)
    # A posting list's length varies with the rows per key: half a MAXALIGN step of padding on average.
    size = align(plain, 2) + HEAP_TID * rows / tuples + (maxalign - 1) / 2
    return tuples, tuples * (size + ITEM_ID)


def _present(column: Column) -> Column:
    """The same column with its NULLs taken out (they are counted apart)."""
    return Column(column.typlen, column.typalign, column.avg_width, 0.0, column.dropped, column.constant_width)


def btree_leaf_bytes(shape: BtreeShape, maxalign: int = 8) -> tuple[float, float]:
    """(leaf tuples, their bytes with line pointers) after a fresh build.

    Without deduplication every heap row has a tuple of its own. With it, each run
    of equal keys becomes posting-list tuples (the key once, 6 bytes per row). The
    NULLs of a single-column index are one run of their own: B-trees index NULLs.
    """
    keys = shape.keys
    single = len(keys) == 1
    null_frac = (keys[0].null_frac or 0.0) if single else 0.0
    non_null = shape.rows * (1.0 - null_frac)
    distinct = min(shape.distinct or shape.rows, non_null)
    plain, pad = _index_tuple_bytes([_present(keys[0])] if single else keys, maxalign)
    t1, b1 = _group_bytes(non_null, distinct, plain, pad, shape.deduplicate, shape.block_size, maxalign)
    null_plain = align(INDEX_TUPLE_HEADER + INDEX_NULL_BITMAP, maxalign)
    t2, b2 = _group_bytes(shape.rows - non_null, 1.0, null_plain, 0.0, shape.deduplicate, shape.block_size,
                          maxalign)
    return t1 + t2, b1 + b2


def btree_expected_bytes(shape: BtreeShape, maxalign: int = 8) -> int:
    """Bytes of a freshly built B-tree: metapage, leaves filled to fillfactor, and the pivot levels above.

    A build adds tuples to a leaf while its free space is at least the fillfactor
    reserve (and the tuple fits), so a leaf holds one tuple more than the space
    above the reserve has room for.
    """
    if shape.rows <= 0:
        return 2 * shape.block_size  # metapage and an empty root leaf
    tuples, leaf_bytes = btree_leaf_bytes(shape, maxalign)
    slot = leaf_bytes / tuples
    page_room = shape.block_size - PAGE_HEADER - BTREE_SPECIAL
    pivot = sum(_index_tuple_bytes(shape.keys, maxalign)) + HEAP_TID
    # The high key of each leaf is a pivot tuple (the key alone, suffix-truncated).
    reserve = shape.block_size * (100 - shape.fillfactor) / 100
    room = page_room - pivot - ITEM_ID
    per_leaf = max(2, min(int(room // slot), int((room - reserve) // slot) + 1))
    pages = max(1, math.ceil(tuples / per_leaf))
    total = 1 + pages
    pivot_room = page_room - shape.block_size * (100 - BTREE_PIVOT_FILLFACTOR) / 100
    per_pivot_page = max(2, int(pivot_room // (pivot + ITEM_ID)))
    while pages > 1:
        pages = math.ceil(pages / per_pivot_page)
        total += pages
    return total * shape.block_size


def waste(actual_bytes: int, expected_bytes: int) -> tuple[int, float]:
    """(wasted bytes, percent of the real size); a relation is never less than empty of waste."""
    wasted = max(0, actual_bytes - expected_bytes)
    percent = round(100.0 * wasted / actual_bytes, 1) if actual_bytes > 0 else 0.0
    return wasted, percent


def exact_heap_expected(tuple_len: int, tuple_count: int, fillfactor: int, block_size: int) -> int:
    """Expected bytes of a heap holding the live tuples pgstattuple measured, freshly packed (the exact mode).

    pgstattuple sums each tuple's t_len, which stops short of the MAXALIGN padding
    a page gives it: an integral average is taken as one fixed width (padding known),
    any other average gets half the alignment step.
    """
    if tuple_count <= 0:
        return 0
    avg = tuple_len / tuple_count
    padded = align(avg, 8) if avg.is_integer() else avg + 3.5
    per_page = heap_tuples_per_page(padded, fillfactor, block_size)
    return math.ceil(tuple_count / per_page) * block_size


def exact_btree_expected(leaf_pages: int, internal_pages: int, avg_leaf_density: float,
                         fillfactor: int, block_size: int) -> int:
    """Expected bytes of a B-tree from pgstatindex: its live leaf content repacked at fillfactor.

    ``avg_leaf_density`` is the percent of leaf space holding tuples; empty and
    deleted pages are not counted, so they are waste.
    """
    if leaf_pages <= 0:
        return 2 * block_size
    used = leaf_pages * avg_leaf_density / 100.0
    leaves = max(1, math.ceil(used * 100.0 / fillfactor))
    # Pivot levels shrink with the leaves.
    internal = math.ceil(internal_pages * leaves / leaf_pages)
    return (1 + leaves + internal) * block_size
