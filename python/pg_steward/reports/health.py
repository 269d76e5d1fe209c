"""steward.health(): one row per check, each measured by its own query and judged by reports/health_checks.py.

A check that fails to run (a privilege, a missing view on an older server) is
reported as ``unknown`` with the error, and the other checks still run. Where
the role cannot see everything a check needs (sessions of other roles, sequences
it may not read), a check that would otherwise say ok says unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pg_steward import server
from pg_steward.catalog_filters import USER_SCHEMA
from pg_steward.db import Database, Row
from pg_steward.errors import OBJECT_NOT_IN_PREREQUISITE_STATE, StewardError, error_first_line, error_sqlstate
from pg_steward.partitions.export import overdue_exports
from pg_steward.reports import health_checks, premade
from pg_steward.reports.bloat import table_bloat
from pg_steward.reports.index_bloat import index_bloat
from pg_steward.reports.indexes import index_report
from pg_steward.schedule.cron import cron_preloaded
from pg_steward.schedule.scheduling import NOT_VISIBLE, job_status
from pg_steward.sqltext import qualified, quote_ident, quote_literal

Measure = tuple[float | None, str, str | None]  # value, detail, fix


class Skipped(Exception):
    """Raised by a check this role cannot evaluate: its message names what the check needs."""

_USER_TABLES = f"""
FROM pg_catalog.pg_stat_all_tables AS s
JOIN pg_catalog.pg_class AS c ON c.oid = s.relid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMA}
"""


def _reloption(name: str, setting: str, cast: str) -> str:
    return (f"coalesce((SELECT o.option_value::{cast} FROM pg_catalog.pg_options_to_table(c.reloptions) AS o "
            f"WHERE o.option_name = '{name}'), pg_catalog.current_setting('{setting}')::{cast})")


_VACUUM_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name, s.n_dead_tup::float8 AS amount,
       ({_reloption('autovacuum_vacuum_threshold', 'autovacuum_vacuum_threshold', 'float8')}
        + {_reloption('autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_scale_factor', 'float8')}
          * greatest(c.reltuples, 0))::float8 AS trigger,
       coalesce(greatest(s.last_vacuum, s.last_autovacuum)::text, 'never') AS last_run,
       {_reloption('autovacuum_enabled', 'autovacuum', 'bool')} AS auto
{_USER_TABLES}
"""

_ANALYZE_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name, s.n_mod_since_analyze::float8 AS amount,
       ({_reloption('autovacuum_analyze_threshold', 'autovacuum_analyze_threshold', 'float8')}
        + {_reloption('autovacuum_analyze_scale_factor', 'autovacuum_analyze_scale_factor', 'float8')}
          * greatest(c.reltuples, 0))::float8 AS trigger,
       coalesce(greatest(s.last_analyze, s.last_autoanalyze)::text, 'never') AS last_run,
       {_reloption('autovacuum_enabled', 'autovacuum', 'bool')} AS auto
{_USER_TABLES}
"""


def _maintenance(db: Database, sql: str, verb: str) -> Measure:
    """Worst ratio of pending work (dead or changed rows) to the point where autovacuum would act."""
    rows = db.query(sql)
    over = sorted(((r["amount"] / max(r["trigger"], 1.0), r) for r in rows), key=lambda x: -x[0])
    if not over:
        return 0.0, "no tables", None
    worst = [(ratio, r) for ratio, r in over[:5] if ratio >= 1]
    if not worst:
        return round(over[0][0], 2), f"every table below its auto{verb} trigger", None
    detail = "; ".join(
        f"{qualified(r['schema'], r['name'])}: {int(r['amount'])} rows against a trigger of {int(r['trigger'])}, "
        f"last {verb} {r['last_run']}" + ("" if r["auto"] else ", autovacuum disabled for it")
        for _, r in worst)
    command = "VACUUM (ANALYZE)" if verb == "vacuum" else "ANALYZE"
    fix = " ".join(f"{command} {qualified(r['schema'], r['name'])};" for _, r in worst)
    return round(over[0][0], 2), detail, fix


def _vacuum(db: Database) -> Measure:
    return _maintenance(db, _VACUUM_SQL, "vacuum")


def _analyze(db: Database) -> Measure:
    return _maintenance(db, _ANALYZE_SQL, "analyze")


def _wraparound(db: Database, age: str, column: str, what: str, setting: str) -> Measure:
    """Oldest age, % of the setting at which autovacuum forces an anti-wraparound vacuum (100: it should have
    run); the detail gives the share of 2^31 too, where the server stops assigning ids."""
    rows = db.query(f"SELECT d.datname::text AS db, pg_catalog.{age}(d.{column})::float8 AS age, "
                    f"pg_catalog.current_setting('{setting}')::float8 AS max_age "
                    f"FROM pg_catalog.pg_database AS d WHERE d.datallowconn ORDER BY 2 DESC LIMIT 1")
    if not rows:
        return None, "no database", None
    pct = health_checks.share_of(rows[0]["age"], rows[0]["max_age"])
    oldest = db.query(f"SELECT c.oid::regclass::text AS rel, pg_catalog.{age}(c.rel{column[3:]})::float8 AS age "
                      f"FROM pg_catalog.pg_class AS c WHERE c.relkind IN ('r', 'm', 't') "
                      f"ORDER BY 2 DESC LIMIT 3")
    detail = (f"oldest {what} age {int(rows[0]['age'])} in database {rows[0]['db']} against {setting} "
              f"{int(rows[0]['max_age'])} ({health_checks.share_of(rows[0]['age'], 2**31)}% of 2^31); "
              f"in this database the oldest tables: " + ", ".join(f"{o['rel']} ({int(o['age'])})" for o in oldest))
    fix = "VACUUM (FREEZE) " + ", ".join(o["rel"] for o in oldest) + \
        f";  -- in database {rows[0]['db']}, on the tables with the oldest {column}; then look for what held " \
        "autovacuum back (long transactions, prepared transactions, replication slots)"
    return pct, detail, fix


def _xid(db: Database) -> Measure:
    return _wraparound(db, "age", "datfrozenxid", "transaction id", "autovacuum_freeze_max_age")


def _multixact(db: Database) -> Measure:
    return _wraparound(db, "mxid_age", "datminmxid", "multixact id", "autovacuum_multixact_freeze_max_age")


SEQUENCES_SQL = """
SELECT c.oid, s.schemaname::text AS schema, s.sequencename::text AS name, s.last_value, s.start_value,
       s.increment_by, s.min_value, s.max_value,
       pg_catalog.has_sequence_privilege(c.oid, 'SELECT') OR pg_catalog.has_sequence_privilege(c.oid, 'USAGE')
         AS visible
FROM pg_catalog.pg_sequences AS s
JOIN pg_catalog.pg_namespace AS n ON n.nspname = s.schemaname
JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = s.sequencename
"""

# The columns each sequence feeds: those whose DEFAULT calls nextval on it (pg_depend records the default's
# dependency on the sequence, OWNED BY or not), and those it is OWNED BY or the identity of. A column of a
# partition is named by its root, the table whose column type one changes. Only columns of tables: a view's
# column type cannot be changed by a fix (the table's under it can).
FEEDS_SQL = """
WITH feeds AS (
    SELECT d.refobjid AS seq, ad.adrelid AS rel, ad.adnum AS attnum
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_attrdef AS ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
      AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    UNION
    SELECT d.objid, d.refobjid, d.refobjsubid
    FROM pg_catalog.pg_depend AS d
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
)
SELECT DISTINCT f.seq, rn.nspname::text AS schema, rc.relname::text AS table_name, a.attname::text AS column_name,
       bt.typname::text AS type_name, pg_catalog.format_type(bt.oid, NULL) AS type_shown
FROM feeds AS f
JOIN pg_catalog.pg_class AS s ON s.oid = f.seq AND s.relkind = 'S'
JOIN pg_catalog.pg_class AS c ON c.oid = f.rel AND c.relkind IN ('r', 'p')
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = f.rel AND a.attnum = f.attnum AND NOT a.attisdropped
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type AS bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
JOIN pg_catalog.pg_class AS rc
  ON rc.oid = CASE WHEN c.relispartition THEN pg_catalog.pg_partition_root(c.oid) ELSE c.oid END
JOIN pg_catalog.pg_namespace AS rn ON rn.oid = rc.relnamespace
ORDER BY 2, 3, 4
"""


def _sequences(db: Database, threshold: health_checks.Threshold) -> Measure:
    """Share of each sequence's range used, up to the narrowest column it feeds; every one over the threshold."""
    feeds: dict[int, list[health_checks.FedColumn]] = {}
    for f in db.query(FEEDS_SQL):
        feeds.setdefault(f["seq"], []).append(health_checks.FedColumn(
            qualified(f["schema"], f["table_name"]), quote_ident(f["column_name"]), f["type_name"], f["type_shown"]))
    uses: list[health_checks.SequenceUse] = []
    hidden = 0
    for r in db.query(SEQUENCES_SQL):
        if not r["visible"]:
            hidden += 1
            continue
        use = health_checks.sequence_use(qualified(r["schema"], r["name"]), r["last_value"], r["start_value"],
                                         r["increment_by"], r["min_value"], r["max_value"], feeds.get(r["oid"], []))
        if use is not None:
            uses.append(use)
    uses.sort(key=lambda u: (-u.percent, u.name))
    note = f"; {hidden} sequence(s) this role may not read" if hidden else ""
    if not uses:
        return (None if hidden else 0.0), "no sequence in use" + note, None
    floor = health_checks.judged_floor(threshold)
    over = [u for u in uses if floor is not None and u.percent >= floor]
    detail = "; ".join(health_checks.sequence_text(u) for u in over or uses[:1]) + note
    return uses[0].percent, detail, health_checks.sequences_fix(over)


def _cache_hit(db: Database) -> Measure:
    r = db.query("SELECT blks_hit::float8 AS hit, blks_read::float8 AS read FROM pg_catalog.pg_stat_database "
                 "WHERE datname = pg_catalog.current_database()")[0]
    total = (r["hit"] or 0) + (r["read"] or 0)
    if total < 10000:
        return None, f"only {int(total)} block reads so far: too few to judge", None
    pct = round(100.0 * r["hit"] / total, 2)
    return pct, f"{int(r['hit'])} of {int(total)} block reads found in shared_buffers", \
        "-- raise shared_buffers (needs a restart), or find the statements reading most blocks (steward.slow_queries)"


# Without pg_read_all_stats, another role's session shows only its pid and user
# name: backend_type and state are NULL. Such rows count as hidden client sessions.
_HIDDEN = "a.backend_type IS NULL AND a.usename IS NOT NULL"
_CLIENT = f"(a.backend_type = 'client backend' OR ({_HIDDEN}))"


def _connections(db: Database) -> Measure:
    rows = db.query(f"SELECT coalesce(a.state, 'not visible') AS state, count(*)::bigint AS n "
                    f"FROM pg_catalog.pg_stat_activity AS a WHERE {_CLIENT} GROUP BY 1 ORDER BY 2 DESC")
    used = sum(int(r["n"]) for r in rows)
    limit = int(db.query("SELECT (pg_catalog.current_setting('max_connections')::int - "
                         "pg_catalog.current_setting('superuser_reserved_connections')::int) AS m")[0]["m"])
    pct = round(100.0 * used / max(limit, 1), 1)
    detail = f"{used} of {limit} client connections: " + ", ".join(f"{r['state']} {r['n']}" for r in rows)
    return pct, detail, "-- use a connection pooler (PgBouncer), or close idle sessions"


_SESSIONS_SQL = """
SELECT a.pid, a.usename::text AS usename, a.datname::text AS datname,
       extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) {start})::float8 AS seconds,
       pg_catalog.left(a.query, 80) AS query, a.state
FROM pg_catalog.pg_stat_activity AS a
WHERE a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid() AND {where}
ORDER BY seconds DESC NULLS LAST
"""


def _hidden_sessions(db: Database) -> int:
    return int(db.query(f"SELECT count(*) AS n FROM pg_catalog.pg_stat_activity AS a "
                        f"WHERE {_HIDDEN} AND a.pid <> pg_catalog.pg_backend_pid()")[0]["n"])


def _sessions(db: Database, start: str, where: str, what: str, fix: str) -> Measure:
    rows = db.query(_SESSIONS_SQL.format(start=start, where=where))
    hidden = _hidden_sessions(db)
    note = f"; {hidden} session(s) of other roles not visible (needs pg_read_all_stats)" if hidden else ""
    if not rows:
        return (None if hidden else 0.0), f"no {what}" + note, None
    top = rows[:3]
    detail = "; ".join(f"pid {r['pid']} ({r['usename']}@{r['datname']}) for {int(r['seconds'])} s: {r['query']}"
                       for r in top) + note
    return round(rows[0]["seconds"], 3), detail, fix.format(pid=rows[0]["pid"])


def _idle_in_transaction(db: Database) -> Measure:
    return _sessions(db, "a.state_change", "a.state IN ('idle in transaction', 'idle in transaction (aborted)')",
                     "session idle in a transaction",
                     "SELECT pg_catalog.pg_terminate_backend({pid});  -- and SET idle_in_transaction_session_timeout")


def _long_running(db: Database) -> Measure:
    return _sessions(db, "a.query_start", "a.state = 'active'", "statement running",
                     "SELECT pg_catalog.pg_cancel_backend({pid});  -- and SET statement_timeout for its role")


_BLOCKER_STATES_SQL = """
SELECT b.pid, a.state FROM pg_catalog.unnest($1::pg_catalog.int4[]) WITH ORDINALITY AS b(pid, n)
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = b.pid
ORDER BY b.n
"""


def _blocked(db: Database) -> Measure:
    """Longest lock wait; the fix frees its waiter: cancel a blocker running a statement, terminate an idle one."""
    rows = db.query("""
SELECT a.pid, pg_catalog.pg_blocking_pids(a.pid) AS blockers, pg_catalog.left(a.query, 80) AS query,
       extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) a.query_start)::float8 AS seconds
FROM pg_catalog.pg_stat_activity AS a
WHERE a.wait_event_type = 'Lock' AND pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) > 0
ORDER BY seconds DESC""")
    hidden = _hidden_sessions(db)
    note = f"; {hidden} session(s) of other roles not visible (needs pg_read_all_stats)" if hidden else ""
    if not rows:
        return (None if hidden else 0.0), "no session waiting for a lock" + note, None
    detail = "; ".join(f"pid {r['pid']} waits {int(r['seconds'])} s for pid(s) {r['blockers']}: {r['query']}"
                       for r in rows)  # every waiter: the one a DBA looks for may not be the longest
    actions = [health_checks.blocker_action(b["pid"], b["state"])
               for b in db.query(_BLOCKER_STATES_SQL, [int(p) for p in rows[0]["blockers"]])]
    detail += "".join(f"; {why}" for _, why in actions) + note
    statements = [statement for statement, _ in actions if statement]
    fix = (" ".join(statements) + f"  -- the session(s) blocking pid {rows[0]['pid']}, see the detail"
           if statements else "-- a prepared transaction blocks it: see the detail")
    return round(rows[0]["seconds"], 3), detail, fix


def _invalid_indexes(db: Database) -> Measure:
    rows = db.query("SELECT i.indexrelid::regclass::text AS name FROM pg_catalog.pg_index AS i "
                    "JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid WHERE NOT i.indisvalid AND c.relkind = 'i'")
    if not rows:
        return 0.0, "no invalid index", None
    return float(len(rows)), ", ".join(r["name"] for r in rows), \
        "-- see SELECT * FROM steward.index_report() WHERE problem = 'invalid' for each index's fix"


def _database_size(db: Database) -> Measure:
    size = db.query("SELECT pg_catalog.pg_database_size(pg_catalog.current_database())::float8 AS s")[0]["s"]
    return size, f"database {health_checks.pretty_bytes(size)}", None


def _temp_files(db: Database) -> Measure:
    r = db.query("SELECT temp_files, temp_bytes::float8 AS temp_bytes, coalesce(stats_reset::text, 'the start') "
                 "AS since FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()")[0]
    detail = f"{r['temp_files']} temporary files, {health_checks.pretty_bytes(r['temp_bytes'])} since {r['since']}"
    return r["temp_bytes"], detail, \
        "-- raise work_mem for the statements that spill (set log_temp_files = 0 to name them)"


def _checkpoints(db: Database) -> Measure:
    """Share of requested checkpoints: many mean max_wal_size is too small for the write load."""
    view, col = health_checks.checkpoint_figures(server.columns(db, "pg_catalog.pg_stat_checkpointer"))
    r = db.query(f"SELECT {col['timed']}::bigint AS timed, {col['requested']}::bigint AS requested, "
                 f"{col['write_ms']}::float8 AS write_ms, {col['sync_ms']}::float8 AS sync_ms, "
                 f"{col['buffers']}::bigint AS buffers, coalesce(stats_reset::text, 'the start') AS since, "
                 "pg_catalog.current_setting('max_wal_size') AS max_wal_size, "
                 "pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size')) AS max_wal_bytes "
                 f"FROM pg_catalog.{view}")[0]
    share = health_checks.requested_share(int(r["timed"]), int(r["requested"]))
    detail = (f"{r['requested']} requested and {r['timed']} timed checkpoints since {r['since']} ({view}), "
              f"{r['buffers']} buffers written in {r['write_ms'] / 1000:.1f} s (sync {r['sync_ms'] / 1000:.1f} s); "
              f"max_wal_size {r['max_wal_size']}")
    if share is None:
        detail += f": too few checkpoints to judge (fewer than {health_checks.CHECKPOINTS_TO_JUDGE})"
    fix = (f"ALTER SYSTEM SET max_wal_size = '{2 * int(r['max_wal_bytes']) // 2**20}MB'; "
           "SELECT pg_catalog.pg_reload_conf();  "
           "-- fewer checkpoints forced by WAL volume (a manual CHECKPOINT counts as requested too)")
    return share, detail, fix


_DISABLED_TRIGGERS_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS table_name, t.tgname::text AS name
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE t.tgenabled = 'D' AND NOT t.tgisinternal AND t.tgconstraint = 0 AND {USER_SCHEMA}
ORDER BY 1, 2, 3
"""


def _disabled_triggers(db: Database) -> Measure:
    """User triggers switched off (ALTER TABLE ... DISABLE TRIGGER); internal and constraint triggers aside."""
    rows = db.query(_DISABLED_TRIGGERS_SQL)
    if not rows:
        return 0.0, "no disabled trigger", None
    named = [(qualified(r["schema"], r["table_name"]), quote_ident(r["name"])) for r in rows]
    detail = ", ".join(f"{name} on {table}" for table, name in named[:20])
    if len(named) > 20:
        detail += f"; and {len(named) - 20} more"
    fix = " ".join(f"ALTER TABLE {table} ENABLE TRIGGER {name};" for table, name in named[:20]) + \
        "  -- only if the trigger was not disabled on purpose; takes SHARE ROW EXCLUSIVE on the table"
    return float(len(rows)), detail, fix


_NOT_VALID_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS table_name, k.conname::text AS name,
       CASE k.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' ELSE k.contype::text END AS kind
FROM pg_catalog.pg_constraint AS k
JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT k.convalidated AND {USER_SCHEMA}
ORDER BY 1, 2, 3
"""


def _not_valid_constraints(db: Database) -> Measure:
    """Constraints added NOT VALID and never validated: rows written before them are not checked."""
    rows = db.query(_NOT_VALID_SQL)
    if not rows:
        return 0.0, "no NOT VALID constraint", None
    named = [(qualified(r["schema"], r["table_name"]), quote_ident(r["name"]), r["kind"]) for r in rows]
    detail = ", ".join(f"{kind} {name} on {table}" for table, name, kind in named[:20])
    if len(named) > 20:
        detail += f"; and {len(named) - 20} more"
    fix = " ".join(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name};" for table, name, _ in named[:20]) + \
        ("  -- VALIDATE CONSTRAINT scans the table under SHARE UPDATE EXCLUSIVE (reads and writes go on; "
         "a foreign key also takes ROW SHARE on the referenced table); it fails if an old row breaks it")
    return float(len(rows)), detail, fix


# Ordinary and partitioned tables that are not partitions (a partition has its parent's key) with no PRIMARY KEY.
_NO_PRIMARY_KEY_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMA}
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k WHERE k.conrelid = c.oid AND k.contype = 'p')
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def _tables_without_primary_key(db: Database) -> Measure:
    """Informational: tables without a primary key (logical replication cannot UPDATE or DELETE their rows
    without a REPLICA IDENTITY, and duplicates go unnoticed)."""
    rows = db.query(_NO_PRIMARY_KEY_SQL)
    if not rows:
        return 0.0, "every table has a primary key", None
    names = [qualified(r["schema"], r["name"]) for r in rows]
    detail = ", ".join(names[:20]) + (f"; and {len(names) - 20} more" if len(names) > 20 else "")
    return float(len(rows)), detail, None


_RUN_COLUMNS = """
SELECT r.run_id, r.procedure, r.run_by::pg_catalog.text AS run_by, r.started_at,
       r.started_at::pg_catalog.text AS started,
       r.finished_at IS NOT NULL AS finished, r.tables_due, r.actions, r.failures, r.other_owners,
       extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) r.finished_at)::float8 AS age
FROM steward.maintenance_runs AS r
"""
_MANAGED_SQL = """
SELECT pg_catalog.count(*) AS n, pg_catalog.min(c.created_at)::pg_catalog.text AS since,
       extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.min(c.created_at))::float8 AS age
FROM steward.partition_config AS c WHERE c.enabled
"""


def _run(db: Database, where: str) -> Row | None:
    """The newest run of steward.maintenance_runs matching ``where``."""
    rows = db.query(f"{_RUN_COLUMNS} WHERE {where} ORDER BY r.started_at DESC LIMIT 1")
    return rows[0] if rows else None


# Managed tables whose latest log row, since the last complete run, is a failure logged since the newest finished
# run began (a table the runs after its failure found nothing due for is well); since: its first failure after
# its last success. $1 the start of the last complete run (NULL: none), $2 that of the newest finished run.
_FAILING_SQL = """
WITH recent AS (
    SELECT l.id, l.parent, l.ok, l.logged_at, l.detail FROM steward.partition_maintenance_log AS l
    WHERE $1::pg_catalog.timestamptz IS NULL OR l.logged_at OPERATOR(pg_catalog.>=) $1::pg_catalog.timestamptz),
latest AS (SELECT DISTINCT ON (r.parent) r.parent, r.ok, r.logged_at, r.detail, r.id FROM recent AS r
           ORDER BY r.parent, r.id DESC)
SELECT t.parent, t.detail,
       (SELECT pg_catalog.min(f.logged_at)::pg_catalog.text FROM recent AS f
        WHERE f.parent OPERATOR(pg_catalog.=) t.parent AND NOT f.ok
          AND f.id OPERATOR(pg_catalog.>) coalesce((SELECT pg_catalog.max(o.id) FROM recent AS o
                                                    WHERE o.parent OPERATOR(pg_catalog.=) t.parent AND o.ok), 0))
         AS since
FROM latest AS t
WHERE NOT t.ok
  AND ($2::pg_catalog.timestamptz IS NULL OR t.logged_at OPERATOR(pg_catalog.>=) $2::pg_catalog.timestamptz)
  AND EXISTS (SELECT FROM steward.partition_config AS c
              WHERE c.enabled AND c.parent::pg_catalog.text OPERATOR(pg_catalog.=) t.parent)
ORDER BY since, t.parent
"""


# Managed tables with integer-key gaps too wide to fill (a ``gap`` row, which is no failure), as the newest
# finished run found them: each table's latest such row logged since that run began ($1; NULL: none yet).
_GAPS_SQL = """
SELECT DISTINCT ON (l.parent) l.parent, l.detail FROM steward.partition_maintenance_log AS l
WHERE l.action OPERATOR(pg_catalog.=) 'gap'
  AND ($1::pg_catalog.timestamptz IS NULL OR l.logged_at OPERATOR(pg_catalog.>=) $1::pg_catalog.timestamptz)
  AND EXISTS (SELECT FROM steward.partition_config AS c
              WHERE c.enabled AND c.parent::pg_catalog.text OPERATOR(pg_catalog.=) l.parent)
ORDER BY l.parent, l.id DESC
"""


def _maintenance_runs(db: Database) -> Measure:
    """Seconds since the last maintenance run in which every table due succeeded; the tables failing now."""
    managed = db.query(_MANAGED_SQL)[0]
    if not managed["n"]:
        return 0.0, "no managed tables", None
    # Complete: finished, every table due done, none left to other owners (the run of a role that may maintain
    # only some tables says nothing of the others).
    complete = _run(db, "r.finished_at IS NOT NULL AND r.failures OPERATOR(pg_catalog.=) 0 "
                        "AND r.other_owners OPERATOR(pg_catalog.=) 0")
    finished = _run(db, "r.finished_at IS NOT NULL")
    newest = _run(db, "true")
    failing = db.query(_FAILING_SQL, complete["started_at"] if complete else None,
                       finished["started_at"] if finished else None)
    if complete:
        age = complete["age"]
        detail = (f"last complete run {int(age)} s ago (run {complete['run_id']}, {complete['procedure']} by "
                  f"{complete['run_by']}, {complete['tables_due']} tables due, {complete['actions']} actions)")
    else:
        age = managed["age"]
        detail = f"no complete maintenance run since the first managed table was registered ({managed['since']})"
    if newest and (not complete or newest["run_id"] != complete["run_id"]):
        outcome = "not finished"
        if newest["finished"]:
            outcome = f"{newest['failures']} of {newest['tables_due']} tables failed" + (
                f", {newest['other_owners']} left to their owners" if newest["other_owners"] else "")
        detail += (f"; newest run {newest['run_id']} ({newest['procedure']} by {newest['run_by']}, started "
                   f"{newest['started']}): {outcome}")
    if failing:
        detail += "; failing: " + "; ".join(f"{r['parent']} since {r['since']}: {r['detail']}" for r in failing[:5])
        if len(failing) > 5:
            detail += f"; and {len(failing) - 5} more"
    gaps = db.query(_GAPS_SQL, finished["started_at"] if finished else None)
    if gaps:  # a deliberate sentinel row is no failure: said, with the fix, whatever the status
        detail += "; gaps not filled: " + "; ".join(f"{r['parent']}: {r['detail']}" for r in gaps[:5])
        if len(gaps) > 5:
            detail += f"; and {len(gaps) - 5} more"
    fix = ("SELECT * FROM steward.partition_maintenance_log WHERE NOT ok ORDER BY id DESC LIMIT 20;  "
           "-- then CALL steward.run_maintenance(), and check its schedule in steward.jobs")
    return round(age, 3), detail, fix


# pg_cron created here, or dblink to reach it elsewhere: steward.schedule needs one of them.
_REACHES_CRON_SQL = ("SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname IN ('pg_cron', 'dblink')) "
                     "AS reaches")


def _cron_jobs(db: Database) -> tuple[list[Row], str | None]:
    """This database's pg_steward jobs in pg_cron (steward.jobs); with why there can be none, when so.

    pg_cron not preloaded, not created, or elsewhere without dblink here: no job can have been scheduled
    for this database (steward.schedule needs the same). An error reaching pg_cron (a connection, a privilege)
    is raised: the check is unknown, not ok.
    """
    if cron_preloaded(db) is False:  # None: this role cannot tell; job_status says which grant it needs
        return [], "pg_cron does not run on this server: no scheduled jobs"
    if not db.query(_REACHES_CRON_SQL)[0]["reaches"]:  # told without reading pg_cron's settings
        return [], ("no pg_steward job can be scheduled for this database: pg_cron is not created in it and "
                    "dblink, the way to pg_cron's database, is not either")
    try:
        with db.subtransaction():
            return job_status(db), None
    except StewardError as error:
        if error.sqlstate != OBJECT_NOT_IN_PREREQUISITE_STATE:
            raise
        return [], f"no pg_steward job can be scheduled for this database: {error_first_line(error)}"


def _unseen(jobs: list[Row]) -> None:
    """A check of the jobs cannot be made when steward.jobs says they are not visible: skipped, with the grant."""
    hidden = [j for j in jobs if j["last_status"] == NOT_VISIBLE]
    if hidden:
        raise Skipped(str(hidden[0]["last_message"]))


def _job_text(job: Row) -> str:
    return (f"{job['cron_job']} (jobid {job['jobid']}, as {job['username']}) at {job['last_start']}: "
            f"{' '.join((job['last_message'] or 'no message').split())}")


def _cron_job_failures(db: Database) -> Measure:
    """pg_steward's jobs whose last run ran and failed (runs that could not connect: cron_job_connections)."""
    jobs, none = _cron_jobs(db)
    if none is not None:
        return 0.0, none, None
    _unseen(jobs)
    failed = [j for j in jobs if j["last_status"] == "failed"
              and not health_checks.cron_connection_failure(j["last_status"], j["last_message"])]
    if not failed:
        return 0.0, f"{len(jobs)} pg_steward job(s) in pg_cron, none whose last run failed", None
    detail = "last run failed: " + "; ".join(_job_text(j) for j in failed)
    fix = (f"SELECT * FROM cron.job_run_details WHERE jobid = {int(failed[0]['jobid'])} ORDER BY runid DESC "
           "LIMIT 5;  -- in pg_cron's database: fix the cause, then run the job's command by hand "
           "(steward.jobs has it)")
    return float(len(failed)), detail, fix


def _cron_job_connections(db: Database) -> Measure:
    """pg_steward's jobs whose last run pg_cron could not connect or start; jobs that never ran are named."""
    jobs, none = _cron_jobs(db)
    if none is not None:
        return 0.0, none, None
    _unseen(jobs)
    cut = [j for j in jobs if health_checks.cron_connection_failure(j["last_status"], j["last_message"])]
    never = [j for j in jobs if j["last_status"] is None and j["active"]]
    parts = []
    if cut:
        parts.append("could not connect or start: " + "; ".join(_job_text(j) for j in cut))
    if never:
        # pg_cron keeps no time of scheduling: a job is named, not counted, until one of its runs fails.
        parts.append("never run yet (pg_cron has recorded no run; past its schedule, pg_cron cannot start it): "
                     + ", ".join(f"{j['cron_job']} ('{j['schedule']}')" for j in never))
    if not parts:
        parts.append(f"{len(jobs)} pg_steward job(s) in pg_cron, none that could not connect")
    fix = ("ALTER SYSTEM SET cron.use_background_workers = on;  -- then restart PostgreSQL; or a pg_hba.conf "
           "rule (or .pgpass entry) for the job's user at cron.host: see extension/schedule.md")
    return float(len(cut)), "; ".join(parts), fix


# The fix of a summary check is the query that lists each finding's own fix: run those one at a time (a
# CONCURRENTLY statement cannot run in a transaction block), and never twice, once from here and once from
# the report.
INDEX_PROBLEMS_FIX = ("SELECT problem, schema, \"table\", index, fix FROM steward.index_report() "
                      "WHERE severity IN ('critical', 'warning') AND problem <> 'invalid';  "
                      "-- then run each fix on its own, outside a transaction block")


def _index_problems(db: Database) -> Measure:
    """The findings of steward.index_report (duplicate, redundant, unused indexes and the rest) that are
    warnings or worse, largest first; invalid indexes are the invalid_indexes check's, not counted twice."""
    found = [r for r in index_report(db) if r["severity"] in ("critical", "warning") and r["problem"] != "invalid"]
    if not found:
        return 0.0, "no index problem (steward.index_report lists the informational findings)", None
    top = found[:5]
    detail = "; ".join(f"{r['problem']} " + (f"{qualified(r['schema'], r['index'])} " if r["index"] else "")
                       + f"on {qualified(r['schema'], r['table'])} ({health_checks.pretty_bytes(r['size_bytes'] or 0)})"
                       for r in top)
    if len(found) > 5:
        detail += f"; and {len(found) - 5} more"
    return float(len(found)), detail, INDEX_PROBLEMS_FIX


_PREPARED_SQL = """
SELECT p.gid, p.owner::text AS owner, p.database::text AS datname, p.prepared::text AS prepared,
       extract(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) p.prepared)::float8 AS seconds
FROM pg_catalog.pg_prepared_xacts AS p ORDER BY p.prepared
"""


def _prepared_transactions(db: Database) -> Measure:
    """Age of the oldest prepared transaction (any database): it holds its locks and the xmin horizon."""
    rows = db.query(_PREPARED_SQL)
    if not rows:
        return 0.0, "no prepared transaction", None
    detail = "; ".join(f"{r['gid']!r} of {r['owner']} in database {r['datname']}, prepared {r['prepared']} "
                       f"({int(r['seconds'])} s ago)" for r in rows[:5])
    if len(rows) > 5:
        detail += f"; and {len(rows) - 5} more"
    fix = " ".join(f"ROLLBACK PREPARED {quote_literal(r['gid'])};" for r in rows[:5]) + \
        ("  -- in the database each was prepared in, or COMMIT PREPARED if its transaction manager says so; "
         "it holds its locks and keeps vacuum from removing dead rows")
    return round(rows[0]["seconds"], 3), detail, fix


def _replication_slots(db: Database) -> Measure:
    """Inactive replication slots and the WAL each keeps (columns read from the view, not assumed by version)."""
    cols = server.columns(db, "pg_catalog.pg_replication_slots")
    since = "s.inactive_since::text" if "inactive_since" in cols else "NULL::text"
    rows = db.query(f"""
SELECT s.slot_name::text AS name, s.slot_type AS kind, s.database::text AS datname, {since} AS since,
       pg_catalog.pg_wal_lsn_diff(
         CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn()
              ELSE pg_catalog.pg_current_wal_lsn() END, s.restart_lsn)::float8 AS retained
FROM pg_catalog.pg_replication_slots AS s WHERE NOT s.active ORDER BY retained DESC NULLS LAST, 1""")
    if not rows:
        return 0.0, "no inactive replication slot", None
    detail = "; ".join(
        f"{r['kind']} slot {r['name']}" + (f" of database {r['datname']}" if r["datname"] else "")
        + (f", inactive since {r['since']}" if r["since"] else "")
        + f", retains {health_checks.pretty_bytes(r['retained'] or 0)} of WAL" for r in rows[:5])
    if len(rows) > 5:
        detail += f"; and {len(rows) - 5} more"
    fix = " ".join(f"SELECT pg_catalog.pg_drop_replication_slot({quote_literal(r['name'])});"
                   for r in rows[:5]) + \
        "  -- only once its consumer is gone for good: a dropped slot cannot be resumed"
    return float(len(rows)), detail, fix


# DEFAULT partitions of every partitioned table (managed or not); a bounded existence probe on each.
_DEFAULTS_SQL = f"""
SELECT p.partrelid::regclass::text AS parent, d.oid::regclass::text AS name, d.reltuples::float8 AS estimate,
       pg_catalog.has_table_privilege(d.oid, 'SELECT') AS readable,
       EXISTS (SELECT FROM steward.partition_config AS c WHERE c.parent OPERATOR(pg_catalog.=) p.partrelid)
         AS managed
FROM pg_catalog.pg_partitioned_table AS p
JOIN pg_catalog.pg_class AS d ON d.oid = p.partdefid
JOIN pg_catalog.pg_namespace AS n ON n.oid = d.relnamespace
WHERE p.partdefid <> 0 AND {USER_SCHEMA}
ORDER BY 1 LIMIT {health_checks.DEFAULT_PARTITIONS_PROBED}
"""


def _default_partition_rows(db: Database) -> Measure:
    """DEFAULT partitions holding rows: a row there blocks creating the partition its range belongs to."""
    full, hidden = [], 0
    defaults = db.query(_DEFAULTS_SQL)
    for d in defaults:
        if not d["readable"]:
            hidden += 1
            continue
        if db.query(f"SELECT EXISTS (SELECT FROM ONLY {d['name']} LIMIT 1) AS rows")[0]["rows"]:
            full.append(d)
    note = f"; {hidden} DEFAULT partition(s) this role may not read (needs SELECT on them)" if hidden else ""
    if not full and hidden:
        raise Skipped(f"{hidden} of {len(defaults)} DEFAULT partition(s) this role may not read, no rows in the "
                      f"others; the check needs {health_checks.GRANTS['default_partition_rows']}")
    if not full:
        return 0.0, f"no rows in the {len(defaults)} DEFAULT partition(s)", None
    detail = "; ".join(f"{d['name']} of {d['parent']} ({'managed' if d['managed'] else 'not managed'}), "
                       f"about {max(int(d['estimate']), 1)} row(s)" for d in full[:10]) + note
    if len(full) > 10:
        detail += f"; and {len(full) - 10} more"
    fix = " ".join((f"SELECT * FROM steward.maintain_partitions({quote_literal(d['parent'])});  "
                    "-- moves its DEFAULT rows")
                   if d["managed"]
                   else f"SELECT * FROM steward.create_partition({quote_literal(d['parent'])}, "
                        f"<start>, <span>);  -- for the range of the rows in {d['name']}: they are moved into it"
                   for d in full[:5])
    return float(len(full)), detail, fix


def _bloat(rows: list[Row], name_key: str, what: str) -> Measure:
    """Worst estimated waste (%) among relations of at least BLOAT_MIN_BYTES; the top offenders with their fix."""
    sized = [r for r in rows if r.get("kind", what) != "partitioned" and r["waste_percent"] is not None
             and int(r["size_bytes"]) >= health_checks.BLOAT_MIN_BYTES]
    if not sized:
        return 0.0, f"no {what} of {health_checks.pretty_bytes(health_checks.BLOAT_MIN_BYTES)} or more with an " \
            "estimate", None
    sized.sort(key=lambda r: (-float(r["waste_percent"]), str(r[name_key])))
    top = sized[:5]
    detail = "; ".join(f"{r[name_key]}: {float(r['waste_percent']):g}% of "
                       f"{health_checks.pretty_bytes(r['size_bytes'])} wasted "
                       f"({health_checks.pretty_bytes(r['waste_bytes'] or 0)})" for r in top)
    function = "table_bloat" if what == "table" else "index_bloat"
    fix = (f"SELECT {quote_ident(name_key)}, waste_percent, fix FROM steward.{function}(min_bytes => "
           f"{health_checks.BLOAT_MIN_BYTES}) ORDER BY waste_percent DESC NULLS LAST LIMIT 5;  "
           "-- then run each fix on its own, outside a transaction block")
    return float(top[0]["waste_percent"]), detail, fix


def _table_bloat(db: Database) -> Measure:
    return _bloat(table_bloat(db, False, None, health_checks.BLOAT_MIN_BYTES, None), "relation", "table")


def _index_bloat(db: Database) -> Measure:
    return _bloat(index_bloat(db, False, None, health_checks.BLOAT_MIN_BYTES, None), "index", "index")


MEASURES: dict[str, Callable[[Database], Measure]] = {
    "vacuum": _vacuum, "analyze": _analyze, "xid_wraparound": _xid, "multixact_wraparound": _multixact,
    "cache_hit_ratio": _cache_hit, "connections": _connections,
    "idle_in_transaction": _idle_in_transaction, "long_running_queries": _long_running,
    "blocked_queries": _blocked, "invalid_indexes": _invalid_indexes, "database_size": _database_size,
    "temp_files": _temp_files, "checkpoints": _checkpoints, "maintenance_runs": _maintenance_runs,
    "cron_job_failures": _cron_job_failures, "cron_job_connections": _cron_job_connections,
    "disabled_triggers": _disabled_triggers, "not_valid_constraints": _not_valid_constraints,
    "tables_without_primary_key": _tables_without_primary_key,
    "index_problems": _index_problems,
    "default_partition_rows": _default_partition_rows,
    "prepared_transactions": _prepared_transactions,
    "replication_slots": _replication_slots,
    "table_bloat": _table_bloat,
    "index_bloat": _index_bloat,
    "premake_runway": premade.premake_runway,
    "partition_exports": overdue_exports,
}
# Checks whose detail depends on the threshold (every finding over it is named).
JUDGED_MEASURES: dict[str, Callable[[Database, health_checks.Threshold], Measure]] = {"sequences": _sequences}


def _value_text(check: str, value: float | None, threshold: health_checks.Threshold) -> str | None:
    if value is None:
        return None
    if threshold.unit == "bytes":
        return health_checks.pretty_bytes(value)
    shown = int(value) if float(value).is_integer() else value
    return f"{shown} {threshold.unit}".strip()


def _overrides(db: Database) -> dict[str, Row]:
    return {r["check_name"]: r for r in db.query(
        "SELECT check_name, warning, critical, enabled FROM steward.health_thresholds")}


def health(db: Database) -> list[Row]:
    overrides = _overrides(db)
    # Each check waits for a lock at most LOCK_WAIT (a DEFAULT partition probed behind an ACCESS EXCLUSIVE lock
    # says skipped instead of hanging); the caller's own setting is put back at the end.
    before = db.query("SELECT pg_catalog.current_setting('lock_timeout') AS t")[0]["t"]
    db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", health_checks.LOCK_WAIT)
    try:
        return _checks(db, overrides)
    finally:
        db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", before)


def _checks(db: Database, overrides: dict[str, Row]) -> list[Row]:
    out = []
    for check in health_checks.CHECKS:
        override = overrides.get(check)
        if override is not None and not override["enabled"]:
            continue
        threshold = health_checks.effective(check, override)
        try:
            with db.subtransaction():
                judged = JUDGED_MEASURES.get(check)
                value, detail, fix = judged(db, threshold) if judged else MEASURES[check](db)
        except Skipped as skipped:
            out.append(_row(check, "skipped", None, threshold, str(skipped), None))
            continue
        except Exception as error:  # a check that cannot run is skipped or unknown, never the end of the report
            skipped = health_checks.skipped_reason(check, error_sqlstate(error))
            out.append(_row(check, "skipped" if skipped else "unknown", None, threshold,
                            f"{skipped or 'could not run'}: {error_first_line(error)}", None))
            continue
        state = health_checks.status(value, threshold)
        out.append(_row(check, state, _value_text(check, value, threshold), threshold, detail,
                        fix if state in ("warning", "critical") else None))
    return out


def _row(check: str, state: str, value: Any, threshold: health_checks.Threshold, detail: str, fix: str | None) -> Row:
    return {"check_name": check, "status": state, "value": value, "threshold": health_checks.threshold_text(threshold),
            "detail": detail, "fix": fix}
