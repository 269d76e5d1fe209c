"""bench/partition_existing_table.py on a small table: a table converted while 8 writers insert and update it,
with no writer error, no writer waiting on a lock as long as the conversion's lock_timeout, and every row
accounted for (each original row once with its increments, each acknowledged insert once with its last value).

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
    assert all(bench.goals(result).values()), context
    accounting = result["accounting"]
    assert accounting["inserts_acknowledged"] > 0 and accounting["increments"] > 0, context
    assert result["conversion"]["rows_copied"] >= 20000
    assert any("checksums equal" in n for n in result["conversion"]["notices"]), context
