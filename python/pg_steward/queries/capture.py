"""Filling steward.query_performance_log: by hand, from pg_stat_statements, from pg_stat_activity.

pg_stat_statements is read, never reset (other tools rely on its counters):
each capture stores a snapshot of the current database's entries and logs
the work done since the previous one (statstatements.py says how).

One capture at a time per database (two would log the same window twice): a
capture locks ``steward.query_stats_snapshot`` in SHARE ROW EXCLUSIVE mode,
which only roles allowed to write the snapshots (UPDATE, DELETE or TRUNCATE on
it) can take, and waits for it at most the ``lock_timeout`` of
``steward.query_capture_settings`` (55P03 after that), never without bound.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from pg_steward import server
from pg_steward.db import Database, Row
from pg_steward.errors import (
    INVALID_PARAMETER_VALUE,
    NULL_VALUE_NOT_ALLOWED,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    StewardError,
)
from pg_steward.partitions.locking import lock_table, with_lock_retries
from pg_steward.partitions.model import LockPolicy
from pg_steward.queries import statstatements
from pg_steward.queries.fingerprint import fingerprint, normalize

# Mirrors the column defaults of steward.query_capture_settings (tested to agree).
DEFAULT_SETTINGS = {"slow_mean_time_ms": 100.0, "slow_total_time_ms": 1000.0, "long_running_threshold": "00:01:00",
                    "lock_timeout_ms": 5000.0}
# One capture at a time: this lock conflicts with itself and with the writes of another capture.
CAPTURE_LOCK_MODE = "SHARE ROW EXCLUSIVE"

_fingerprints: dict[str, tuple[str | None, str | None]] = {}
_REMEMBERED_TEXT_CHARS = 8192  # at most 10,000 texts of at most this length are remembered: 80 MB at worst


def shape(text: str) -> tuple[str | None, str | None]:
    """Fingerprint and normalized text, remembered: captures see the same statements again and again."""
    found = _fingerprints.get(text)
    if found is None:
        found = (fingerprint(text), normalize(text))
        if len(text) <= _REMEMBERED_TEXT_CHARS:  # the cache must not hold megabytes of statement text
            if len(_fingerprints) > 10_000:
                _fingerprints.clear()
            _fingerprints[text] = found
    return found


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def settings(db: Database) -> dict:
    rows = db.query("SELECT slow_mean_time_ms::float8, slow_total_time_ms::float8, "
                    "long_running_threshold::text, "
                    "(extract(epoch FROM lock_timeout) * 1000)::float8 AS lock_timeout_ms "
                    "FROM steward.query_capture_settings")
    return rows[0] if rows else dict(DEFAULT_SETTINGS)


def log_slow_query(db: Database, query: str | None, execution_time_ms: Decimal | None,
                   rows_examined: int | None, rows_returned: int | None) -> int:
    if query is None or execution_time_ms is None:
        raise StewardError("query and execution_time_ms must not be NULL", NULL_VALUE_NOT_ALLOWED)
    if not query.strip():
        raise StewardError("query must not be empty")
    # numeric has NaN and infinities; NaN passes the table's CHECK (>= 0) and breaks Decimal comparisons.
    if not Decimal(execution_time_ms).is_finite():
        raise StewardError(f"execution_time_ms must be a finite number, got {execution_time_ms}")
    if execution_time_ms < 0:
        raise StewardError(f"execution_time_ms must not be negative, got {execution_time_ms}")
    for name, value in (("rows_examined", rows_examined), ("rows_returned", rows_returned)):
        if value is not None and value < 0:
            raise StewardError(f"{name} must not be negative, got {value}")
    fp, normalized = shape(query)
    rows = db.query(
        "INSERT INTO steward.query_performance_log (query_hash, query_text, execution_time_ms, rows_examined, "
        "rows_returned, fingerprint, normalized_query, source, mean_time_ms, max_time_ms) "
        "VALUES ($1, $2, $3::numeric, $4::bigint, $5::bigint, $6, $7, 'manual', $3::numeric, $3::numeric) "
        "RETURNING log_id",
        text_hash(query), query, execution_time_ms, rows_examined, rows_returned, fp, normalized)
    return rows[0]["log_id"]


# --- pg_stat_statements -----------------------------------------------------

def pgss_schema(db: Database) -> str:
    """Schema of pg_stat_statements, or a clear error saying how to enable it."""
    rows = db.query("SELECT pg_catalog.quote_ident(n.nspname) AS schema FROM pg_catalog.pg_extension e "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'pg_stat_statements'")
    preload = db.query("SELECT pg_catalog.current_setting('shared_preload_libraries') AS libs")[0]["libs"]
    loaded = "pg_stat_statements" in [lib.strip().strip('"') for lib in preload.split(",")]
    how = ("Add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server, "
           "then run CREATE EXTENSION pg_stat_statements in this database.")
    if not rows:
        raise StewardError("pg_stat_statements is not installed in this database",
                           OBJECT_NOT_IN_PREREQUISITE_STATE, hint=how if not loaded else
                           "Run CREATE EXTENSION pg_stat_statements in this database.")
    if not loaded:
        raise StewardError("pg_stat_statements is installed but not loaded by the server",
                           OBJECT_NOT_IN_PREREQUISITE_STATE, hint=how)
    return rows[0]["schema"]


def _snapshot_sql(db: Database, schema: str) -> str:
    """One statement: store the snapshot, and return the entries that moved with their previous counters.

    $1 new snapshot id, $2 its time, $3 the previous snapshot id (NULL: a
    baseline, nothing returned), $4 whether pg_stat_statements was fully reset
    in between (every entry then counts from zero and is returned).
    """
    available = server.columns(db, f"{schema}.pg_stat_statements")
    pairs = statstatements.select_list(server.version_num(db), available)
    columns = ", ".join(name for name, _ in pairs)
    exprs = ", ".join(f"s.{expr}" if expr in available else expr for _, expr in pairs)
    before = ", ".join(f"p.{c} AS before_{c}" for c in statstatements.BEFORE)
    return (
        f"WITH cur AS (INSERT INTO steward.query_stats_snapshot_entry (snapshot_id, captured_at, {columns}) "
        f"SELECT $1::bigint, $2::timestamptz, {exprs} FROM {schema}.pg_stat_statements(false) s "
        "JOIN pg_catalog.pg_database d ON d.oid = s.dbid WHERE d.datname = pg_catalog.current_database() "
        f"AND s.queryid IS NOT NULL RETURNING {columns}) "
        f"SELECT c.*, p.snapshot_id IS NOT NULL AS had_before, {before} "
        "FROM cur c LEFT JOIN steward.query_stats_snapshot_entry p ON p.snapshot_id = $3::bigint "
        "AND p.userid = c.userid AND p.dbid = c.dbid AND p.toplevel = c.toplevel AND p.queryid = c.queryid "
        "WHERE $3::bigint IS NOT NULL AND ($4::boolean OR p.snapshot_id IS NULL OR c.calls <> p.calls "
        "OR c.total_exec_time <> p.total_exec_time OR c.stats_since IS DISTINCT FROM p.stats_since)")


def _insert_snapshot_head(db: Database, schema: str) -> Row:
    """Insert this capture's row of steward.query_stats_snapshot (time, server start, reset) and return it."""
    has_info = db.query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok",
                        f"{schema}.pg_stat_statements_info")[0]["ok"]
    info = (f"(SELECT i.stats_reset FROM {schema}.pg_stat_statements_info i)" if has_info
            else "NULL::timestamptz")
    dealloc = f"(SELECT i.dealloc FROM {schema}.pg_stat_statements_info i)" if has_info else "NULL::bigint"
    return db.query(
        "INSERT INTO steward.query_stats_snapshot (captured_at, server_started_at, stats_reset, dealloc, "
        f"server_version) SELECT pg_catalog.clock_timestamp(), pg_catalog.pg_postmaster_start_time(), {info}, "
        f"{dealloc}, pg_catalog.current_setting('server_version_num')::int "
        "RETURNING snapshot_id, captured_at, server_started_at, stats_reset")[0]


def _previous(db: Database, snapshot_id: int) -> Row | None:
    """The previous snapshot, with ``intact``: whether its entries are all still there (a baseline)."""
    rows = db.query("SELECT h.snapshot_id, h.captured_at, h.stats_reset, h.server_started_at, "
                    "h.entries = (SELECT count(*) FROM steward.query_stats_snapshot_entry e "
                    "             WHERE e.snapshot_id = h.snapshot_id) AS intact "
                    "FROM steward.query_stats_snapshot h WHERE h.snapshot_id < $1::bigint "
                    "ORDER BY h.snapshot_id DESC LIMIT 1", snapshot_id)
    return rows[0] if rows else None


def _counts(db: Database, snapshot_id: int, previous_id: int | None) -> Row:
    """Entries in the new snapshot, and entries of the previous one that are gone (evicted or reset)."""
    return db.query(
        "SELECT (SELECT count(*) FROM steward.query_stats_snapshot_entry WHERE snapshot_id = $1::bigint)::int "
        "AS entries, (SELECT count(*) FROM steward.query_stats_snapshot_entry p WHERE p.snapshot_id = $2::bigint "
        "AND NOT EXISTS (SELECT FROM steward.query_stats_snapshot_entry c WHERE c.snapshot_id = $1::bigint "
        "AND c.userid = p.userid AND c.dbid = p.dbid AND c.toplevel = p.toplevel AND c.queryid = p.queryid))::int "
        "AS evicted", snapshot_id, previous_id)[0]


def _texts(db: Database, schema: str, queryids: list[int]) -> dict[int, str]:
    rows = db.query(f"SELECT DISTINCT ON (s.queryid) s.queryid, s.query FROM {schema}.pg_stat_statements(true) s "
                    "JOIN pg_catalog.pg_database d ON d.oid = s.dbid "
                    "WHERE d.datname = pg_catalog.current_database() AND s.queryid = ANY($1::bigint[])", queryids)
    return {r["queryid"]: r["query"] for r in rows if r["query"]}


def _known_shapes(db: Database, hashes: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """Fingerprints of texts logged before: a capture then needs no parser (loading pglast costs more
    than the rest of a capture)."""
    rows = db.query(
        "SELECT h.h, l.fingerprint, l.normalized_query FROM unnest($1::text[]) AS h(h) "
        "CROSS JOIN LATERAL (SELECT fingerprint, normalized_query FROM steward.query_performance_log "
        "                    WHERE query_hash = h.h ORDER BY log_id DESC LIMIT 1) AS l", hashes)
    return {r["h"]: (r["fingerprint"], r["normalized_query"]) for r in rows}


def group_key(fp: str | None, query_hash: str, toplevel: bool | None) -> str:
    """The group of a logged statement, as steward.query_performance_log.group_key computes it (a generated
    column): its fingerprint (its text's hash when it does not parse), nested statements apart."""
    return (fp if fp is not None else f"text:{query_hash}") + (" (nested)" if toplevel is False else "")


def _log_deltas(db: Database, schema: str, deltas: list[statstatements.Delta], window_start: object,
                captured_at: object, min_mean_ms: float, min_total_ms: float) -> int:
    """Log the deltas of every slow group: the thresholds apply to a shape's work over the window, summed over
    all its entries (statstatements.slow_groups)."""
    if not statstatements.may_be_slow(deltas, min_mean_ms, min_total_ms):
        return 0
    texts = _texts(db, schema, [d.key.queryid for d in deltas])
    named = [d for d in deltas if d.key.queryid in texts]
    if not named:
        return 0
    known = _known_shapes(db, [text_hash(texts[d.key.queryid]) for d in named])
    found = {id(d): known.get(text_hash(texts[d.key.queryid])) or shape(texts[d.key.queryid]) for d in named}
    groups = [group_key(found[id(d)][0], text_hash(texts[d.key.queryid]), d.key.toplevel) for d in named]
    logged = statstatements.slow_groups(named, groups, min_mean_ms, min_total_ms)
    if not logged:
        return 0
    shapes = [found[id(d)] for d in logged]
    # A re-created entry (17+: stats_since moved) counted only since its stats_since: its window starts there.
    db.execute(
        "INSERT INTO steward.query_performance_log (query_hash, query_text, execution_time_ms, rows_returned, "
        "execution_date, fingerprint, normalized_query, source, calls, mean_time_ms, max_time_ms, window_start, "
        "queryid, database_name, username, toplevel, shared_blks_hit, shared_blks_read, temp_blks_written, "
        "blk_read_time_ms, blk_write_time_ms, wal_buffers_full, parallel_workers_to_launch, "
        "parallel_workers_launched) "
        "SELECT v.h, v.q, v.ms, v.r, $5::timestamptz, v.fp, v.nq, 'pg_stat_statements', v.calls, "
        "v.ms / v.calls, v.mx, GREATEST($6::timestamptz, v.since), v.qid, pg_catalog.current_database(), "
        "(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = v.uid::oid), v.top, v.hit, v.rd, v.tw, "
        "v.io_r, v.io_w, v.wbf, v.pw_plan, v.pw_run "
        "FROM unnest($1::text[], $2::text[], $3::float8[], $4::bigint[], $7::text[], $8::text[], "
        "$9::bigint[], $10::float8[], $11::bigint[], $12::bigint[], $13::boolean[], $14::bigint[], $15::bigint[], "
        "$16::bigint[], $17::timestamptz[], $18::float8[], $19::float8[], $20::bigint[], $21::bigint[], "
        "$22::bigint[]) "
        "AS v(h, q, ms, r, fp, nq, calls, mx, qid, uid, top, hit, rd, tw, since, io_r, io_w, wbf, pw_plan, pw_run)",
        [text_hash(texts[d.key.queryid]) for d in logged], [texts[d.key.queryid] for d in logged],
        [d.exec_ms for d in logged], [d.rows for d in logged], captured_at, window_start,
        [s[0] for s in shapes], [s[1] for s in shapes], [d.calls for d in logged],
        [d.max_exec_ms for d in logged], [d.key.queryid for d in logged], [d.key.userid for d in logged],
        [d.key.toplevel for d in logged], [d.shared_blks_hit for d in logged], [d.shared_blks_read for d in logged],
        [d.temp_blks_written for d in logged], [d.counting_since for d in logged],
        [d.io_read_ms for d in logged], [d.io_write_ms for d in logged], [d.wal_buffers_full for d in logged],
        [d.parallel_workers_to_launch for d in logged], [d.parallel_workers_launched for d in logged])
    return len(logged)


def _threshold(value: object, fallback: object, name: str) -> float:
    chosen = float(value) if value is not None else float(fallback)
    if chosen < 0:
        raise StewardError(f"{name} must not be negative, got {value}", INVALID_PARAMETER_VALUE)
    if chosen != chosen:  # NaN compares false with everything: it would select nothing, silently
        raise StewardError(f"{name} must be a number, got {value}", INVALID_PARAMETER_VALUE)
    return chosen


def _pairs(rows: list[Row]) -> list[tuple[Row | None, Row]]:
    """(entry before, entry now) from the rows of the snapshot statement."""
    return [({c: row[f"before_{c}"] for c in statstatements.BEFORE} if row["had_before"] else None, row)
            for row in rows]


def _lock_snapshots(db: Database, timeout_ms: float) -> None:
    """The snapshot lock (one capture at a time), waited for at most ``timeout_ms``, once: 55P03 after that."""
    with_lock_retries(db, LockPolicy(timeout_ms=max(int(timeout_ms), 1), retries=0), "capture_query_stats",
                      lambda: lock_table(db, "steward", "query_stats_snapshot", CAPTURE_LOCK_MODE),
                      hint="Another capture is running, or a session holds a lock on steward.query_stats_snapshot "
                           "(see pg_locks); the next capture covers this window.")


def capture_query_stats(db: Database, min_mean_time_ms: Decimal | None = None,
                        min_total_time_ms: Decimal | None = None) -> Row:
    config = settings(db)
    mean = _threshold(min_mean_time_ms, config["slow_mean_time_ms"], "min_mean_time_ms")
    total = _threshold(min_total_time_ms, config["slow_total_time_ms"], "min_total_time_ms")
    schema = pgss_schema(db)
    _lock_snapshots(db, config["lock_timeout_ms"])
    head = _insert_snapshot_head(db, schema)
    previous = _previous(db, head["snapshot_id"])
    baseline = previous is None or not previous["intact"]
    full_reset = bool(previous and previous["stats_reset"] != head["stats_reset"])
    moved = db.query(_snapshot_sql(db, schema), head["snapshot_id"], head["captured_at"],
                     None if baseline else previous["snapshot_id"], full_reset)
    found = statstatements.window(_pairs(moved), full_reset)
    logged = _log_deltas(db, schema, found.deltas, None if baseline else previous["captured_at"],
                         head["captured_at"], mean, total)
    counts = _counts(db, head["snapshot_id"], None if baseline else previous["snapshot_id"])
    db.execute("UPDATE steward.query_stats_snapshot SET entries = $2::integer, logged = $3::integer "
               "WHERE snapshot_id = $1::bigint", head["snapshot_id"], counts["entries"], logged)
    db.execute("DELETE FROM steward.query_stats_snapshot_entry WHERE snapshot_id < $1::bigint", head["snapshot_id"])
    return {
        "snapshot_id": head["snapshot_id"], "captured_at": head["captured_at"],
        "previous_captured_at": previous["captured_at"] if previous else None,
        "entries": counts["entries"], "active": len(found.deltas), "logged": logged,
        "new_entries": found.new_entries, "started_again": found.started_again, "evicted": counts["evicted"],
        "full_reset": full_reset,
        "server_restarted": bool(previous and previous["server_started_at"] != head["server_started_at"]),
        "baseline": baseline,
    }


# --- pg_stat_activity -------------------------------------------------------

def capture_long_running(db: Database, threshold: object = None, all_databases: bool = False) -> list[Row]:
    if threshold is None:
        threshold = settings(db)["long_running_threshold"]
    row = db.query("SELECT $1::interval < '0'::interval AS negative, isfinite($1::interval) AS finite", threshold)[0]
    if row["negative"]:
        raise StewardError(f"threshold must not be negative, got {threshold}")
    if not row["finite"]:  # 'infinity', an interval from PostgreSQL 17 on
        raise StewardError(f"threshold must be a finite interval, not {threshold}", INVALID_PARAMETER_VALUE)
    running = db.query(
        "SELECT a.pid, a.usename::text AS username, a.datname::text AS database, a.query_start AS started_at, "
        "pg_catalog.clock_timestamp() - a.query_start AS duration, a.query, "
        "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - a.query_start) * 1000)::float8 AS ms "
        "FROM pg_catalog.pg_stat_activity a "
        "WHERE a.state = 'active' AND a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid() "
        "AND a.query_start <= pg_catalog.clock_timestamp() - $1::interval "
        "AND ($2::boolean OR a.datname = pg_catalog.current_database()) "
        "AND a.query IS NOT NULL AND a.query <> '' AND a.query <> '<insufficient privilege>' "
        "ORDER BY a.query_start", threshold, bool(all_databases))
    for row in running:
        fp, normalized = shape(row["query"])
        logged = db.query(
            "INSERT INTO steward.query_performance_log AS l (query_hash, query_text, execution_time_ms, fingerprint, "
            "normalized_query, source, mean_time_ms, max_time_ms, window_start, pid, database_name, username) "
            "VALUES ($1, $2, $3::float8, $4, $5, 'pg_stat_activity', $3::float8, $3::float8, $6::timestamptz, "
            "$7::integer, $8, $9) "
            "ON CONFLICT (pid, window_start) WHERE source = 'pg_stat_activity' DO UPDATE "
            "SET execution_time_ms = EXCLUDED.execution_time_ms, mean_time_ms = EXCLUDED.mean_time_ms, "
            "max_time_ms = EXCLUDED.max_time_ms, execution_date = EXCLUDED.execution_date "
            "RETURNING l.log_id, (l.xmax = 0) AS new_entry",
            text_hash(row["query"]), row["query"], row["ms"], fp, normalized, row["started_at"], row["pid"],
            row["database"], row["username"])[0]
        row.update(log_id=logged["log_id"], new_entry=logged["new_entry"])
        del row["ms"]
    return running
