#!/usr/bin/env python3
"""Fingerprints per second inside the server, and analyze_query_performance against a bare EXPLAIN.

(a) ``steward.query_fingerprint`` over ``--statements`` distinct statements
    stored in a table, in one SQL statement, after a warm-up call (the first
    call of a session loads the package and pglast; that cost is reported
    apart as ``first_call_ms``).
(b) For a slow-ish join and a fast index lookup, ``--repeat`` rounds, each
    running every variant once in an order that rotates from round to round:
    ``EXPLAIN (ANALYZE, FORMAT JSON) q`` sent by the client, the same with
    BUFFERS and VERBOSE (the options pg_steward runs: BUFFERS instruments
    every row, which costs on its own), and
    ``SELECT * FROM steward.analyze_query_performance(q)``, all sent the same
    way. Medians, their ratio and their difference in ms; the goal is
    <= 1.05x + 2 ms of the same options. Ours also classifies the statement,
    parses the plan, reads the catalog facts for advice, records its own
    sequential scans and rolls back a subtransaction. Each variant's time
    outside the query's own execution (wall clock minus the top plan node's
    time, which each reports) is printed too: it does not carry the query's
    run-to-run spread. So does the backend's CPU time per call
    (/proc/<pid>/schedstat, with a serial plan; the server runs on this
    machine). ``--baseline REV`` adds "before": a second session
    running the plan analysis modules of a git revision.

    .venv/bin/python bench/query_analysis.py --quick
    .venv/bin/python bench/query_analysis.py
    .venv/bin/python bench/query_analysis.py --skip-fingerprints --repeat 40 --baseline HEAD

Results: stdout and bench/results/query_analysis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

import psycopg  # noqa: E402

from pg_steward.localserver import LocalServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "query_analysis.json"

QUERIES = {
    "join_aggregate": "SELECT c.region, count(*), sum(o.total) FROM orders o JOIN customers c ON c.id = o.customer_id "
                      "WHERE o.total > 10 GROUP BY c.region",
    "index_lookup": "SELECT * FROM orders WHERE id = 4242",
}


def statements(n: int) -> list[str]:
    """Distinct statements of varied shapes and lengths."""
    shapes = [
        "SELECT * FROM t{i} WHERE id = 1",
        "SELECT a, b, count(*) FROM s{i}.orders o JOIN customers c ON c.id = o.c WHERE o.x IN (1, 2, 3) "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10",
        "UPDATE accounts_{i} SET balance = balance - 5 WHERE id = $1 RETURNING balance",
        "INSERT INTO log_{i} (at, msg) VALUES (now(), 'event {i}') ON CONFLICT DO NOTHING",
        "WITH r AS (SELECT * FROM e{i} WHERE at > now() - interval '1 day') SELECT count(*) FROM r "
        "WHERE kind = 'x{i}'",
    ]
    # Names in letters: libpg_query gives one fingerprint to names that differ only in a number suffix.
    return [shapes[i % len(shapes)].format(i="".join(chr(97 + int(d)) for d in str(i))) for i in range(n)]


def fingerprint_rate(url: str, n: int) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE corpus (q text)")
        with conn.cursor().copy("COPY corpus (q) FROM STDIN") as copy:
            for q in statements(n):
                copy.write_row((q,))
        started = time.perf_counter()
        conn.execute("SELECT steward.query_fingerprint('SELECT 1')")
        first_call = time.perf_counter() - started
        started = time.perf_counter()
        distinct = conn.execute("SELECT count(DISTINCT steward.query_fingerprint(q)) FROM corpus").fetchone()[0]
        elapsed = time.perf_counter() - started
    return {"statements": n, "seconds": elapsed, "per_second": n / elapsed, "distinct_fingerprints": distinct,
            "first_call_ms": first_call * 1000}


def timed(conn: psycopg.Connection, sql: str, params: list) -> tuple[float, list]:
    started = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return (time.perf_counter() - started) * 1000, rows


def cpu_ns(pid: int) -> int:
    """Time the process has run on a CPU, in ns (/proc/<pid>/schedstat): unlike wall clock, it does not grow
    while the process waits for a CPU on a loaded machine."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def executed_ms(variant: str, rows: list) -> float:
    """The query's own run time as its plan reports it: the top node's inclusive time.

    EXPLAIN's JSON holds it as "Actual Total Time" of the top plan node (one loop); analyze_query_performance
    returns the same figure as the time_ms of node 1 (its first row).
    """
    if variant in ("ours", "before"):
        return float(rows[0][6])
    return float(rows[0][0][0]["Plan"]["Actual Total Time"])


# Modules of the plan analysis that --baseline can swap for a revision's, in import order.
BASELINE_MODULES = ("facts", "plan", "advice", "explain")

_SWAP = """
CREATE FUNCTION public.bench_swap_modules(names text[], sources text[]) RETURNS void LANGUAGE plpython3u AS $py$
import sys
import types
import pg_steward.queries as package
for name, source in zip(names, sources):
    full = "pg_steward.queries." + name
    module = types.ModuleType(full)
    module.__file__ = "<baseline " + name + ".py>"
    sys.modules[full] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    setattr(package, name, module)
$py$
"""


def baseline_sources(revision: str) -> dict[str, str]:
    """The plan analysis modules of ``revision`` that differ from this tree's (git show)."""
    sources = {}
    for name in BASELINE_MODULES:
        path = f"python/pg_steward/queries/{name}.py"
        old = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"], capture_output=True,
                             text=True, check=True).stdout
        if old != (ROOT / path).read_text():
            sources[name] = old
    return sources


def analyze_overhead(url: str, repeat: int, baseline: dict[str, str] | None) -> dict:
    """Medians over ``repeat`` rounds; every round runs each variant once, in an order that rotates.

    The variants are sent the same way (extended protocol, one statement, results fetched) in one session
    each; "before" (with --baseline) is a second session running a revision's plan analysis modules. Besides
    the wall-clock medians, the time outside the query's own execution (wall clock minus the top plan node's
    time, which each variant reports) is the overhead without the query's run-to-run spread.
    """
    results = {}
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url, autocommit=True) as old:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, region text)")
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric)")
        conn.execute("INSERT INTO customers SELECT g, 'r' || g % 10 FROM generate_series(1, 10000) g")
        conn.execute("INSERT INTO orders SELECT g, 1 + g % 10000, g % 100 FROM generate_series(1, 300000) g")
        conn.execute("VACUUM ANALYZE customers, orders")
        sessions = {"bare": conn, "same": conn, "ours": conn}
        if baseline is not None:
            conn.execute(_SWAP)
            old.execute("SELECT steward.version()")
            old.execute("SELECT public.bench_swap_modules(%s, %s)", [list(baseline), list(baseline.values())])
            sessions["before"] = old
        for name, query in QUERIES.items():
            sql = {"bare": (f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", []),
                   "same": (f"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) {query}", []),
                   "ours": ("SELECT * FROM steward.analyze_query_performance(%s)", [query])}
            sql["before"] = sql["ours"]
            variants = list(sessions)
            walls: dict[str, list[float]] = {v: [] for v in variants}
            outside: dict[str, list[float]] = {v: [] for v in variants}
            for round_ in range(3 + repeat):  # the first 3 warm caches and the sessions' package
                for variant in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
                    wall, rows = timed(sessions[variant], *sql[variant])
                    if round_ >= 3:
                        walls[variant].append(wall)
                        outside[variant].append(wall - executed_ms(variant, rows))
            # The backends' own CPU time per call, with a serial plan (a parallel worker's share of the work,
            # which varies, would move the leader's): the overhead without the machine's load.
            pids = {v: sessions[v].execute("SELECT pg_backend_pid()").fetchone()[0] for v in variants}
            cpu: dict[str, list[float]] = {v: [] for v in variants}
            for session in set(sessions.values()):
                session.execute("SET max_parallel_workers_per_gather = 0")
            for round_ in range(1 + repeat):
                for variant in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
                    before = cpu_ns(pids[variant])
                    timed(sessions[variant], *sql[variant])
                    if round_ >= 1:
                        cpu[variant].append((cpu_ns(pids[variant]) - before) / 1e6)
            for session in set(sessions.values()):
                session.execute("RESET max_parallel_workers_per_gather")
            cpu_med = {v: statistics.median(cpu[v]) for v in variants}
            med = {v: statistics.median(walls[v]) for v in variants}
            out = {v: statistics.median(outside[v]) for v in variants}
            b, s, o = med["bare"], med["same"], med["ours"]
            results[name] = {"bare_ms": b, "same_options_ms": s, "ours_ms": o, "ratio": o / b, "extra_ms": o - b,
                             "ratio_same_options": o / s, "extra_ms_same_options": o - s,
                             "paired_ratio_same_options": statistics.median(
                                 x / y for x, y in zip(walls["ours"], walls["same"], strict=True)),
                             "outside_execution_ms": out, "rounds": repeat,
                             "serial_cpu_ms": cpu_med}
            if "before" in med:
                results[name].update(before_ms=med["before"], ratio_before_same_options=med["before"] / s,
                                     extra_ms_before_same_options=med["before"] - s)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 statements, 10 repeats")
    parser.add_argument("--statements", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run the plan analysis modules of this git revision, in a second session")
    parser.add_argument("--skip-fingerprints", action="store_true", help="only the analysis overhead")
    args = parser.parse_args()
    if args.quick:
        args.statements, args.repeat = 5_000, 10
    with LocalServer() as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        url = server.url_for("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        baseline = baseline_sources(args.baseline) if args.baseline else None
        result = {"analyze": analyze_overhead(url, args.repeat, baseline)}
        if not args.skip_fingerprints:
            result["fingerprints"] = fingerprint_rate(url, args.statements)
    result.update(parameters={**vars(args), "output": str(args.output)},
                  machine={"cpus": os.cpu_count(), "python": platform.python_version()})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    if "fingerprints" in result:
        fp = result["fingerprints"]
        print(f"fingerprints inside the server: {fp['per_second']:,.0f}/s over {fp['statements']:,} statements "
              f"({fp['distinct_fingerprints']:,} distinct); first call of a session {fp['first_call_ms']:.0f} ms")
    for name, r in result["analyze"].items():
        limit = 1.05 * r["same_options_ms"] + 2
        print(f"{name}, medians of {r['rounds']} rounds: analyze_query_performance {r['ours_ms']:.2f} ms; "
              f"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON), the options it runs, {r['same_options_ms']:.2f} ms: "
              f"{r['ratio_same_options']:.3f}x (+{r['extra_ms_same_options']:.2f} ms, paired "
              f"{r['paired_ratio_same_options']:.3f}x); goal <= 1.05x + 2 ms = {limit:.2f} ms: "
              f"{'met' if r['ours_ms'] <= limit else 'not met'}")
        print(f"  bare EXPLAIN (ANALYZE, FORMAT JSON) {r['bare_ms']:.2f} ms: "
              f"{r['ratio']:.3f}x (+{r['extra_ms']:.2f} ms)")
        if "before_ms" in r:
            print(f"  before ({args.baseline}): {r['before_ms']:.2f} ms, {r['ratio_before_same_options']:.3f}x "
                  f"(+{r['extra_ms_before_same_options']:.2f} ms)")
        print("  outside the query's execution (wall clock minus the top plan node's time): " + ", ".join(
            f"{v} {ms:.2f} ms" for v, ms in r["outside_execution_ms"].items()))
        cpu = r["serial_cpu_ms"]
        print("  backend CPU time per call, serial plan: " + ", ".join(f"{v} {ms:.2f} ms" for v, ms in cpu.items())
              + f"; ours - same options {cpu['ours'] - cpu['same']:+.2f} ms")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
