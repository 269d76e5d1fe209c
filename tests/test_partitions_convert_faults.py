"""steward.partition_existing_table interrupted mid-copy while the application writes: its backend terminated,
then resumed (every row once, every acknowledged insert kept, checksums equal) or undone (the source as it was and
in use, the twin gone); and the whole server stopped with ``-m immediate`` mid-copy, restarted, resumed.

States are waited on (rows of steward.table_conversions, pg_stat_activity), never slept for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from pg_steward.localserver import LocalServer
from test_partitions_convert import ROWS, SAFETY, TABLE, call, catalog_state, snapshot, state, wait_for

CALL_START = ("CALL steward.partition_existing_table('public.events', 'created_at', '1 month', "
              "action => 'start', batch_size => 10, lock_timeout => '5s')")


class Writers:
    """Threads that insert (each acknowledged id kept), update and delete rows of public.events until stopped."""

    def __init__(self, url: str, count: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.inserted: list[int] = []
        self.deleted: set[int] = set()
        self.writes = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write, args=(s,), daemon=True) for s in range(count)]

    def write(self, seed: int) -> None:
        with psycopg.connect(self.url, autocommit=True, options=SAFETY) as w:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    new = w.execute("INSERT INTO public.events (created_at, payload) VALUES (timestamptz "
                                    "'2024-01-01' + %s * interval '1 minute', 'w') RETURNING id",
                                    [seed * 100000 + n]).fetchone()[0]
                    w.execute("UPDATE public.events SET payload = payload || 'u' WHERE id = %s",
                              [(n * 37 + seed) % 2000])
                    w.execute("UPDATE public.events SET created_at = created_at + interval '1 day' WHERE id = %s",
                              [(n * 53 + seed) % 2000])
                    gone = (n * 91 + seed * 7) % 2000
                    w.execute("DELETE FROM public.events WHERE id = %s", [gone])
                    with self.lock:
                        self.inserted.append(new)
                        self.deleted.add(gone)
                        self.writes += 1
                except psycopg.Error as error:
                    self.errors.append(error)
                    return

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        wait_for(lambda: self.writes >= 5)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def start_in_background(url: str) -> tuple[psycopg.Connection, threading.Thread, list[BaseException]]:
    converter = psycopg.connect(url, autocommit=True)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            converter.execute(CALL_START)
        except psycopg.Error as error:
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return converter, thread, failure


def copied(admin: psycopg.Connection) -> int:
    return (admin.execute("SELECT rows_copied FROM steward.table_conversions").fetchone() or (0,))[0]


def terminate_mid_copy(url: str) -> None:
    """A ``start`` terminated by pg_terminate_backend once the state row says batches were committed."""
    converter, thread, failure = start_in_background(url)
    pid = converter.info.backend_pid
    with psycopg.connect(url, autocommit=True) as admin:
        wait_for(lambda: copied(admin) >= 50)
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        thread.join(60)
        assert not thread.is_alive() and failure, "the conversion was not interrupted"
        wait_for(lambda: not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone())
        step, rows = state(admin)
        assert step == "copying" and 50 <= rows < 2000
    converter.close()


def assert_every_row_once(conn: psycopg.Connection, twin: str, writers: Writers) -> None:
    """The twin holds the source's rows exactly (each primary key once, same checksum), with every insert the
    writers had acknowledged."""
    assert not writers.errors, writers.errors
    source, copy = snapshot(conn), conn.execute(ROWS.format(twin)).fetchall()
    assert copy == source
    assert conn.execute(f"SELECT count(*) = count(DISTINCT (id, created_at)) FROM {twin}").fetchone() == (True,)
    digest = "SELECT sum(hashtextextended(r::text, 0)::numeric) FROM {} AS r"
    assert conn.execute(digest.format(twin)).fetchone() == conn.execute(digest.format("public.events")).fetchone()
    ids = [r[0] for r in conn.execute(f"SELECT id FROM {twin}").fetchall()]
    counts: dict[int, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    assert [i for i in writers.inserted if counts.get(i) != 1] == []


def test_terminated_copy_with_writers_resumes_with_every_row_once(events: str) -> None:  # noqa: F811
    with Writers(events) as writers:
        terminate_mid_copy(events)
        before = writers.writes
        wait_for(lambda: writers.writes >= before + 10)  # writes go on while the conversion is stopped
        with psycopg.connect(events, autocommit=True) as conn:
            notices = call(conn, "start", batch_size=100, lock_timeout="'5s'")
            assert any("resuming the copy" in n for n in notices), notices
            assert state(conn)[0] == "copied"
    with psycopg.connect(events, autocommit=True) as conn:
        assert_every_row_once(conn, "public.events_partitioned", writers)
        notices = call(conn, "swap")
        assert any("checksums equal" in n for n in notices), notices
        assert snapshot(conn) == snapshot(conn, "public.events_unpartitioned")


def test_undo_after_a_kill_leaves_the_source_untouched_and_in_use(events: str) -> None:  # noqa: F811
    with psycopg.connect(events, autocommit=True) as conn:
        before, catalog_before = snapshot(conn), catalog_state(conn)
        source = conn.execute("SELECT 'public.events'::regclass::oid").fetchone()[0]
    terminate_mid_copy(events)
    with psycopg.connect(events, autocommit=True) as conn:
        call(conn, "undo")
        assert snapshot(conn) == before
        assert catalog_state(conn) == catalog_before
        assert conn.execute("SELECT 'public.events'::regclass::oid").fetchone()[0] == source
        assert conn.execute("SELECT to_regclass('public.events_partitioned')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'events\\_partitioned%'").fetchone() \
            == (0,)
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE 'pg_steward_sync%'").fetchone() == (0,)
        assert state(conn) is None
        # In use as before: written to, and TRUNCATE (refused during the conversion) allowed again.
        conn.execute("INSERT INTO public.events (created_at, payload) VALUES ('2024-03-01', 'after undo')")
        conn.execute("UPDATE public.events SET payload = 'x' WHERE id = 1")
        with conn.transaction(force_rollback=True):
            conn.execute("TRUNCATE public.events")
        assert len(snapshot(conn)) == len(before) + 1


@pytest.fixture
def own_server() -> Iterator[LocalServer]:
    """A server only this test stops and starts (the session's server is shared)."""
    with LocalServer() as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
            conn.execute(TABLE)
        yield server


def test_immediate_stop_mid_copy_then_restart_and_resume(own_server: LocalServer) -> None:
    url = own_server.url
    with psycopg.connect(url, autocommit=True) as conn:
        before = snapshot(conn)
    converter, thread, failure = start_in_background(url)
    with psycopg.connect(url, autocommit=True) as admin:
        wait_for(lambda: copied(admin) >= 50)
    own_server.restart(immediate=True)
    thread.join(60)
    assert not thread.is_alive() and failure, "the conversion was not interrupted"
    converter.close()
    assert "automatic recovery in progress" in own_server.log()  # a crash, not a clean shutdown
    with psycopg.connect(url, autocommit=True) as conn:
        step, rows = state(conn)
        assert step == "copying" and 50 <= rows < 2000, (step, rows)
        # The twin holds exactly the committed batches' rows: what the state row says was copied.
        assert conn.execute("SELECT count(*) FROM public.events_partitioned").fetchone() == (rows,)
        # The trigger still keeps the twin in step after recovery.
        conn.execute("UPDATE public.events SET payload = 'changed' WHERE id = 1")
        conn.execute("DELETE FROM public.events WHERE id = 1999")
        notices = call(conn, "start", batch_size=500)
        assert any(f"resuming the copy after {rows} rows" in n for n in notices), notices
        notices = call(conn, "swap")
        assert any("checksums equal" in n for n in notices), notices
        after = snapshot(conn)
        assert len(after) == len(before) - 1
        assert after == snapshot(conn, "public.events_unpartitioned")
        assert conn.execute("SELECT count(*) = count(DISTINCT (id, created_at)) FROM public.events").fetchone() \
            == (True,)


from test_partitions_convert import events  # noqa: E402, F401 (a fixture)
