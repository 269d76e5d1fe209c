"""What maintenance should create for one table: pure logic over its partitions' bounds and the clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pg_steward.partitions.model import Config, RangePartition
from pg_steward.partitions.spans import INTEGER_KEYS, Key, advance_within, floor, floor_within, zone
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


@dataclass(frozen=True)
class Reach:
    """The part of the key's range maintenance covers: gaps are filled from ``low`` up to the clock's slot
    ``current``, and premade from ``current`` up to ``horizon``."""

    low: Key
    exact_low: bool  # ``low`` is the oldest partition's own bound (nothing below it is wanted), not a slot start
    current: Key
    horizon: Bound


def reach(parts: Sequence[RangePartition], config: Config, now: Key | None, low_limit: Key | None,
          stranded: list[Key], key_type: str | None) -> Reach | None:
    """What ``wanted_ranges`` covers; None when nothing is (no clock, no partition with a finite start)."""
    tz = zone(config.time_zone)
    finite_starts = [p.start for p in parts if order(p.start)[0] == 1]
    anchor = now if now is not None else (max(stranded) if stranded else None)  # type: ignore[type-var]
    if anchor is None and not finite_starts:
        return None
    current = floor(anchor if anchor is not None else max(finite_starts), config.span, tz)  # type: ignore[type-var]
    ahead = config.premake + 1 if now is not None else 1
    horizon = advance_within(current, config.span, tz, key_type, ahead)
    low = min([current, *finite_starts], key=order)  # type: ignore[list-item]
    exact_low = low != current
    if low_limit is not None and order(low) < order(low_limit):
        low, exact_low = floor(low_limit, config.span, tz), False
    return Reach(low, exact_low, current, horizon)


def stranded_slot(value: Key, config: Config, key_type: str | None) -> tuple[Key, Bound]:
    """The slot a DEFAULT row of key ``value`` is rescued into (to MAXVALUE at the end of the key's range)."""
    tz = zone(config.time_zone)
    return (floor_within(value, config.span, tz, key_type),  # type: ignore[return-value]
            advance_within(floor(value, config.span, tz), config.span, tz, key_type))


def wide_gaps(parts: Sequence[RangePartition], config: Config, now: Key | None, stranded: list[Key],
              key_type: str | None, max_gap_slots: int | None) -> list[tuple[int, int, int]]:
    """The gaps of an integer key too wide to fill: ``(start, end, slots)`` of each run of more than
    ``max_gap_slots`` uncovered slots below the clock's slot, between partitions and DEFAULT rows' slots.

    An integer key's clock is its highest value: one far-apart row (a sentinel near the type's maximum beside
    small ids) would otherwise make gap filling create millions of empty partitions, a run's worth at a time.
    Time keys (``max_gap_slots`` None) fill every gap: their clock is the real one."""
    if key_type not in INTEGER_KEYS or max_gap_slots is None:
        return []
    where = reach(parts, config, now, None, stranded, key_type)
    if where is None:
        return []
    taken: list[tuple[Bound, Bound]] = [(p.start, p.end) for p in parts]
    taken += [stranded_slot(value, config, key_type) for value in stranded]
    tz = zone(config.time_zone)
    out = []
    for start, end in uncovered(where.low, where.current, taken):
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        slots = (floor(end - 1, config.span, tz) - floor(start, config.span, tz)) // config.span.width + 1  # type: ignore[operator]
        if slots > max_gap_slots:
            out.append((start, end, slots))
    return out


def wanted_ranges(parts: Sequence[RangePartition], config: Config, now: Key | None, low_limit: Key | None,
                  stranded: list[Key], key_type: str | None = None,
                  max_gap_slots: int | None = None) -> list[tuple[Key, Bound]]:
    """Ranges to create: gaps from the oldest partition to ``premake`` slots past now, and slots of DEFAULT rows.

    ``now`` None (an integer key, whose clock is its highest stored value, and no row stored): nothing is premade,
    only the gaps below the top partition are filled, so that an empty table does not grow on every run. Gap
    filling starts at the oldest partition's own lower bound (never a partial slot below it) unless the clock's
    slot is older. A slot reaching past the largest value of the key's type (``key_type``) ends at MAXVALUE.
    An integer key's gaps wider than ``max_gap_slots`` slots (``wide_gaps``) are left unfilled; the slots of
    DEFAULT rows in them are still made.
    """
    tz = zone(config.time_zone)
    taken: list[tuple[Bound, Bound]] = [(p.start, p.end) for p in parts]
    where = reach(parts, config, now, low_limit, stranded, key_type)
    if where is None:
        return []
    wide = [(s, e) for s, e, _ in wide_gaps(parts, config, now, stranded, key_type, max_gap_slots)]
    slots: list[tuple[Key, Bound]] = []
    # The span's slots are walked only where no partition is: history made with another span (steward.change_span
    # from months to hours) would otherwise use up MAX_NEW_PER_RUN on covered slots before reaching the clock.
    for piece_start, piece_end in uncovered(floor(where.low, config.span, tz), where.horizon, taken):
        start: Bound = floor(piece_start, config.span, tz)  # type: ignore[arg-type]
        while order(start) < order(piece_end) and len(slots) < MAX_NEW_PER_RUN:
            past = next((floor(e, config.span, tz) for s, e in wide if order(s) <= order(start) < order(e)), None)
            if past is not None and order(past) > order(start):
                start = past  # over a wide gap
                continue
            if slots and order(slots[-1][1]) > order(start):
                start = slots[-1][1]  # the slot of the previous piece's end, already walked
                continue
            slots.append((start, advance_within(start, config.span, tz, key_type)))  # type: ignore[arg-type]
            start = slots[-1][1]
    if where.exact_low and slots and slots[0][0] == floor(where.low, config.span, tz):
        slots[0] = (where.low, slots[0][1])  # type: ignore[assignment]
    filling = len(slots)
    slots += [stranded_slot(value, config, key_type) for value in stranded]
    out: list[tuple[Key, Bound]] = []
    for index, (slot_start, slot_end) in sorted(enumerate(slots), key=lambda s: (order(s[1][0]), s[0])):
        for piece in uncovered(slot_start, slot_end, taken):  # type: ignore[arg-type]
            if index < filling and any(order(s) <= order(piece[0]) and order(piece[1]) <= order(e) for s, e in wide):
                continue
            out.append(piece)
            taken.append(piece)
    return out[:MAX_NEW_PER_RUN]
