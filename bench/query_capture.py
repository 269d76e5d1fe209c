#!/usr/bin/env python3
"""Overhead of steward.capture_query_stats() every 10 s under a pgbench load.

One throwaway PostgreSQL server (``LocalServer``, pg_stat_statements
preloaded), a pgbench database of ``--scale``, and pg_stat_statements filled
with ``--entries`` distinct statements so each capture snapshots a realistic
number of entries. Then ``--rounds`` pairs of pgbench runs of ``--seconds``
each, alternating without and with a capture every ``--interval`` seconds
(alternating spreads the machine's drift over both sides). The ratio is the
summed TPS with capture over the summed TPS without, and the median of the
per-round ratios; the goal is >= 0.99. On a shared machine TPS swings by more
than the effect measured, so the script also reports the ratio implied by
the capture's own cost: 1 - (capture time alone, in a new session as under
pg_cron / (interval x CPUs)).

    .venv/bin/python bench/query_capture.py --quick        # under 2 minutes
    .venv/bin/python bench/query_capture.py                 # 6 rounds of 30 s

Results: stdout and bench/results/query_capture.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

import psycopg  # noqa: E402

from pg_steward.localserver import LocalServer, bindir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "query_capture.json"
SETTINGS = {"shared_buffers": "256MB", "pg_stat_statements.max": "5000", "autovacuum": "off"}


def pgbench(server: LocalServer, database: str, *args: str) -> str:
    env = dict(os.environ, PGHOST=server.host, PGPORT=str(server.port), PGUSER="postgres")
    done = subprocess.run([str(bindir() / "pgbench"), *args, database], env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout + done.stderr


def tps(output: str) -> float:
    found = re.search(r"tps = ([0-9.]+)", output)
    if not found:
        raise RuntimeError(f"no tps in pgbench output:\n{output}")
    return float(found.group(1))


def fill_entries(url: str, entries: int) -> None:
    """Distinct statement shapes (constants would be folded into one entry)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(entries):
            expr = "aid" + " + aid" * (i % 50) + " * bid" * (i // 50)
            conn.execute(f"SELECT {expr} FROM pgbench_accounts WHERE aid = 1")


class Capturer(threading.Thread):
    """Calls capture_query_stats every ``interval`` seconds until stopped; records how long each took."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.stop = threading.Event()
        self.durations: list[float] = []
        self.entries: list[int] = []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(self.interval):
                started = time.perf_counter()
                entries = conn.execute("SELECT entries FROM steward.capture_query_stats()").fetchone()[0]
                self.durations.append(time.perf_counter() - started)
                self.entries.append(entries)


def idle_capture(url: str) -> float:
    """Seconds of one capture in a new session (as each pg_cron run is) on an idle server."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("SELECT steward.capture_query_stats()").fetchall()
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict:
    with LocalServer(SETTINGS) as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        url = server.url_for("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
        pgbench(server, "bench", "-i", "-q", "-s", str(args.scale))
        fill_entries(url, args.entries)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT steward.capture_query_stats()")  # the baseline, and the package loaded once
        load = ["-c", str(args.clients), "-j", str(args.clients), "-T", str(args.seconds), "-n"]
        pgbench(server, "bench", *load[:4], "-T", "5", "-n")  # warm the caches
        without, with_capture, captures = [], [], []
        for _ in range(args.rounds):
            without.append(tps(pgbench(server, "bench", *load)))
            capturer = Capturer(url, args.interval)
            capturer.start()
            with_capture.append(tps(pgbench(server, "bench", *load)))
            capturer.stop.set()
            capturer.join()
            captures.extend(zip(capturer.durations, capturer.entries, strict=True))
        idle = [idle_capture(url) for _ in range(5)]
    idle_s = statistics.median(idle)
    return {
        "tps_without": without, "tps_with_capture": with_capture,
        "ratio": sum(with_capture) / sum(without),
        # Paired by round, so that drift of a shared machine between rounds cancels out.
        "ratio_median_of_rounds": statistics.median(w / o for w, o in zip(with_capture, without, strict=True)),
        # What the capture costs the machine: its time alone (no load stretching it) over the CPU
        # time of one interval.
        "capture_ms_idle_new_session": idle_s * 1000,
        "ratio_from_capture_cost": 1 - idle_s / (args.interval * (os.cpu_count() or 1)),
        "captures": len(captures),
        "capture_ms_median": statistics.median(d for d, _ in captures) * 1000 if captures else None,
        "capture_ms_max": max(d for d, _ in captures) * 1000 if captures else None,
        "entries_per_capture": statistics.median(e for _, e in captures) if captures else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 20 s, scale 5, 1000 entries")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.scale, args.entries = 2, 20, 5, 1000
    result = run(args)
    result.update(parameters={**vars(args), "output": str(args.output)},
                  machine={"cpus": os.cpu_count(), "python": platform.python_version()})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"pgbench TPS without capture: {', '.join(f'{t:.0f}' for t in result['tps_without'])}")
    print(f"pgbench TPS with capture every {args.interval:g} s: "
          f"{', '.join(f'{t:.0f}' for t in result['tps_with_capture'])}")
    print(f"ratio with/without: {result['ratio']:.4f} summed, {result['ratio_median_of_rounds']:.4f} median of "
          f"rounds (goal >= 0.99); from the capture's own cost: {result['ratio_from_capture_cost']:.4f}")
    print(f"captures: {result['captures']}, {result['entries_per_capture']} entries each, "
          f"median {result['capture_ms_median']:.1f} ms, max {result['capture_ms_max']:.1f} ms under load; "
          f"{result['capture_ms_idle_new_session']:.1f} ms alone in a new session")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
