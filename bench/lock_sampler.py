"""The writers' lock waits during a benchmark: ``pg_locks.waitstart`` of their ungranted locks, sampled ten
times a second (PostgreSQL 14 and later), with the sessions that blocked the longest wait."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

import psycopg


@dataclass
class LockSamples:
    samples: int = 0
    waits_seen: int = 0
    longest_s: float = 0.0
    longest_blockers: list[str] = field(default_factory=list)  # "application_name (waited for: locktype mode)"
    errors: list[str] = field(default_factory=list)


_WAITS = """
SELECT extract(epoch FROM clock_timestamp() - l.waitstart)::float8,
       ARRAY(SELECT b.application_name || ' (waited for: ' || l.locktype || ' ' || l.mode || ')'
             FROM pg_catalog.pg_stat_activity b WHERE b.pid = ANY(pg_catalog.pg_blocking_pids(l.pid)))
FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.application_name LIKE %s
"""


def sample_locks(url: str, found: LockSamples, stop: threading.Event, writers: str, name: str) -> None:
    """Sample until ``stop`` is set, from a session named ``name``, the waits of the sessions whose
    application_name starts with ``writers``."""
    conn = psycopg.connect(url, autocommit=True, application_name=name, options="-c statement_timeout=600s")
    with contextlib.closing(conn):
        while not stop.wait(0.1):
            try:
                rows = conn.execute(_WAITS, [writers.replace("%", r"\%").replace("_", r"\_") + "%"]).fetchall()
            except psycopg.Error as error:
                found.errors.append(str(error).splitlines()[0])
                continue
            found.samples += 1
            found.waits_seen += len(rows)
            for waited, blockers in rows:
                if waited > found.longest_s:
                    found.longest_s, found.longest_blockers = waited, sorted(set(blockers))
