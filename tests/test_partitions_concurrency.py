"""Partition maintenance under concurrency, on real servers: writers never lose or duplicate a row, a lock holder
bounds maintenance by lock_timeout and retries, a terminated maintenance backend leaves nothing half-made, and two
runs at once do each table's work once.

Every concurrent session is a thread with its own psycopg connection; every thread is joined and every connection
closed, and every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from support.bench_modules import load

faults = load("faults")  # the stray-table checks of bench/faults.py

SAFETY_TIMEOUT = "30s"  # statement_timeout of helper sessions: nothing here may hang the suite


# --- sessions and threads -------------------------------------------------------------------------------------


@contextlib.contextmanager
def session(url: str, statement_timeout: str = SAFETY_TIMEOUT) -> Iterator[psycopg.Connection]:
    """An autocommit connection of its own, always closed."""
    conn = psycopg.connect(url, autocommit=True, options=f"-c statement_timeout={statement_timeout}")
    try:
        yield conn
    finally:
        conn.close()


class Worker(threading.Thread):
    """Runs ``work`` once in a thread; keeps its result or error and when it started and ended."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.started_at = self.ended_at = 0.0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.result = self.work()
        except BaseException as error:  # reported by finish()
            self.error = error
        finally:
            self.ended_at = time.monotonic()

    @property
    def elapsed(self) -> float:
        return self.ended_at - self.started_at

    def finish(self, timeout: float) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} still running after {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def waits_on_lock(admin: psycopg.Connection, pid: int) -> bool:
    row = admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row is not None and row[0] == "Lock"


def waits_for_relation(admin: psycopg.Connection, pid: int, relations: tuple[str, ...]) -> bool:
    """``pid`` waits for a lock on one of ``relations`` (an ungranted row of pg_locks)."""
    return admin.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE pid = %s AND NOT granted "
                         "AND relation = ANY (%s::regclass[]))", [pid, list(relations)]).fetchone()[0]


def wait_for_state(predicate: Callable[[], bool], alive: Callable[[], bool]) -> bool:
    """Poll ``predicate`` for as long as ``alive()`` holds: a wait on states only, whatever the machine's load
    (the thing watched is bounded by its own statement_timeout). False if it ended before the state was seen."""
    while alive():
        if predicate():
            return True
        time.sleep(0.005)  # a polling pause, not a wait for an outcome
    return predicate()


def blockers(admin: psycopg.Connection, pid: int) -> set[int]:
    return set(admin.execute("SELECT pg_blocking_pids(%s)", [pid]).fetchone()[0])


def backend_gone(admin: psycopg.Connection, pid: int) -> bool:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0


def first_of_month(offset: int, today: dt.date) -> dt.date:
    index = today.year * 12 + today.month - 1 + offset
    return dt.date(index // 12, index % 12 + 1, 1)


def lock_budget(timeout_s: float, retries: int, pause_s: float = 0.5) -> float:
    """The longest one table's step may wait: every attempt's lock_timeout plus the pauses between attempts."""
    return (retries + 1) * timeout_s + sum(pause_s * attempt for attempt in range(1, retries + 1))


# --- 1. writers and repeated maintenance ----------------------------------------------------------------------

WRITERS = 4
RUNS = 15
ROWS_PER_WRITER = 4000


@dataclass
class Writer:
    """What one writer inserted and was acknowledged for, and what failed."""

    number: int
    rows: list[tuple[int, dt.date, int]] = field(default_factory=list)
    errors: list[tuple[str | None, str]] = field(default_factory=list)

    def expected(self) -> tuple[int, int, int, str]:
        ordered = sorted(self.rows)
        text = ",".join(f"{i}:{d.isoformat()}:{v}" for i, d, v in ordered)
        return (len(ordered), sum(i for i, _, _ in ordered), sum(v for _, _, v in ordered),
                hashlib.md5(text.encode()).hexdigest())


def _write(url: str, writer: Writer, today: dt.date, stop: threading.Event, deadline: float) -> None:
    """Insert batches of 1-4 rows, keys over past, current and future months (a growing range), until told."""
    rng = random.Random(1000 + writer.number)
    seq = 0
    with session(url) as conn:
        while not stop.is_set() and time.monotonic() < deadline and seq < ROWS_PER_WRITER:
            reach = min(2 + seq // 40, 30)  # new months keep appearing as the writers go on
            batch = []
            for _ in range(rng.randint(1, 4)):
                seq += 1
                day = first_of_month(rng.randint(-reach, reach), today) + dt.timedelta(days=rng.randint(0, 27))
                batch.append((writer.number * 1_000_000_000 + seq, day, rng.randrange(1_000_000)))
            try:
                conn.execute(
                    "INSERT INTO w (id, writer, d, v) SELECT i, %s, d, v "
                    "FROM unnest(%s::bigint[], %s::date[], %s::bigint[]) AS u(i, d, v)",
                    [writer.number, [r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch]],
                )
            except psycopg.Error as error:  # the statement changed nothing: its rows are not expected
                writer.errors.append((error.sqlstate, str(error).splitlines()[0]))
            else:
                writer.rows.extend(batch)
            time.sleep(0.002)


def _table_digests(conn: psycopg.Connection) -> dict[int, tuple[int, int, int, str]]:
    rows = conn.execute(
        "SELECT writer, count(*), sum(id), sum(v), "
        "md5(string_agg(id || ':' || to_char(d, 'YYYY-MM-DD') || ':' || v, ',' ORDER BY id, d, v)) "
        "FROM w GROUP BY writer"
    ).fetchall()
    return {r[0]: (r[1], int(r[2]), int(r[3]), r[4]) for r in rows}


def test_writers_lose_and_duplicate_nothing_while_maintenance_runs(new_database: Callable[..., str]) -> None:
    url = new_database()
    with session(url) as conn:
        conn.execute("CREATE TABLE w (id bigint NOT NULL, writer int NOT NULL, d date NOT NULL, v bigint NOT NULL) "
                     "PARTITION BY RANGE (d);"
                     "CREATE TABLE w_default PARTITION OF w DEFAULT")
        conn.execute("SELECT * FROM steward.manage('w', '1 month', premake => 1)")
        today = conn.execute("SELECT current_date").fetchone()[0]

        writers = [Writer(n) for n in range(1, WRITERS + 1)]
        mine = Writer(0)
        stop = threading.Event()
        deadline = time.monotonic() + 60
        threads = [Worker(lambda wr=wr: _write(url, wr, today, stop, deadline), f"writer-{wr.number}")
                   for wr in writers]
        runs: list[list[tuple]] = []
        direct: list[str] = []
        try:
            for thread in threads:
                thread.start()
            time.sleep(0.3)  # some rows reach DEFAULT before the first run
            for run in range(RUNS):
                if time.monotonic() > deadline - 10:
                    break
                runs.append(conn.execute(
                    "SELECT action, partition, ok, detail FROM steward.maintain_partitions('w')").fetchall())
                if run % 3 == 1:  # also create by hand a month whose row sits in DEFAULT (writer 0 is the test)
                    day = first_of_month(31 + run, today) + dt.timedelta(days=5)
                    row = (run, day, run * 7)
                    conn.execute("INSERT INTO w VALUES (%s, 0, %s, %s)", list(row))
                    mine.rows.append(row)
                    direct.append(conn.execute("SELECT steward.create_partition('w', %s, '1 month')::text",
                                               [day.replace(day=1).isoformat()]).fetchone()[0])
                time.sleep(0.15)
        finally:
            stop.set()
            for thread in threads:
                thread.finish(timeout=30)

        # Writers stopped: one more run rescues whatever is left in DEFAULT.
        last = conn.execute("SELECT action, ok, detail FROM steward.maintain_partitions('w')").fetchall()
        assert all(ok for _, ok, _ in last), last
        assert conn.execute("SELECT count(*) FROM w_default").fetchone() == (0,)

        actions = [a for run in runs for a in run]
        assert len(runs) >= 10, "too few maintenance runs before the deadline"
        assert [a for a in actions if not a[2]] == [], "every maintenance action succeeds"
        created = [a for a in actions if a[0] == "create"]
        moved = [a for a in created if a[3] and "moved" in a[3]]
        assert len({run_index for run_index, run in enumerate(runs) if run}) >= 3, "new months kept being needed"
        assert moved, "maintenance moved rows out of DEFAULT while the writers wrote"
        assert len(direct) >= 3 and all(re.fullmatch(r"w_p\d{4}_\d\d", name) for name in direct), direct

        # Not one row lost, not one duplicated: per writer, count, sums and a checksum over the acknowledged rows.
        assert conn.execute("SELECT count(*) = count(DISTINCT id) FROM w").fetchone() == (True,)
        in_table = _table_digests(conn)
        for wr in writers:
            assert len(wr.rows) > 100, f"writer {wr.number} hardly wrote"
            assert in_table.get(wr.number, (0, 0, 0, "")) == wr.expected(), f"writer {wr.number}"
        assert in_table[0] == mine.expected()
        assert sum(len(wr.rows) for wr in [*writers, mine]) == conn.execute("SELECT count(*) FROM w").fetchone()[0]

        assert [e for wr in writers for e in wr.errors] == [], "every writer's insert succeeded"


def test_writer_routed_to_default_while_its_partition_is_attached(new_database: Callable[..., str]) -> None:
    url = new_database()
    with session(url) as admin, session(url) as steward_conn, session(url) as writer_conn:
        admin.execute("CREATE TABLE r (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                      "CREATE TABLE r_default PARTITION OF r DEFAULT")
        admin.execute("SELECT * FROM steward.manage('r', '1 month', premake => 0)")
        admin.execute("UPDATE steward.partition_config SET analyze_parent = false")  # tested apart
        month = first_of_month(6, admin.execute("SELECT current_date").fetchone()[0])
        admin.execute("INSERT INTO r VALUES (%s, 1)", [month])  # stranded in DEFAULT: maintenance will rescue it

        with steward_conn.transaction():  # the locks of maintain_partitions are held until the caller commits
            done = steward_conn.execute("SELECT action, ok FROM steward.maintain_partitions('r')").fetchall()
            assert done == [("create", True)]
            pid = writer_conn.info.backend_pid
            writer = Worker(lambda: writer_conn.execute("INSERT INTO r VALUES (%s, 2)",
                                                        [month + dt.timedelta(days=3)]), "writer")
            writer.start()
            assert wait_until(lambda: waits_on_lock(admin, pid), timeout=10)  # behind the lock on DEFAULT
        writer.join(30)
        assert not writer.is_alive()
        assert writer.error is None, f"the writer failed: {writer.error!r}"
        assert admin.execute("SELECT tableoid::regclass::text, count(*) FROM r GROUP BY 1").fetchall() == [
            (f"r_p{month:%Y_%m}", 2)]


# --- 2. a session holding a lock on a managed table -----------------------------------------------------------

TIMEOUT_S, RETRIES = 0.2, 2
BUDGET = lock_budget(TIMEOUT_S, RETRIES)  # 3 attempts of 200 ms, pauses of 0.5 s and 1 s


def _lock_setup(admin: psycopg.Connection) -> dt.date:
    """Three managed monthly tables with DEFAULT; each needs two more partitions on the next run."""
    for name in ("a_free", "h", "z_free"):
        admin.execute(f"CREATE TABLE {name} (d date NOT NULL, v int) PARTITION BY RANGE (d);"
                      f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
        admin.execute("SELECT * FROM steward.manage(%s, '1 month', premake => 1, lock_timeout => '200 ms', "
                      "lock_retries => 2)", [name])
    # The parents' analysis is another pass with its own lock tests (test_partitions_parent_stats.py): off.
    admin.execute("UPDATE steward.partition_config SET premake = 3, analyze_parent = false")
    return admin.execute("SELECT current_date").fetchone()[0]


HOLDERS = [
    pytest.param("LOCK TABLE h IN SHARE ROW EXCLUSIVE MODE", id="parent-share-row-exclusive"),
    pytest.param("LOCK TABLE ONLY h IN ACCESS EXCLUSIVE MODE", id="only-parent-access-exclusive"),
    pytest.param("LOCK TABLE h_default IN SHARE ROW EXCLUSIVE MODE", id="default-share-row-exclusive"),
    pytest.param("LOCK TABLE h IN ACCESS EXCLUSIVE MODE", id="parent-access-exclusive"),
    pytest.param("LOCK TABLE h_default IN ACCESS EXCLUSIVE MODE", id="default-access-exclusive"),
]


@pytest.mark.parametrize("hold", HOLDERS)
def test_a_lock_holder_bounds_maintenance_and_the_others_go_on(new_database: Callable[..., str], hold: str) -> None:
    url = new_database()
    notices: list[str] = []
    # statement_timeout only keeps a hanging run from hanging the suite; it is above the budget.
    with session(url) as admin, session(url) as holder, session(url, f"{int((BUDGET + 6) * 1000)}ms") as steward_conn:
        today = _lock_setup(admin)
        later = first_of_month(6, today) + dt.timedelta(days=9)  # past the premake horizon: a row lands in DEFAULT
        steward_conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        steward_pid, holder_pid = steward_conn.info.backend_pid, holder.info.backend_pid
        writers: list[Worker] = []
        with contextlib.ExitStack() as closing:
            conns = [closing.enter_context(session(url)) for _ in range(3)]
            holder.execute("BEGIN")
            holder.execute(hold)
            run = Worker(lambda: steward_conn.execute(
                "SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()").fetchall(), "maintenance")
            try:
                run.start()
                # Waiting for h's lock is a state of pg_locks, seen however long the run takes to reach h.
                assert wait_for_state(lambda: waits_for_relation(admin, steward_pid, ("h", "h_default")),
                                      run.is_alive), "maintenance never waited"
                # Writers that start while maintenance waits: into a table it has done (a row for DEFAULT, whose
                # lock it holds), into one it has not reached yet, and into the held table.
                for conn, table, day in ((conns[0], "a_free", later), (conns[1], "z_free", today),
                                         (conns[2], "h", later)):
                    writers.append(Worker(lambda c=conn, t=table, d=day: c.execute(
                        f"INSERT INTO {t} VALUES (%s, 1)", [d]), f"writer-{table}"))
                    writers[-1].start()
                rows = run.finish(timeout=BUDGET + 15)
                for writer in writers[:2]:
                    writer.finish(timeout=BUDGET + 10)
                held_writer_pid = conns[2].info.backend_pid
                assert wait_for_state(lambda: waits_on_lock(admin, held_writer_pid), writers[2].is_alive)
                assert blockers(admin, held_writer_pid) == {holder_pid}, "the writer waits behind the holder only"
            finally:
                holder.execute("ROLLBACK")
                released = time.monotonic()
                run.join(BUDGET + 15)
                for writer in writers:
                    writer.join(30)
            writers[2].finish(timeout=1)
            assert writers[2].ended_at - released < 5, "the held table's writer goes on once the holder is gone"

        # Maintenance of h gave up within its budget, after retrying; the others were maintained in the same run.
        assert run.elapsed < BUDGET + 5, f"maintenance took {run.elapsed:.1f} s (budget {BUDGET:.1f} s)"
        assert run.elapsed >= (RETRIES + 1) * TIMEOUT_S + 1.5 * 0.9, "every attempt and pause was made"
        by_table = {t: [(a, ok) for p, a, ok, _ in rows if p == t] for t in ("a_free", "h", "z_free")}
        assert by_table == {"a_free": [("create", True)] * 2, "h": [("error", False)],
                            "z_free": [("create", True)] * 2}, rows
        detail = next(d for p, a, _, d in rows if p == "h")
        assert re.search(r"lock was not available within 200 ms, 3 attempts", detail), detail
        waited = [n for n in notices if "lock not available" in n]
        assert len(waited) == 2, notices
        for k, notice in enumerate(waited, 1):
            # The step that waited: reading DEFAULT's rows, or creating the first missing partition.
            step = rf"(read public\.h|create partition public\.h \[{first_of_month(2, today)}.*\))"
            assert re.fullmatch(rf"{step}: lock not available, attempt {k} of 3", notice), notice
        assert admin.execute("SELECT action, ok, detail ~ 'lock' FROM steward.partition_maintenance_log "
                             "WHERE parent = 'public.h' ORDER BY id DESC LIMIT 1").fetchone() == ("error", False, True)
        # Each writer that did not touch the held table waited at most about as long as maintenance could wait.
        for writer in writers[:2]:
            assert writer.elapsed < BUDGET + 5, f"{writer.name} waited {writer.elapsed:.1f} s"

        # Next run, nobody in the way: h gets its partitions and the DEFAULT rows are rescued.
        again = admin.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall()
        assert again and all(ok for _, _, ok in again), again
        assert sorted({p for p, _, _ in again}) == ["a_free", "h"]
        for table in ("a_free", "h", "z_free"):
            assert admin.execute(f"SELECT count(*) FROM {table}_default").fetchone() == (0,)
        assert admin.execute("SELECT (SELECT count(*) FROM a_free) + (SELECT count(*) FROM h) "
                             "+ (SELECT count(*) FROM z_free)").fetchone() == (3,)


def test_maintenance_succeeds_on_a_retry_once_the_holder_lets_go(new_database: Callable[..., str]) -> None:
    url = new_database()
    retried = threading.Event()
    with session(url) as admin, session(url) as holder, session(url) as steward_conn:
        today = _lock_setup(admin)
        steward_conn.add_notice_handler(
            lambda diag: retried.set() if "attempt 1 of 3" in (diag.message_primary or "") else None)
        holder.execute("BEGIN; LOCK TABLE h IN SHARE ROW EXCLUSIVE MODE")
        run = Worker(lambda: steward_conn.execute(
            "SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall(), "maintenance")
        try:
            run.start()
            assert retried.wait(10), "maintenance never reported a retry"
        finally:
            holder.execute("ROLLBACK")
        rows = run.finish(timeout=BUDGET + 15)
        assert run.elapsed < BUDGET + 5
        assert rows == [(t, "create", True) for t in ("a_free", "a_free", "h", "h", "z_free", "z_free")]
        names = [r[0] for r in admin.execute(
            "SELECT partition::text FROM steward.partitions('h') WHERE level = 1 AND NOT is_default").fetchall()]
        assert names == [f"h_p{first_of_month(k, today):%Y_%m}" for k in range(4)]
        assert admin.execute("SELECT count(*) FROM steward.partition_maintenance_log WHERE NOT ok").fetchone() == (0,)


# --- 3. the maintenance backend terminated mid-run ------------------------------------------------------------

TABLES = 20
KILLS = 10
DAYS_PER_ROUND = 3
ROWS_PER_DAY = 10


def _digests(conn: psycopg.Connection, tables: list[str]) -> dict[str, tuple]:
    return {t: conn.execute(
        f"SELECT count(*), coalesce(sum(v), 0), coalesce(md5(string_agg(id || ':' || d, ',' ORDER BY id)), '') "
        f"FROM {t}").fetchone() for t in tables}


@pytest.mark.slow
def test_terminated_maintenance_leaves_nothing_half_made(new_database: Callable[..., str]) -> None:
    url = new_database()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    parents = [f"k{i:02d}" for i in range(TABLES)]
    with session(url) as admin:
        for name in parents:
            admin.execute(f"CREATE TABLE {name} (id bigint NOT NULL, d date NOT NULL, v int NOT NULL) "
                          f"PARTITION BY RANGE (d); CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
            admin.execute("SELECT * FROM steward.manage(%s, '1 day', premake => 2)", [name])
            admin.execute("UPDATE steward.partition_config SET analyze_parent = false")  # tested apart
        before = set(faults.relations(admin))
        next_id = 0

        def strand(round_number: int) -> None:
            """Rows in DEFAULT for new days past the premake horizon: each table needs DAYS_PER_ROUND partitions."""
            nonlocal next_id
            first = 40 + round_number * DAYS_PER_ROUND
            for name in parents:
                admin.execute(
                    f"INSERT INTO {name} SELECT %s + g, current_date + %s + g %% %s, g %% 97 "
                    "FROM generate_series(1, %s) g",
                    [next_id, first, DAYS_PER_ROUND, DAYS_PER_ROUND * ROWS_PER_DAY])
                next_id += DAYS_PER_ROUND * ROWS_PER_DAY

        # Round 0, not interrupted: how long a run takes.
        strand(0)
        started = time.monotonic()
        first = admin.execute("SELECT ok FROM steward.maintain_partitions()").fetchall()
        duration = time.monotonic() - started
        assert len(first) == TABLES * DAYS_PER_ROUND and all(ok for (ok,) in first)

        interrupted = 0
        for round_number in range(1, KILLS + 1):
            strand(round_number)
            expected = _digests(admin, parents)
            sql = ("SELECT * FROM steward.maintain_partitions()" if round_number % 2
                   else "CALL steward.run_maintenance()")  # one transaction, or a commit after each table
            with session(url) as victim:
                pid = victim.info.backend_pid
                run = Worker(lambda v=victim, s=sql: v.execute(s), "maintenance")
                delay = rng.uniform(0.0, duration * 0.9)
                try:
                    run.start()
                    assert wait_until(lambda p=pid, r=run: admin.execute(
                        "SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", [p]).fetchone() == (True,)
                        or not r.is_alive(), timeout=10)
                    time.sleep(delay)
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                finally:
                    run.join(30)
                assert not run.is_alive()
                if run.error is not None:
                    assert isinstance(run.error, psycopg.OperationalError), repr(run.error)
                    interrupted += 1
            assert wait_until(lambda p=pid: backend_gone(admin, p), timeout=10)
            context = f"seed {seed}, round {round_number}, delay {delay:.3f} s of {duration:.3f} s"
            assert faults.integrity_problems(admin, before, parents) == [], context
            assert _digests(admin, parents) == expected, context

        assert interrupted >= KILLS // 2, f"only {interrupted} of {KILLS} runs were interrupted (seed {seed})"
        expected = _digests(admin, parents)
        final = admin.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall()
        assert final and all(ok for _, _, ok in final), final
        assert faults.integrity_problems(admin, before, parents) == []
        assert _digests(admin, parents) == expected
        assert admin.execute("SELECT " + " + ".join(f"(SELECT count(*) FROM {p}_default)" for p in parents)
                             ).fetchone() == (0,)
        assert admin.execute("SELECT * FROM steward.maintain_partitions()").fetchall() == []
        partitions = admin.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = ANY(%s::regclass[])",
                                   [parents]).fetchone()[0]
        assert partitions == TABLES * (1 + 3 + DAYS_PER_ROUND * (KILLS + 1))  # DEFAULT, premade, one per day


# --- 4. two runs at once -------------------------------------------------------------------------------------


def test_two_runs_at_once_do_each_tables_work_once(new_database: Callable[..., str]) -> None:
    """No global lock: a second run goes on while the first waits for a table, and the first, reaching a table the
    second has done, takes its lock, reads the catalog again and finds nothing due (tests/security/test_lockout.py
    holds the keys of 0.1.0's advisory lock)."""
    url = new_database()
    with session(url) as admin, session(url) as holder, session(url) as first, session(url) as second:
        _lock_setup(admin)
        holder.execute("BEGIN; LOCK TABLE h IN SHARE ROW EXCLUSIVE MODE")  # slows the first run down
        run = Worker(lambda: first.execute(
            "SELECT parent::text, action, ok FROM steward.maintain_partitions()").fetchall(), "first run")
        try:
            run.start()
            first_pid = first.info.backend_pid
            assert wait_until(lambda: waits_on_lock(admin, first_pid), timeout=10)
            rows = second.execute("SELECT parent::text, action, ok FROM steward.maintain_partitions('z_free')")
            assert rows.fetchall() == [("z_free", "create", True), ("z_free", "create", True)]
            assert run.is_alive(), "the first run was still working"
        finally:
            rows = run.finish(timeout=BUDGET + 15)
            holder.execute("ROLLBACK")
        assert [(p, a) for p, a, _ in rows] == [("a_free", "create"), ("a_free", "create"), ("h", "error")]
        assert admin.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'z_free'::regclass").fetchone() == (
            5,)  # DEFAULT, the current month, three ahead: made once
        assert [(p, a, ok) for p, a, ok, _ in second.execute(
            "SELECT parent::text, action, ok, detail FROM steward.maintain_partitions()")] == [
            ("h", "create", True), ("h", "create", True)]


def test_concurrent_create_partition_calls_make_one_partition(new_database: Callable[..., str]) -> None:
    """Two sessions create the same month at once (the first still in its transaction): one table, no error."""
    url = new_database()
    with session(url) as admin, session(url) as one, session(url) as two:
        admin.execute("CREATE TABLE c (d date NOT NULL) PARTITION BY RANGE (d)")
        call = Worker(lambda: two.execute(
            "SELECT steward.create_partition('c', '2030-01-01', '1 month')::text").fetchone(), "second")
        try:
            with one.transaction():
                one.execute("SELECT steward.create_partition('c', '2030-01-01', '1 month')")
                call.start()
                second_pid = two.info.backend_pid
                assert wait_until(lambda: waits_on_lock(admin, second_pid), timeout=10)  # behind the first
        finally:
            call.join(30)
        result = call.finish(timeout=1)
        assert result == ("c_p2030_01",)
        assert admin.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'c'::regclass").fetchone() == (1,)
