"""pg-steward export and import: round trip, verification, dry run, interruption."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from support.partitions import changes_nothing, relations
from test_cli import PG_STEWARD, run
from test_partitions_export import expiring

ROWS = "SELECT id, at, note FROM events ORDER BY id"


@pytest.fixture
def db(new_database: Callable[..., str]) -> tuple[str, psycopg.Connection]:
    url = new_database()
    conn = psycopg.connect(url, autocommit=True)
    expiring(conn)
    conn.execute("ALTER TABLE events ADD COLUMN twice bigint GENERATED ALWAYS AS (id * 2) STORED")
    conn.execute("INSERT INTO events (id, at, note) SELECT 1000 + n, date_trunc('month', current_date - "
                 "interval '29 months')::date + n, E'tab\\there, newline\\nthere, quote '' and \\\\' "
                 "FROM generate_series(0, 4) n")
    conn.execute("SELECT steward.manage('events', retention => '1 year', retention_mode => 'export')")
    yield url, conn
    conn.close()


def old(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT partition::text FROM steward.export_candidates('events')")]


def test_round_trip_gives_identical_rows(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    url, conn = db
    before = conn.execute(ROWS).fetchall()
    parts = old(conn)
    assert len(parts) == 2
    result = run("export", "events", "--dir", str(tmp_path), "--format", "json", "--dsn", url)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert [r["action"] for r in done] == ["export, drop", "export, drop"] and all(r["ok"] for r in done)
    assert not set(parts) & relations(conn) and old(conn) == []
    manifests = sorted(tmp_path.glob("*.manifest.json"))
    assert len(manifests) == 2 and not list(tmp_path.glob(".*"))  # no temporary file left
    entry = json.loads(manifests[0].read_text())
    assert [c[0] for c in entry["columns"]] == ["id", "at", "note"]  # the generated column is computed again
    assert conn.execute("SELECT sum(row_count) FROM steward.partition_exports").fetchone()[0] == \
        sum(json.loads(m.read_text())["rows"] for m in manifests)
    assert len(conn.execute(ROWS).fetchall()) < len(before)
    report = json.loads(run("report", "exports", "--format", "json", "--dsn", url).stdout)
    assert sorted(r["partition"] for r in report if r["source"] == "exported") == sorted(f"public.{p}" for p in parts)
    # Loaded back, by manifest or by data file; into a fresh copy of the table too (--into).
    conn.execute("SELECT steward.unmanage('events')")  # or maintenance would wait to export them again
    for index, path in enumerate(manifests):
        target = path if index == 0 else path.with_name(path.name.replace(".manifest.json", ".copy.gz"))
        loaded = run("import", str(target), "--dsn", url)
        assert loaded.returncode == 0, loaded.stderr
    assert conn.execute(ROWS).fetchall() == before
    assert conn.execute("SELECT count(*) FROM events WHERE twice <> id * 2").fetchone() == (0,)
    again = run("import", str(manifests[0]), "--dsn", url)
    assert again.returncode == 1 and "already holds" in again.stderr and "Traceback" not in again.stderr
    conn.execute("CREATE TABLE copy (LIKE events) PARTITION BY RANGE (at)")
    into = run("import", str(manifests[0]), "--into", "copy", "--format", "json", "--dsn", url)
    assert into.returncode == 0, into.stderr
    assert json.loads(into.stdout)[0]["rows"] == entry["rows"]


def test_dry_run_changes_nothing(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    url, conn = db
    with changes_nothing(conn, "events", everything=True):
        result = run("export", "--dir", str(tmp_path), "--dry-run", "--format", "json", "--dsn", url)
    assert result.returncode == 0, result.stderr
    assert [r["action"] for r in json.loads(result.stdout)] == ["would export, then drop"] * 2
    report = json.loads(run("report", "exports", "--format", "json", "--dsn", url).stdout)
    assert sorted(r["partition"] for r in report if r["source"] == "awaiting export") == sorted(old(conn))
    assert list(tmp_path.iterdir()) == []


def corrupt_cases(tmp_path: Path, manifest: Path) -> list[tuple[str, str]]:
    data = manifest.with_name(manifest.name.replace(".manifest.json", ".copy.gz"))
    whole = data.read_bytes()
    entry = json.loads(manifest.read_text())
    cases = []
    for name, change in (("truncated", lambda: data.write_bytes(whole[: len(whole) // 2])),
                         ("flipped", lambda: data.write_bytes(whole[:20] + bytes([whole[20] ^ 1]) + whole[21:])),
                         ("rehashed", lambda: _rehashed(data, manifest, entry))):
        change()
        cases.append((name, run("import", str(manifest), "--dsn", os.environ["EXPORT_TEST_URL"]).stderr))
        data.write_bytes(whole)
        manifest.write_text(json.dumps(entry))
    return cases


def _rehashed(data: Path, manifest: Path, entry: dict) -> None:
    """A file with a row more, hashed again: the hash matches, the row count does not."""
    data.write_bytes(gzip.compress(gzip.decompress(data.read_bytes()) + b"9\t2001-01-01\tx\n"))
    import hashlib
    manifest.write_text(json.dumps({**entry, "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}))


def test_a_corrupt_file_is_refused(db: tuple[str, psycopg.Connection], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url, conn = db
    assert run("export", "--dir", str(tmp_path), "--dsn", url).returncode == 0
    conn.execute("SELECT steward.unmanage('events')")
    manifest = sorted(tmp_path.glob("*.manifest.json"))[0]
    monkeypatch.setenv("EXPORT_TEST_URL", url)
    with changes_nothing(conn, "events"):
        cases = dict(corrupt_cases(tmp_path, manifest))
    assert "not a complete gzip file" in cases["truncated"] and "nothing imported" in cases["truncated"]
    assert "differs from the manifest" in cases["flipped"] or "not a complete gzip" in cases["flipped"]
    assert "the manifest says" in cases["rehashed"]
    assert all("Traceback" not in text for text in cases.values())


def test_rows_arriving_after_the_export_keep_the_partition(db: tuple[str, psycopg.Connection]) -> None:
    """The export's count is checked again under the partition's lock: a row inserted since refuses the drop."""
    _, conn = db
    first = old(conn)[0]
    exported = conn.execute(f"SELECT count(*) FROM {first}").fetchone()[0]  # what a COPY of it held
    conn.execute(f"INSERT INTO {first} (id, at, note) SELECT 5000, min(at), 'late' FROM {first}")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="nothing recorded"):
        conn.execute("SELECT * FROM steward.record_partition_export(%s, %s, %s, 'f')", [first, exported, "0" * 64])
    assert first in relations(conn)


def test_an_interrupted_export_drops_nothing(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    """Killed while its COPY waits for the partition's lock: nothing dropped, no file left under its final name."""
    url, conn = db
    parts = old(conn)
    with psycopg.connect(url) as blocker:
        blocker.execute(f"LOCK TABLE {parts[0]} IN ACCESS EXCLUSIVE MODE")
        process = subprocess.Popen([PG_STEWARD, "export", "--dir", str(tmp_path), "--dsn", url],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(600):  # until the export waits for the lock (a state, polled)
                waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                       "'pg-steward' AND wait_event_type = 'Lock'").fetchone()[0]
                if waiting or process.poll() is not None:
                    break
                conn.execute("SELECT pg_sleep(0.05)")
            assert waiting, process.communicate()
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
    assert set(parts) <= relations(conn)
    assert conn.execute("SELECT count(*) FROM steward.partition_exports").fetchone() == (0,)
    assert not list(tmp_path.glob("*.copy.gz")) and not list(tmp_path.glob("*.manifest.json"))
    # The next run exports them all.
    assert run("export", "--dir", str(tmp_path), "--dsn", url).returncode == 0
    assert not set(parts) & relations(conn)


def test_bad_arguments_are_one_line(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    url, conn = db
    conn.execute("CREATE TABLE plain (at date NOT NULL) PARTITION BY RANGE (at)")
    with changes_nothing(conn, "events"):
        missing = run("export", "--dir", str(tmp_path / "nowhere"), "--dsn", url)
        assert missing.returncode == 1 and "is not a directory" in missing.stderr
        unknown = run("export", "nosuch", "--dir", str(tmp_path), "--dsn", url)
        assert unknown.returncode == 1 and "does not exist" in unknown.stderr
        wrong = run("export", "plain", "--dir", str(tmp_path), "--dsn", url)
        assert wrong.returncode == 1 and "retention_mode export" in wrong.stderr
        other = tmp_path / "x.txt"
        other.write_text("{}")
        bad = run("import", str(other), "--dsn", url)
        assert bad.returncode == 1 and "neither a manifest" in bad.stderr
        for text in (missing, unknown, wrong, bad):
            assert "Traceback" not in text.stderr


def test_import_refuses_a_table_of_another_owner(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    """Loading runs the table's triggers and CHECKs: a superuser never loads into a table another role owns."""
    url, conn = db
    assert run("export", "--dir", str(tmp_path), "--dsn", url).returncode == 0
    conn.execute("SELECT steward.unmanage('events')")
    conn.execute("CREATE ROLE someone")
    conn.execute("ALTER TABLE events OWNER TO someone")
    with changes_nothing(conn, "events"):
        result = run("import", str(sorted(tmp_path.glob("*.manifest.json"))[0]), "--dsn", url)
    assert result.returncode == 1 and "connect as someone" in result.stderr


def test_a_sub_partitioned_partition_is_exported_whole(new_database: Callable[..., str], tmp_path: Path) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tree (at date NOT NULL, kind int NOT NULL) PARTITION BY RANGE (at);"
                     "CREATE TABLE tree_2020 PARTITION OF tree FOR VALUES FROM ('2020-01-01') TO ('2020-02-01') "
                     "PARTITION BY LIST (kind);"
                     "CREATE TABLE tree_2020_a PARTITION OF tree_2020 FOR VALUES IN (1);"
                     "CREATE TABLE tree_2020_b PARTITION OF tree_2020 FOR VALUES IN (2);"
                     "INSERT INTO tree SELECT '2020-01-01'::date + n % 28, 1 + n % 2 FROM generate_series(1, 50) n")
        conn.execute("SELECT steward.manage('tree', retention => '1 year', retention_mode => 'export')")
        before = conn.execute("SELECT at, kind FROM tree WHERE at < '2021-01-01' ORDER BY at, kind").fetchall()
        result = run("export", "tree", "--dir", str(tmp_path), "--format", "json", "--dsn", url)
        assert result.returncode == 0, result.stderr
        assert [(r["rows"], r["action"]) for r in json.loads(result.stdout)] == [(50, "export, drop")]
        conn.execute("SELECT steward.unmanage('tree')")
        loaded = run("import", str(next(tmp_path.glob("*.manifest.json"))), "--dsn", url)
        assert loaded.returncode == 0, loaded.stderr
        assert conn.execute("SELECT at, kind FROM tree WHERE at < '2021-01-01' ORDER BY at, kind").fetchall() == before


def test_a_write_during_the_export_is_in_the_file(db: tuple[str, psycopg.Connection], tmp_path: Path) -> None:
    """A writer of the partition holds the export off until it commits: its row is in the file, never dropped
    unseen (the export locks the partition in SHARE mode before it copies)."""
    url, conn = db
    first = old(conn)[0]
    with psycopg.connect(url) as writer:
        writer.execute(f"INSERT INTO {first} (id, at, note) SELECT 7000, min(at), 'late' FROM {first}")
        process = subprocess.Popen([PG_STEWARD, "export", "--dir", str(tmp_path), "--format", "json", "--dsn", url],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(600):  # until the export waits for the writer's lock (a state, polled)
                waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                       "'pg-steward' AND wait_event_type = 'Lock'").fetchone()[0]
                if waiting or process.poll() is not None:
                    break
                conn.execute("SELECT pg_sleep(0.05)")
            assert waiting, process.communicate()
            writer.commit()
            _, err = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    conn.execute("SELECT steward.unmanage('events')")
    for manifest in sorted(tmp_path.glob("*.manifest.json")):
        assert run("import", str(manifest), "--dsn", url).returncode == 0
    assert conn.execute("SELECT note FROM events WHERE id = 7000").fetchall() == [("late",)]
