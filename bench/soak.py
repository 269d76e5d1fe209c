#!/usr/bin/env python3
"""Soak: writers insert into managed partitioned tables while maintenance with retention runs every few seconds.

What runs, for ``--minutes``:

- ``--writers`` sessions (default 8), each inserting batches of 1-5 rows into
  ``--tables`` managed tables (default 3; keys alternate ``date`` and
  ``timestamptz``, retention modes cycle drop, detach, archive). Most keys are
  within a few days of today (partitions exist); one batch in ten has a key
  beyond the premake horizon, so it lands in the DEFAULT partition until
  maintenance creates its day's partition and moves it there.
- Every ``--interval`` seconds, one driver session: for each table, one old
  day (before the retention cutoff) gets its partition through
  ``steward.create_partition`` and a known set of rows, in one transaction;
  then ``CALL steward.run_maintenance()``, whose retention retires those old
  partitions (drop, detach or archive, logged in
  ``steward.partition_maintenance_log``).
- Every ``--capture-interval`` seconds (default 5) a capture session runs
  ``steward.capture_query_stats()`` (a pg_stat_statements snapshot and its
  deltas into ``steward.query_performance_log``) and
  ``steward.capture_long_running()``.
- A sampler reads ``pg_locks.waitstart`` of the writers' ungranted locks ten
  times a second: the longest a writer was seen waiting on a lock, and who
  held it.

Accounting, exact: writers' keys are never older than a few days and
retention is 30 days, so retention can only remove the driver's old rows.
Every acknowledged row (writers' and driver's) must be in its table, or in a
partition that retention removed: a dropped partition must be gone with a
``drop`` row in the log, a detached or archived one must hold exactly the rows
put into it (count and md5). Per table and writer the rows in the table are
compared with the acknowledged ones by count, sums and an md5 over every row;
on a mismatch the ids are diffed to count lost and duplicated rows.

Writers' longest statement and longest lock wait are compared with the
tables' ``lock_timeout``. Maintenance runs, their failures (errors of the
CALL, ``ok = false`` rows in the log) and their durations are counted.

Captures are counted with their errors and times; every capture that
returned must have left its snapshot in ``steward.query_stats_snapshot``.

    .venv/bin/python bench/soak.py                   # 10 minutes, 8 writers, 3 tables
    .venv/bin/python bench/soak.py --minutes 1       # a short run

Results: a summary on stdout and bench/results/soak.json; the exit status is
1 when a goal was missed. tests/test_soak.py runs the same code for about a
minute.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

from lock_sampler import LockSamples, sample_locks  # noqa: E402
from pg_steward.localserver import LocalServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "soak.json"
SAFETY_TIMEOUT = "120s"  # statement_timeout of every session: a hang fails the run instead of stalling it
MODES = ("drop", "detach", "archive")
ARCHIVE = "soak_archive"
RETENTION_DAYS = 30
PREMAKE = 3
NEAR_DAYS = 3  # writers' ordinary keys: today +/- this many days (partitions exist)
# One batch in ten goes beyond the premake horizon: to a day FAR_AHEAD days past it, plus one more day per
# maintenance interval elapsed (plus 0-2), as data for a day not premade yet would arrive. Each run then finds
# a few new days in DEFAULT to rescue, all along the soak.
FAR_AHEAD = 2
DRIVER = 0  # the writer number of the driver's old rows
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Settings:
    seconds: float
    writers: int = 8
    tables: int = 3
    interval: float = 2.0
    capture_interval: float = 5.0
    far_days: int | None = None  # far keys spread at random over this many days instead of the moving window
    lock_timeout_s: float = 2.0
    lock_retries: int = 3
    old_rows: int = 50  # rows of each old partition the driver makes for retention
    seed: int = 0


@contextlib.contextmanager
def session(url: str, name: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection of its own, named in pg_stat_activity, always closed."""
    conn = psycopg.connect(url, autocommit=True, application_name=name,
                           options=f"-c statement_timeout={SAFETY_TIMEOUT}")
    try:
        yield conn
    finally:
        conn.close()


def table_names(count: int) -> list[str]:
    return [f"soak_{i}" for i in range(count)]


def key_type(table: str) -> str:
    return ("date", "timestamptz")[int(table.split("_")[1]) % 2]


def mode_of(table: str) -> str:
    return MODES[int(table.split("_")[1]) % len(MODES)]


def setup(url: str, settings: Settings) -> None:
    with session(url, "soak-setup") as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ARCHIVE}")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")  # for query capture
        for table in table_names(settings.tables):
            conn.execute(f"CREATE TABLE {table} (id bigint NOT NULL, writer int NOT NULL, k {key_type(table)} "
                         f"NOT NULL, v bigint NOT NULL, pad text) PARTITION BY RANGE (k); "
                         f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            conn.execute(
                "SELECT * FROM steward.manage(%s, '1 day', premake => %s, retention => %s, retention_mode => %s, "
                "archive_schema => %s, lock_timeout => %s, lock_retries => %s)",
                [table, PREMAKE, dt.timedelta(days=RETENTION_DAYS), mode_of(table),
                 ARCHIVE if mode_of(table) == "archive" else None,
                 dt.timedelta(seconds=settings.lock_timeout_s), settings.lock_retries])


# --- rows and their digests --------------------------------------------------------------------------------------

Row = tuple[int, int, int]  # id, key as epoch seconds, v


def epoch(key: dt.date | dt.datetime) -> int:
    if isinstance(key, dt.datetime):
        return int(key.timestamp())
    return (key - EPOCH).days * 86400


def digest(rows: list[Row]) -> tuple[int, int, int, str]:
    """Count, sum of ids, sum of v, md5 over every row in id order; the same as ``SQL_DIGEST`` computes."""
    ordered = sorted(rows)
    text = ",".join(f"{i}:{k}:{v}" for i, k, v in ordered)
    return len(ordered), sum(r[0] for r in ordered), sum(r[2] for r in ordered), hashlib.md5(text.encode()).hexdigest()


SQL_DIGEST = ("count(*), coalesce(sum(id), 0), coalesce(sum(v), 0), "
              "md5(coalesce(string_agg(id || ':' || extract(epoch FROM k)::bigint || ':' || v, ',' ORDER BY id), ''))")


def table_digests(conn: psycopg.Connection, table: str) -> dict[int, tuple[int, int, int, str]]:
    rows = conn.execute(f"SELECT writer, {SQL_DIGEST} FROM {table} GROUP BY writer").fetchall()
    return {r[0]: (r[1], int(r[2]), int(r[3]), r[4]) for r in rows}


def relation_digest(conn: psycopg.Connection, relation: str) -> tuple[int, int, int, str]:
    r = conn.execute(f"SELECT {SQL_DIGEST} FROM {relation}").fetchone()
    return r[0], int(r[1]), int(r[2]), r[3]


# --- writers ------------------------------------------------------------------------------------------------------


@dataclass
class Writer:
    number: int
    rows: dict[str, list[Row]] = field(default_factory=dict)  # acknowledged, per table
    errors: list[str] = field(default_factory=list)
    statements: int = 0
    to_default: int = 0  # batches with a key beyond the premake horizon
    longest_statement_s: float = 0.0


def _key(rng: random.Random, table: str, today: dt.date, far: int | None) -> dt.date | dt.datetime:
    """A key near today, or ``far`` days past the premake horizon (plus up to two)."""
    days = PREMAKE + far + rng.randint(0, 2) if far is not None else rng.randint(-NEAR_DAYS, NEAR_DAYS)
    day = today + dt.timedelta(days=days)
    if key_type(table) == "date":
        return day
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=rng.randrange(86400))


def write(url: str, writer: Writer, tables: list[str], today: dt.date, stop: threading.Event,
          settings: Settings) -> None:
    """Insert batches until told to stop; a batch's rows are expected only when its INSERT succeeded."""
    rng = random.Random(settings.seed * 1000 + writer.number)
    seq = 0
    started = time.monotonic()
    with session(url, f"soak-writer-{writer.number}") as conn:
        while not stop.is_set():
            table = rng.choice(tables)
            far = None
            if rng.random() < 0.1:
                far = (rng.randrange(settings.far_days) if settings.far_days is not None
                       else FAR_AHEAD + int((time.monotonic() - started) / settings.interval))
            batch = []
            for _ in range(rng.randint(1, 5)):
                seq += 1
                batch.append((writer.number * 10**12 + seq, _key(rng, table, today, far), rng.randrange(10**9)))
            sent = time.monotonic()
            try:
                conn.execute(f"INSERT INTO {table} (id, writer, k, v, pad) SELECT i, %s, k, v, repeat('p', 50) "
                             f"FROM unnest(%s::bigint[], %s::{key_type(table)}[], %s::bigint[]) AS u(i, k, v)",
                             [writer.number, [r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch]])
            except psycopg.Error as error:  # the statement changed nothing: its rows are not expected
                writer.errors.append(f"{error.sqlstate}: {str(error).splitlines()[0]}")
                if conn.closed:
                    return
            else:
                writer.rows.setdefault(table, []).extend((i, epoch(k), v) for i, k, v in batch)
                writer.to_default += far is not None
            finally:
                writer.statements += 1
                writer.longest_statement_s = max(writer.longest_statement_s, time.monotonic() - sent)
            time.sleep(0.002)  # leave the other sessions some CPU on a small machine


# --- the driver: old partitions for retention, then maintenance ---------------------------------------------------


@dataclass
class Retired:
    """An old partition the driver filled for retention to remove."""

    table: str
    partition: str
    rows: list[Row]


@dataclass
class Driver:
    old: list[Retired] = field(default_factory=list)
    runs: int = 0
    run_errors: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    next_old_day: int = RETENTION_DAYS + 10
    next_id: int = 1


def feed_old_partition(conn: psycopg.Connection, driver: Driver, table: str, today: dt.date, rows: int) -> None:
    """A new partition of a day before the retention cutoff, and its rows, in one transaction."""
    day = today - dt.timedelta(days=driver.next_old_day)
    driver.next_old_day += 1
    rng = random.Random(driver.next_id)
    made = [(driver.next_id + n, day if key_type(table) == "date" else dt.datetime(
        day.year, day.month, day.day, n % 24, tzinfo=dt.timezone.utc), rng.randrange(10**9)) for n in range(rows)]
    driver.next_id += rows
    with conn.transaction():
        partition = conn.execute("SELECT steward.create_partition(%s, %s, '1 day')::text",
                                 [table, day.isoformat()]).fetchone()[0]
        conn.execute(f"INSERT INTO {table} (id, writer, k, v) SELECT i, %s, k, v "
                     f"FROM unnest(%s::bigint[], %s::{key_type(table)}[], %s::bigint[]) AS u(i, k, v)",
                     [DRIVER, [r[0] for r in made], [r[1] for r in made], [r[2] for r in made]])
    driver.old.append(Retired(table, partition, [(i, epoch(k), v) for i, k, v in made]))


def drive(url: str, driver: Driver, settings: Settings, tables: list[str], today: dt.date,
          stop: threading.Event) -> None:
    with session(url, "soak-driver") as conn:
        while not stop.is_set():
            cycle_start = time.monotonic()
            try:
                for table in tables:
                    feed_old_partition(conn, driver, table, today, settings.old_rows)
            except psycopg.Error as error:
                driver.run_errors.append(f"feeding old partitions: {error.sqlstate}: {str(error).splitlines()[0]}")
            maintenance(conn, driver)
            stop.wait(max(0.0, settings.interval - (time.monotonic() - cycle_start)))


def maintenance(conn: psycopg.Connection, driver: Driver) -> None:
    started = time.monotonic()
    try:
        conn.execute("CALL steward.run_maintenance()")
    except psycopg.Error as error:
        driver.run_errors.append(f"run_maintenance: {error.sqlstate}: {str(error).splitlines()[0]}")
    driver.runs += 1
    driver.durations.append(time.monotonic() - started)


# --- query capture ------------------------------------------------------------------------------------------------


@dataclass
class Capture:
    runs: int = 0
    errors: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    logged: int = 0
    long_running: int = 0


def capture(url: str, found: Capture, interval: float, stop: threading.Event) -> None:
    """Query capture every ``interval`` seconds, as a schedule would run it, beside writers and maintenance."""
    with session(url, "soak-capture") as conn:
        while not stop.wait(interval):
            started = time.monotonic()
            try:
                snapshot, logged = conn.execute(
                    "SELECT snapshot_id, logged FROM steward.capture_query_stats()").fetchone()
                found.long_running += len(conn.execute("SELECT * FROM steward.capture_long_running()").fetchall())
            except psycopg.Error as error:
                found.errors.append(f"{error.sqlstate}: {str(error).splitlines()[0]}")
                if conn.closed:
                    return
            else:
                found.snapshots.append(snapshot)
                found.logged += logged
            finally:
                found.runs += 1
                found.durations.append(time.monotonic() - started)


def capture_report(conn: psycopg.Connection, found: Capture) -> dict[str, Any]:
    kept = conn.execute("SELECT count(*) FROM steward.query_stats_snapshot WHERE snapshot_id = ANY(%s)",
                        [found.snapshots]).fetchone()[0]
    return {"runs": found.runs, "errors": len(found.errors), "first_errors": found.errors[:5],
            "snapshots_returned": len(found.snapshots), "snapshots_kept": kept,
            "statements_logged_slow": found.logged, "long_running_logged": found.long_running,
            "median_s": round(statistics.median(found.durations), 3) if found.durations else None,
            "longest_s": round(max(found.durations), 3) if found.durations else None}


# --- checks -------------------------------------------------------------------------------------------------------


def account(conn: psycopg.Connection, writers: list[Writer], driver: Driver, tables: list[str]) -> dict[str, Any]:
    """Every acknowledged row is in its table or in a partition retention removed, exactly once."""
    report: dict[str, Any] = {"acknowledged": 0, "in_tables": 0, "retired": 0, "lost": 0, "duplicated": 0,
                              "unexpected": 0, "mismatches": [], "retired_by_mode": {m: 0 for m in MODES},
                              "old_partitions_not_retired": []}
    retired_ids = _check_retired(conn, driver, report)
    for table in tables:
        found = table_digests(conn, table)
        expected: dict[int, list[Row]] = {w.number: w.rows.get(table, []) for w in writers}
        expected[DRIVER] = [r for old in driver.old if old.table == table for r in old.rows
                            if r[0] not in retired_ids]
        for number, rows in expected.items():
            report["acknowledged"] += len(rows)
            have = found.pop(number, (0, 0, 0, digest([])[3]))
            report["in_tables"] += have[0]
            if have != digest(rows):
                _diff(conn, table, number, rows, report)
        for number, have in found.items():  # rows of a writer nobody acknowledged
            report["unexpected"] += have[0]
            report["mismatches"].append(f"{table}: {have[0]} rows of unknown writer {number}")
    report["acknowledged"] += report["retired"]
    report["duplicated"] += sum(conn.execute(f"SELECT count(*) - count(DISTINCT id) FROM {t}").fetchone()[0]
                                for t in tables)
    return report


def _check_retired(conn: psycopg.Connection, driver: Driver, report: dict[str, Any]) -> set[int]:
    """The driver's old partitions that retention removed, each checked against the log and its rows."""
    log = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT partition, action, ok FROM steward.partition_maintenance_log WHERE action = ANY(%s)",
        [list(MODES)]).fetchall()}
    retired: set[int] = set()
    for old in driver.old:
        mode = mode_of(old.table)
        where = f"{ARCHIVE}.{old.partition}" if mode == "archive" else f"public.{old.partition}"
        attached = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass(%s)",
                                [f"public.{old.partition}"]).fetchone()[0]
        if attached:
            report["old_partitions_not_retired"].append(old.partition)
            continue
        if not log.get((where if mode == "archive" else f"public.{old.partition}", mode)):
            report["mismatches"].append(f"{old.partition} is gone but no ok '{mode}' row is in the log")
        if mode == "drop":
            if conn.execute("SELECT to_regclass(%s)", [where]).fetchone()[0] is not None:
                report["mismatches"].append(f"{where} should have been dropped")
        elif relation_digest(conn, where) != digest(old.rows):
            report["mismatches"].append(f"{where}: its rows differ from what was put into it")
            continue
        report["retired"] += len(old.rows)
        report["retired_by_mode"][mode] += len(old.rows)
        retired.update(r[0] for r in old.rows)
    return retired


def _diff(conn: psycopg.Connection, table: str, number: int, rows: list[Row], report: dict[str, Any]) -> None:
    have = [r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE writer = %s", [number]).fetchall()]
    want = {r[0] for r in rows}
    lost, extra = want - set(have), set(have) - want
    report["lost"] += len(lost)
    report["unexpected"] += len(extra)
    report["mismatches"].append(f"{table}, writer {number}: {len(lost)} lost, {len(extra)} unexpected, "
                                f"{len(have) - len(set(have))} duplicated")


def maintenance_log(conn: psycopg.Connection, since: dt.datetime) -> dict[str, Any]:
    rows = conn.execute("SELECT action, ok, count(*), sum(rows_moved) FROM steward.partition_maintenance_log "
                        "WHERE logged_at >= %s GROUP BY 1, 2 ORDER BY 1, 2", [since]).fetchall()
    failures = conn.execute("SELECT parent, action, detail FROM steward.partition_maintenance_log "
                            "WHERE logged_at >= %s AND NOT ok ORDER BY id LIMIT 20", [since]).fetchall()
    return {"actions": {f"{a}{'' if ok else ' (failed)'}": n for a, ok, n, _ in rows},
            "rows_moved_from_default": int(sum(m or 0 for _, _, _, m in rows)),
            "failed_actions": sum(n for _, ok, n, _ in rows if not ok),
            "failures": [f"{p} {a}: {d}" for p, a, d in failures]}


# --- the run ------------------------------------------------------------------------------------------------------


def run_soak(url: str, settings: Settings) -> dict[str, Any]:
    """Set up, write and maintain for ``settings.seconds``, stop everything, maintain once more, account."""
    setup(url, settings)
    tables = table_names(settings.tables)
    driver, locks, captures = Driver(), LockSamples(), Capture()
    with session(url, "soak-admin") as admin:
        today = admin.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0]
        since = admin.execute("SELECT clock_timestamp()").fetchone()[0]
        # Warm-up before the writers start: the first old partition makes maintenance fill the month of
        # daily partitions between it and today once; the soak measures the steady state after that.
        for table in tables:
            feed_old_partition(admin, driver, table, today, settings.old_rows)
        maintenance(admin, driver)
    writers = [Writer(n) for n in range(1, settings.writers + 1)]
    stop = threading.Event()
    threads = [threading.Thread(target=write, args=(url, w, tables, today, stop, settings),
                                name=f"writer-{w.number}", daemon=True) for w in writers]
    threads += [threading.Thread(target=sample_locks, args=(url, locks, stop, "soak-writer-", "soak-sampler"),
                                 name="sampler", daemon=True),
                threading.Thread(target=drive, args=(url, driver, settings, tables, today, stop),
                                 name="driver", daemon=True),
                threading.Thread(target=capture, args=(url, captures, settings.capture_interval, stop),
                                 name="capture", daemon=True)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        stop.wait(settings.seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(180)
    stuck = [t.name for t in threads if t.is_alive()]
    elapsed = time.monotonic() - started
    with session(url, "soak-admin") as admin:
        maintenance(admin, driver)  # writers stopped: the last rows in DEFAULT are rescued, old partitions retired
        left_in_default = sum(admin.execute(f"SELECT count(*) FROM {t}_default").fetchone()[0] for t in tables)
        rows = account(admin, writers, driver, tables)
        log = maintenance_log(admin, since)
        query_capture = capture_report(admin, captures)
        partitions = admin.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = ANY(%s::regclass[])",
                                   [tables]).fetchone()[0]
    statements = sum(w.statements for w in writers)
    return {
        "settings": settings.__dict__, "seconds": round(elapsed, 1), "threads_not_stopped": stuck,
        "writers": {"sessions": len(writers), "statements": statements,
                    "statements_per_second": round(statements / elapsed, 1),
                    "rows_acknowledged": sum(len(r) for w in writers for r in w.rows.values()),
                    "batches_beyond_premake": sum(w.to_default for w in writers),
                    "errors": sum(len(w.errors) for w in writers),
                    "first_errors": [e for w in writers for e in w.errors][:10],
                    "longest_statement_s": round(max(w.longest_statement_s for w in writers), 3)},
        "lock_waits": {"samples": locks.samples, "writer_waits_seen": locks.waits_seen,
                       "longest_wait_s": round(locks.longest_s, 3), "longest_wait_blocked_by": locks.longest_blockers,
                       "sampler_errors": locks.errors[:5]},
        "maintenance": {"runs": driver.runs, "run_errors": len(driver.run_errors),
                        "first_run_errors": driver.run_errors[:10],
                        "median_run_s": round(statistics.median(driver.durations), 3),
                        "longest_run_s": round(max(driver.durations), 3), **log},
        "query_capture": query_capture, "rows": rows, "rows_left_in_default": left_in_default,
        "partitions_now": partitions,
    }


def goals(result: dict[str, Any]) -> dict[str, bool]:
    """The soak's goals, each true when met."""
    budget = result["settings"]["lock_timeout_s"]
    rows = result["rows"]
    return {
        "writer errors = 0": result["writers"]["errors"] == 0,
        "rows lost = 0": rows["lost"] == 0 and not rows["mismatches"],
        "rows duplicated = 0": rows["duplicated"] == 0 and rows["unexpected"] == 0,
        "every acknowledged row accounted for": rows["acknowledged"] == rows["in_tables"] + rows["retired"],
        f"longest writer lock wait < lock_timeout ({budget} s)": result["lock_waits"]["longest_wait_s"] < budget,
        "maintenance failures = 0": (result["maintenance"]["run_errors"] == 0
                                     and result["maintenance"]["failed_actions"] == 0),
        "retention ran": sum(rows["retired_by_mode"].values()) > 0,
        "query capture failures = 0, every snapshot kept": (
            result["query_capture"]["errors"] == 0 and result["query_capture"]["runs"] > 0
            and result["query_capture"]["snapshots_kept"] == result["query_capture"]["runs"]),
        "every thread stopped": not result["threads_not_stopped"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the writers write (default 10)")
    parser.add_argument("--writers", type=int, default=8, help="writer sessions (default 8)")
    parser.add_argument("--tables", type=int, default=3, help="managed tables (default 3)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between maintenance runs (default 2)")
    parser.add_argument("--capture-interval", type=float, default=5.0,
                        help="seconds between query captures (default 5)")
    parser.add_argument("--far-days", type=int, default=None,
                        help="spread the keys beyond the premake horizon over this many days at random (a storm of "
                             "new partitions for every run) instead of one more day per interval")
    parser.add_argument("--lock-timeout", type=float, default=2.0, help="the tables' lock_timeout, s (default 2)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    settings = Settings(seconds=args.minutes * 60, writers=args.writers, tables=args.tables,
                        interval=args.interval, capture_interval=args.capture_interval,
                        lock_timeout_s=args.lock_timeout, far_days=args.far_days,
                        seed=args.seed if args.seed is not None else random.randrange(1 << 30))
    with LocalServer({"max_connections": str(settings.writers + 20), "max_locks_per_transaction": "256"}) as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
            versions = conn.execute("SELECT current_setting('server_version'), "
                                    "(SELECT extversion FROM pg_extension WHERE extname = 'pg_steward')").fetchone()
        result = run_soak(server.url, settings)
    met = goals(result)
    result.update(goals=met, postgresql=versions[0], pg_steward=versions[1],
                  date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  machine={"cpus": os.cpu_count(), "platform": platform.platform(),
                           "load_average": os.getloadavg()},
                  command=" ".join(["bench/soak.py", *sys.argv[1:]]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("seconds", "writers", "lock_waits", "maintenance", "query_capture", "rows",
                                             "rows_left_in_default", "partitions_now")}, indent=2, default=str))
    for goal, ok in met.items():
        print(f"{'ok  ' if ok else 'MISS'} {goal}")
    print(f"seed {settings.seed}; details in {args.output}")
    sys.exit(0 if all(met.values()) else 1)


if __name__ == "__main__":
    main()
