"""Accuracy and speed of steward.table_bloat / steward.index_bloat.

Accuracy: a corpus of tables with known waste (dead-row fractions 0-80 %, with
and without VACUUM, fillfactor 70, wide TOASTed text, many nullable columns, a
dropped column, partitions, B-trees with many duplicates). For each relation it
records pg_steward's estimate, the exact mode (pgstattuple / pgstatindex), a
classic estimate query (written here as the comparison baseline: summed
avg_width, no per-column alignment, reltuples, fillfactor and deduplication
ignored), and the truth: the bytes VACUUM FULL and REINDEX give back. It prints
the mean absolute error, in percentage points of the relation's size, of each
against the truth and against pgstattuple.

Speed: N small tables (2,000 in the full run), timed through steward.table_bloat()
against pgstattuple_approx (taking turns, best of three each) and pgstattuple over the same tables.

    python bench/report_bloat.py --quick          # < 3 minutes
    python bench/report_bloat.py                  # the full run
    python bench/report_bloat.py --dsn postgresql://...   # an existing server (it creates a database)

Results go to bench/results/report_bloat-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

# The classic estimate, as the widely copied queries compute it.
CLASSIC_TABLE_SQL = """
WITH cols AS (
    SELECT c.oid, c.relpages, greatest(c.reltuples, 0) AS reltuples,
           sum((1 - s.null_frac) * s.avg_width) AS data_width,
           max(s.null_frac) > 0 AS has_nulls, count(*) AS natts
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited
    WHERE c.relkind = 'r' AND n.nspname = 'corpus'
    GROUP BY c.oid, c.relpages, c.reltuples
)
SELECT oid::regclass::text AS rel, pg_relation_size(oid) AS size_bytes,
       ceil(reltuples * (4 + ceil((23 + CASE WHEN has_nulls THEN ceil(natts / 8.0) ELSE 0 END) / 8.0) * 8
                             + ceil(data_width / 8.0) * 8) / (current_setting('block_size')::int - 24))
         * current_setting('block_size')::int AS expected_bytes
FROM cols
"""

CLASSIC_INDEX_SQL = """
WITH keys AS (
    SELECT i.indexrelid, greatest(ct.reltuples, 0) AS reltuples, sum(coalesce(s.avg_width, 8)) AS width,
           max(coalesce(s.null_frac, 0)) > 0 AS has_nulls
    FROM pg_index i JOIN pg_class ct ON ct.oid = i.indrelid JOIN pg_namespace n ON n.oid = ct.relnamespace
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = ct.relname AND s.attname = a.attname
         AND NOT s.inherited
    WHERE n.nspname = 'corpus' AND ct.relkind = 'r'
    GROUP BY i.indexrelid, ct.reltuples
)
SELECT indexrelid::regclass::text AS rel, pg_relation_size(indexrelid) AS size_bytes,
       (1 + ceil(reltuples * (4 + ceil((8 + CASE WHEN has_nulls THEN 4 ELSE 0 END + width) / 8.0) * 8)
                 / ((current_setting('block_size')::int - 24 - 16) * 0.9)))
         * current_setting('block_size')::int AS expected_bytes
FROM keys
"""


def corpus(quick: bool) -> list[tuple[str, list[str], list[str]]]:
    """(table, statements that build it and make its waste, statements run after ANALYZE); schema corpus.

    The "stale" tables lose rows after their last ANALYZE, as a table does between
    two autovacuum runs: reltuples no longer says how many rows are live.
    """
    rows = 20000 if quick else 100000
    out = []
    fractions = (0, 10, 20, 40, 60, 80) if quick else (0, 5, 10, 20, 30, 40, 50, 60, 70, 80)
    for vacuumed in (False, True):
        for pct in fractions:
            name = f"corpus.plain_{pct}{'_v' if vacuumed else ''}"
            out.append((name, [
                f"CREATE TABLE {name} (id int PRIMARY KEY, customer int, note text, amount numeric, flag bool, "
                f"created timestamptz) WITH (autovacuum_enabled = off)",
                f"INSERT INTO {name} SELECT g, g % 1000, md5(g::text), g * 1.5, g % 2 = 0, now() "
                f"FROM generate_series(1, {rows}) g",
                f"CREATE INDEX ON {name} (customer)",
                f"DELETE FROM {name} WHERE (id * 7919) % 100 < {pct}",
                *([f"VACUUM {name}"] if vacuumed else []),
            ], []))
    for pct in (0, 50):
        name = f"corpus.ff70_{pct}"
        out.append((name, [
            f"CREATE TABLE {name} (id bigint PRIMARY KEY, v int, t timestamptz) "
            f"WITH (fillfactor = 70, autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, g, now() FROM generate_series(1, {rows}) g",
            *([f"UPDATE {name} SET v = v + 1 WHERE id % 100 < {pct}"] * 2),
            f"VACUUM {name}",
        ], []))
    for pct in (0, 40):
        name = f"corpus.toast_{pct}"
        out.append((name, [
            f"CREATE TABLE {name} (id int, body text) WITH (autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, repeat(md5(g::text), 100 + g % 200) FROM generate_series(1, {rows // 10}) g",
            f"DELETE FROM {name} WHERE id % 100 < {pct}",
        ], []))
    for pct in (0, 30):
        name = f"corpus.nullable_{pct}"
        cols = ", ".join(f"c{i} int" for i in range(40))
        vals = ", ".join(f"CASE WHEN (g + {i}) % {2 + i % 5} = 0 THEN g END" for i in range(40))
        out.append((name, [
            f"CREATE TABLE {name} (id int, {cols}, label text) WITH (autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, {vals}, CASE WHEN g % 3 = 0 THEN NULL ELSE 'label ' || g END "
            f"FROM generate_series(1, {rows}) g",
            f"CREATE INDEX ON {name} (c1)",
            f"DELETE FROM {name} WHERE id % 100 < {pct}",
        ], []))
    name = "corpus.dropped_col"
    out.append((name, [
        f"CREATE TABLE {name} (id int, gone text, keep int) WITH (autovacuum_enabled = off)",
        f"INSERT INTO {name} SELECT g, md5(g::text), g FROM generate_series(1, {rows}) g",
        f"ALTER TABLE {name} DROP COLUMN gone",
    ], []))
    for pct in (0, 50):
        name = f"corpus.dups_{pct}"
        out.append((name, [
            f"CREATE TABLE {name} (id int, status int, kind text) WITH (autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, g % 5, 'kind ' || (g % 20) FROM generate_series(1, {rows}) g",
            f"CREATE INDEX ON {name} (status)",
            f"CREATE INDEX ON {name} (kind)",
            f"CREATE INDEX ON {name} (status, kind)",
            f"DELETE FROM {name} WHERE id % 100 < {pct}",
        ], []))
    name = "corpus.parted"
    out.append((name, [
        f"CREATE TABLE {name} (day date NOT NULL, v int, note text) PARTITION BY RANGE (day)",
        *[f"CREATE TABLE {name}_{m} PARTITION OF {name} FOR VALUES FROM ('2024-{m:02d}-01') TO "
          f"('2024-{m + 1:02d}-01') WITH (autovacuum_enabled = off)" for m in range(1, 5)],
        f"CREATE INDEX ON {name} (v)",
        f"INSERT INTO {name} SELECT '2024-01-01'::date + g % 120, g, md5(g::text) FROM generate_series(1, {rows}) g",
        f"DELETE FROM {name} WHERE day < '2024-03-01' AND v % 3 = 0",
    ], []))
    for pct in (0, 40):
        name = f"corpus.varwidth_{pct}"
        out.append((name, [
            f"CREATE TABLE {name} (id int, label text, n bigint, tag varchar(20)) WITH (autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, repeat('y', g % 61), g, 'tag' || (g % 1000) "
            f"FROM generate_series(1, {rows}) g",
            f"CREATE INDEX ON {name} (label)",
            f"DELETE FROM {name} WHERE id % 100 < {pct}",
        ], []))
    for pct in (20, 50):
        name = f"corpus.stale_{pct}"
        out.append((name, [
            f"CREATE TABLE {name} (id int PRIMARY KEY, v int, note text) WITH (autovacuum_enabled = off)",
            f"INSERT INTO {name} SELECT g, g % 100, md5(g::text) FROM generate_series(1, {rows}) g",
        ], [f"DELETE FROM {name} WHERE id % 100 < {pct}"]))
    return out


@contextlib.contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """A fresh database with pg_steward and pgstattuple, on a throwaway server unless --dsn is given."""
    server = None
    if dsn is None:
        from pg_steward.localserver import LocalServer

        server = LocalServer({"autovacuum": "off"})
        dsn = server.url
    try:
        name = f"bench_bloat_{int(time.time())}"
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = psycopg.conninfo.make_conninfo(dsn, dbname=name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_steward CASCADE")
            conn.execute("CREATE EXTENSION pgstattuple")
        yield url
    finally:
        if server is not None:
            server.stop()


def _flush(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")


def build(conn: psycopg.Connection, tables: list[tuple[str, list[str], list[str]]]) -> None:
    conn.execute("CREATE SCHEMA corpus")
    for _, statements, _ in tables:
        for sql in statements:
            conn.execute(sql)
    _flush(conn)
    conn.execute("ANALYZE")
    for _, _, after in tables:
        for sql in after:
            conn.execute(sql)
    _flush(conn)


def _pct(size: float, expected: float | None) -> float | None:
    if expected is None or size <= 0:
        return None
    return max(0.0, 100.0 * (size - expected) / size)


def measure(conn: psycopg.Connection) -> dict[str, dict[str, dict[str, float | None]]]:
    """Waste percent of every corpus relation by each method, then the truth after a rewrite."""
    out: dict[str, dict[str, dict[str, float | None]]] = {"table": {}, "index": {}}
    for exact, key in ((False, "ours"), (True, "pgstattuple")):
        for r in conn.execute("SELECT relation, waste_percent FROM steward.table_bloat(exact => %s) "
                              "WHERE schema = 'corpus' AND kind = 'table'", [exact]):
            out["table"].setdefault(r[0], {})[key] = None if r[1] is None else float(r[1])
        for r in conn.execute("SELECT index, waste_percent FROM steward.index_bloat(exact => %s) "
                              "WHERE schema = 'corpus'", [exact]):
            out["index"].setdefault(r[0], {})[key] = None if r[1] is None else float(r[1])
    for kind, sql in (("table", CLASSIC_TABLE_SQL), ("index", CLASSIC_INDEX_SQL)):
        for rel, size, expected in conn.execute(sql):
            quoted = ".".join(f'"{p}"' for p in rel.split("."))
            if quoted in out[kind]:
                out[kind][quoted]["classic"] = _pct(float(size), float(expected))
    # "settled": no dead rows left (VACUUMed or never had any); pgstatindex cannot see dead index entries.
    # Keys quoted like pg_steward's "relation" column (always quoted).
    dead = dict(conn.execute("SELECT format('\"%s\".\"%s\"', schemaname, relname), n_dead_tup FROM pg_stat_all_tables "
                             "WHERE schemaname = 'corpus'").fetchall())
    for rel, row in out["table"].items():
        row["settled"] = 1.0 if dead.get(rel) == 0 else 0.0
    for rel, table in conn.execute("SELECT format('\"%s\".\"%s\"', n.nspname, ci.relname), "
                                   "format('\"%s\".\"%s\"', n.nspname, "
                                   "ct.relname) FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid "
                                   "JOIN pg_class ct ON ct.oid = i.indrelid JOIN pg_namespace n "
                                   "ON n.oid = ct.relnamespace WHERE n.nspname = 'corpus'"):
        if rel in out["index"]:
            out["index"][rel]["settled"] = 1.0 if dead.get(table) == 0 else 0.0
    sizes = {rel: conn.execute("SELECT pg_relation_size(%s::regclass)", [rel]).fetchone()[0]
             for kind in out for rel in out[kind]}
    tables = [rel for rel in out["table"]]
    for rel in tables:
        conn.execute(f"VACUUM FULL {rel}")  # rebuilds the table and its indexes
    for kind in out:
        for rel, row in out[kind].items():
            after = conn.execute("SELECT pg_relation_size(%s::regclass)", [rel]).fetchone()[0]
            row["truth"] = _pct(float(sizes[rel]), float(after))
    return out


def mae(rows: dict[str, dict[str, float | None]], method: str, reference: str,
        settled_only: bool = False) -> tuple[float | None, int]:
    errors = [abs(r[method] - r[reference]) for r in rows.values()
              if r.get(method) is not None and r.get(reference) is not None
              and (r.get("settled") or not settled_only)]
    return (round(statistics.mean(errors), 2) if errors else None), len(errors)


def vm_hwm_kb(pid: int) -> int | None:
    """Peak resident memory (VmHWM) of a process on this machine, in kB; None when it cannot be read
    (a server on another machine, or a process of another user when the bench does not run as root)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# The reports whose peak backend memory is recorded, each in a session of its own.
MEMORY_REPORTS = {
    "table_bloat": "SELECT count(*) FROM steward.table_bloat() WHERE schema = 'many'",
    "index_bloat": "SELECT count(*) FROM steward.index_bloat() WHERE schema = 'many'",
    "table_bloat_exact": "SELECT count(*) FROM steward.table_bloat(exact => true) WHERE schema = 'many'",
    "pgstattuple_approx": "SELECT count(pgstattuple_approx(c.oid)) FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE n.nspname = 'many' AND c.relkind = 'r'",
}


def peak_memory(url: str) -> dict[str, dict[str, int | None]]:
    """Each report's backend VmHWM, in a fresh session: after loading the package (steward.version()) and
    after the report. The bench reads /proc/<backend pid>/status, so it needs the server on this machine."""
    out: dict[str, dict[str, int | None]] = {}
    for name, sql in MEMORY_REPORTS.items():
        with psycopg.connect(url, autocommit=True) as conn:
            pid = conn.info.backend_pid
            conn.execute("SELECT steward.version()")
            loaded = vm_hwm_kb(pid)
            conn.execute(sql).fetchall()
            out[name] = {"loaded_kb": loaded, "peak_kb": vm_hwm_kb(pid)}
    return out


REPEATS = 3


def timing(conn: psycopg.Connection, n: int, rows: int) -> dict[str, float]:
    conn.execute("CREATE SCHEMA many")
    for i in range(n):
        conn.execute(f"CREATE TABLE many.t{i} (id int, v text, n numeric) WITH (autovacuum_enabled = off)")
        conn.execute(f"INSERT INTO many.t{i} SELECT g, md5(g::text), g FROM generate_series(1, {rows}) g")
        conn.execute(f"DELETE FROM many.t{i} WHERE id % 3 = 0")
    conn.execute("ANALYZE")
    oids = [r[0] for r in conn.execute("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE n.nspname = 'many' AND c.relkind = 'r'")]
    result: dict[str, float] = {}

    def timed(key: str, sql: str, params: list[object] | None = None) -> int:
        start = time.perf_counter()
        got = conn.execute(sql, params).fetchone()[0]
        result[key] = min(result.get(key, float("inf")), time.perf_counter() - start)
        return int(got)

    # The estimate and pgstattuple_approx take turns, best of REPEATS each: on a shared machine one run of
    # either can be slowed by the others' work.
    for _ in range(REPEATS):
        got = timed("estimate_s", "SELECT count(*) FROM steward.table_bloat() WHERE schema = 'many' AND kind = 'table'")
        assert got == n
        timed("pgstattuple_approx_s", "SELECT count(pgstattuple_approx(oid)) FROM unnest(%s::oid[]) AS oid", [oids])
    timed("pgstattuple_s", "SELECT count(pgstattuple(oid)) FROM unnest(%s::oid[]) AS oid", [oids])
    start = time.perf_counter()
    conn.execute("SELECT count(*) FROM steward.table_bloat(exact => true) WHERE schema = 'many'")
    result["exact_mode_s"] = time.perf_counter() - start
    return {k: round(v, 3) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus and 300 tables for the timing")
    parser.add_argument("--dsn", help="an existing server (default: a throwaway one)")
    parser.add_argument("--tables", type=int, help="tables for the timing (default 2000, 300 with --quick)")
    parser.add_argument("--rows", type=int, help="rows per timing table (default 10000, 2000 with --quick)")
    parser.add_argument("--output", type=Path, help="where the JSON results go "
                        "(default bench/results/report_bloat-TIME.json)")
    args = parser.parse_args()
    n = args.tables or (300 if args.quick else 2000)
    per_table = args.rows or (2000 if args.quick else 10000)
    with database(args.dsn) as url, psycopg.connect(url, autocommit=True) as conn:
        build(conn, corpus(args.quick))
        accuracy = measure(conn)
        speed = timing(conn, n, per_table)
        memory = peak_memory(url)
    summary: dict[str, object] = {"quick": args.quick, "timing_tables": n, "timing_rows_per_table": per_table,
                                  "timing": speed, "peak_memory": memory}
    print("mean absolute error of waste %, in percentage points (settled: relations without dead rows)")
    print(f"{'':8} {'method':12} {'vs rewrite':>11} {'vs pgstattuple':>15} {'settled vs pgstattuple':>23}  relations")
    for kind in ("table", "index"):
        for method in ("ours", "classic", "pgstattuple"):
            truth, count = mae(accuracy[kind], method, "truth")
            exact, _ = mae(accuracy[kind], method, "pgstattuple")
            settled, n_settled = mae(accuracy[kind], method, "pgstattuple", settled_only=True)
            summary[f"{kind}_{method}_mae_truth"] = truth
            summary[f"{kind}_{method}_mae_pgstattuple"] = exact
            summary[f"{kind}_{method}_mae_pgstattuple_settled"] = settled
            print(f"{kind:8} {method:12} {truth!s:>11} {exact!s:>15} {settled!s:>23}  {count} ({n_settled} settled)")
    est = speed["estimate_s"]
    print(f"\ntiming over {n} tables of {per_table} rows: estimate {est} s, "
          f"pgstattuple_approx {speed['pgstattuple_approx_s']} s "
          f"({speed['pgstattuple_approx_s'] / est:.1f}x), pgstattuple {speed['pgstattuple_s']} s "
          f"({speed['pgstattuple_s'] / est:.1f}x), steward exact mode {speed['exact_mode_s']} s")
    ratio = speed["pgstattuple_approx_s"] / est
    print(f"goal: table_bloat() >= 5x faster than pgstattuple_approx: {ratio:.1f}x, "
          f"{'met' if ratio >= 5 else 'not met'}")
    print(f"peak backend memory (VmHWM) over {n} tables, a fresh session each:")
    for name, mem in memory.items():
        peak = "unknown (not readable here)" if mem["peak_kb"] is None else f"{mem['peak_kb'] / 1024:.1f} MB"
        loaded = "" if mem["loaded_kb"] is None else f" (after loading the package: {mem['loaded_kb'] / 1024:.1f} MB)"
        print(f"  {name:20} {peak}{loaded}")
    path = args.output or ROOT / "bench" / "results" / f"report_bloat-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "relations": accuracy}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
