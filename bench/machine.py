"""What machine a benchmark ran on: CPUs, memory, operating system, load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file, or None."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    memory_kb = proc_field("/proc/meminfo", "MemTotal")
    # nproc honours CPU affinity and cgroup limits, os.cpu_count() does not.
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return {
        "nproc": int(nproc),
        "cpu": proc_field("/proc/cpuinfo", "model name") or "",
        "memory_gb": round(int(memory_kb.split()[0]) / 1024 / 1024, 1) if memory_kb else None,
        "os": platform.platform(),
        "load_average": os.getloadavg()[0],
    }
