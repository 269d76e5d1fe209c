"""Fleet mode of pg-steward: the same command over many databases, one at a time vs in parallel.

    PYTHONPATH=python .venv/bin/python bench/cli_fleet.py [--databases 8] [--rounds 3]

Starts a throwaway server with N databases, each with pg_steward and a
managed, partitioned table holding some rows, then times `pg-steward report
partitions`, `pg-steward maintain` and `pg-steward report --html` over all of
them with --jobs 1 and --jobs N. Prints the times and the speed-up, and
writes bench/results/cli_fleet.json. Each database costs one connection and
a first pg_steward call (the package load in a new backend), which is where
parallel runs win.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pg_steward.localserver import LocalServer

ROOT = Path(__file__).resolve().parent.parent
PG_STEWARD = shutil.which("pg-steward") or str(Path(sys.executable).parent / "pg-steward")


def prepare(server: LocalServer, count: int) -> list[str]:
    urls = []
    with psycopg.connect(server.url, autocommit=True) as admin:
        for n in range(count):
            admin.execute(f'CREATE DATABASE "bench_{n}"')
            urls.append(server.url_for(f"bench_{n}"))
    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
            conn.execute("CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
            conn.execute("SELECT * FROM steward.manage('events', '1 month', premake => 3)")
            conn.execute("INSERT INTO events SELECT n, current_date + n % 60 FROM generate_series(1, 20000) n")
    return urls


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([PG_STEWARD, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"pg-steward {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "cli_fleet.json",
                        help="where the JSON results go")
    options = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with LocalServer() as server, tempfile.TemporaryDirectory() as tmp:
        urls = prepare(server, options.databases)
        dsns = [a for u in urls for a in ("--dsn", u)]
        commands = {
            "report partitions": ["report", "partitions", "--format", "json"],
            "maintain": ["maintain", "--format", "json"],
            "report --html": ["report", "--html", os.path.join(tmp, "r.html")],
        }
        for name, args in commands.items():
            single = statistics.median(timed([*args, *dsns[:2]]) for _ in range(options.rounds))
            serial = statistics.median(timed([*args, *dsns, "--jobs", "1"]) for _ in range(options.rounds))
            parallel = statistics.median(
                timed([*args, *dsns, "--jobs", str(options.databases)]) for _ in range(options.rounds))
            # What one more database costs, without the command's own start (Python, imports).
            per_database = (serial - single) / (options.databases - 1)
            results[name] = {"one_database_s": round(single, 3), "serial_s": round(serial, 3),
                             "parallel_s": round(parallel, 3), "speedup": round(serial / parallel, 2),
                             "per_database_serial_s": round(per_database, 3)}
            print(f"{name:18} 1 database {single:5.2f} s; {options.databases} databases: --jobs 1 {serial:5.2f} s, "
                  f"--jobs {options.databases} {parallel:5.2f} s, speed-up x{serial / parallel:.2f}; "
                  f"each more database {per_database * 1000:.0f} ms serially")
    out = options.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"databases": options.databases, "rounds": options.rounds, "cpus": os.cpu_count(),
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
