"""Whether a bloat estimate can be trusted, and the statement that fixes the waste (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass

from pg_steward.reports.bloat_model import Column

MIN_PAGES = 10           # below this a page or two of rounding is most of the "waste"
FRESH_FRACTION = 0.05    # rows changed since ANALYZE up to which reltuples is taken as it is
STALE_FRACTION = 0.2     # rows changed since ANALYZE, as a share of live rows
FIX_PERCENT = 30.0       # waste worth a rewrite
FIX_MIN_BYTES = 8 * 8192
DEAD_FRACTION = 0.2      # dead rows worth a VACUUM


@dataclass(frozen=True)
class Verdict:
    estimable: bool          # a number can be given at all
    trustworthy: bool
    reason: str | None
    fix: str | None = None   # the statement that makes a number possible (when not estimable)


def _missing(columns: dict[str, Column]) -> list[str]:
    return [name for name, col in columns.items() if not col.dropped and col.avg_width is None]


def stats_verdict(columns: dict[str, Column], *, can_select: bool, analyzed: bool, role: str,
                  relation: str) -> Verdict | None:
    """Why the column statistics cannot feed an estimate, or None when they can."""
    missing = _missing(columns)
    if not missing:
        return None
    if not can_select:
        return Verdict(False, False, f"statistics not visible to role {role}: pg_stats shows only columns it may "
                                     f"SELECT; grant SELECT on {relation} or use exact => true (pgstattuple)")
    if not analyzed:
        return Verdict(False, False, f"never analyzed: run ANALYZE {relation}")
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    return Verdict(False, False, f"no statistics for column(s) {shown}: run ANALYZE {relation}")


def row_count_verdict(*, reltuples: float, relpages: int, counter: float | None, changed: float | None,
                      counted_by_vacuum: bool, relation: str) -> Verdict | None:
    """Why the live row count an estimate rests on cannot be trusted, or None when it can.

    The estimate is the rows times their width: with the count wrong, so is the
    waste (0 rows make any table 100 % waste). ``reltuples`` is what the last VACUUM
    or ANALYZE counted, ``counter`` is pg_stat_all_tables.n_live_tup. They cannot
    be reconciled when pg_class has pages but no count (-1), or a count of 0 beside
    live rows in the counter; nor when a VACUUM after the last ANALYZE counted more
    rows than the counter shows (the counter is read when many rows changed since
    ANALYZE): on PostgreSQL 15 the changes a session made before its own VACUUM
    reach the counter after it and are subtracted from the rows VACUUM counted,
    which cannot be told apart from rows deleted since. ANALYZE counts them again.
    """
    fix = f"ANALYZE {relation};"
    if relpages > 0 and reltuples < 0:
        return Verdict(False, False, f"live rows never counted (pg_class.reltuples = -1 on {relpages} pages): "
                                     f"run ANALYZE {relation}", fix)
    if relpages > 0 and reltuples == 0 and counter:
        return Verdict(False, False, f"live rows unknown: pg_class.reltuples is 0 on {relpages} pages but "
                                     f"n_live_tup is {int(counter)}: run ANALYZE {relation}", fix)
    stale = changed is not None and changed > FRESH_FRACTION * max(reltuples, 1.0)
    if counted_by_vacuum and stale and counter is not None and counter < (1 - STALE_FRACTION) * reltuples:
        return Verdict(False, False, f"live rows unknown: VACUUM counted {int(reltuples)} after the last ANALYZE, "
                                     f"n_live_tup says {int(counter)} and {int(changed)} rows changed since that "
                                     f"ANALYZE (the counter can lag a session's own VACUUM): run ANALYZE {relation}",
                       fix)
    return None


def sample_verdict(*, rows: float, reltuples: float, changed: float | None, pages: int,
                   relation: str) -> Verdict:
    """Trust of an estimate made from available statistics."""
    if changed is not None and changed > STALE_FRACTION * max(rows, reltuples, 1.0):
        return Verdict(True, False, f"{int(changed)} rows changed since the last ANALYZE: run ANALYZE {relation}")
    if pages < MIN_PAGES:
        return Verdict(True, False, f"only {pages} page(s): too small for a page-level estimate")
    return Verdict(True, True, None)


def table_fix(relation: str, waste_percent: float | None, waste_bytes: int | None, dead: int | None,
              live: float | None) -> str | None:
    """The statement that gives the space back, or None when nothing is worth doing."""
    fixes = []
    if dead and live is not None and dead > DEAD_FRACTION * max(live, 1.0):
        fixes.append(f"VACUUM (ANALYZE) {relation};")
    if waste_percent is not None and waste_bytes is not None and waste_percent >= FIX_PERCENT \
            and waste_bytes >= FIX_MIN_BYTES:
        fixes.append(f"VACUUM FULL {relation};  -- rewrites under ACCESS EXCLUSIVE; "
                     f"online alternative: pg_repack --table={relation}")
    return " ".join(fixes) or None


def index_fix(index: str, waste_percent: float | None, waste_bytes: int | None) -> str | None:
    if waste_percent is not None and waste_bytes is not None and waste_percent >= FIX_PERCENT \
            and waste_bytes >= FIX_MIN_BYTES:
        return f"REINDEX INDEX CONCURRENTLY {index};"
    return None


def partition_total(leaves: list[tuple[int, int | None, bool]]) -> tuple[int, int | None, Verdict]:
    """(size, expected size, trust) of a partitioned table or index from its leaves' (size, expected, trusted).

    The expected size is known when every leaf's is; the total is trusted when every
    leaf's number is. The leaves' own rows say which one is unknown and why.
    """
    size = sum(s for s, _, _ in leaves)
    known = [e for _, e, _ in leaves if e is not None]
    expected = sum(known) if len(known) == len(leaves) else None
    doubtful = sum(1 for _, e, trusted in leaves if e is None or not trusted)
    if not doubtful:
        return size, expected, Verdict(True, True, None)
    reason = f"{doubtful} of {len(leaves)} partitions unknown or doubtful: see their rows"
    return size, expected, Verdict(expected is not None, False, reason)
