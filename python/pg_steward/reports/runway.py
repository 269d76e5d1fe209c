"""Forecasting math of steward.growth_forecasts and the premake_runway health check (pure).

A series is a list of (seconds since the epoch, value) points taken from
steward.growth_snapshot. Its growth is the least-squares slope through the
points, per day; the day it runs out is when that line reaches the limit.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

DAY = 86400.0
Point = tuple[float, float]


def current_run(points: list[Point]) -> list[Point]:
    """The points since the series last went back (a sequence restarted, a database shrunk by a VACUUM FULL
    is not): for a counter, what came before a restart says nothing of its growth now. Points in time order."""
    ordered = sorted(points)
    start = 0
    for i in range(1, len(ordered)):
        if ordered[i][1] < ordered[i - 1][1]:
            start = i
    return ordered[start:]


def slope_per_day(points: list[Point]) -> float | None:
    """Least-squares growth per day through the points; None with fewer than two distinct times."""
    if len({t for t, _ in points}) < 2:
        return None
    n = float(len(points))
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * DAY


@dataclass(frozen=True)
class Runway:
    days_left: float | None  # None: never at this growth (none, or away from the limit)
    runs_out_on: dt.date | None  # None: never, or past any date PostgreSQL's date type and Python can hold


def runway(current: float, limit: float, per_day: float | None, today: dt.date) -> Runway:
    """When ``current``, growing by ``per_day``, reaches ``limit`` (either direction: a descending sequence
    heads to its MINVALUE); at the limit: 0 days, today."""
    distance = limit - current
    if distance == 0:
        return Runway(0.0, today)
    if per_day is None or per_day == 0 or (distance > 0) != (per_day > 0):
        return Runway(None, None)
    return _days(distance / per_day, today)


def _days(days: float, today: dt.date) -> Runway:
    if math.isnan(days) or math.isinf(days):
        return Runway(None, None)
    try:
        return Runway(days, today + dt.timedelta(days=math.floor(days)))
    except OverflowError:
        return Runway(days, None)


def days_until(bound_epoch: float, now_epoch: float) -> float:
    """Days from now until a bound (negative once it is past)."""
    return (bound_epoch - now_epoch) / DAY


def spans_left(bound_epoch: float, now_epoch: float, span_seconds: float) -> float | None:
    """How many spans of the newest partition remain before its upper bound is reached."""
    if span_seconds <= 0:
        return None
    return (bound_epoch - now_epoch) / span_seconds

