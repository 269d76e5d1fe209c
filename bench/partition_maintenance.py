#!/usr/bin/env python3
"""Partition maintenance: pg_steward against pg_partman and a hand-written baseline, side by side.

One throwaway PostgreSQL server (``LocalServer``), one database per product:

- ``bench_steward``: pg_steward manages ``--tables`` monthly tables;
- ``bench_partman``: pg_partman at the server's default version (4.7.2, Debian 12's) manages the same
  tables (``create_parent``, native, monthly);
- ``bench_partman5``: pg_partman 5.1.0 (``VERSION '5.1.0'``, installed beside 4.7.2 by
  scripts/install-partman-5) manages them too, with ``infinite_time_partitions`` on;
- ``bench_manual``: the hand-written DEFAULT-rescue baseline of measurement (c).

Measurements (see bench/README.md):

(a) maintenance when nothing is due, ``--repeat`` times each, median seconds, in a warm session and as
    the first call of a fresh session (what every pg_cron run pays), with the backend's peak memory;
(b) maintenance when one new partition per table is due (premake raised by one),
    state restored after each run (new partitions dropped, premake lowered);
(c) creating the partition of a month whose ``--rows`` rows sit in DEFAULT.

A fresh session's fixed cost: ``psql -c 'SELECT steward.version()'`` against ``psql -c 'SELECT 1'``.

Then a profile of pg_steward's side (pg_stat_statements with ``track = all``,
in a separate pass that is not timed) to show where its time goes; (b) is profiled for
``maintain_partitions()`` and for the procedure (its statements, and a cProfile of its Python).

    .venv/bin/python bench/partition_maintenance.py --quick
    .venv/bin/python bench/partition_maintenance.py --tables 1000 --rows 1000000 --repeat 3

Results: a table on stdout and bench/results/partition_maintenance.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from pg_steward.localserver import LocalServer, bindir  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import machine  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "partition_maintenance.json"

# Same settings for every product. Locks: one maintenance transaction over
# 1,000 tables touches every parent, DEFAULT and new partition; the shared
# lock table holds max_locks_per_transaction * (max_connections + ...) entries.
# Autovacuum is off so that it cannot run in the middle of a measurement; the
# script runs VACUUM ANALYZE itself after every setup and every reset.
SERVER_SETTINGS = {
    "max_locks_per_transaction": "1024",
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "autovacuum": "off",
    "jit": "off",
}

DBS = {"steward": "bench_steward", "partman": "bench_partman", "partman5": "bench_partman5",
       "manual": "bench_manual"}
PEERS = ("partman", "partman5")
PARTMAN5 = "5.1.0"

# Measurement (c): the month moved out of DEFAULT, and the months around it.
MONTH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
NEXT_MONTH = dt.datetime(2020, 2, 1, tzinfo=dt.timezone.utc)

console = Console()
if not console.is_terminal:
    console = Console(width=150)


# --------------------------------------------------------------------------- helpers


def connect(server: LocalServer, product: str) -> psycopg.Connection:
    return psycopg.connect(server.url_for(DBS[product]), autocommit=True)


def timed(conn: psycopg.Connection, sql: str, params: Any = None) -> tuple[float, list[tuple]]:
    start = time.perf_counter()
    cur = conn.execute(sql, params)
    rows = cur.fetchall() if cur.description else []
    return time.perf_counter() - start, rows


def one(conn: psycopg.Connection, sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def step(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def children(conn: psycopg.Connection) -> dict[str, set[str]]:
    """Partitions of each benchmark table t_N, by parent name."""
    out: dict[str, set[str]] = {}
    for parent, child in conn.execute(
        "SELECT p.relname::text, c.relname::text FROM pg_inherits i "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = 'public' AND p.relname ~ '^t_[0-9]+$'"
    ):
        out.setdefault(parent, set()).add(child)
    return out


def count_partitions(conn: psycopg.Connection) -> int:
    return sum(len(v) for v in children(conn).values())


def vacuum(conn: psycopg.Connection) -> None:
    """Fresh catalog statistics and no dead catalog rows (autovacuum is off)."""
    conn.execute("VACUUM (ANALYZE)")


def in_batches(conn: psycopg.Connection, statements: list[str], size: int = 100) -> None:
    for i in range(0, len(statements), size):
        with conn.transaction():
            for sql in statements[i:i + size]:
                conn.execute(sql)


# --------------------------------------------------------------------------- facts


def machine_facts(server: LocalServer) -> dict[str, Any]:
    with connect(server, "steward") as conn:
        pg_version = one(conn, "SELECT version()")
        steward = conn.execute("SELECT * FROM steward.version()").fetchone()
        steward_cols = [d.name for d in conn.execute("SELECT * FROM steward.version()").description]
    partman = {}
    for product in PEERS:
        with connect(server, product) as conn:
            partman[product] = one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'")
    return {
        **machine.describe(),
        "postgresql": pg_version,
        "pg_steward": dict(zip(steward_cols, steward, strict=True)),
        "pg_partman": partman["partman"],
        "pg_partman_versions": partman,
        "server_settings": SERVER_SETTINGS,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- setup (a), (b)


def table_ddl(i: int) -> str:
    return (f"CREATE TABLE public.t_{i} (id bigint, created_at timestamptz NOT NULL, v int) "
            "PARTITION BY RANGE (created_at)")


def setup_steward(server: LocalServer, tables: int) -> float:
    """``tables`` tables, each with a DEFAULT partition, managed by pg_steward (premake 3)."""
    with connect(server, "steward") as conn:
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        start = time.perf_counter()
        ddl = []
        for i in range(tables):
            ddl += [table_ddl(i), f"CREATE TABLE public.t_{i}_default PARTITION OF public.t_{i} DEFAULT"]
        in_batches(conn, ddl)
        for i in range(tables):
            conn.execute(f"SELECT count(*) FROM steward.manage('public.t_{i}', '1 month', premake => 3)")
        elapsed = time.perf_counter() - start
        conn.execute(
            f"DO $$ BEGIN FOR i IN 0..{tables - 1} LOOP "
            "EXECUTE format('INSERT INTO public.t_%s VALUES (1, now(), 1)', i); END LOOP; END $$")
        drain_parent_analyses(conn, tables)
        vacuum(conn)
    return elapsed


def drain_parent_analyses(conn: psycopg.Connection, tables: int) -> None:
    """The parents' analyses that registering left pending (``manage()`` created partitions), done now: "nothing
    due" is then nothing due for pg_steward too. A run analyzes at most ``max_parent_analyzes`` parents (20 by
    default), so every nothing-due run after the setup would otherwise analyze 20 of them."""
    conn.execute("INSERT INTO steward.maintenance_limits (max_parent_analyzes) VALUES (%s)", (tables,))
    conn.execute("SELECT count(*) FROM steward.analyze_parents()")
    conn.execute("DELETE FROM steward.maintenance_limits")


def ensure_partman5() -> None:
    """pg_partman 5.1.0's script beside the server's default pg_partman (scripts/install-partman-5)."""
    pg_config = os.environ.get("PG_CONFIG", "pg_config")
    sharedir = subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True, check=True).stdout.strip()
    if not (Path(sharedir) / "extension" / f"pg_partman--{PARTMAN5}.sql").exists():
        subprocess.run([str(ROOT / "scripts" / "install-partman-5"), pg_config], check=True)


def partman_create_parent(conn: psycopg.Connection) -> str:
    """The ``create_parent`` call of the database's pg_partman (two parameters: the table, the first month):
    monthly, premake 3. The major picks the API: 4.x ``p_type 'native'`` with ``p_interval 'monthly'``, 5.x
    ``p_type 'range'`` with an interval."""
    version = one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'")
    if int(version.split(".")[0]) >= 5:
        return ("SELECT partman.create_parent(p_parent_table := %s, p_control := 'created_at', "
                "p_type := 'range', p_interval := '1 month', p_premake := 3, p_start_partition := %s, "
                "p_jobmon := false)")
    return ("SELECT partman.create_parent(p_parent_table := %s, p_control := 'created_at', "
            "p_type := 'native', p_interval := 'monthly', p_premake := 3, p_start_partition := %s, "
            "p_jobmon := false)")


def setup_partman(server: LocalServer, tables: int, product: str) -> float:
    """The same tables under pg_partman: native, monthly, premake 3, from the current month on.

    create_parent adds the DEFAULT partition itself. Every table gets one row of the current month, in
    every database.

    ``partman``: the server's default pg_partman version (4.7.2, Debian 12's, where it is installed), at its
    defaults (infinite_time_partitions off: it premakes ahead of the newest row stored). ``partman5``:
    version 5.1.0 with infinite_time_partitions on (it premakes ahead of now, as pg_steward does). The major
    picks the API: 4.x ``p_type 'native'`` with ``p_interval 'monthly'``, 5.x ``p_type 'range'`` with an
    interval.
    """
    start_partition = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-01 00:00:00+00")
    with connect(server, product) as conn:
        conn.execute("CREATE SCHEMA partman")
        if product == "partman5":
            conn.execute(f"CREATE EXTENSION pg_partman SCHEMA partman VERSION '{PARTMAN5}'")
        else:
            conn.execute("CREATE EXTENSION pg_partman SCHEMA partman")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        create_parent = partman_create_parent(conn)
        start = time.perf_counter()
        in_batches(conn, [table_ddl(i) for i in range(tables)])
        for i in range(tables):
            conn.execute(create_parent, (f"public.t_{i}", start_partition))
        elapsed = time.perf_counter() - start
        if product == "partman5":
            conn.execute("UPDATE partman.part_config SET infinite_time_partitions = true")
        conn.execute(
            f"DO $$ BEGIN FOR i IN 0..{tables - 1} LOOP "
            "EXECUTE format('INSERT INTO public.t_%s VALUES (1, now(), 1)', i); END LOOP; END $$")
        vacuum(conn)
    return elapsed


STEWARD_SELECT = "SELECT count(*) FROM steward.maintain_partitions()"
STEWARD_CALL = "CALL steward.run_maintenance()"
PARTMAN_RUN = "SELECT partman.run_maintenance(p_analyze := false, p_jobmon := false)"

RUNNERS = {
    "steward maintain_partitions()": ("steward", STEWARD_SELECT),
    "steward run_maintenance()": ("steward", STEWARD_CALL),
    "partman run_maintenance()": ("partman", PARTMAN_RUN),
    "partman 5.1.0 run_maintenance()": ("partman5", PARTMAN_RUN),
}
PRODUCTS = ("steward", *PEERS)


def backend_peak_kb(conn: psycopg.Connection) -> int | None:
    """Peak resident memory of this connection's backend (VmHWM of /proc/PID/status), in kB."""
    pid = one(conn, "SELECT pg_backend_pid()")
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def session_cost(server: LocalServer, runs: int) -> dict[str, Any]:
    """A fresh session's fixed cost: ``psql -c`` of ``SELECT steward.version()`` against ``SELECT 1``,
    each ``runs`` times, interleaved; median wall seconds of the whole psql process."""
    psql = str(bindir() / "psql")
    url = server.url_for(DBS["steward"])
    statements = {"SELECT 1": "SELECT 1", "SELECT steward.version()": "SELECT steward.version()"}
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, sql in statements.items():
            start = time.perf_counter()
            subprocess.run([psql, "-X", "-q", "-d", url, "-c", sql], check=True, capture_output=True)
            samples[name].append(time.perf_counter() - start)
    medians = {name: median(v) for name, v in samples.items()}
    return {"samples": samples, "median": medians,
            "python_load_seconds": medians["SELECT steward.version()"] - medians["SELECT 1"]}


# --------------------------------------------------------------------------- (a) nothing due


def bench_idle(server: LocalServer, repeat: int) -> dict[str, Any]:
    """Maintenance of every table when no partition is due; each variant ``repeat`` times, interleaved, in
    warm sessions and as the first call of a fresh session (with the backend's peak memory after it)."""
    conns = {p: connect(server, p) for p in PRODUCTS}
    fresh_samples: dict[str, list[float]] = {name: [] for name in RUNNERS}
    fresh_peak: dict[str, list[int | None]] = {name: [] for name in RUNNERS}
    with connect(server, "steward") as bare:
        bare.execute("SELECT 1")
        bare_peak = backend_peak_kb(bare)
    try:
        before = {p: count_partitions(c) for p, c in conns.items()}
        cold: dict[str, float] = {}
        for name, (product, sql) in RUNNERS.items():
            # First call in a fresh session: pg_steward loads its Python package here.
            with connect(server, product) as fresh:
                cold[name], _ = timed(fresh, sql)
        for product, sql in RUNNERS.values():  # warm the sessions that are timed
            conns[product].execute(sql)
        samples: dict[str, list[float]] = {name: [] for name in RUNNERS}
        names = list(RUNNERS)
        for r in range(repeat):
            for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
                product, sql = RUNNERS[name]
                seconds, rows = timed(conns[product], sql)
                if name == "steward maintain_partitions()" and rows[0][0] != 0:
                    raise RuntimeError(f"pg_steward did {rows[0][0]} actions where nothing was due")
                samples[name].append(seconds)
                with connect(server, product) as fresh:
                    seconds, _ = timed(fresh, sql)
                    fresh_samples[name].append(seconds)
                    fresh_peak[name].append(backend_peak_kb(fresh))
        after = {p: count_partitions(c) for p, c in conns.items()}
        if before != after:
            raise RuntimeError(f"partitions changed while nothing was due: {before} -> {after}")
        failures = one(conns["steward"], "SELECT count(*) FROM steward.partition_maintenance_log WHERE NOT ok")
        if failures:
            raise RuntimeError(f"pg_steward logged {failures} failures")
    finally:
        for c in conns.values():
            c.close()
    medians = {name: median(s) for name, s in samples.items()}
    peaks = {name: max((k for k in v if k is not None), default=None) for name, v in fresh_peak.items()}
    return {"samples": samples, "median": medians, "cold_first_call": cold, "partitions": before,
            "fresh_samples": fresh_samples, "fresh_median": {n: median(s) for n, s in fresh_samples.items()},
            "peak_kb": {"fresh session, SELECT 1": bare_peak, **peaks}}


# --------------------------------------------------------------------------- (b) one partition due per table


def raise_premake(conn: psycopg.Connection, product: str, by: int) -> None:
    table = "steward.partition_config" if product == "steward" else "partman.part_config"
    conn.execute(f"UPDATE {table} SET premake = premake + %s", (by,))


def due_run(server: LocalServer, conn: psycopg.Connection, name: str, tables: int) -> float:
    """Make one new partition due for every table, time one maintenance run, then restore the state."""
    product, sql = RUNNERS[name]
    before = children(conn)
    raise_premake(conn, product, 1)
    seconds, _ = timed(conn, sql)
    after = children(conn)
    new = {parent: after[parent] - before.get(parent, set()) for parent in after}
    made = sum(len(v) for v in new.values())
    if made != tables or any(len(v) != 1 for v in new.values()):
        raise RuntimeError(f"{name}: {made} partitions created, expected one for each of {tables} tables")
    in_batches(conn, [f"DROP TABLE public.{child}" for v in new.values() for child in v])
    raise_premake(conn, product, -1)
    if product == "steward":
        conn.execute("TRUNCATE steward.partition_maintenance_log")
    vacuum(conn)
    return seconds


def bench_due(server: LocalServer, tables: int, repeat: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in RUNNERS}
    conns = {p: connect(server, p) for p in PRODUCTS}
    try:
        for product, sql in RUNNERS.values():  # warm sessions (nothing due)
            conns[product].execute(sql)
        names = list(RUNNERS)
        for r in range(repeat):
            for name in names[r % len(names):] + names[:r % len(names)]:
                product, _ = RUNNERS[name]
                seconds = due_run(server, conns[product], name, tables)
                samples[name].append(seconds)
                step(f"  (b) {name}: {seconds:.3f} s")
        # The sessions' peak memory (VmHWM) over their runs; pg_steward's two calls share one session.
        peaks = {product: backend_peak_kb(conn) for product, conn in conns.items()}
    finally:
        for c in conns.values():
            c.close()
    return {"samples": samples, "median": {name: median(s) for name, s in samples.items()}, "peak_kb": peaks}


# --------------------------------------------------------------------------- (c) rows moved out of DEFAULT


def build_big(conn: psycopg.Connection, rows: int) -> dict[str, int]:
    """``big``: DEFAULT holds ``rows`` rows of January 2020 and ``rows // 10`` of June to November 2019;
    December 2019 and February 2020 are partitions holding ``rows // 20`` rows each."""
    other = rows // 10
    side = rows // 20
    conn.execute("DROP TABLE IF EXISTS public.big")
    for sql in (
        "CREATE TABLE public.big (id bigint, created_at timestamptz NOT NULL, v int) PARTITION BY RANGE (created_at)",
        "CREATE TABLE public.big_p2019_12 PARTITION OF public.big "
        "FOR VALUES FROM ('2019-12-01 00:00+00') TO ('2020-01-01 00:00+00')",
        "CREATE TABLE public.big_p2020_02 PARTITION OF public.big "
        "FOR VALUES FROM ('2020-02-01 00:00+00') TO ('2020-03-01 00:00+00')",
        "CREATE TABLE public.big_default PARTITION OF public.big DEFAULT",
    ):
        conn.execute(sql)
    spread = "((g::bigint * 7919) %% ({days} * 86400)) * interval '1 second'"
    for first, count, start, days in (
        (0, rows, "2020-01-01", 31),
        (rows, other, "2019-06-01", 183),
        (rows + other, side, "2019-12-01", 31),
        (rows + other + side, side, "2020-02-01", 29),
    ):
        conn.execute(
            f"INSERT INTO public.big SELECT %s + g, timestamptz '{start} 00:00+00' + {spread.format(days=days)}, "
            "(g %% 1000)::int FROM generate_series(1, %s) AS g",
            (first, count),
        )
    conn.execute("VACUUM (FREEZE, ANALYZE) public.big")
    conn.execute("CHECKPOINT")
    return {"month": rows, "default_other": other, "total": rows + other + 2 * side}


def big_counts(conn: psycopg.Connection, new_partition: str) -> dict[str, int]:
    return {
        "new_partition": one(conn, f"SELECT count(*) FROM public.{new_partition}"),
        "default": one(conn, "SELECT count(*) FROM public.big_default"),
        "total": one(conn, "SELECT count(*) FROM public.big"),
        "partitions": one(conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.big'::regclass"),
    }


def steward_create(conn: psycopg.Connection) -> tuple[float, str]:
    seconds, rows = timed(conn, "SELECT steward.create_partition('public.big', '2020-01-01', '1 month')::text")
    return seconds, rows[0][0].split(".")[-1]


def manual_create(conn: psycopg.Connection) -> tuple[float, str]:
    """The classic manual fix, in one transaction."""
    low, high = "'2020-01-01 00:00+00'", "'2020-02-01 00:00+00'"
    where = f"created_at >= {low} AND created_at < {high}"
    start = time.perf_counter()
    with conn.transaction():
        conn.execute("CREATE TABLE public.big_p2020_01 (LIKE public.big INCLUDING ALL)")
        conn.execute(f"INSERT INTO public.big_p2020_01 SELECT * FROM public.big_default WHERE {where}")
        conn.execute(f"DELETE FROM public.big_default WHERE {where}")
        conn.execute(f"ALTER TABLE public.big ATTACH PARTITION public.big_p2020_01 FOR VALUES FROM ({low}) TO ({high})")
    return time.perf_counter() - start, "big_p2020_01"


def bench_default_rescue(server: LocalServer, rows: int, repeat: int) -> dict[str, Any]:
    conns = {"steward": connect(server, "steward"), "manual": connect(server, "manual")}
    conns["steward"].execute("SELECT * FROM steward.version()")  # load the Python package outside the timing
    runs: dict[str, Callable[[psycopg.Connection], tuple[float, str]]] = {
        "steward": steward_create, "manual": manual_create}
    samples: dict[str, list[float]] = {"steward": [], "manual": []}
    counts: dict[str, dict[str, int]] = {}
    try:
        for r in range(repeat):
            order = ["steward", "manual"] if r % 2 == 0 else ["manual", "steward"]
            for product in order:
                expected = build_big(conns[product], rows)
                seconds, partition = runs[product](conns[product])
                got = big_counts(conns[product], partition)
                want = {"new_partition": expected["month"], "default": expected["default_other"],
                        "total": expected["total"], "partitions": 4}
                if got != want:
                    raise RuntimeError(f"(c) {product}: row counts {got}, expected {want}")
                counts[product] = got
                samples[product].append(seconds)
                step(f"  (c) {product}: {seconds:.3f} s")
        if counts["steward"] != counts["manual"]:
            raise RuntimeError(f"(c) row counts differ: {counts}")
    finally:
        for c in conns.values():
            c.close()
    return {"samples": samples, "median": {p: median(s) for p, s in samples.items()}, "row_counts": counts}


# --------------------------------------------------------------------------- profile (not timed)


@contextmanager
def statement_profile(conn: psycopg.Connection) -> Iterator[dict[str, Any]]:
    """Every statement of this database, nested ones included, while the block runs."""
    conn.execute("SET pg_stat_statements.track = 'all'")
    conn.execute("SET pg_stat_statements.track_planning = on")
    conn.execute("SELECT pg_stat_statements_reset()")
    out: dict[str, Any] = {}
    start = time.perf_counter()
    yield out
    out["wall_seconds"] = time.perf_counter() - start
    conn.execute("SET pg_stat_statements.track = 'none'")
    rows = conn.execute(
        "SELECT toplevel, calls, total_exec_time, total_plan_time, query FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query !~* 'pg_stat_statements|^SET pg_stat' ORDER BY total_exec_time + total_plan_time DESC"
    ).fetchall()
    conn.execute("RESET pg_stat_statements.track")
    conn.execute("RESET pg_stat_statements.track_planning")
    top_ms = sum(r[2] + r[3] for r in rows if r[0])
    nested = [r for r in rows if not r[0]]
    nested_ms = sum(r[2] + r[3] for r in nested)
    out.update({
        "toplevel_ms": round(top_ms, 1),
        "nested_statements_ms": round(nested_ms, 1),
        "outside_statements_ms": round(top_ms - nested_ms, 1),  # Python / PL/pgSQL code, SPI, plan cache lookups
        "nested_calls": sum(r[1] for r in nested),
        "top": [{"calls": r[1], "exec_ms": round(r[2], 1), "plan_ms": round(r[3], 1),
                 "query": " ".join(r[4].split())[:160]} for r in nested[:15]],
    })


PY_PROFILE = """
import cProfile, json
from pg_steward.runtime import database
from pg_steward.partitions.create import create_partition
from pg_steward.partitions.maintain import maintain_partitions, run_maintenance
profiler = cProfile.Profile()
profiler.enable()
%s
profiler.disable()
profiler.create_stats()
rows = []
for (path, line, function), (_, calls, tottime, cumtime, _) in profiler.stats.items():
    rows.append({"function": "%%s:%%s(%%s)" %% (path.rsplit("/", 1)[-1], line, function),
                 "calls": calls, "tottime_ms": round(tottime * 1000, 1), "cumtime_ms": round(cumtime * 1000, 1)})
rows.sort(key=lambda r: -r["tottime_ms"])
plpy.notice("PROFILE " + json.dumps({"total_ms": round(sum(r["tottime_ms"] for r in rows), 1), "top": rows[:20]}))
"""


def python_profile(conn: psycopg.Connection, call: str) -> dict[str, Any]:
    """cProfile of pg_steward's Python inside the server, with the settings its SQL functions pin.

    Time under ``plpy.execute`` is the statements plus the conversion of their results to Python.
    """
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("SELECT * FROM steward.version()")  # loads the package
    for setting in ("search_path = pg_catalog, pg_temp", "DateStyle = 'ISO, YMD'", "TimeZone = 'UTC'",
                    "IntervalStyle = 'iso_8601'"):
        conn.execute(f"SET {setting}")
    start = time.perf_counter()
    conn.execute("DO LANGUAGE plpython3u $do$" + PY_PROFILE % call + "$do$")
    wall = time.perf_counter() - start
    conn.execute("RESET ALL")
    found = [json.loads(n[len("PROFILE "):]) for n in notices if n.startswith("PROFILE ")]
    return {"wall_seconds_with_profiler": wall, **found[-1]}


def procedure_due_profile(conn: psycopg.Connection, tables: int) -> dict[str, Any]:
    """``CALL steward.run_maintenance()`` with one partition due per table: its statements, then a cProfile of
    the same work (a DO block, which may commit), the state restored after each."""
    out: dict[str, Any] = {}
    for name in ("(b) steward procedure", "(b) steward procedure python"):
        before = children(conn)
        raise_premake(conn, "steward", 1)
        if name.endswith("python"):
            out[name] = python_profile(conn, "run_maintenance(database(), plpy.commit)")
        else:
            with statement_profile(conn) as prof:
                conn.execute(STEWARD_CALL)
            prof["statements_per_table"] = round(prof["nested_calls"] / tables, 2)
            out[name] = prof
        after = children(conn)
        in_batches(conn, [f"DROP TABLE public.{c}" for p in after for c in after[p] - before.get(p, set())])
        raise_premake(conn, "steward", -1)
        conn.execute("TRUNCATE steward.partition_maintenance_log")
        vacuum(conn)
    return out


def profile(server: LocalServer, tables: int, rows: int) -> dict[str, Any]:
    """One run of each pg_steward measurement (and pg_partman's), every nested statement counted."""
    out: dict[str, Any] = {}
    for product in PRODUCTS:
        sql = STEWARD_SELECT if product == "steward" else PARTMAN_RUN
        with connect(server, product) as conn:
            conn.execute(sql)  # warm
            with statement_profile(conn) as prof:
                conn.execute(sql)
            prof["statements_per_table"] = round(prof["nested_calls"] / tables, 2)
            out[f"(a) {product}"] = prof
            if product == "steward":
                out["(a) steward python"] = python_profile(conn, "maintain_partitions(database(), None)")
            before = children(conn)
            raise_premake(conn, product, 1)
            with statement_profile(conn) as prof:
                conn.execute(sql)
            prof["statements_per_table"] = round(prof["nested_calls"] / tables, 2)
            out[f"(b) {product}"] = prof
            after = children(conn)
            in_batches(conn, [f"DROP TABLE public.{c}" for p in after for c in after[p] - before.get(p, set())])
            raise_premake(conn, product, -1)
            vacuum(conn)
            if product == "steward":  # the procedure, one partition due per table: its statements, its Python
                out.update(procedure_due_profile(conn, tables))
    with connect(server, "steward") as conn:
        conn.execute("SELECT * FROM steward.version()")
        build_big(conn, rows)
        with statement_profile(conn) as prof:
            steward_create(conn)
        out["(c) steward"] = prof
        build_big(conn, rows)
        out["(c) steward python"] = python_profile(
            conn, "create_partition(database(), 'public.big', '2020-01-01', '1 month', None)")
        conn.execute("DROP TABLE public.big")
    return out


# --------------------------------------------------------------------------- report


def report(result: dict[str, Any]) -> None:
    facts = result["facts"]
    console.print(
        f"[bold]Machine[/bold]: {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory_gb']} GB; "
        f"{facts['postgresql'].split(' on ')[0]}; pg_steward {facts['pg_steward'].get('sql_version')}; "
        f"pg_partman {facts['pg_partman']}")
    p = result["parameters"]
    console.print(f"[bold]Parameters[/bold]: {p['tables']} tables, {p['rows']:,} rows, repeat {p['repeat']}")
    table = Table(title="Partition maintenance: pg_steward vs pg_partman / manual SQL (median seconds)")
    for col in ("measurement", "pg_steward", "peer", "peer s", "steward s", "ratio", "goal", "met"):
        table.add_column(col, justify="right" if col.endswith((" s", "ratio")) else "left")
    for row in result["summary"]:
        table.add_row(row["measurement"], row["steward"], row["peer"], f"{row['peer_seconds']:.3f}",
                      f"{row['steward_seconds']:.3f}", f"{row['ratio']:.2f} ({row['ratio_name']})", row["goal"],
                      "[green]yes[/green]" if row["met"] else "[red]no[/red]")
    console.print(table)
    setup = result["setup_seconds"]
    console.print(f"Setup of {p['tables']} tables: pg_steward manage() {setup['steward']:.1f} s, "
                  f"pg_partman create_parent() {setup['partman']:.1f} s, "
                  f"pg_partman 5.1.0 create_parent() {setup['partman5']:.1f} s")
    cold = result["a_idle"]["cold_first_call"]
    console.print("First call in a new session (a): " + ", ".join(f"{k} {v:.3f} s" for k, v in cold.items()))
    cost = result["session_cost"]["median"]
    console.print("Fresh session, psql -c (median): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in cost.items()))
    peaks = {**{f"(a) fresh {k}": v for k, v in result["a_idle"]["peak_kb"].items()},
             **{f"(b) session of {k}": v for k, v in result["b_due"]["peak_kb"].items()}}
    console.print("Backend peak memory (VmHWM): " + ", ".join(
        f"{k} {v / 1024:.0f} MB" if v else f"{k} n/a" for k, v in peaks.items()))
    for name, prof in result.get("profile", {}).items():
        if name.endswith("python"):
            wall = prof["wall_seconds_with_profiler"]
            t = Table(title=f"profile {name} (cProfile inside the server): wall {wall:.3f} s with the profiler on",
                      title_justify="left")
            for col in ("calls", "own ms", "cumulative ms", "function"):
                t.add_column(col, justify="left" if col == "function" else "right")
            for f in prof["top"][:12]:
                t.add_row(str(f["calls"]), f"{f['tottime_ms']:.1f}", f"{f['cumtime_ms']:.1f}", f["function"])
            console.print(t)
            continue
        if "partman" in name or "procedure" in name:  # nested statements inside nested ones: no sum is shown
            title = f"profile {name}: wall {prof['wall_seconds']:.3f} s, {prof['nested_calls']} nested statements"
        else:
            title = (f"profile {name}: wall {prof['wall_seconds']:.3f} s, statements "
                     f"{prof['nested_statements_ms']:.0f} ms in {prof['nested_calls']} calls "
                     f"({prof.get('statements_per_table', 0):g} per table), "
                     f"outside statements {prof['outside_statements_ms']:.0f} ms")
        t = Table(title=title, title_justify="left")
        for col in ("calls", "exec ms", "plan ms", "statement"):
            t.add_column(col, justify="left" if col == "statement" else "right")
        for s in prof["top"][:8]:
            t.add_row(str(s["calls"]), f"{s['exec_ms']:.1f}", f"{s['plan_ms']:.1f}", s["query"][:100])
        console.print(t)


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    idle = result["a_idle"]["median"]
    due = result["b_due"]["median"]
    fresh = result["a_idle"]["fresh_median"]
    versions = result["facts"].get("pg_partman_versions", {})
    for peer_name, version, goals in (
        ("partman run_maintenance()", versions.get("partman", "default"), (10.0, 10.0, 1.0)),
        ("partman 5.1.0 run_maintenance()", versions.get("partman5", PARTMAN5), (20.0, 20.0, 3.0)),
    ):
        for label, data, need in (
            ("(a) nothing due", idle, goals[0]),
            ("(a) nothing due, fresh session", fresh, goals[1]),
            ("(b) one partition due per table", due, goals[2]),
        ):
            peer = data[peer_name]
            for name in ("steward maintain_partitions()", "steward run_maintenance()"):
                r = ratio(peer, data[name])
                rows.append({"measurement": label, "steward": name.split(" ", 1)[1],
                             "peer": f"pg_partman {version} run_maintenance()",
                             "steward_seconds": data[name], "peer_seconds": peer, "ratio": r,
                             "ratio_name": "partman/steward", "goal": f">= {need:g}", "met": r >= need})
    if "c_default_rescue" not in result:
        return rows
    rescue = result["c_default_rescue"]["median"]
    r = ratio(rescue["steward"], rescue["manual"])
    rows.append({"measurement": f"(c) {result['parameters']['rows']:,} rows out of DEFAULT",
                 "steward": "create_partition()", "peer": "manual SQL, one transaction",
                 "steward_seconds": rescue["steward"], "peer_seconds": rescue["manual"], "ratio": r,
                 "ratio_name": "steward/manual", "goal": "<= 1.3", "met": r <= 1.3})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=1000, help="managed tables in (a) and (b)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows moved out of DEFAULT in (c); 0 skips (c)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median reported)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 tables, 50,000 rows, repeat 2")
    parser.add_argument("--no-profile", action="store_true", help="skip the pg_stat_statements profile pass")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.tables, args.rows, args.repeat = 50, 50_000, 2

    result: dict[str, Any] = {"parameters": {"tables": args.tables, "rows": args.rows, "repeat": args.repeat,
                                             "quick": args.quick}}
    started = time.perf_counter()
    ensure_partman5()
    step("starting a throwaway PostgreSQL server")
    with LocalServer(settings=SERVER_SETTINGS) as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            for db in DBS.values():
                admin.execute(f"CREATE DATABASE {db}")
        step(f"setup: {args.tables} tables under pg_steward")
        steward_setup = setup_steward(server, args.tables)
        result["setup_seconds"] = {"steward": steward_setup}
        for product in PEERS:
            step(f"setup: {args.tables} tables under pg_partman ({product})")
            result["setup_seconds"][product] = setup_partman(server, args.tables, product)
        result["facts"] = machine_facts(server)
        step("fresh session's fixed cost (psql -c)")
        result["session_cost"] = session_cost(server, max(5, 2 * args.repeat))
        step("(a) maintenance, nothing due")
        result["a_idle"] = bench_idle(server, args.repeat)
        step("(b) maintenance, one partition due per table")
        result["b_due"] = bench_due(server, args.tables, args.repeat)
        if args.rows:
            step(f"(c) {args.rows:,} rows out of DEFAULT")
            result["c_default_rescue"] = bench_default_rescue(server, args.rows, args.repeat)
        if args.rows and not args.no_profile:
            step("profile (pg_stat_statements, track = all; not timed)")
            result["profile"] = profile(server, args.tables, args.rows)
    result["summary"] = summarize(result)
    result["total_seconds"] = time.perf_counter() - started
    report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    console.print(f"written: {args.output}  (total {result['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
