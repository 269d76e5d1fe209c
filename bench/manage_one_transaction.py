#!/usr/bin/env python3
"""Registering many tables in one transaction: ``steward.manage()`` against pg_partman 5.1.0's
``create_parent()``, N calls inside one BEGIN ... COMMIT each.

For each size of ``--sizes``, in one throwaway server, a fresh database per product and size:

- ``steward``: N monthly tables with a DEFAULT partition, then one transaction calling
  ``steward.manage(table, '1 month', premake => 3)`` for each;
- ``baseline`` (with ``--baseline REV``): the same, with the Python package of git revision REV loaded into
  the session in place of the installed one (same server, same SQL objects: the code before a change, run
  beside the code after it in the same machine state; ``--current REV`` does the same for ``steward``);
- ``partman5``: the same N tables without DEFAULT, then one transaction calling pg_partman 5.1.0's
  ``create_parent(table, 'created_at', '1 month', premake 3)`` for each (it adds the DEFAULT itself).

The products run one after another for each size. Reported: seconds, time per table, the time at each quarter
of the transaction and each quarter's share (growth inside it), the nested statements counted by
pg_stat_statements (``track = all``) with the costliest, and the ratios to pg_partman 5.1.0. ``--profile N``
adds a cProfile of pg_steward's Python inside the server over the last 50 of N calls in one transaction.

    .venv/bin/python bench/manage_one_transaction.py --sizes 100,500,1000,2000 --baseline main
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

import machine  # noqa: E402
from partition_maintenance import PARTMAN5, ensure_partman5, partman_create_parent  # noqa: E402
from pg_steward.localserver import LocalServer  # noqa: E402

# pg_stat_statements keeps 5,000 statements by default: each DDL statement naming a new table is one, and the
# counts of evicted ones would be lost.
SETTINGS = {"max_locks_per_transaction": "1024", "autovacuum": "off", "jit": "off", "pg_stat_statements.max": "100000"}
PROFILED_CALLS = 50

# Another revision's package in this session: the installed one is loaded first (its SQL objects' version
# check passes), then every pg_steward module is dropped and REV's imported in its place.
SWAP_PACKAGE = """
import sys
plpy.execute("SELECT steward._load_python()")
for name in [m for m in sys.modules if m == "pg_steward" or m.startswith("pg_steward.")]:
    del sys.modules[name]
sys.path.insert(0, %r)
import pg_steward
from pg_steward import runtime
runtime.attach(plpy)
plpy.notice("PACKAGE " + pg_steward.__file__)
"""

PY_PROFILE = """
import cProfile, json
for i in range(1, %(warm)d + 1):
    plpy.execute("SELECT count(*) FROM steward.manage('m.t_%%s', '1 month', premake => 3)" %% i)
profiler = cProfile.Profile()
profiler.enable()
for i in range(%(warm)d + 1, %(n)d + 1):
    plpy.execute("SELECT count(*) FROM steward.manage('m.t_%%s', '1 month', premake => 3)" %% i)
profiler.disable()
profiler.create_stats()
rows = []
for (path, line, function), (_, calls, tottime, cumtime, _) in profiler.stats.items():
    rows.append({"function": "%%s:%%s(%%s)" %% (path.rsplit("/", 1)[-1], line, function),
                 "calls": calls, "tottime_ms": round(tottime * 1000, 1), "cumtime_ms": round(cumtime * 1000, 1)})
rows.sort(key=lambda r: -r["tottime_ms"])
plpy.notice("PROFILE " + json.dumps({"total_ms": round(sum(r["tottime_ms"] for r in rows), 1), "top": rows[:25]}))
"""


def baseline_package(rev: str) -> str:
    """REV's ``python/`` directory, extracted into a directory the server's user can read."""
    directory = tempfile.mkdtemp(prefix="steward-baseline-")
    os.chmod(directory, 0o755)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "python/pg_steward"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return str(Path(directory) / "python")


def tables_sql(n: int, with_default: bool) -> str:
    default = ("EXECUTE format('CREATE TABLE m.t_%s_default PARTITION OF m.t_%s DEFAULT', i, i); "
               if with_default else "")
    return (f"DO $$ BEGIN FOR i IN 1..{n} LOOP "
            "EXECUTE format('CREATE TABLE m.t_%s (id bigint, created_at timestamptz NOT NULL) "
            f"PARTITION BY RANGE (created_at)', i); {default}END LOOP; END $$")


def database(server: LocalServer, admin: psycopg.Connection, name: str, product: str,
             package: str | None) -> psycopg.Connection:
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")
    conn = psycopg.connect(server.url_for(name), autocommit=True)
    conn.execute("CREATE EXTENSION pg_stat_statements")
    conn.execute("CREATE SCHEMA m")
    if product == "partman5":
        conn.execute("CREATE SCHEMA partman")
        conn.execute(f"CREATE EXTENSION pg_partman SCHEMA partman VERSION '{PARTMAN5}'")
    else:
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        if package is not None:
            conn.execute("DO LANGUAGE plpython3u $do$" + SWAP_PACKAGE % package + "$do$")
            loaded = [n for n in notices if n.startswith("PACKAGE ")]
            assert loaded and loaded[-1].startswith("PACKAGE " + package), loaded
        conn.execute("SELECT steward.version()")  # the package is loaded outside the timing
    return conn


def measure(conn: psycopg.Connection, product: str, n: int) -> dict[str, Any]:
    conn.execute(tables_sql(n, with_default=product != "partman5"))
    conn.execute("VACUUM ANALYZE")
    if product == "partman5":
        call = partman_create_parent(conn)
        month = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-01 00:00:00+00")
        calls = [(call, (f"m.t_{i}", month)) for i in range(1, n + 1)]
    else:
        calls = [(f"SELECT count(*) FROM steward.manage('m.t_{i}', '1 month', premake => 3)", None)
                 for i in range(1, n + 1)]
    conn.execute("SET pg_stat_statements.track = 'all'")
    conn.execute("SELECT pg_stat_statements_reset()")
    quarters = []
    start = time.perf_counter()
    with conn.transaction():
        for i, (sql, params) in enumerate(calls, 1):
            conn.execute(sql, params)
            if i % max(1, n // 4) == 0 and len(quarters) < 4:
                quarters.append(round(time.perf_counter() - start, 2))
    seconds = time.perf_counter() - start
    conn.execute("SET pg_stat_statements.track = 'none'")
    nested = conn.execute("SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
                          "WHERE NOT toplevel AND dbid = (SELECT oid FROM pg_database "
                          "WHERE datname = current_database())").fetchone()[0]
    top = conn.execute(
        "SELECT calls, round((total_exec_time + total_plan_time)::numeric, 1)::float8, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 120) FROM pg_stat_statements WHERE NOT toplevel "
        "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY total_exec_time + total_plan_time DESC LIMIT 8").fetchall()
    partitions = conn.execute("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'm'").fetchone()[0]
    steps = [b - a for a, b in zip([0.0, *quarters], quarters, strict=False)]
    return {"product": product, "tables": n, "seconds": round(seconds, 2), "ms_per_table": round(seconds / n * 1000, 1),
            "quarters_s": quarters, "quarter_shares": [round(s / seconds, 2) for s in steps],
            "last_to_first_quarter": round(steps[-1] / steps[0], 2) if len(steps) == 4 and steps[0] else None,
            "nested_statements": nested, "statements_per_table": round(nested / n, 1), "partitions": partitions,
            "top": top}


def python_profile(conn: psycopg.Connection, n: int) -> dict[str, Any]:
    """cProfile of the last PROFILED_CALLS of n ``manage()`` calls in one transaction (a DO block)."""
    conn.execute(tables_sql(n, with_default=True))
    conn.execute("VACUUM ANALYZE")
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("DO LANGUAGE plpython3u $do$" + PY_PROFILE % {"warm": max(0, n - PROFILED_CALLS), "n": n} + "$do$")
    found = [json.loads(m[len("PROFILE "):]) for m in notices if m.startswith("PROFILE ")]
    return {"tables": n, "profiled_calls": min(n, PROFILED_CALLS), **found[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,500,1000", help="numbers of tables, comma-separated")
    parser.add_argument("--baseline", metavar="REV", help="also run the Python package of this git revision")
    parser.add_argument("--current", metavar="REV",
                        help="run this revision's package as pg_steward's (default: the installed one)")
    parser.add_argument("--no-partman", action="store_true", help="leave pg_partman 5.1.0 out")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile the last 50 of N manage() calls")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "manage_one_transaction.json")
    args = parser.parse_args()
    packages: dict[str, str | None] = {"steward": baseline_package(args.current) if args.current else None}
    if args.baseline:
        packages["baseline"] = baseline_package(args.baseline)
    products = ["steward"] + (["baseline"] if args.baseline else []) + ([] if args.no_partman else ["partman5"])
    if not args.no_partman:
        ensure_partman5()
    out: dict[str, Any] = {"machine": machine.describe(), "baseline": args.baseline, "current": args.current,
                           "runs": [], "profiles": {}}
    with LocalServer(settings=SETTINGS) as server, psycopg.connect(server.url, autocommit=True) as admin:
        for n in (int(s) for s in args.sizes.split(",")):
            by_product = {}
            for product in products:
                with database(server, admin, f"bench_{product}", product, packages.get(product)) as conn:
                    row = measure(conn, product, n)
                by_product[product] = row
                out["runs"].append(row)
                print(f"{n} tables, {product}: {row['seconds']} s, {row['ms_per_table']} ms per table, quarters "
                      f"{row['quarters_s']} (last/first {row['last_to_first_quarter']}), "
                      f"{row['statements_per_table']} nested statements per table, load "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
            if "partman5" in by_product:
                peer = by_product["partman5"]["seconds"]
                print(f"{n} tables: " + ", ".join(f"{p} / partman 5.1.0 = {r['seconds'] / peer:.2f}"
                                                  for p, r in by_product.items() if p != "partman5"), flush=True)
            write(args.output, out)  # after each size: a long run's first sizes are kept
        if args.profile:
            for product in [p for p in products if p != "partman5"]:
                with database(server, admin, f"bench_{product}", product, packages.get(product)) as conn:
                    prof = python_profile(conn, args.profile)
                out["profiles"][product] = prof
                print(f"profile {product}, last {prof['profiled_calls']} of {args.profile}: {prof['total_ms']} ms")
                for r in prof["top"][:15]:
                    print(f"  {r['tottime_ms']:9.1f} ms {r['cumtime_ms']:9.1f} cum {r['calls']:7d}  {r['function']}")
    write(args.output, out)
    return 0


def write(path: Path, out: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
