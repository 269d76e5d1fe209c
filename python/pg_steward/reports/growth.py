"""steward.capture_growth() and steward.growth_forecasts(): what grows towards a limit, and when it gets there.

A capture writes one row per measured object into steward.growth_snapshot,
all with the same ``captured_at``: the database's size, each sequence's last
value and its bound, each integer column a sequence feeds (its value is the
sequence's, its limit the column type's), and each managed partitioned table's
newest upper bound. Nothing is scanned: sequences are read through
pg_sequences (pg_sequence_last_value), bounds from the catalog.

The forecasts fit a least-squares line through each series (reports/runway.py)
within a window before the newest capture. The runway of premade partitions
needs no history: the newest bound against the clock (and, for an integer key,
against the growth of the sequence that feeds it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from pg_steward.arguments import not_null, positive_interval
from pg_steward.db import Database, Row
from pg_steward.errors import INSUFFICIENT_PRIVILEGE, StewardError
from pg_steward.reports import health_checks, runway
from pg_steward.reports.health import FEEDS_SQL, SEQUENCES_SQL
from pg_steward.reports.premade import Premade, premade_partitions, text_formats
from pg_steward.sqltext import qualified, quote_ident

TABLE = "steward.growth_snapshot"

_INSERT_SQL = f"""
INSERT INTO {TABLE} (captured_at, kind, object, sequence, value, limit_value)
SELECT pg_catalog.now(), r.kind, r.object, r.sequence, r.value, r.limit_value
FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]),
               pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.numeric[]),
               pg_catalog.unnest($5::pg_catalog.numeric[])) AS r(kind, object, sequence, value, limit_value)
"""


def capture_growth(db: Database) -> list[Row]:
    """``steward.capture_growth()``: one snapshot; a row per kind with how many objects it recorded."""
    if not db.query(f"SELECT pg_catalog.has_table_privilege('{TABLE}', 'INSERT') AS ok")[0]["ok"]:
        raise StewardError(f"permission denied for table {TABLE}", INSUFFICIENT_PRIVILEGE,
                           hint="capture_growth writes the growth history: run it as the extension's owner "
                                "(or a role granted INSERT on it), for example from its pg_cron job.")
    kinds, objects, sequences, values, limits = [], [], [], [], []

    def add(kind: str, name: str, sequence: str | None, value: object, limit: object) -> None:
        kinds.append(kind)
        objects.append(name)
        sequences.append(sequence)
        values.append(Decimal(str(value)))
        limits.append(None if limit is None else Decimal(str(limit)))

    size = db.query("SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS s, "
                    "pg_catalog.current_database()::text AS d")[0]
    add("database", quote_ident(size["d"]), None, size["s"], None)
    hidden = 0
    last: dict[int, tuple[str, int, int]] = {}  # sequence oid -> name, last value, increment
    for r in db.query(SEQUENCES_SQL):
        if not r["visible"]:
            hidden += 1
            continue
        if r["last_value"] is None:
            continue
        name = qualified(r["schema"], r["name"])
        last[r["oid"]] = (name, int(r["last_value"]), int(r["increment_by"]))
        add("sequence", name, name, r["last_value"], r["max_value"] if r["increment_by"] > 0 else r["min_value"])
    keys = 0
    for f in db.query(FEEDS_SQL):
        held = health_checks.INTEGER_RANGES.get(f["type_name"])
        if held is None or f["seq"] not in last:
            continue
        name, value, increment = last[f["seq"]]
        add("integer_key", f"{qualified(f['schema'], f['table_name'])}.{quote_ident(f['column_name'])}", name,
            value, held[1] if increment > 0 else held[0])
        keys += 1
    with text_formats(db):
        premade = premade_partitions(db)
    for p in premade:
        add("premade_partitions", p.table, None, p.bound_epoch if p.bound_epoch is not None else p.bound, None)
    db.execute(_INSERT_SQL, kinds, objects, sequences, values, limits)
    note = f"{hidden} sequence(s) this role may not read were left out" if hidden else None
    return [{"kind": "database", "objects": 1, "note": None},
            {"kind": "sequence", "objects": len(last), "note": note},
            {"kind": "integer_key", "objects": keys, "note": note},
            {"kind": "premade_partitions", "objects": len(premade), "note": None}]


# The series within the window before the newest capture; sequences (and the keys they feed) only while the
# sequence exists and the caller may read it, as pg_sequences would show it.
_SERIES_SQL = f"""
SELECT g.kind, g.object, g.sequence, extract(epoch FROM g.captured_at)::pg_catalog.float8 AS t,
       g.value::pg_catalog.float8 AS v, g.value::pg_catalog.text AS value_text,
       g.limit_value::pg_catalog.text AS limit_text, g.captured_at::pg_catalog.text AS captured
FROM {TABLE} AS g
WHERE g.captured_at OPERATOR(pg_catalog.>=)
      ((SELECT pg_catalog.max(m.captured_at) FROM {TABLE} AS m) OPERATOR(pg_catalog.-) $1::pg_catalog.interval)
  AND g.kind OPERATOR(pg_catalog.<>) 'premade_partitions'
  AND (g.sequence IS NULL OR (pg_catalog.to_regclass(g.sequence) IS NOT NULL
       AND (pg_catalog.has_sequence_privilege(pg_catalog.to_regclass(g.sequence), 'SELECT')
            OR pg_catalog.has_sequence_privilege(pg_catalog.to_regclass(g.sequence), 'USAGE'))))
ORDER BY g.kind, g.object, g.captured_at
"""

_ORDER = {"premade_partitions": 0, "integer_key": 1, "sequence": 2, "database": 3}


@dataclass
class _Series:
    kind: str
    object: str
    sequence: str | None
    points: list[runway.Point]
    latest: str  # the newest value's text
    limit: str | None
    first: str
    last: str


def _series(db: Database, history: str) -> dict[tuple[str, str], _Series]:
    out: dict[tuple[str, str], _Series] = {}
    for r in db.query(_SERIES_SQL, history):
        key = (r["kind"], r["object"])
        s = out.get(key)
        if s is None:
            s = out[key] = _Series(r["kind"], r["object"], r["sequence"], [], r["value_text"], r["limit_text"],
                                   r["captured"], r["captured"])
        s.points.append((r["t"], r["v"]))
        s.latest, s.limit, s.last = r["value_text"], r["limit_text"], r["captured"]
    return out


def _growth_text(s: _Series, run: list[runway.Point], per_day: float | None) -> str:
    if per_day is None:
        return (f"one snapshot ({s.last}) since {'a restart of the sequence' if len(s.points) > 1 else 'the start'}"
                ": growth needs two (steward.capture_growth, job capture_growth)")
    restarted = "; the sequence went back before" if len(run) < len(s.points) else ""
    return f"least squares over {len(run)} snapshots from {s.first if not restarted else 'its restart'} to {s.last}" \
        + restarted


def _number(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _growth(per_day: float) -> Decimal:
    """Three decimals, or six significant digits for a growth below one a day."""
    return Decimal(f"{per_day:.3f}") if abs(per_day) >= 1 else Decimal(f"{per_day:.6g}")


def _forecast_row(kind: str, name: str, current: Decimal | None, limit: Decimal | None, per_day: float | None,
                  way: runway.Runway | None, detail: str) -> Row:
    return {"kind": kind, "object": name, "current": current, "limit": limit,
            "growth_per_day": None if per_day is None else _growth(per_day),
            "runs_out_on": way.runs_out_on if way else None,
            "days_left": None if way is None or way.days_left is None else Decimal(f"{way.days_left:.1f}"),
            "detail": detail}


def growth_forecasts(db: Database, history: str | None) -> list[Row]:
    """``steward.growth_forecasts(history)``: a row per sequence, integer key, managed table and the database."""
    not_null("history", history)
    window = positive_interval(db, history, "history")
    assert window is not None
    if not db.query(f"SELECT pg_catalog.has_table_privilege('{TABLE}', 'SELECT') AS ok")[0]["ok"]:
        raise StewardError(f"permission denied for table {TABLE}", INSUFFICIENT_PRIVILEGE,
                           hint="The growth history is readable by pg_read_all_stats (a member of pg_monitor) "
                                "and the database owner.")
    clock = db.query("SELECT extract(epoch FROM pg_catalog.now())::pg_catalog.float8 AS e, "
                     "pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today")[0]
    today = dt.date.fromisoformat(clock["today"])
    series = _series(db, window)
    out = []
    keys: dict[str, tuple[float | None, Decimal]] = {}  # integer key -> its growth per day and latest value
    for s in series.values():
        run = runway.current_run(s.points) if s.kind != "database" else s.points
        per_day = runway.slope_per_day(run)
        current, limit = _number(s.latest), _number(s.limit)
        detail = _growth_text(s, run, per_day)
        way = None
        if limit is not None and current is not None:
            way = runway.runway(float(current), float(limit), per_day, today)
        if s.kind == "integer_key":
            keys[s.object] = (per_day, current) if current is not None else (per_day, Decimal(0))
            detail = f"fed by sequence {s.sequence}, limit of the column's type; " + detail
        elif s.kind == "database":
            detail = (f"{health_checks.pretty_bytes(float(current or 0))}, "
                      + (f"{health_checks.pretty_bytes(per_day)} a day; " if per_day is not None else "") + detail)
        out.append(_forecast_row(s.kind, s.object, current, limit, per_day, way, detail))
    with text_formats(db):
        premade = premade_partitions(db)
    for p in premade:
        out.append(_premade_row(p, clock["e"], today, keys.get(f"{p.table}.{p.key_column}")))
    out.sort(key=lambda r: (r["days_left"] is None, r["days_left"] if r["days_left"] is not None else 0,
                            _ORDER[r["kind"]], r["object"]))
    return out


def _premade_row(p: Premade, now_epoch: float, today: dt.date, key: tuple[float | None, Decimal] | None) -> Row:
    if p.bound_epoch is not None:
        days = runway.days_until(p.bound_epoch, now_epoch)
        way = runway.Runway(days, dt.datetime.fromtimestamp(p.bound_epoch, dt.timezone.utc).date())
        spans = runway.spans_left(p.bound_epoch, now_epoch, p.span_seconds or 0)
        detail = (f"newest partition {p.partition} ends at {p.bound_text}"
                  + (f", {spans:.1f} of its spans from now" if spans is not None else "")
                  + "; maintenance premakes more while it runs")
        return _forecast_row("premade_partitions", p.table, None, None, None, way, detail)
    detail = f"newest partition {p.partition} ends at {p.bound_text} (span {p.width})"
    if key is None:
        return _forecast_row("premade_partitions", p.table, None, Decimal(str(p.bound)), None, None,
                             detail + f"; no sequence feeds {p.key_column} in the growth history: its growth is "
                                      "not known")
    per_day, current = key
    way = runway.runway(float(current), float(p.bound), per_day, today)  # type: ignore[arg-type]
    return _forecast_row("premade_partitions", p.table, current, Decimal(str(p.bound)), per_day, way,
                         detail + f"; {p.key_column} is fed by a sequence of the growth history")
