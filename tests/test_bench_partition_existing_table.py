"""bench/partition_existing_table.py on a small table: a table converted while 8 writers insert and update it,
with no writer error and every row accounted for (each original row once with its increments, each
acknowledged insert once with its last value), the writers' lock waits sampled throughout.

The longest lock wait is the benchmark's measure, not asserted here: a writer's update can wait for the copy
batch that holds its row to commit, and on a loaded machine one batch can take longer than the conversion's
lock_timeout (seen at a load average of 13 on two CPUs). ``bench/partition_existing_table.py`` reports it
against its goal.

The code is the benchmark's (``bench/partition_existing_table.py --rows 1000000`` is the long run by hand).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support.bench_modules import load

bench = load("partition_existing_table")


@pytest.mark.slow
def test_conversion_under_writers_loses_nothing(new_database: Callable[..., str]) -> None:
    settings = bench.Settings(rows=20000, months=12, writers=8, batch_size=1000, lock_timeout_s=2.0, after_s=1.0,
                              seed=20261203)
    result = bench.run(new_database(), settings)
    context = {k: result[k] for k in ("conversion", "writers", "lock_waits", "accounting")}
    met = bench.goals(result)
    assert all(v for k, v in met.items() if k != bench.LOCK_WAIT_GOAL), (met, context)
    assert result["lock_waits"]["samples"] > 0 and result["lock_waits"]["errors"] == [], context
    accounting = result["accounting"]
    assert accounting["inserts_acknowledged"] > 0 and accounting["increments"] > 0, context
    # The copy's own inserts, not a count of the table: an original row a writer updated before the copy reached
    # it is in the twin already (the trigger's upsert) and the copy's ON CONFLICT DO NOTHING leaves it, while the
    # rows written before the trigger existed are copied too. The accounting above finds every row.
    assert result["conversion"]["rows_copied"] > 0, context
    assert any("checksums equal" in n for n in result["conversion"]["notices"]), context
