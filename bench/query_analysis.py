#!/usr/bin/env python3
"""Fingerprints per second inside the server, and analyze_query_performance against a bare EXPLAIN.

(a) ``steward.query_fingerprint`` over ``--statements`` distinct statements
    stored in a table, in one SQL statement, after a warm-up call (the first
    call of a session loads the package and pglast; that cost is reported
    apart as ``first_call_ms``).
(b) For a slow-ish join and a fast index lookup, alternating ``--repeat``
    times: ``EXPLAIN (ANALYZE, FORMAT JSON) q`` sent by the client, the same
    with BUFFERS and VERBOSE (what pg_steward runs: BUFFERS instruments every
    row, which costs on its own), and
    ``SELECT * FROM steward.analyze_query_performance(q)``. Medians, their
    ratio and their difference in ms; the goal is <= 1.1x plus a few ms. Ours
    also collects BUFFERS and VERBOSE output, parses the plan, reads the
    catalog facts for advice and rolls back a subtransaction.

    .venv/bin/python bench/query_analysis.py --quick
    .venv/bin/python bench/query_analysis.py

Results: stdout and bench/results/query_analysis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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


def timed(conn: psycopg.Connection, sql: str, params: list) -> float:
    started = time.perf_counter()
    conn.execute(sql, params).fetchall()
    return (time.perf_counter() - started) * 1000


def analyze_overhead(url: str, repeat: int) -> dict:
    results = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, region text)")
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric)")
        conn.execute("INSERT INTO customers SELECT g, 'r' || g % 10 FROM generate_series(1, 10000) g")
        conn.execute("INSERT INTO orders SELECT g, 1 + g % 10000, g % 100 FROM generate_series(1, 300000) g")
        conn.execute("VACUUM ANALYZE customers, orders")
        for name, query in QUERIES.items():
            bare_sql = f"EXPLAIN (ANALYZE, FORMAT JSON) {query}"
            same_sql = f"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) {query}"
            ours_sql = "SELECT * FROM steward.analyze_query_performance(%s)"
            for _ in range(3):  # warm caches and the session's package
                timed(conn, bare_sql, [])
                timed(conn, same_sql, [])
                timed(conn, ours_sql, [query])
            bare, same, ours = [], [], []
            for _ in range(repeat):
                bare.append(timed(conn, bare_sql, []))
                same.append(timed(conn, same_sql, []))
                ours.append(timed(conn, ours_sql, [query]))
            b, s, o = statistics.median(bare), statistics.median(same), statistics.median(ours)
            results[name] = {"bare_ms": b, "same_options_ms": s, "ours_ms": o, "ratio": o / b, "extra_ms": o - b,
                             "ratio_same_options": o / s, "extra_ms_same_options": o - s}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 statements, 10 repeats")
    parser.add_argument("--statements", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    if args.quick:
        args.statements, args.repeat = 5_000, 10
    with LocalServer() as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        url = server.url_for("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        result = {"fingerprints": fingerprint_rate(url, args.statements), "analyze": analyze_overhead(url, args.repeat)}
    result.update(parameters={**vars(args), "output": str(args.output)},
                  machine={"cpus": os.cpu_count(), "python": platform.python_version()})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    fp = result["fingerprints"]
    print(f"fingerprints inside the server: {fp['per_second']:,.0f}/s over {fp['statements']:,} statements "
          f"({fp['distinct_fingerprints']:,} distinct); first call of a session {fp['first_call_ms']:.0f} ms")
    for name, r in result["analyze"].items():
        print(f"analyze_query_performance / bare EXPLAIN ANALYZE, {name}: "
              f"{r['ours_ms']:.2f} ms / {r['bare_ms']:.2f} ms "
              f"= {r['ratio']:.3f}x (+{r['extra_ms']:.2f} ms); goal <= 1.1x plus a few ms")
        print(f"  against EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON), the options it runs: "
              f"{r['same_options_ms']:.2f} ms, {r['ratio_same_options']:.3f}x (+{r['extra_ms_same_options']:.2f} ms)")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
