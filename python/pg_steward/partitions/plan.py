"""What maintenance should create for one table: pure logic over its partitions' bounds and the clock."""

from __future__ import annotations

from collections.abc import Sequence

from pg_steward.partitions.model import Config, RangePartition
from pg_steward.partitions.spans import Key, advance, floor, zone
from pg_steward.partitions.values import Bound, order

MAX_NEW_PER_RUN = 500  # bound one run's work per table; the next run goes on


def uncovered(start: Key, end: Key, taken: list[tuple[Bound, Bound]]) -> list[tuple[Key, Key]]:
    """The parts of ``[start, end)`` that no range in ``taken`` covers."""
    pieces: list[tuple[Key, Key]] = []
    cursor = start
    for low, high in sorted(taken, key=lambda r: order(r[0])):
        if order(high) <= order(cursor):
            continue
        if order(low) >= order(end):
            break
        if order(low) > order(cursor):
            pieces.append((cursor, low))  # type: ignore[arg-type]
        cursor = high  # type: ignore[assignment]
        if order(cursor) >= order(end):
            return pieces
    if order(cursor) < order(end):
        pieces.append((cursor, end))
    return pieces


def wanted_ranges(parts: Sequence[RangePartition], config: Config, now: Key | None, low_limit: Key | None,
                  stranded: list[Key]) -> list[tuple[Key, Key]]:
    """Ranges to create: gaps from the oldest partition to ``premake`` slots past now, and slots of DEFAULT rows."""
    tz = zone(config.time_zone)
    taken = [(p.start, p.end) for p in parts]
    finite_starts = [p.start for p in parts if order(p.start)[0] == 1]
    anchor = now if now is not None else (max(stranded) if stranded else None)
    if anchor is None and not finite_starts:
        return []
    current = floor(anchor if anchor is not None else max(finite_starts), config.span, tz)  # type: ignore[type-var]
    horizon = advance(current, config.span, tz, config.premake + 1)
    low = min([current, *finite_starts], key=order)  # type: ignore[list-item]
    if low_limit is not None and order(low) < order(low_limit):
        low = floor(low_limit, config.span, tz)
    slots = []
    start = floor(low, config.span, tz)  # type: ignore[arg-type]
    while order(start) < order(horizon) and len(slots) < MAX_NEW_PER_RUN:
        slots.append((start, advance(start, config.span, tz)))
        start = slots[-1][1]
    for value in stranded:
        slot_start = floor(value, config.span, tz)
        slots.append((slot_start, advance(slot_start, config.span, tz)))
    out: list[tuple[Key, Key]] = []
    for slot_start, slot_end in sorted(set(slots), key=lambda s: order(s[0])):
        for piece in uncovered(slot_start, slot_end, taken):
            out.append(piece)
            taken.append(piece)
    return out[:MAX_NEW_PER_RUN]
