"""Running EXPLAIN safely, and the SQL functions built on it.

The statement is classified before anything runs (statements.py), then
explained inside a subtransaction that is always rolled back, whatever the
statement did, so an allowed write leaves nothing behind. The server reads
the text as pglast did (standard_conforming_strings on), so it runs the one
statement that was classified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pg_steward.db import Database, Row
from pg_steward.errors import INVALID_SQL_STATEMENT_NAME, NULL_VALUE_NOT_ALLOWED, StewardError
from pg_steward.partitions.tree import partition_walk
from pg_steward.queries.advice import Advice, advise
from pg_steward.queries.facts import Facts, RelationFacts, RootFacts
from pg_steward.queries.plan import Plan, detail, parse_plan
from pg_steward.queries.pruning import pruning
from pg_steward.queries.statements import Statement, classify, classify_prepared, require_plain

T = TypeVar("T")


class _RollBack(Exception):
    """Raised inside the subtransaction to undo it; carries the EXPLAIN output out."""

    def __init__(self, output: Any) -> None:
        super().__init__("rolled back")
        self.output = output


def explain(db: Database, query: str, analyze: bool, allow_writes: bool, search_path: str | None = None) -> Plan:
    """The parsed EXPLAIN (FORMAT JSON) output of ``query``; with ``analyze`` it ran and was rolled back.

    ``search_path`` is the caller's: the SQL functions pin their own, but the
    query's names must resolve as in the caller's session. The scans an ANALYZE
    made are not recorded here: the callers do it (record_own_scans) once they
    know whether the transaction may write.
    """
    if query is None or not query.strip():
        raise StewardError("query must be a statement", NULL_VALUE_NOT_ALLOWED)
    statement = classify(query)
    if statement.prepared is not None:
        statement = prepared_statement(db, statement.prepared)
    require_plain(statement, bool(allow_writes))
    # BUFFERS is named: PostgreSQL 18 adds it to ANALYZE by default, older servers only when asked, and the plan
    # analysis reads its keys on every server (plan.py reads both shapes of output).
    options = "ANALYZE, BUFFERS, VERBOSE, FORMAT JSON" if analyze else "VERBOSE, FORMAT JSON"
    output = rolled_back(db, search_path, lambda: db.query(f"EXPLAIN ({options}) {query}")[0]["QUERY PLAN"])
    return parse_plan(json.loads(output) if isinstance(output, str) else output)


def rolled_back(db: Database, search_path: str | None, work: Callable[[], T]) -> T:
    """``work()``'s result, run in a subtransaction that is then rolled back, with the caller's search_path.

    Local settings made in the subtransaction end with it. pglast classified the statements' text with
    standard_conforming_strings on; with it off the server would read 'a\\' as an open string and could run,
    as code, what pglast saw inside a quote. One statement sets both.
    """
    try:
        with db.subtransaction():
            if search_path is not None:
                db.execute("SELECT pg_catalog.set_config('search_path', $1, true), "
                           "pg_catalog.set_config('standard_conforming_strings', 'on', true)", search_path)
            else:
                db.execute("SELECT pg_catalog.set_config('standard_conforming_strings', 'on', true)")
            raise _RollBack(work())
    except _RollBack as done:
        return done.output


# Upserts the sequential scans an analysis made; a count older than the database's statistics reset starts
# again (the scans it counted are gone from pg_stat_all_tables). Relations the role may not read (a view's
# tables) are left out: the table's trigger would refuse them.
_RECORD_SCANS = """
WITH made AS (
    SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', v.nspname, v.relname))::oid AS relid, v.scans
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(nspname, relname, scans)
), reset AS (
    SELECT pg_catalog.pg_stat_get_db_stat_reset_time(d.oid) AS at FROM pg_catalog.pg_database AS d
    WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
)
INSERT INTO steward.analysis_seq_scans AS a (relid, seq_scans, since, last_at)
SELECT made.relid, pg_catalog.sum(made.scans), pg_catalog.now(), pg_catalog.now() FROM made
WHERE made.relid IS NOT NULL AND pg_catalog.has_table_privilege(made.relid, 'SELECT')
GROUP BY made.relid
ON CONFLICT (relid) DO UPDATE SET
    seq_scans = CASE WHEN a.since OPERATOR(pg_catalog.<) (SELECT reset.at FROM reset) THEN EXCLUDED.seq_scans
                     ELSE a.seq_scans OPERATOR(pg_catalog.+) EXCLUDED.seq_scans END,
    since = CASE WHEN a.since OPERATOR(pg_catalog.<) (SELECT reset.at FROM reset) THEN EXCLUDED.since
                 ELSE a.since END,
    last_at = EXCLUDED.last_at
"""


def record_own_scans(db: Database, plan: Plan, read_only: bool) -> None:
    """Record the sequential scans an EXPLAIN ANALYZE made (steward.analysis_seq_scans), so that index_report
    does not take pg_steward's own analyses for the application's workload.

    PostgreSQL counts a table's sequential scan each time a scan of it starts or
    restarts, in every process that runs it: a Seq Scan node's loops (summed over
    a parallel scan's workers) are exactly the scans it added. A read-only
    transaction (a standby, ``transaction_read_only``) cannot record them: there
    the report counts them, as the docs say.
    """
    if read_only or not plan.analyzed:
        return
    made: dict[tuple[str, str], int] = {}
    for node in plan.nodes:
        if node.raw.get("Node Type") == "Seq Scan" and node.loops and node.schema and node.relation_name:
            made[(node.schema, node.relation_name)] = made.get((node.schema, node.relation_name), 0) + node.loops
    if not made:
        return
    db.execute(_RECORD_SCANS, [k[0] for k in made], [k[1] for k in made], list(made.values()))


def prepared_statement(db: Database, name: str) -> Statement:
    """What ``EXECUTE name`` would run: the caller's prepared statement (PL/Python runs in the caller's session,
    so its prepared statements are the caller's), classified like any other statement."""
    rows = db.query("SELECT statement, from_sql FROM pg_catalog.pg_prepared_statements WHERE name = $1", name)
    if not rows:
        raise StewardError(f'prepared statement "{name}" does not exist', INVALID_SQL_STATEMENT_NAME,
                           hint="PREPARE it in the session that calls pg_steward: EXECUTE sees that session's "
                                "prepared statements only.")
    return classify_prepared(name, rows[0]["statement"], rows[0]["from_sql"])


# current_setting() reads one setting; the pg_settings view builds a row for every one of them.
_SETTING_COLUMNS = """
pg_catalog.pg_size_bytes(pg_catalog.current_setting('work_mem')) / 1024 AS work_mem_kb,
pg_catalog.current_setting('hash_mem_multiplier')::float8 AS hash_mem_multiplier,
pg_catalog.current_setting('transaction_read_only') = 'on' AS read_only"""

# The settings come with each scanned relation's row: a second statement reads them only for a plan that
# scans no relation.
_RELATIONS = f"""
SELECT {_SETTING_COLUMNS}, r.label, pg_catalog.format('%I.%I', n.nspname, c.relname) AS quoted,
       GREATEST(c.reltuples, 0)::float8 AS reltuples,
       CASE WHEN c.relispartition THEN (
           SELECT pg_catalog.format('%I.%I', rn.nspname, rc.relname)
           FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
           WHERE rc.oid = pg_catalog.pg_partition_root(c.oid)) END AS root,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = c.oid) AS leading_columns,
       pg_catalog.pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
       GREATEST(pg_catalog.pg_stat_get_last_analyze_time(c.oid),
                pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid))::text AS last_analyzed
FROM unnest($1::text[], $2::text[], $3::text[]) AS r(label, nspname, relname)
JOIN pg_catalog.pg_namespace n ON n.nspname = r.nspname
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.relname
"""

# Partitions are counted by partition_walk(), which takes no lock (pg_partition_tree() would wait behind a
# partition held in ACCESS EXCLUSIVE mode); pg_partition_root() and pg_get_partkeydef() take none either.
_ROOTS = f"""
SELECT q AS quoted,
       (SELECT pg_catalog.count(*) FROM {partition_walk("pg_catalog.to_regclass(q)")} AS t
        WHERE t.isleaf)::integer AS leaves,
       pg_catalog.pg_get_partkeydef(pg_catalog.to_regclass(q)) AS key
FROM pg_catalog.unnest($1::text[]) AS q
"""

_SETTINGS = f"SELECT {_SETTING_COLUMNS}"


def gather_facts(db: Database, plan: Plan) -> Facts:
    scanned = {n.relation: n for n in plan.nodes if n.relation and n.schema}
    facts = Facts()
    rows: list[Row] = []
    if scanned:
        labels = list(scanned)
        rows = db.query(_RELATIONS, labels, [scanned[x].schema for x in labels],
                        [scanned[x].relation_name for x in labels])
        for row in rows:
            facts.relations[row["label"]] = RelationFacts(
                row["quoted"], float(row["reltuples"]), row["root"], set(row["leading_columns"] or []),
                row["n_mod_since_analyze"], row["last_analyzed"])
    roots = sorted({f.root for f in facts.relations.values() if f.root})
    if roots:
        for row in db.query(_ROOTS, roots):
            facts.roots[row["quoted"]] = RootFacts(row["quoted"], row["leaves"], row["key"])
    settings = rows[0] if rows else db.query(_SETTINGS)[0]
    facts.work_mem_kb = int(settings["work_mem_kb"])
    facts.hash_mem_multiplier = float(settings["hash_mem_multiplier"])
    facts.read_only = bool(settings["read_only"])
    return facts


def _analyzed(db: Database, query: str, analyze: bool, allow_writes: bool,
              search_path: str | None) -> tuple[Plan, Facts, list[Advice]]:
    plan = explain(db, query, analyze, allow_writes, search_path)
    facts = gather_facts(db, plan)
    record_own_scans(db, plan, facts.read_only)
    return plan, facts, advise(plan, facts)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def analyze_query_performance(db: Database, query: str, analyze: bool = True, allow_writes: bool = False,
                              search_path: str | None = None) -> list[Row]:
    plan, _facts, advice = _analyzed(db, query, analyze, allow_writes, search_path)
    by_node: dict[int, list[str]] = {}
    for item in advice:
        if item.node_id is not None:
            by_node.setdefault(item.node_id, []).append(f"{item.problem}: {item.fix}")
    rows = []
    for node in plan.nodes:
        rows.append({
            "node_id": node.node_id, "parent_id": node.parent_id, "depth": node.depth,
            "operation": node.operation, "relation": node.relation, "index_name": node.index_name,
            "time_ms": _round(node.time_ms, 3), "exclusive_time_ms": _round(node.exclusive_time_ms, 3),
            "rows_estimate": round(node.rows_estimate),
            "rows_actual": None if node.rows_actual is None else round(node.rows_actual),
            "accuracy_ratio": _round(node.accuracy_ratio, 4), "loops": node.loops,
            "shared_hit_blocks": node.get("Shared Hit Blocks"), "shared_read_blocks": node.get("Shared Read Blocks"),
            "temp_read_blocks": node.get("Temp Read Blocks"), "temp_written_blocks": node.get("Temp Written Blocks"),
            "rows_removed_by_filter": round(node.total("Rows Removed by Filter")) if plan.analyzed else None,
            "detail": detail(node), "advice": "\n".join(by_node.get(node.node_id, [])) or None,
        })
    return rows


def query_advice(db: Database, query: str, analyze: bool = True, allow_writes: bool = False,
                 search_path: str | None = None) -> list[Row]:
    _plan, _facts, advice = _analyzed(db, query, analyze, allow_writes, search_path)
    return [vars(item) for item in advice]


def check_pruning(db: Database, query: str, analyze: bool = False, allow_writes: bool = False,
                  search_path: str | None = None) -> list[Row]:
    plan = explain(db, query, analyze, allow_writes, search_path)
    facts = gather_facts(db, plan)
    record_own_scans(db, plan, facts.read_only)
    return [vars(row) for row in pruning(plan, facts)]
