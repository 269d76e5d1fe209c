#!/usr/bin/env python3
"""Every benchmark in one go, and the report of the run.

    .venv/bin/python bench/run_all.py --write-readme   # every benchmark, full settings (about 50 min on 2 CPUs)
    .venv/bin/python bench/run_all.py --quick          # every benchmark's smoke setting (about 5 min)
    .venv/bin/python bench/run_all.py --only soak,faults

Each benchmark runs as its own process (its own throwaway server), one after
the other, so that none loads the machine while another measures. Partition
maintenance runs once per size of ``--scaling`` (100, 1,000 and 5,000 managed
tables): the 1,000-table run also moves ``--rows`` rows out of DEFAULT; the
others time (a) and (b) only, for the table of how maintenance time grows.

Everything goes to bench/results/run-TIME/: each benchmark's JSON and log,
and report.md. With ``--write-readme`` the report also replaces the
generated section of bench/README.md. The exit status is 1 when a benchmark
failed or missed a goal it checks itself (soak, faults).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import machine  # noqa: E402
import summary  # noqa: E402

FULL_SCALING = (100, 1000, 5000)
QUICK_SCALING = (20, 50, 100)


@dataclass(frozen=True)
class Benchmark:
    name: str  # also the key of its results in the report
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHMARKS = (
    Benchmark("query_capture", "query_capture.py", (), ("--quick",)),
    Benchmark("query_analysis", "query_analysis.py", (), ("--quick",)),
    Benchmark("report_bloat", "report_bloat.py", (), ("--quick",)),
    Benchmark("index_advisor", "index_advisor.py", (), ("--quick",)),
    Benchmark("cli_fleet", "cli_fleet.py", ("--databases", "12"), ("--databases", "3", "--rounds", "1")),
    Benchmark("soak", "soak.py", ("--minutes", "10"), ("--minutes", "0.5")),
    Benchmark("faults", "faults.py", (), ("--kills", "5", "--immediate", "2")),
)


def partition_benchmarks(sizes: tuple[int, ...], quick: bool, rows: int) -> list[Benchmark]:
    """One run per size; the middle size also times (c) and stands for partitions in the peers table."""
    headline = sorted(sizes)[len(sizes) // 2]
    out = []
    for n in sizes:
        moved = rows if n == headline else 0
        args = ("--tables", str(n), "--rows", str(moved), "--repeat", "1" if quick else "3", "--no-profile")
        out.append(Benchmark(f"partition_maintenance_{n}", "partition_maintenance.py", args, args))
    return out


def run(benchmark: Benchmark, quick: bool, directory: Path) -> dict[str, Any]:
    """Run one benchmark, its output shown and kept in NAME.log; returns what the report lists of the run."""
    output = directory / f"{benchmark.name}.json"
    args = [*(benchmark.quick if quick else benchmark.full), "--output", str(output)]
    command = [sys.executable, str(BENCH / benchmark.script), *args]
    shown = " ".join([f"bench/{benchmark.script}", *args[:-2]])
    print(f"\n=== {benchmark.name}: {shown}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    started = time.monotonic()
    with (directory / f"{benchmark.name}.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = process.wait()
    # The 5-minute load average at the end tells whether something else ran on the machine meanwhile.
    return {"name": benchmark.name, "command": shown, "seconds": time.monotonic() - started, "exit": code,
            "load": os.getloadavg()[1], "output": output}


def versions(scaling: list[dict[str, Any]]) -> dict[str, str]:
    """PostgreSQL, pg_steward and the peers' versions, as the benchmarks saw them or as installed."""
    out = {"PostgreSQL": pg_config("--version").removeprefix("PostgreSQL ")}
    facts = next((r["facts"] for r in scaling), None)
    steward = facts["pg_steward"] if facts else {}
    out["pg_steward"] = steward.get("sql_version") or control_version(ROOT, "pg_steward")
    if steward:
        out["pglast"] = steward["pglast_version"]
        out["server's Python"] = steward["interpreter"]
    extension_dir = Path(pg_config("--sharedir")) / "extension"
    for name in ("pg_partman", "pgstattuple", "pg_stat_statements", "pg_cron"):
        out[name] = control_version(extension_dir, name) or "not installed"
    return out


def pg_config(flag: str) -> str:
    binary = os.environ.get("PG_CONFIG", "pg_config")
    return subprocess.run([binary, flag], capture_output=True, text=True, check=True).stdout.strip()


def control_version(directory: Path, name: str) -> str | None:
    try:
        text = (directory / f"{name}.control").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "default_version":
            return value.strip().strip("'")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every benchmark's smoke setting")
    parser.add_argument("--only", help="comma-separated names: " + ", ".join(
        ["partition_maintenance", *(b.name for b in BENCHMARKS)]))
    parser.add_argument("--scaling", help="managed-table counts for partition maintenance "
                        f"(default {','.join(map(str, FULL_SCALING))}; "
                        f"{','.join(map(str, QUICK_SCALING))} with --quick)")
    parser.add_argument("--rows", type=int, help="rows moved out of DEFAULT in the headline partition run "
                        "(default 1,000,000; 50,000 with --quick)")
    parser.add_argument("--write-readme", action="store_true", help="replace the results section of bench/README.md")
    parser.add_argument("--directory", type=Path, help="where the results go (default bench/results/run-TIME)")
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.scaling.split(",")) if args.scaling else (
        QUICK_SCALING if args.quick else FULL_SCALING)
    rows = args.rows if args.rows is not None else (50_000 if args.quick else 1_000_000)
    wanted = set(args.only.split(",")) if args.only else None
    todo = [b for b in (*partition_benchmarks(sizes, args.quick, rows), *BENCHMARKS)
            if wanted is None or b.name in wanted or (b.script == "partition_maintenance.py"
                                                      and "partition_maintenance" in wanted)]
    if not todo:
        parser.error(f"nothing to run for --only {args.only}")

    directory = args.directory or BENCH / "results" / f"run-{time.strftime('%Y%m%dT%H%M%S')}"
    directory.mkdir(parents=True, exist_ok=True)
    facts = {**machine.describe(), "date": dt.date.today().isoformat(),
             "command": " ".join(["bench/run_all.py", *sys.argv[1:]])}
    runs = [run(b, args.quick, directory) for b in todo]
    (directory / "runs.json").write_text(json.dumps({"facts": facts, "runs": runs}, indent=2, default=str) + "\n")

    results: dict[str, dict[str, Any]] = {}
    scaling: list[dict[str, Any]] = []
    for r in runs:
        output = r.pop("output")
        if not output.exists():
            continue
        data = json.loads(output.read_text())
        if r["name"].startswith("partition_maintenance_"):
            scaling.append(data)
            if "c_default_rescue" in data:
                results["partition_maintenance"] = data
        else:
            results[r["name"]] = data
    facts["versions"] = versions(scaling)
    report = summary.render(results, scaling, facts, runs)
    (directory / "report.md").write_text(report)
    if args.write_readme:
        readme = BENCH / "README.md"
        readme.write_text(summary.replace_section(readme.read_text(), report))
    print(f"\nreport: {directory / 'report.md'}" + (" (and bench/README.md)" if args.write_readme else ""))
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
