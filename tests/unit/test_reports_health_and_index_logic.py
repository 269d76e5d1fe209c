"""Pure logic of the index findings and the health checks."""

from __future__ import annotations

from dataclasses import replace

from pg_steward.reports import health_checks as hc
from pg_steward.reports import index_findings as f

BASE = f.IndexInfo(oid=1, schema="s", table="t", table_oid=10, name="i1", method="btree", columns=(1,),
                   key_count=1, opclasses=("1978",), collations=("0",), options=("0",), expressions=None,
                   predicate=None, unique=False, constraint=False, replica_identity=False, valid=True,
                   partitioned=False, child=False, size_bytes=8192, scans=0)


def test_duplicates_keep_the_constraint_index() -> None:
    pk = replace(BASE, oid=2, name="pk", unique=True, constraint=True)
    found = f.duplicates([BASE, pk])
    assert [x.index.name for x in found] == ["i1"]
    assert found[0].fix == 'DROP INDEX CONCURRENTLY "s"."i1";'


def test_not_duplicates_when_anything_differs() -> None:
    for change in ({"opclasses": ("3124",)}, {"collations": ("950",)}, {"options": ("3",)},
                   {"predicate": "(a > 0)"}, {"method": "hash"}, {"table_oid": 11}):
        assert f.duplicates([BASE, replace(BASE, oid=2, name="i2", **change)]) == []


def test_redundant_left_prefix_but_not_unique() -> None:
    wide = replace(BASE, oid=2, name="wide", columns=(1, 2), key_count=2, opclasses=("1978", "1978"),
                   collations=("0", "0"), options=("0", "0"))
    names = {(10, 1): "a", (10, 2): "b"}
    found = f.redundant([BASE, wide], names)
    assert [x.index.name for x in found] == ["i1"] and "(a)" in found[0].detail
    assert f.redundant([replace(BASE, unique=True), wide], names) == []
    assert f.redundant([replace(BASE, columns=(2,)), wide], names) == []
    assert f.redundant([replace(BASE, options=("3",)), wide], names) == []


def test_unused_skips_constraints_and_replica_identity() -> None:
    assert len(f.unused([BASE], "since x")) == 1
    assert f.unused([replace(BASE, constraint=True)], "x") == []
    assert f.unused([replace(BASE, replica_identity=True)], "x") == []
    assert f.unused([replace(BASE, scans=3)], "x") == []


def test_the_unused_keeper_of_a_duplicate_pair_waits_for_the_duplicates_drop() -> None:
    copy = replace(BASE, oid=2, name="i2")
    dups = f.duplicates([BASE, copy])
    assert [(d.index.name, d.kept and d.kept.name) for d in dups] == [("i2", "i1")]
    kept = f.kept_duplicates(dups)
    [keeper] = f.unused([BASE, copy], "since x", dropped=frozenset({2}), kept=kept)
    assert keeper.index.name == "i1" and keeper.fix.startswith("-- waits for the drop of its duplicate")
    assert '"s"."i2"' in keeper.fix and "DROP INDEX" not in keeper.fix and '"s"."i2"' in keeper.detail
    # once the duplicate is gone, the same index gets its DROP
    [alone] = f.unused([BASE], "since x", kept=f.kept_duplicates(f.duplicates([BASE])))
    assert alone.fix == 'DROP INDEX CONCURRENTLY "s"."i1";'


def test_partitioned_index_drop_is_not_concurrent() -> None:
    assert f.drop_statement(replace(BASE, partitioned=True)).startswith('DROP INDEX "s"."i1"')


def test_fk_cover() -> None:
    two = replace(BASE, columns=(2, 1, 3), key_count=3)
    assert f.covers_foreign_key(two, (1, 2))
    assert not f.covers_foreign_key(two, (1, 3))
    assert not f.covers_foreign_key(replace(two, predicate="x"), (1, 2))


def test_invalid_leftover_is_dropped() -> None:
    leftover = f.invalid([replace(BASE, name="i_ccnew", valid=False)], {})
    assert leftover[0].fix.startswith("DROP INDEX CONCURRENTLY")
    # A failed CREATE INDEX CONCURRENTLY is dropped, its rebuild told beside (a REINDEX of a failed unique
    # build fails again on the same duplicate key); one a constraint depends on is rebuilt.
    failed = f.invalid([replace(BASE, valid=False)], {BASE.oid: "CREATE UNIQUE INDEX i ON s.t USING btree (a)"})
    assert failed[0].fix.startswith("DROP INDEX CONCURRENTLY")
    assert failed[0].fix.endswith("CREATE UNIQUE INDEX CONCURRENTLY i ON s.t USING btree (a)")
    constraint = f.invalid([replace(BASE, valid=False, constraint=True)], {})
    assert constraint[0].fix.startswith("REINDEX INDEX CONCURRENTLY")


def test_status_both_directions() -> None:
    seq = hc.DEFAULTS["sequences"]
    assert [hc.status(v, seq) for v in (10, 75, 95, None)] == ["ok", "warning", "critical", "unknown"]
    cache = hc.DEFAULTS["cache_hit_ratio"]
    assert [hc.status(v, cache) for v in (99.5, 94, 80)] == ["ok", "warning", "critical"]
    assert hc.status(1e12, hc.DEFAULTS["database_size"]) == "ok"


def test_overrides_and_text() -> None:
    t = hc.effective("blocked_queries", {"warning": 0, "critical": None})
    assert hc.status(0.5, t) == "warning"
    assert hc.threshold_text(hc.DEFAULTS["cache_hit_ratio"]) == "warning < 95, critical < 90 %"
    assert hc.threshold_text(hc.DEFAULTS["temp_files"]) == "warning >= 10.0 GB, critical >= 100.0 GB"


def test_sequence_percent_used() -> None:
    assert hc.percent_used(31130, 1, 1, 32767, 1) == 95.0
    assert hc.percent_used(None, 1, 1, 100, 1) is None
    assert hc.percent_used(-95, -1, -1, -1, -101) == 94.0


def test_a_sequence_is_bounded_by_the_narrowest_integer_column_it_feeds() -> None:
    wide = hc.FedColumn('"s"."a"', '"id"', "int8", "bigint")
    narrow = hc.FedColumn('"s"."b"', '"id"', "int4", "integer")
    text = hc.FedColumn('"s"."c"', '"code"', "text", "text")
    use = hc.sequence_use('"s"."q"', 1997159793, 1, 1, 1, 2**63 - 1, [wide, text, narrow])
    assert use is not None and use.percent == 93.0 and use.limit == 2**31 - 1 and use.bounded_by == narrow
    assert use.fix == ('ALTER TABLE "s"."b" ALTER COLUMN "id" TYPE bigint;',)  # the sequence itself is bigint
    assert hc.sequence_text(use).endswith('(93.0%), the limit of integer column "s"."b"."id"')
    # A descending sequence heads to the column's minimum, and to its own MINVALUE when that is nearer.
    down = hc.sequence_use('"s"."d"', -2040109465, -1, -1, -2**63, -1, [narrow])
    assert down is not None and down.limit == -2**31 and down.percent == 95.0
    own = hc.sequence_use('"s"."e"', -95, -1, -1, -101, -1, [narrow])
    assert own is not None and own.bounded_by is None and own.percent == 94.0
    assert own.fix == ('ALTER TABLE "s"."b" ALTER COLUMN "id" TYPE bigint;',
                       'ALTER SEQUENCE "s"."e" AS bigint NO MINVALUE;')
    assert hc.sequence_use('"s"."n"', None, 1, 1, 1, 100, [narrow]) is None
    fix = hc.sequences_fix([use, use])
    assert fix is not None and fix.count("ALTER TABLE") == 1 and "rewrites the table" in fix
    assert hc.sequences_fix([]) is None
    assert hc.judged_floor(hc.Threshold(75, 90)) == 75 and hc.judged_floor(hc.Threshold(None, None)) is None


def test_a_blocker_is_terminated_when_it_runs_nothing_to_cancel() -> None:
    for state in ("idle in transaction", "idle in transaction (aborted)", "idle"):
        statement, why = hc.blocker_action(7, state)
        assert statement == "SELECT pg_catalog.pg_terminate_backend(7);" and "would not end" in why
    statement, why = hc.blocker_action(7, "active")
    assert statement == "SELECT pg_catalog.pg_cancel_backend(7);" and why.startswith("pid 7 is active")
    assert "not visible" in hc.blocker_action(7, None)[1]
    assert hc.blocker_action(0, None) == ("", hc.blocker_action(0, "active")[1])  # a prepared transaction


def test_checkpoint_counters_by_server_columns() -> None:
    assert hc.checkpoint_figures(set())[0] == "pg_stat_bgwriter"  # up to 16: no pg_stat_checkpointer
    view, columns = hc.checkpoint_figures({"num_timed", "num_requested", "num_done", "write_time"})
    assert (view, columns["requested"], columns["timed"]) == ("pg_stat_checkpointer", "num_requested", "num_timed")
    assert hc.requested_share(3, 4) is None  # too few to judge
    assert hc.requested_share(30, 10) == 25.0
    assert hc.status(hc.requested_share(30, 10), hc.DEFAULTS["checkpoints"]) == "warning"


def test_unused_says_since_when_where_the_server_records_last_scans() -> None:
    never = f.unused([replace(BASE, scans=0)], "since the statistics began", last_scan_known=True)
    assert never[0].detail.startswith("no index scans since the statistics began;")
    assert f.NO_LAST_SCAN not in never[0].detail
    # PostgreSQL 16+: scanned, but not for longer than UNUSED_AFTER_DAYS.
    idle = replace(BASE, scans=40, last_scan="2026-09-01 10:00:00+00", idle_days=f.UNUSED_AFTER_DAYS + 0.5)
    [found] = f.unused([idle], "since x", last_scan_known=True)
    assert found.detail.startswith(f"not scanned since 2026-09-01 10:00:00+00 ({f.UNUSED_AFTER_DAYS} days), "
                                   "40 index scans before that since x")
    assert f.unused([replace(idle, idle_days=f.UNUSED_AFTER_DAYS - 1)], "x", last_scan_known=True) == []
    # Before 16 the server cannot tell: only never-scanned indexes are found, and the finding says so.
    assert f.unused([idle], "x", last_scan_known=False) == []
    [old] = f.unused([replace(BASE, scans=0)], "since x", last_scan_known=False)
    assert f.NO_LAST_SCAN in old.detail


def test_a_cron_run_that_could_not_connect_or_start_is_told_from_a_failed_command() -> None:
    assert hc.cron_connection_failure("failed", "connection failed")
    assert hc.cron_connection_failure("failed", "could not start background process; more details may be "
                                                "available in the server logs")
    assert hc.cron_connection_failure("failed", "job startup timeout")
    assert not hc.cron_connection_failure("failed", "ERROR:  division by zero")
    assert not hc.cron_connection_failure("succeeded", "connection failed")  # a command's own output
    assert not hc.cron_connection_failure("failed", None)


def test_wraparound_share_of_the_freeze_setting() -> None:
    assert hc.share_of(100_000_000, 200_000_000) == 50.0
    assert hc.share_of(2**31, 2**31) == 100.0
    assert hc.status(hc.share_of(250_000_000, 200_000_000), hc.DEFAULTS["xid_wraparound"]) == "warning"
    assert hc.status(hc.share_of(1_100_000_000, 200_000_000), hc.DEFAULTS["xid_wraparound"]) == "critical"


def test_informational_check_is_never_a_warning() -> None:
    info = hc.DEFAULTS["tables_without_primary_key"]
    assert hc.status(1000, info) == "ok" and hc.threshold_text(info) == "none (informational)"
