#!/usr/bin/env python3
"""Faults during partition maintenance: what was tried and what held.

Two faults, each at a random point of a maintenance run that is creating
partitions and moving rows out of DEFAULT partitions:

- ``kill``: the maintenance backend is terminated (``pg_terminate_backend``);
- ``immediate``: the whole server is stopped with ``-m immediate`` (SIGQUIT to
  the postmaster: no checkpoint, every backend gone at once) and started again,
  so the next start runs crash recovery.

Before each round new rows are put into the DEFAULT partitions for days past
the premake horizon, so that the run has partitions to create and rows to
move. After each round, whatever the fault hit: no stray table (every new
table is an attached partition of a managed parent, with a name maintenance
gives), no helper CHECK constraint left, no advisory lock held, and every
table's rows are exactly what they were before the run (count, sum and an
md5 over every row). At the end one more maintenance run must complete
without a failure and leave every DEFAULT empty.

    .venv/bin/python bench/faults.py                          # 100 kills, 10 immediate stops (~10 min)
    .venv/bin/python bench/faults.py --kills 10 --immediate 3  # a smoke run

Results: a summary on stdout and bench/results/faults.json. The pytest
versions (tests/test_faults.py, tests/test_partitions_concurrency.py) use the
same functions with fewer rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

import psycopg  # noqa: E402

from pg_steward.localserver import LocalServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "faults.json"
SAFETY_TIMEOUT = "60s"  # statement_timeout of every session here: nothing may hang the run
# One transaction over every table (maintain_partitions) or a commit after each one (run_maintenance).
RUNS = {"maintain_partitions": "SELECT * FROM steward.maintain_partitions()",
        "run_maintenance": "CALL steward.run_maintenance()"}


@contextlib.contextmanager
def session(url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection of its own, always closed."""
    conn = psycopg.connect(url, autocommit=True, options=f"-c statement_timeout={SAFETY_TIMEOUT}")
    try:
        yield conn
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@dataclass
class Rig:
    """Managed daily tables with DEFAULT partitions, and what the rounds have put into them."""

    url: str
    parents: list[str]
    before: set[str]  # tables of schema public before any round
    days_per_round: int
    rows_per_day: int
    next_id: int = 0
    rounds: int = 0
    round_first_id: int = 0  # the first id of the latest round's rows

    def strand(self, conn: psycopg.Connection) -> None:
        """Rows in DEFAULT for new days past the premake horizon: each table needs ``days_per_round`` partitions."""
        first = 40 + self.rounds * self.days_per_round
        rows = self.days_per_round * self.rows_per_day
        self.round_first_id = self.next_id + 1
        for name in self.parents:
            conn.execute(
                f"INSERT INTO {name} SELECT %s + g, current_date + %s + g %% %s, g %% 97, repeat('x', 40) "
                "FROM generate_series(1, %s) g",
                [self.next_id, first, self.days_per_round, rows])
            self.next_id += rows
        self.rounds += 1


def make_rig(url: str, tables: int, days_per_round: int, rows_per_day: int) -> Rig:
    parents = [f"k{i:02d}" for i in range(tables)]
    with session(url) as conn:
        for name in parents:
            conn.execute(f"CREATE TABLE {name} (id bigint NOT NULL, d date NOT NULL, v int NOT NULL, pad text) "
                         f"PARTITION BY RANGE (d); CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
            conn.execute("SELECT * FROM steward.manage(%s, '1 day', premake => 2)", [name])
        return Rig(url, parents, set(relations(conn)), days_per_round, rows_per_day)


def relations(conn: psycopg.Connection) -> dict[str, tuple[str, bool, str | None]]:
    """Tables of schema public: relkind, whether attached as a partition, and the parent it is attached to."""
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "SELECT c.relname::text, c.relkind::text, c.relispartition, i.inhparent::regclass::text "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    ).fetchall()}


def digests(conn: psycopg.Connection, parents: list[str], since_id: int = 0) -> dict[str, tuple[Any, ...]]:
    """Per table: row count and sums of every row, and an md5 over every row from ``since_id`` on, in id order.

    The rows of earlier rounds sit in partitions no later run touches; the md5 covers the rows a run moves
    (a full md5 of every round's rows would make the long run quadratic), count and sums cover all of them.
    """
    return {t: tuple(conn.execute(
        f"SELECT count(*), coalesce(sum(id), 0), coalesce(sum(v), 0), coalesce(md5(string_agg("
        f"id || ':' || d || ':' || pad, ',' ORDER BY id) FILTER (WHERE id >= %s)), '') FROM {t}",
        [since_id]).fetchone()) for t in parents}


def integrity_problems(conn: psycopg.Connection, before: set[str], parents: list[str]) -> list[str]:
    """Everything a fault could have left half-done among tables not in ``before``; empty when all held."""
    problems = []
    for name, (kind, attached, parent) in relations(conn).items():
        if name in before:
            continue
        if not (kind == "r" and attached and parent in parents):
            problems.append(f"stray table {name}: relkind {kind}, attached {attached}, parent {parent}")
        elif not re.fullmatch(r"k\d\d_p\d{4}_\d\d_\d\d", name):
            problems.append(f"unexpected partition name {name}")
    checks = conn.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
        "JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = 'public' AND c.contype = 'c'").fetchall()
    problems += [f"helper CHECK left behind: {table} {name}" for table, name in checks]
    advisory = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]
    if advisory:
        problems.append(f"{advisory} advisory locks still held")
    return problems


def partition_count(conn: psycopg.Connection, parents: list[str]) -> int:
    return conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = ANY(%s::regclass[])",
                        [parents]).fetchone()[0]


def timed_run(rig: Rig, sql: str = RUNS["run_maintenance"]) -> float:
    """One maintenance run without a fault in a new session (which loads the package first, as the
    victims do), after stranding rows: how long a run takes here."""
    with session(rig.url) as conn:
        rig.strand(conn)
        started = time.monotonic()
        conn.execute(sql)
        return time.monotonic() - started


@dataclass
class Round:
    """One fault: where it struck and what was found afterwards."""

    fault: str
    number: int
    run: str
    delay_s: float
    interrupted: bool  # the run ended with an error (rather than finishing before the fault)
    partitions_made: int  # by the interrupted run before it was stopped (committed ones only)
    problems: list[str] = field(default_factory=list)


class _Run(threading.Thread):
    """A maintenance run in a session of its own; keeps the error that ended it, if any."""

    def __init__(self, conn: psycopg.Connection, sql: str) -> None:
        super().__init__(name="maintenance", daemon=True)
        self.conn, self.sql = conn, sql
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.conn.execute(self.sql)
        except BaseException as error:  # the fault: reported by the round
            self.error = error


def _started(admin: psycopg.Connection, pid: int, run: _Run) -> bool:
    row = admin.execute("SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row == (True,) or not run.is_alive()


def fault_round(rig: Rig, fault: str, number: int, delay: float, server: LocalServer | None = None) -> Round:
    """Strand rows, start a run, strike at ``delay`` seconds, then check what the fault left."""
    kind = ("maintain_partitions", "run_maintenance")[number % 2]
    sql = RUNS[kind]
    with session(rig.url) as admin:
        rig.strand(admin)
        expected = digests(admin, rig.parents, rig.round_first_id)
        partitions_before = partition_count(admin, rig.parents)
        victim = psycopg.connect(rig.url, autocommit=True, options=f"-c statement_timeout={SAFETY_TIMEOUT}")
        run = _Run(victim, sql)
        try:
            pid = victim.info.backend_pid
            run.start()
            wait_until(lambda: _started(admin, pid, run), timeout=10)
            time.sleep(delay)
            if fault == "kill":
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            else:
                assert server is not None, "an immediate stop needs the server"
                server.restart(immediate=True)
        finally:
            run.join(60)
            victim.close()
    outcome = Round(fault, number, kind, round(delay, 3), run.error is not None, 0)
    if run.is_alive():
        outcome.problems.append("the maintenance run did not end")
    elif run.error is not None and not isinstance(run.error, psycopg.OperationalError):
        outcome.problems.append(f"the run failed otherwise than by the fault: {run.error!r}")
    with session(rig.url) as admin:
        if fault == "kill" and not wait_until(lambda: admin.execute(
                "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0], timeout=10):
            outcome.problems.append("the terminated backend did not go away")
        outcome.problems += integrity_problems(admin, rig.before, rig.parents)
        outcome.partitions_made = partition_count(admin, rig.parents) - partitions_before
        found = digests(admin, rig.parents, rig.round_first_id)
        outcome.problems += [f"rows of {t} changed: {expected[t]} -> {found[t]}" for t in rig.parents
                             if found[t] != expected[t]]
        # The next run completes, and every round starts from the same state (a backlog left by one fault
        # would make the next runs longer until every fault struck the first table).
        outcome.problems += [f"next run: {p}" for p in catch_up(admin, rig, expected)]
    return outcome


def catch_up(conn: psycopg.Connection, rig: Rig, expected: dict[str, tuple[Any, ...]]) -> list[str]:
    """An uninterrupted maintenance run: every action ok, every DEFAULT empty, the rows unchanged."""
    rows = conn.execute("SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()").fetchall()
    problems = [f"failed: {r}" for r in rows if not r[2]]
    left = sum(conn.execute(f"SELECT count(*) FROM {p}_default").fetchone()[0] for p in rig.parents)
    if left:
        problems.append(f"{left} rows still in DEFAULT partitions")
    if digests(conn, rig.parents, rig.round_first_id) != expected:
        problems.append("the rows changed")
    return problems


def final_run(rig: Rig) -> list[str]:
    """After every round: maintenance completes, nothing stray, DEFAULTs empty, every row (full md5) unchanged."""
    with session(rig.url) as conn:
        expected = digests(conn, rig.parents)
        rows = conn.execute("SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()").fetchall()
        problems = [f"maintenance after the faults: {r}" for r in rows if not r[2]]
        problems += integrity_problems(conn, rig.before, rig.parents)
        if digests(conn, rig.parents) != expected:
            problems.append("maintenance after the faults changed the rows")
        left = sum(conn.execute(f"SELECT count(*) FROM {p}_default").fetchone()[0] for p in rig.parents)
        if left:
            problems.append(f"{left} rows still in DEFAULT partitions")
        again = conn.execute("SELECT * FROM steward.maintain_partitions()").fetchall()
        if again:
            problems.append(f"a second run still had work: {again}")
        return problems


def run_faults(server: LocalServer, url: str, kills: int, immediate: int, tables: int, seed: int,
               days_per_round: int = 3, rows_per_day: int = 500, reach: float = 1.5) -> dict[str, Any]:
    """``kills`` then ``immediate`` rounds, each striking at a random time in [0, reach x a typical run)."""
    rng = random.Random(seed)
    rig = make_rig(url, tables, days_per_round, rows_per_day)
    duration = timed_run(rig)
    rounds = []
    plan = ["kill"] * kills + ["immediate"] * immediate
    for number, fault in enumerate(plan, 1):
        # With reach > 1 some faults come after the run finished: the check afterwards must hold then too.
        rounds.append(fault_round(rig, fault, number, rng.uniform(0.0, duration * reach), server))
        last = rounds[-1]
        print(f"round {number} {fault} {last.run} at {last.delay_s} s: interrupted {last.interrupted}, "
              f"{last.partitions_made} partitions committed, {len(last.problems)} problems", flush=True)
    final = final_run(rig)
    with session(url) as conn:
        total_rows = sum(d[0] for d in digests(conn, rig.parents).values())
        total_partitions = partition_count(conn, rig.parents)
    return {"seed": seed, "tables": tables, "run_seconds": round(duration, 3), "rows": total_rows,
            "partitions": total_partitions, "rounds": [asdict(r) for r in rounds], "final_problems": final}


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Per fault: how many were tried, how many interrupted a run, and how many rounds found a problem."""
    summary: dict[str, Any] = {}
    for fault in ("kill", "immediate"):
        rounds = [r for r in result["rounds"] if r["fault"] == fault]
        summary[fault] = {"tried": len(rounds), "interrupted": sum(r["interrupted"] for r in rounds),
                          # run_maintenance commits per table: struck after some tables were done
                          "interrupted_after_partial_commit": sum(r["interrupted"] and r["partitions_made"] > 0
                                                                  for r in rounds),
                          "rounds_with_problems": sum(bool(r["problems"]) for r in rounds)}
    summary["next_run_completes"] = not result["final_problems"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=100, help="maintenance backends terminated (default 100)")
    parser.add_argument("--immediate", type=int, default=10, help="immediate server stops (default 10)")
    parser.add_argument("--tables", type=int, default=10, help="managed tables (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    started = time.monotonic()
    with LocalServer({"max_locks_per_transaction": "256"}) as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
            versions = conn.execute("SELECT current_setting('server_version'), "
                                    "(SELECT extversion FROM pg_extension WHERE extname = 'pg_steward')").fetchone()
        result = run_faults(server, server.url, args.kills, args.immediate, args.tables, seed)
    result.update(summary=summarize(result), seconds=round(time.monotonic() - started, 1),
                  date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  machine={"cpus": os.cpu_count(), "platform": platform.platform()},
                  postgresql=versions[0], pg_steward=versions[1],
                  command=" ".join(["bench/faults.py", *sys.argv[1:]]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    for r in result["rounds"]:
        for problem in r["problems"]:
            print(f"round {r['number']} ({r['fault']}, {r['run']}, {r['delay_s']} s): {problem}")
    for problem in result["final_problems"]:
        print(f"final run: {problem}")
    print(f"seed {seed}, {result['seconds']} s; details in {args.output}")
    held = all(s["rounds_with_problems"] == 0 for k, s in result["summary"].items() if isinstance(s, dict))
    sys.exit(0 if held and result["summary"]["next_run_completes"] else 1)


if __name__ == "__main__":
    main()
