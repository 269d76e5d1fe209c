#!/usr/bin/env python3
"""Registering many tables in one transaction: ``steward.manage()`` N times inside one BEGIN ... COMMIT.

For each size of ``--sizes``, in a throwaway server: N monthly tables with a DEFAULT partition, then one
transaction calling ``steward.manage(table, '1 month', premake => 3)`` for each; the time per table and per
quarter of the transaction (growth inside it), and the nested statements counted by pg_stat_statements
(``track = all``), with the costliest.

    .venv/bin/python bench/manage_one_transaction.py --sizes 100,500,1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

import psycopg  # noqa: E402

from pg_steward.localserver import LocalServer  # noqa: E402

SETTINGS = {"max_locks_per_transaction": "1024", "autovacuum": "off", "jit": "off"}


def measure(conn: psycopg.Connection, n: int) -> dict[str, object]:
    conn.execute("DROP SCHEMA IF EXISTS m CASCADE")
    conn.execute("CREATE SCHEMA m")
    conn.execute(
        f"DO $$ BEGIN FOR i IN 1..{n} LOOP "
        "EXECUTE format('CREATE TABLE m.t_%s (id bigint, created_at timestamptz NOT NULL) "
        "PARTITION BY RANGE (created_at)', i); "
        "EXECUTE format('CREATE TABLE m.t_%s_default PARTITION OF m.t_%s DEFAULT', i, i); END LOOP; END $$")
    conn.execute("VACUUM ANALYZE")
    conn.execute("SELECT steward.version()")  # the package is loaded outside the timing
    conn.execute("SET pg_stat_statements.track = 'all'")
    conn.execute("SELECT pg_stat_statements_reset()")
    quarters = []
    start = time.perf_counter()
    with conn.transaction():
        for i in range(1, n + 1):
            conn.execute(f"SELECT count(*) FROM steward.manage('m.t_{i}', '1 month', premake => 3)")
            if i % max(1, n // 4) == 0:
                quarters.append(round(time.perf_counter() - start, 2))
    seconds = time.perf_counter() - start
    conn.execute("SET pg_stat_statements.track = 'none'")
    calls = conn.execute("SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE NOT toplevel").fetchone()
    top = conn.execute(
        "SELECT calls, round((total_exec_time + total_plan_time)::numeric, 1)::float8, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_statements WHERE NOT toplevel "
        "ORDER BY total_exec_time + total_plan_time DESC LIMIT 5").fetchall()
    conn.execute("DELETE FROM steward.partition_config")
    return {"tables": n, "seconds": round(seconds, 2), "ms_per_table": round(seconds / n * 1000, 1),
            "quarters_s": quarters, "nested_statements": calls[0], "statements_per_table": round(calls[0] / n, 1),
            "top": top}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,500,1000", help="numbers of tables, comma-separated")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "manage_one_transaction.json")
    args = parser.parse_args()
    out = []
    with LocalServer(settings=SETTINGS) as server, psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(conn, n)
            out.append(row)
            print(f"{n} tables: {row['seconds']} s, {row['ms_per_table']} ms per table, quarters {row['quarters_s']}, "
                  f"{row['statements_per_table']} nested statements per table", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
