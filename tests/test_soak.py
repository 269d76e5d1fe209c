"""The soak with a short setting: 8 writer sessions insert into 3 managed tables (DEFAULT partitions, some keys
beyond the premake horizon on purpose) while ``CALL steward.run_maintenance()`` with retention (drop, detach,
archive) runs every 2 s and query capture every 5 s. Nothing lost, nothing duplicated, no writer error, no writer
waiting on a lock for as long as the tables' lock_timeout, no maintenance or capture failure.

The code is bench/soak.py's (``bench/soak.py --minutes 10`` is the long run by hand).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support.bench_modules import load

soak = load("soak")

WRITE_SECONDS = 40  # with setup, warm-up, the last run and the accounting: about a minute


@pytest.mark.slow
def test_soak_loses_nothing_and_keeps_writers_moving(new_database: Callable[..., str]) -> None:
    settings = soak.Settings(seconds=WRITE_SECONDS, writers=8, tables=3, interval=2.0, lock_timeout_s=2.0,
                             lock_retries=3, seed=20261121)
    result = soak.run_soak(new_database(), settings)
    writers, locks, runs, rows = result["writers"], result["lock_waits"], result["maintenance"], result["rows"]
    context = {k: result[k] for k in ("writers", "lock_waits", "maintenance", "rows")}

    assert result["threads_not_stopped"] == [], context
    assert writers["errors"] == 0, writers["first_errors"]
    # Exact accounting: every acknowledged row is in its table or in a partition retention removed.
    assert rows["mismatches"] == [] and rows["old_partitions_not_retired"] == [], rows
    assert (rows["lost"], rows["duplicated"], rows["unexpected"]) == (0, 0, 0), rows
    assert rows["acknowledged"] == rows["in_tables"] + rows["retired"] == writers["rows_acknowledged"] + rows[
        "retired"], rows
    assert result["rows_left_in_default"] == 0

    # The run did what a soak is for: rows reached DEFAULT and were moved out, retention ran in every mode.
    assert runs["rows_moved_from_default"] > 0, runs
    assert all(n > 0 for n in rows["retired_by_mode"].values()), rows["retired_by_mode"]
    assert runs["actions"].get("create", 0) > 0 and runs["runs"] >= 5, runs
    assert (runs["run_errors"], runs["failed_actions"]) == (0, 0), runs

    # Query capture ran beside them, every capture succeeded and kept its snapshot.
    capture = result["query_capture"]
    assert capture["runs"] >= 3 and capture["errors"] == 0, capture
    assert capture["snapshots_kept"] == capture["snapshots_returned"] == capture["runs"], capture

    # No writer waited on a lock as long as the tables' lock_timeout (sampled from pg_locks.waitstart).
    assert locks["samples"] > 0 and locks["sampler_errors"] == [], locks
    assert locks["longest_wait_s"] < settings.lock_timeout_s, locks
    assert all(soak.goals(result).values()), soak.goals(result)
