"""Health checks: default thresholds and how a measured value becomes ok, warning, critical or unknown (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Threshold:
    warning: float | None
    critical: float | None
    higher_is_worse: bool = True
    unit: str = ""


# The defaults; a row of steward.health_thresholds overrides a check's numbers.
DEFAULTS: dict[str, Threshold] = {
    "vacuum": Threshold(1, 5, unit="x autovacuum trigger"),
    "analyze": Threshold(1, 5, unit="x autoanalyze trigger"),
    "xid_wraparound": Threshold(50, 75, unit="% of 2^31"),
    "multixact_wraparound": Threshold(50, 75, unit="% of 2^31"),
    "sequences": Threshold(75, 90, unit="% used"),
    "cache_hit_ratio": Threshold(95, 90, higher_is_worse=False, unit="%"),
    "connections": Threshold(80, 95, unit="% of max_connections"),
    "idle_in_transaction": Threshold(300, 3600, unit="s"),
    "long_running_queries": Threshold(300, 3600, unit="s"),
    "blocked_queries": Threshold(60, 300, unit="s"),
    "invalid_indexes": Threshold(1, None, unit="indexes"),
    "database_size": Threshold(None, None, unit="bytes"),
    "temp_files": Threshold(10 * 2**30, 100 * 2**30, unit="bytes"),
    # Age of the last maintenance run in which every table due succeeded (the schedule runs every 15 minutes).
    "maintenance_runs": Threshold(3600, 86400, unit="s"),
}
CHECKS = list(DEFAULTS)


def effective(check: str, override: dict[str, object] | None) -> Threshold:
    base = DEFAULTS[check]
    if override is None:
        return base
    return Threshold(_num(override.get("warning")), _num(override.get("critical")), base.higher_is_worse, base.unit)


def _num(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal, str)):
        return float(value)
    raise TypeError(f"threshold is not a number: {value!r}")


def _beyond(value: float, limit: float | None, higher_is_worse: bool) -> bool:
    if limit is None:
        return False
    return value >= limit if higher_is_worse else value < limit


def status(value: float | None, threshold: Threshold) -> str:
    if value is None:
        return "unknown"
    if _beyond(value, threshold.critical, threshold.higher_is_worse):
        return "critical"
    if _beyond(value, threshold.warning, threshold.higher_is_worse):
        return "warning"
    return "ok"


def threshold_text(threshold: Threshold) -> str:
    sign = ">=" if threshold.higher_is_worse else "<"
    shown = pretty_bytes if threshold.unit == "bytes" else _fmt
    unit = f" {threshold.unit}" if threshold.unit and threshold.unit != "bytes" else ""
    parts = [f"{name} {sign} {shown(limit)}" for name, limit in
             (("warning", threshold.warning), ("critical", threshold.critical)) if limit is not None]
    return ", ".join(parts) + unit if parts else "none (informational)"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def pretty_bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def percent_used(last_value: int | None, start: int, increment: int, max_value: int, min_value: int) -> float | None:
    """Share of a sequence's range already handed out (descending sequences count down)."""
    if last_value is None:
        return None
    if increment > 0:
        span = max_value - start
        used = last_value - start
    else:
        span = start - min_value
        used = start - last_value
    if span <= 0:
        return 100.0
    return round(100.0 * used / span, 2)
