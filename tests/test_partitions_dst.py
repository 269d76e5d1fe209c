"""Daily timestamptz partitions in America/New_York across both DST changes of 2024, on a real server.

On 2024-03-10 the local day has 23 hours (02:00 EST jumps to 03:00 EDT), on 2024-11-03 it has 25 (01:00-02:00
happens twice). A partition per local day must cover exactly that day: bounds at local midnight, contiguous, and
every row in the partition named after its local date, whatever the session's own TimeZone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
DAYS = [dt.date(2024, 3, d) for d in range(8, 13)] + [dt.date(2024, 11, d) for d in range(1, 6)]


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), NEW_YORK).astimezone(UTC)


def half_hours(day: dt.date) -> list[dt.datetime]:
    """Every half hour of the local day, as instants: 46 on the spring day, 50 on the autumn day."""
    start, end = local_midnight(day), local_midnight(day + dt.timedelta(days=1))
    count = int((end - start).total_seconds() // 1800)
    return [start + dt.timedelta(minutes=30 * k) for k in range(count)]


def bounds(conn: psycopg.Connection, table: str) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Each partition's bounds, read back as instants (the session's TimeZone does not matter)."""
    rows = conn.execute(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, 0) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass AND NOT c.relpartbound IS NULL "
        "AND pg_get_expr(c.relpartbound, 0) <> 'DEFAULT' ORDER BY 1", [table]).fetchall()
    out = {}
    for name, bound in rows:
        low, high = bound.split("FROM ('")[1].split("') TO ('")
        # In UTC: Python subtracts two datetimes of one zone by their wall clocks, which hides DST.
        out[name] = tuple(t.astimezone(UTC) for t in conn.execute(
            "SELECT %s::timestamptz, %s::timestamptz", [low, high.rstrip("')")]).fetchone())
    return out


@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_daily_partitions_follow_local_days_across_dst(conn: psycopg.Connection, session_zone: str) -> None:
    conn.execute(f"SET TimeZone = '{session_zone}'")
    conn.execute("CREATE TABLE ev (at timestamptz NOT NULL, n int) PARTITION BY RANGE (at)")
    for day in DAYS:
        conn.execute("SELECT steward.create_partition('ev', %s, '1 day', 'America/New_York')", [day.isoformat()])

    got = bounds(conn, "ev")
    assert got == {f"ev_p{d:%Y_%m_%d}": (local_midnight(d), local_midnight(d + dt.timedelta(days=1))) for d in DAYS}
    hours = {name: (high - low).total_seconds() / 3600 for name, (low, high) in got.items()}
    assert hours["ev_p2024_03_10"] == 23 and hours["ev_p2024_11_03"] == 25
    assert all(h == 24 for name, h in hours.items() if name not in ("ev_p2024_03_10", "ev_p2024_11_03"))

    # Every half hour of every day lands in the partition of its local date; none is refused.
    stamps = [t for d in DAYS for t in half_hours(d)]
    conn.execute("INSERT INTO ev SELECT unnest(%s::timestamptz[]), 1", [stamps])
    placed = conn.execute("SELECT tableoid::regclass::text, at FROM ev").fetchall()
    assert len(placed) == len(stamps) == 48 * len(DAYS)  # the spring day is 2 half hours short, autumn 2 long
    assert all(name == f"ev_p{at.astimezone(NEW_YORK):%Y_%m_%d}" for name, at in placed)

    # Asking again for a day, by any instant of it, returns the same partition.
    again = conn.execute("SELECT steward.create_partition('ev', '2024-11-03', '1 day', 'America/New_York')::text"
                         ).fetchone()
    assert again == ("ev_p2024_11_03",)


def test_maintenance_rescues_dst_days_from_default_in_the_table_zone(conn: psycopg.Connection) -> None:
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("CREATE TABLE ev (at timestamptz NOT NULL, n int) PARTITION BY RANGE (at);"
                 "CREATE TABLE ev_default PARTITION OF ev DEFAULT")
    conn.execute("SELECT * FROM steward.manage('ev', '1 day', premake => 1, time_zone => 'America/New_York')")
    spring, autumn = half_hours(dt.date(2024, 3, 10)), half_hours(dt.date(2024, 11, 3))
    assert (len(spring), len(autumn)) == (46, 50)
    conn.execute("INSERT INTO ev SELECT t, row_number() OVER () FROM unnest(%s::timestamptz[]) t",
                 [spring + autumn])
    before = conn.execute("SELECT count(*), sum(n), md5(string_agg(at::text || n, ',' ORDER BY at)) FROM ev"
                          ).fetchone()

    done = conn.execute("SELECT action, partition, ok, detail FROM steward.maintain_partitions('ev') "
                        "WHERE detail LIKE '%moved%'").fetchall()
    assert sorted((a, p, ok) for a, p, ok, _ in done) == [
        ("create", "public.ev_p2024_03_10", True), ("create", "public.ev_p2024_11_03", True)]
    assert {p: d.split("moved ")[1] for _, p, _, d in done} == {
        "public.ev_p2024_03_10": "46 rows from DEFAULT", "public.ev_p2024_11_03": "50 rows from DEFAULT"}
    assert conn.execute("SELECT count(*) FROM ev_default").fetchone() == (0,)
    assert conn.execute("SELECT count(*), sum(n), md5(string_agg(at::text || n, ',' ORDER BY at)) FROM ev"
                        ).fetchone() == before
    got = bounds(conn, "ev")
    assert got["ev_p2024_03_10"] == (local_midnight(dt.date(2024, 3, 10)), local_midnight(dt.date(2024, 3, 11)))
    assert got["ev_p2024_11_03"] == (local_midnight(dt.date(2024, 11, 3)), local_midnight(dt.date(2024, 11, 4)))
