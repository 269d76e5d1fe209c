"""The survey's fast test of "nothing due" against the full plan it stands in for (pure logic)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from pg_steward.partitions.model import Config, PartitionOptions
from pg_steward.partitions.spans import UTC, Key, Span, advance, floor, subtract, zone
from pg_steward.partitions.survey import _covered, _ranges, plainly_covered

DATE, TIMESTAMP, TIMESTAMPTZ = "date", "timestamp without time zone", "timestamp with time zone"
SPANS = (Span(months=1), Span(months=3), Span(days=1), Span(days=7), Span(micros=3_600_000_000))
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")


def config(span: Span, premake: int, retention: Span | None, zone_name: str) -> Config:
    return Config(parent_oid=1, span=span, premake=premake, retention=retention, retention_mode="drop",
                  archive_schema=None, time_zone=zone_name, analyze=False, options=PartitionOptions())


def text(value: Key) -> str:
    """A bound value as the catalog prints it under the functions' settings (DateStyle ISO, TimeZone UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def bound(start: str, end: str) -> str:
    return f"FOR VALUES FROM ('{start}') TO ('{end}')"


def now_key(key_type: str, now: dt.datetime, tz_name: str) -> Key:
    local = now.astimezone(zone(tz_name)).replace(tzinfo=None)
    return now if key_type == TIMESTAMPTZ else local.date() if key_type == DATE else local


def layout(rng: random.Random, key_type: str, span: Span, tz_name: str, now: Key) -> list[str]:
    """Slots around the clock, some missing, the oldest one sometimes cut short at either end, with DEFAULT."""
    tz = zone(tz_name)
    slot = floor(now, span, tz)
    for _ in range(rng.randint(0, 6)):
        slot = floor(subtract(slot, span, tz), span, tz)
    starts = [slot]
    for _ in range(rng.randint(0, 12)):
        starts.append(advance(starts[-1], span, tz))
    pairs = [(s, advance(s, span, tz)) for s in starts]
    if len(pairs) > 2 and rng.random() < 0.15:
        del pairs[rng.randrange(1, len(pairs) - 1)]  # a gap
    if pairs and rng.random() < 0.1 and key_type != DATE:
        first = pairs[0]
        pairs[0] = (first[0] + dt.timedelta(minutes=30), first[1])  # type: ignore[operator]  # not a slot start
    texts = [bound(text(s), text(e)) for s, e in pairs]
    if rng.random() < 0.5:
        texts.append("DEFAULT")
    rng.shuffle(texts)
    return texts


def test_the_fast_test_never_says_covered_when_the_plan_has_work() -> None:
    rng = random.Random(19)
    decided = agreed = 0
    for _ in range(6000):
        key_type = rng.choice((DATE, TIMESTAMP, TIMESTAMPTZ))
        span = rng.choice(SPANS[:4] if key_type == DATE else SPANS)
        tz_name = rng.choice(ZONES)
        retention = rng.choice((None, None, Span(months=rng.randint(1, 6)), Span(days=rng.randint(1, 40))))
        cfg = config(span, rng.randint(0, 4), retention, tz_name)
        now = dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 800))
        key = now_key(key_type, now, tz_name)
        texts = layout(rng, key_type, span, tz_name, key)
        full = _covered(None, cfg, _ranges(texts, key_type), key)  # type: ignore[arg-type]
        fast = plainly_covered(texts, cfg, key, key_type)
        assert not fast or full, (texts, cfg, key)
        decided += fast
        agreed += fast == full
    assert decided > 1000  # the usual layouts are decided without the plan
    assert agreed > 5000


def test_usual_layouts_are_decided_and_gaps_are_not() -> None:
    cfg = config(Span(months=1), 3, None, "UTC")
    months = ["2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"]
    texts = [bound(a, b) for a, b in itertools.pairwise(months)] + ["DEFAULT"]
    assert plainly_covered(texts, cfg, dt.date(2024, 5, 17), DATE)
    assert not plainly_covered(texts, cfg, dt.date(2024, 6, 1), DATE)  # the horizon passed the last partition
    assert not plainly_covered(texts[:1] + texts[2:], cfg, dt.date(2024, 5, 17), DATE)  # a gap
    assert not plainly_covered(["DEFAULT"], cfg, dt.date(2024, 5, 17), DATE)
    assert not plainly_covered(["FOR VALUES FROM (MINVALUE) TO ('2024-05-01')", *texts[1:]], cfg,
                               dt.date(2024, 5, 17), DATE)
    expiring = config(Span(months=1), 3, Span(months=1), "UTC")
    assert plainly_covered(texts, expiring, dt.date(2024, 5, 17), DATE)
    assert not plainly_covered(texts, expiring, dt.date(2024, 6, 1), DATE)  # April's partition is past retention
