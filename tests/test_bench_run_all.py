"""bench/run_all.py, the one command behind `make bench`, on a small setting: it runs the benchmarks it is
given, keeps each one's JSON and log, and writes a report with their figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_run_all_reports_what_it_ran(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only", "partition_maintenance,cli_fleet",
         "--scaling", "4,8", "--rows", "2000", "--directory", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "python")}, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "cli_fleet.json", "partition_maintenance_4.json", "partition_maintenance_8.json", "runs.json"]
    runs = json.loads((tmp_path / "runs.json").read_text())["runs"]
    assert [(r["name"], r["exit"]) for r in runs] == [
        ("partition_maintenance_4", 0), ("partition_maintenance_8", 0), ("cli_fleet", 0)]
    assert (tmp_path / "cli_fleet.log").read_text().strip()
    headline = json.loads((tmp_path / "partition_maintenance_8.json").read_text())
    assert headline["parameters"] == {"tables": 8, "rows": 2000, "repeat": 1, "quick": False}
    assert "c_default_rescue" in headline
    assert "c_default_rescue" not in json.loads((tmp_path / "partition_maintenance_4.json").read_text())
    report = (tmp_path / "report.md").read_text()
    assert "| 4 | " in report and "| 8 | " in report  # the scaling table, one row per size
    assert "partitions: 2,000 rows out of DEFAULT" in report
    assert "`pg-steward maintain` over 3 databases" in report
    assert "### Soak" not in report  # not asked for
    assert "pg_partman 4." in report or "pg_partman 5." in report  # the peer's version, as the server has it
