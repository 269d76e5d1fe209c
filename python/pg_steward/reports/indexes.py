"""steward.index_report: catalog and statistics reads (partitions' use: reports/partitions.py).

The findings themselves are decided in reports/index_findings.py. Index usage
counters (pg_stat_all_indexes) and table counters (pg_stat_all_tables) are shown
to every role; the catalog tables read here are readable by all, so these
reports work the same for a member of pg_monitor as for a superuser.
"""

from __future__ import annotations

from pg_steward import server
from pg_steward.catalog_filters import USER_SCHEMA
from pg_steward.db import Database, Row
from pg_steward.partitions.tree import partition_walk
from pg_steward.reports import index_findings
from pg_steward.sqltext import qualified, quote_literal


def _not_extension_member(table: str) -> str:
    """Tables that belong to an extension (pg_steward's own logs among them) are the extension's to index."""
    return (f"NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_class'::regclass "
            f"AND d.objid = {table}.oid AND d.deptype = 'e')")


# PostgreSQL 16 records each index's last scan (pg_stat_all_indexes.last_idx_scan); {last_scan} is filled by
# _indexes_sql() with it, or NULL on a server without it.
_INDEXES_SQL = f"""
SELECT ci.oid::bigint AS oid, n.nspname::text AS schema, ct.relname::text AS table_name,
       i.indrelid::bigint AS table_oid, ci.relname::text AS name, am.amname::text AS method,
       pg_catalog.string_to_array(i.indkey::text, ' ') AS columns, i.indnkeyatts::int AS key_count,
       pg_catalog.string_to_array(i.indclass::text, ' ') AS opclasses,
       pg_catalog.string_to_array(i.indcollation::text, ' ') AS collations,
       pg_catalog.string_to_array(i.indoption::text, ' ') AS options,
       pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS expressions,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
       i.indisunique AS is_unique, {{nulls_not_distinct}} AS nulls_not_distinct,
       i.indisreplident AS replica_identity, i.indisvalid AS is_valid,
       EXISTS (SELECT FROM pg_catalog.pg_constraint AS k WHERE k.conindid = i.indexrelid) AS is_constraint,
       ci.relkind = 'I' AS partitioned,
       EXISTS (SELECT FROM pg_catalog.pg_inherits AS h WHERE h.inhrelid = ci.oid) AS child,
       CASE WHEN ci.relkind = 'I'
            THEN (SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0)
                  FROM {partition_walk("ci.oid")} AS t)
            ELSE pg_catalog.pg_relation_size(ci.oid) END::bigint AS size_bytes,
       CASE WHEN ci.relkind = 'I'
            THEN (SELECT sum(s2.idx_scan) FROM {partition_walk("ci.oid")} AS t
                  JOIN pg_catalog.pg_stat_all_indexes AS s2 ON s2.indexrelid = t.relid)
            ELSE s.idx_scan END::bigint AS scans,
       {{last_scan}},
       -- pg_get_indexdef() waits behind a lock on the table: read only where a finding needs it.
       CASE WHEN NOT i.indisvalid THEN pg_catalog.pg_get_indexdef(ci.oid) END AS definition
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ci ON ci.oid = i.indexrelid
JOIN pg_catalog.pg_class AS ct ON ct.oid = i.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = ct.relnamespace
JOIN pg_catalog.pg_am AS am ON am.oid = ci.relam
LEFT JOIN pg_catalog.pg_stat_all_indexes AS s ON s.indexrelid = ci.oid
WHERE {USER_SCHEMA} AND {_not_extension_member("ct")}
"""

_LAST_SCAN = f"""CASE WHEN ci.relkind = 'I'
            THEN (SELECT max(s2.last_idx_scan) FROM {partition_walk("ci.oid")} AS t
                  JOIN pg_catalog.pg_stat_all_indexes AS s2 ON s2.indexrelid = t.relid)
            ELSE s.last_idx_scan END"""


def _indexes_sql(last_scan_known: bool, nulls_not_distinct_known: bool) -> str:
    """The index query for this server: {last_scan} with last_idx_scan (16+), {nulls_not_distinct} with
    pg_index.indnullsnotdistinct (15+), each where the catalog has the column."""
    last = f"({_LAST_SCAN})" if last_scan_known else "NULL::timestamptz"
    nulls = "i.indnullsnotdistinct" if nulls_not_distinct_known else "false"
    last_columns = (f"{last}::text AS last_scan, (pg_catalog.date_part('epoch', "
                    f"pg_catalog.now() OPERATOR(pg_catalog.-) {last}) / 86400)::float8 AS idle_days")
    return _INDEXES_SQL.replace("{nulls_not_distinct}", nulls).replace("{last_scan}", last_columns)


_COLUMN_NAMES_SQL = f"""
SELECT a.attrelid::bigint AS table_oid, a.attnum::int AS attnum, a.attname::text AS name
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMA}
"""

_FOREIGN_KEYS_SQL = f"""
SELECT k.conname::text AS name, k.conrelid::bigint AS table_oid, n.nspname::text AS schema,
       c.relname::text AS table_name, c.relkind = 'p' AS partitioned,
       k.confrelid::regclass::text AS referenced, k.conkey::int[] AS columns,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0)
                  FROM {partition_walk("c.oid")} AS t)
            ELSE pg_catalog.pg_relation_size(c.oid) END::bigint AS size_bytes
FROM pg_catalog.pg_constraint AS k
JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND k.conparentid = 0 AND {USER_SCHEMA} AND {_not_extension_member("c")}
"""

# Sequential scans per table, less those maintenance made: each CREATE INDEX or REINDEX of one of its indexes
# and each validation of one of its foreign-key or CHECK constraints read the whole table once; and less those
# of pg_steward's own plan analysis (EXPLAIN ANALYZE), recorded in steward.analysis_seq_scans since the
# database's last statistics reset, and never more than the table counts (which then lost them: a crash,
# pg_upgrade). A partition's scans count for its partitioned table (the root of its tree), where the finding and
# its fix belong: a query on the partitioned table scans each partition, so the root counts its busiest
# partition's scans.
_SEQ_SCAN_SQL = f"""
WITH leaf AS (
    SELECT coalesce(pg_catalog.pg_partition_root(c.oid), c.oid) AS root,
           s.seq_scan OPERATOR(pg_catalog.-)
             (SELECT count(*) FROM pg_catalog.pg_index AS i WHERE i.indrelid = c.oid) OPERATOR(pg_catalog.-)
             (SELECT count(*) FROM pg_catalog.pg_constraint AS k
              WHERE k.conrelid = c.oid AND k.contype IN ('f', 'c')) OPERATOR(pg_catalog.-)
             coalesce((SELECT a.seq_scans FROM steward.analysis_seq_scans AS a
                       WHERE a.relid = c.oid AND a.seq_scans <= s.seq_scan
                         AND a.since >= coalesce((SELECT pg_catalog.pg_stat_get_db_stat_reset_time(d.oid)
                                                  FROM pg_catalog.pg_database AS d
                                                  WHERE d.datname = pg_catalog.current_database()),
                                                 '-infinity')), 0) AS scans,
           s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan, s.n_live_tup
    FROM pg_catalog.pg_stat_all_tables AS s
    JOIN pg_catalog.pg_class AS c ON c.oid = s.relid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND {USER_SCHEMA} AND {_not_extension_member("c")}
)
SELECT n.nspname::text AS schema, c.relname::text AS table_name, c.relkind = 'p' AS partitioned,
       -- sizes wait behind a lock on the table: read only for the tables found
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0) FROM {partition_walk("c.oid")} AS t)
            ELSE pg_catalog.pg_relation_size(c.oid) END::bigint AS size_bytes, max(leaf.scans)::bigint AS seq_scan,
       sum(leaf.seq_tup_read)::bigint AS seq_tup_read, max(leaf.idx_scan)::bigint AS idx_scan,
       sum(leaf.n_live_tup)::bigint AS n_live_tup, count(*)::int AS partitions
FROM leaf
JOIN pg_catalog.pg_class AS c ON c.oid = leaf.root
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE {_not_extension_member("c")}
GROUP BY n.nspname, c.oid, c.relname, c.relkind
HAVING sum(leaf.n_live_tup) >= $1::bigint AND max(leaf.scans) >= $2::bigint
   AND max(leaf.scans) > max(leaf.idx_scan)
"""

_STATS_RESET_SQL = """
SELECT stats_reset::text AS stats_reset FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()
"""

MISSING_INDEX_MIN_ROWS = 10000
MISSING_INDEX_MIN_SCANS = 5


def _ints(values: list[str] | None) -> tuple[int, ...]:
    return tuple(int(v) for v in values or [] if v != "")


def _index_info(r: Row) -> index_findings.IndexInfo:
    return index_findings.IndexInfo(
        oid=r["oid"], schema=r["schema"], table=r["table_name"], table_oid=r["table_oid"], name=r["name"],
        method=r["method"], columns=_ints(r["columns"]), key_count=r["key_count"],
        opclasses=tuple(r["opclasses"] or []), collations=tuple(r["collations"] or []),
        options=tuple(r["options"] or []), expressions=r["expressions"], predicate=r["predicate"],
        unique=r["is_unique"], nulls_not_distinct=r["nulls_not_distinct"], constraint=r["is_constraint"],
        replica_identity=r["replica_identity"],
        valid=r["is_valid"], partitioned=r["partitioned"], child=r["child"], size_bytes=int(r["size_bytes"] or 0),
        scans=r["scans"], last_scan=r["last_scan"], idle_days=r["idle_days"])


def _finding_row(finding: index_findings.Finding) -> Row:
    i = finding.index
    return {"problem": finding.problem, "schema": i.schema, "table": i.table, "index": i.name,
            "size_bytes": i.size_bytes, "detail": finding.detail, "fix": finding.fix, "severity": finding.severity}


def _fk_findings(db: Database, indexes: list[index_findings.IndexInfo], names: dict[tuple[int, int], str],
                 fks: list[Row]) -> list[Row]:
    """fk_without_index, one finding (and one CREATE INDEX) per table and set of columns, however many foreign
    keys share them."""
    uncovered: dict[tuple[int, frozenset[int]], list[Row]] = {}
    for fk in fks:
        columns = tuple(fk["columns"])
        if any(index_findings.covers_foreign_key(i, columns) for i in indexes if i.table_oid == fk["table_oid"]):
            continue
        uncovered.setdefault((fk["table_oid"], frozenset(columns)), []).append(fk)
    out = []
    for group in uncovered.values():
        fk = group[0]
        column_names = [names[(fk["table_oid"], c)] for c in fk["columns"]]
        keys = "; ".join(f"{k['name']} references {k['referenced']}" for k in group)
        out.append({
            "problem": "fk_without_index", "schema": fk["schema"], "table": fk["table_name"], "index": None,
            "size_bytes": int(fk["size_bytes"]),
            "detail": f"foreign key ({', '.join(column_names)}): {keys}: each DELETE or key UPDATE there scans "
                      f"this table, and the lock waits with it",
            "fix": index_findings.create_index_statement(fk["schema"], fk["table_name"], column_names,
                                                         fk["partitioned"]),
            "severity": "warning"})
    return out


def _missing_index_findings(db: Database) -> list[Row]:
    out = []
    for t in db.query(_SEQ_SCAN_SQL, MISSING_INDEX_MIN_ROWS, MISSING_INDEX_MIN_SCANS):
        per_scan = int(t["seq_tup_read"] / max(t["seq_scan"], 1))
        table = qualified(t["schema"], t["table_name"])
        where = (f" (partitioned table: counted over its {t['partitions']} partitions, the busiest one's scans)"
                 if t["partitioned"] else "")
        # suggest_indexes() reads the columns off the captured workload's statements and, on a partitioned
        # table, gives the ON ONLY / CONCURRENTLY / ATTACH recipe.
        suggest = (f"SELECT columns, create_statement, verified, reason FROM steward.suggest_indexes() "
                   f"WHERE table_name::regclass = {quote_literal(table)}::regclass;")
        out.append({
            "problem": "missing_index", "schema": t["schema"], "table": t["table_name"], "index": None,
            "size_bytes": int(t["size_bytes"]),
            "detail": f"{t['seq_scan']} sequential scans reading {per_scan} rows each on average, "
                      f"against {t['idx_scan']} index scans, over {t['n_live_tup']} live rows{where}; "
                      f"scans of index builds and constraint validations are not counted",
            "fix": f"-- the indexes the captured workload (capture_query_stats, log_slow_query) needs here: "
                   f"{suggest}",
            "severity": "info"})
    return out


def _read_indexes(db: Database, table_oid: int | None) -> tuple[list[Row], dict[tuple[int, int], str], bool]:
    """The index rows (of every user table, or of one), the tables' column names by (table oid, attnum), and
    whether this server records last scans."""
    last_scan_known = "last_idx_scan" in server.columns(db, "pg_catalog.pg_stat_all_indexes")
    nulls_known = "indnullsnotdistinct" in server.columns(db, "pg_catalog.pg_index")
    if table_oid is None:
        rows = db.query(_indexes_sql(last_scan_known, nulls_known))
        columns = db.query(_COLUMN_NAMES_SQL)
    else:
        one = " AND {}.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid"
        rows = db.query(_indexes_sql(last_scan_known, nulls_known) + one.format("ct"), table_oid)
        columns = db.query(_COLUMN_NAMES_SQL + one.format("c"), table_oid)
    return rows, {(r["table_oid"], r["attnum"]): r["name"] for r in columns}, last_scan_known


def indexes_of(db: Database, table_oid: int) -> tuple[list[index_findings.IndexInfo], dict[tuple[int, int], str]]:
    """One table's indexes as index_findings reads them, and its column names (suggest_indexes' redundancy)."""
    rows, names, _known = _read_indexes(db, table_oid)
    return [_index_info(r) for r in rows], names


def index_report(db: Database) -> list[Row]:
    """Rows of steward.index_report: every index problem with its size and fix, the most critical first."""
    rows, names, last_scan_known = _read_indexes(db, None)
    indexes = [_index_info(r) for r in rows]
    definitions = {r["oid"]: r["definition"] for r in rows}
    reset = db.query(_STATS_RESET_SQL)
    since = f"since the statistics were reset at {reset[0]['stats_reset']}" if reset and reset[0]["stats_reset"] \
        else "since the statistics began (never reset)"
    fks = db.query(_FOREIGN_KEYS_SQL)
    # Each index gets at most one drop, and no drop takes away what another finding keeps: duplicates first,
    # then redundant prefixes of an index that stays, then unused (never an index a foreign key needs).
    dups = index_findings.duplicates(indexes)
    duplicated = frozenset(d.index.oid for d in dups)
    unused = index_findings.unused(indexes, since, last_scan_known,
                                   [(fk["table_oid"], tuple(fk["columns"])) for fk in fks], duplicated,
                                   index_findings.kept_duplicates(dups))
    unused_oids = frozenset(u.index.oid for u in unused)
    redundant = [r for r in index_findings.redundant(indexes, names, duplicated | unused_oids)
                 if r.index.oid not in duplicated]
    # A prefix of an index that stays is told as redundant rather than as unused.
    redundant_oids = {r.index.oid for r in redundant}
    unused = [u for u in unused if u.index.oid not in redundant_oids]
    findings = index_findings.invalid(indexes, definitions) + dups + redundant + unused
    out = [_finding_row(x) for x in findings] + _fk_findings(db, indexes, names, fks) + _missing_index_findings(db)
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda r: (rank[r["severity"]], r["problem"], -r["size_bytes"], r["schema"], r["table"],
                                      r["index"] or ""))
