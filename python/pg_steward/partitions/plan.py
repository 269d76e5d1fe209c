"""What maintenance should create for one table: pure logic over its partitions' bounds and the clock."""

from __future__ import annotations

from collections.abc import Sequence

from pg_steward.partitions.model import Config, RangePartition
from pg_steward.partitions.spans import Key, advance_within, floor, floor_within, zone
from pg_steward.partitions.values import Bound, order

MAX_NEW_PER_RUN = 500  # bound one run's work per table; the next run goes on


def uncovered(start: Key, end: Bound, taken: list[tuple[Bound, Bound]]) -> list[tuple[Key, Bound]]:
    """The parts of ``[start, end)`` that no range in ``taken`` covers."""
    pieces: list[tuple[Key, Bound]] = []
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
                  stranded: list[Key], key_type: str | None = None) -> list[tuple[Key, Bound]]:
    """Ranges to create: gaps from the oldest partition to ``premake`` slots past now, and slots of DEFAULT rows.

    ``now`` None (an integer key, whose clock is its highest stored value, and no row stored): nothing is premade,
    only the gaps below the top partition are filled, so that an empty table does not grow on every run. Gap
    filling starts at the oldest partition's own lower bound (never a partial slot below it) unless the clock's
    slot is older. A slot reaching past the largest value of the key's type (``key_type``) ends at MAXVALUE.
    """
    tz = zone(config.time_zone)
    taken: list[tuple[Bound, Bound]] = [(p.start, p.end) for p in parts]
    finite_starts = [p.start for p in parts if order(p.start)[0] == 1]
    anchor = now if now is not None else (max(stranded) if stranded else None)  # type: ignore[type-var]
    if anchor is None and not finite_starts:
        return []
    current = floor(anchor if anchor is not None else max(finite_starts), config.span, tz)  # type: ignore[type-var]
    ahead = config.premake + 1 if now is not None else 1
    horizon = advance_within(current, config.span, tz, key_type, ahead)
    low = min([current, *finite_starts], key=order)  # type: ignore[list-item]
    exact_low = low != current  # the oldest partition's own bound: nothing below it is wanted
    if low_limit is not None and order(low) < order(low_limit):
        low, exact_low = floor(low_limit, config.span, tz), False
    slots: list[tuple[Key, Bound]] = []
    start: Bound = floor(low, config.span, tz)  # type: ignore[arg-type]
    while order(start) < order(horizon) and len(slots) < MAX_NEW_PER_RUN:
        slots.append((start, advance_within(start, config.span, tz, key_type)))  # type: ignore[arg-type]
        start = slots[-1][1]
    if exact_low and slots:
        slots[0] = (low, slots[0][1])  # type: ignore[assignment]
    for value in stranded:
        slot_start = floor_within(value, config.span, tz, key_type)
        slot_end = advance_within(floor(value, config.span, tz), config.span, tz, key_type)
        slots.append((slot_start, slot_end))  # type: ignore[arg-type]
    out: list[tuple[Key, Bound]] = []
    for slot_start, slot_end in sorted(set(slots), key=lambda s: order(s[0])):
        for piece in uncovered(slot_start, slot_end, taken):  # type: ignore[arg-type]
            out.append(piece)
            taken.append(piece)
    return out[:MAX_NEW_PER_RUN]
