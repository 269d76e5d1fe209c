"""Whether a bloat estimate can be trusted, and the statement that fixes the waste (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass

from pg_steward.reports.bloat_model import Column

MIN_PAGES = 10           # below this a page or two of rounding is most of the "waste"
STALE_FRACTION = 0.2     # rows changed since ANALYZE, as a share of live rows
FIX_PERCENT = 30.0       # waste worth a rewrite
FIX_MIN_BYTES = 8 * 8192
DEAD_FRACTION = 0.2      # dead rows worth a VACUUM


@dataclass(frozen=True)
class Verdict:
    estimable: bool          # a number can be given at all
    trustworthy: bool
    reason: str | None


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
