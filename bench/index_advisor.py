#!/usr/bin/env python3
"""Index advice: steward.suggest_indexes() against a Dexter-style baseline, on a workload whose answers are known.

(a) Known answers. Tables large enough that indexes matter (``--rows``, seeded)
    and query shapes built so that the right index is known: one best
    single-column index, one equality + range index (column order matters),
    one partial index (a constant filter on a rare value), one covering index
    (INCLUDE makes an index-only scan), one two-column index serving three
    shapes; and shapes that must get nothing: already indexed (also a prefix
    of an existing index), an unselective predicate, a tiny table, a
    write-heavy table with one rare read. The workload runs as an application
    would run it: pg_stat_statements counts it, ``steward.capture_query_stats()``
    logs it, statements slower than ``--slow-ms`` go to ``steward.log_slow_query``
    once per shape (the slow-query log keeps their constants); then
    ``steward.suggest_indexes(since => '1 day')``.

    A suggestion matches an expected index when the table is the same, the
    expected key columns are the suggestion's leading key columns in the same
    order, the partial predicates are the same (both absent, or equal once
    parsed), and the expected INCLUDE columns are among the suggestion's
    INCLUDE or trailing key columns. Precision = matching suggestions / all
    suggestions; recall = expected indexes matched / expected indexes; a
    suggestion on a must-get-nothing table is counted on its own as well.

(b) Real workload time. The tables are copied three times (same rows, same
    order, their own indexes): one copy keeps no suggested index, one gets the
    advisor's indexes, one the baseline's, created for real with the
    statements as given (CONCURRENTLY). Every shape then runs ``--repeat``
    times on each copy, the copies alternating run by run with the same
    constants (after one warm-up run), so that a change of the machine's load
    hits the three alike; the workload time is the sum over shapes of calls x
    median ms. Writes count: the write-heavy table's bulk UPDATE is timed too.

    The Dexter-style baseline, implemented here: per SELECT shape (its real
    text, constants included), the columns its WHERE compares with a value;
    every one- and two-column B-tree on them (both orders) costed with a
    hypopg hypothetical index; the cheapest kept when it saves >= 50 % of the
    shape's cost; the union over the shapes.

(c) The advisor's own run over ``--shapes`` distinct captured shapes (tables
    x predicate combinations, captured as in (a)): the time of
    ``suggest_indexes()``; goal under 10 s for 500.

    .venv/bin/python bench/index_advisor.py --quick
    .venv/bin/python bench/index_advisor.py

Results: stdout and bench/results/index_advisor.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

import pglast  # noqa: E402
import pglast.ast  # noqa: E402
import pglast.parser  # noqa: E402
import pglast.stream  # noqa: E402
import psycopg  # noqa: E402

import machine  # noqa: E402
from pg_steward.localserver import LocalServer  # noqa: E402
from pg_steward.queries.statements import walk  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "index_advisor.json"
MIN_BASELINE_SAVING = 0.5  # Dexter keeps an index that saves at least half of a query's cost
SPEED_GOAL_S = 10.0


# --------------------------------------------------------------------------- the known answers


@dataclass
class Shape:
    name: str
    table: str
    calls: int  # how often the workload runs it
    make: Callable[[random.Random], str]  # its text with constants drawn from the generator
    expected: str | None = None  # the right index, as CREATE INDEX text; None: nothing is right for this shape


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    where: str | None = None

    def text(self) -> str:
        out = f"{self.table} ({', '.join(self.columns)})"
        if self.include:
            out += f" INCLUDE ({', '.join(self.include)})"
        if self.where:
            out += f" WHERE {self.where}"
        return out


def parse_index(statement: str) -> Index:
    """Table, key columns, INCLUDE columns and predicate of a CREATE INDEX (the first of a recipe)."""
    node = pglast.parse_sql(statement.split(";")[0])[0].stmt
    relation = node.relation
    table = f"{relation.schemaname or 'public'}.{relation.relname}"

    def names(params: Any) -> tuple[str, ...]:
        return tuple(p.name for p in params or ())

    where = pglast.stream.RawStream()(node.whereClause) if node.whereClause is not None else None
    return Index(table, names(node.indexParams), names(node.indexIncludingParams), where)


def matches(suggested: Index, expected: Index) -> bool:
    """The matching rule of the module's docstring."""
    n = len(expected.columns)
    return (suggested.table == expected.table and suggested.columns[:n] == expected.columns
            and suggested.where == expected.where
            and set(expected.include) <= set(suggested.include) | set(suggested.columns[n:]))


def shapes(rows: int) -> list[Shape]:
    devices, customers, tenants, categories = max(rows // 300, 10), max(rows // 100, 10), 200, max(rows // 2000, 5)

    def day(r: random.Random) -> str:
        return f"'{dt.date(2026, 1, 1) + dt.timedelta(days=r.randrange(330))}'"

    def days(r: random.Random, n: int) -> str:
        start = dt.date(2026, 1, 1) + dt.timedelta(days=r.randrange(330))
        return f"at >= '{start}' AND at < '{start + dt.timedelta(days=n)}'"

    return [
        Shape("single: accounts by email", "accounts", 200,
              lambda r: f"SELECT * FROM accounts WHERE email = 'user{r.randrange(rows)}@example.com'",
              "CREATE INDEX ON public.accounts (email)"),
        Shape("multi-column: events by device and time range", "events", 200,
              lambda r: f"SELECT * FROM events WHERE device_id = {r.randrange(devices)} AND {days(r, 5)}",
              "CREATE INDEX ON public.events (device_id, at)"),
        Shape("partial: the open tickets, oldest first", "tickets", 100,
              lambda r: "SELECT id, title FROM tickets WHERE status = 'open' ORDER BY created_at LIMIT 50",
              "CREATE INDEX ON public.tickets (created_at) WHERE status = 'open'"),
        Shape("covering: sku and price of a category", "items", 100,
              lambda r: f"SELECT sku, price FROM items WHERE category_id = {r.randrange(categories)}",
              "CREATE INDEX ON public.items (category_id) INCLUDE (sku, price)"),
        Shape("three shapes, one index: a customer's orders", "orders", 100,
              lambda r: f"SELECT * FROM orders WHERE customer_id = {r.randrange(customers)}",
              "CREATE INDEX ON public.orders (customer_id, created_at)"),
        Shape("three shapes, one index: a customer's latest orders", "orders", 100,
              lambda r: (f"SELECT * FROM orders WHERE customer_id = {r.randrange(customers)} "
                         "ORDER BY created_at DESC LIMIT 10"),
              "CREATE INDEX ON public.orders (customer_id, created_at)"),
        Shape("three shapes, one index: a customer's orders since a day", "orders", 100,
              lambda r: f"SELECT * FROM orders WHERE customer_id = {r.randrange(customers)} AND created_at > {day(r)}",
              "CREATE INDEX ON public.orders (customer_id, created_at)"),
        Shape("nothing: already indexed", "users", 200,
              lambda r: f"SELECT * FROM users WHERE tenant_id = {r.randrange(tenants)} AND created_at > {day(r)}"),
        Shape("nothing: a prefix of an existing index", "users", 200,
              lambda r: f"SELECT count(*) FROM users WHERE tenant_id = {r.randrange(tenants)}"),
        Shape("nothing: unselective predicate", "logs", 20,
              lambda r: f"SELECT * FROM logs WHERE level = '{r.choice(['info', 'warn', 'error'])}'"),
        Shape("nothing: tiny table", "countries", 500,
              lambda r: f"SELECT * FROM countries WHERE code = 'C{r.randrange(40)}'"),
        Shape("nothing: write-heavy table, bulk update", "queue", 60,
              lambda r: (f"UPDATE queue SET state = 'done', tries = tries + 1 "
                         f"WHERE id BETWEEN {(s := r.randrange(rows))} AND {s + 1000}")),
        Shape("nothing: write-heavy table, rare read", "queue", 1,
              lambda r: f"SELECT * FROM queue WHERE job_key = 'job{r.randrange(rows)}'"),
    ]


def setup(conn: psycopg.Connection, rows: int) -> None:
    devices, customers, categories = max(rows // 300, 10), max(rows // 100, 10), max(rows // 2000, 5)
    ddl = [
        "SELECT setseed(0.42)",
        "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz)",
        f"INSERT INTO accounts SELECT g, 'user' || g || '@example.com', md5(g::text), now() - g * interval '1 minute' "
        f"FROM generate_series(0, {rows - 1}) g ORDER BY random()",
        "CREATE TABLE events (id bigint PRIMARY KEY, device_id int NOT NULL, at timestamptz NOT NULL, kind int, "
        "payload text)",
        f"INSERT INTO events SELECT g, (random() * {devices - 1})::int, "
        f"'2026-01-01'::timestamptz + random() * interval '365 days', g % 7, md5(g::text) "
        f"FROM generate_series(1, {rows}) g",
        "CREATE TABLE tickets (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL, "
        "assignee int, title text)",
        f"INSERT INTO tickets SELECT g, CASE WHEN random() < 0.005 THEN 'open' ELSE 'closed' END, "
        f"'2025-01-01'::timestamptz + random() * interval '700 days', g % 300, 'ticket ' || md5(g::text) "
        f"FROM generate_series(1, {rows}) g",
        "CREATE TABLE items (id int PRIMARY KEY, category_id int NOT NULL, sku text NOT NULL, price numeric NOT NULL, "
        "description text)",
        f"INSERT INTO items SELECT g, (random() * {categories - 1})::int, 'sku-' || g, (g % 1000) / 10.0, "
        f"repeat(md5(g::text), 4) FROM generate_series(1, {rows}) g",
        "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, created_at timestamptz NOT NULL, "
        "total numeric NOT NULL, note text)",
        f"INSERT INTO orders SELECT g, (random() * {customers - 1})::int, "
        f"'2026-01-01'::timestamptz + random() * interval '365 days', g % 97, md5(g::text) "
        f"FROM generate_series(1, {rows}) g",
        "CREATE TABLE users (id int PRIMARY KEY, tenant_id int NOT NULL, created_at timestamptz NOT NULL, "
        "email text)",
        "INSERT INTO users SELECT g, (random() * 199)::int, "
        f"'2026-01-01'::timestamptz + random() * interval '365 days', 'u' || g FROM generate_series(1, {rows}) g",
        "CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at)",
        "CREATE TABLE logs (id int PRIMARY KEY, level text NOT NULL, at timestamptz, msg text)",
        f"INSERT INTO logs SELECT g, (ARRAY['info', 'warn', 'error'])[1 + g % 3], now(), md5(g::text) "
        f"FROM generate_series(1, {rows}) g",
        "CREATE TABLE countries (code text NOT NULL, name text NOT NULL)",
        "INSERT INTO countries SELECT 'C' || g, 'country ' || g FROM generate_series(0, 39) g",
        "CREATE TABLE queue (id int PRIMARY KEY, job_key text NOT NULL, state text NOT NULL, tries int NOT NULL, "
        "payload text)",
        f"INSERT INTO queue SELECT g, 'job' || g, 'new', 0, md5(g::text) FROM generate_series(0, {rows + 1000}) g",
        "VACUUM ANALYZE",
    ]
    for statement in ddl:
        conn.execute(statement)
    # The tables were loaded long ago: the load's rows are not the workload's write rate.
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_reset()")


# --------------------------------------------------------------------------- running and timing the workload


def timed(conn: psycopg.Connection, sql: str) -> float:
    started = time.perf_counter()
    cur = conn.execute(sql)
    if cur.description is not None:
        cur.fetchall()
    return (time.perf_counter() - started) * 1000


def capture_workload(conn: psycopg.Connection, workload: list[Shape], slow_ms: float, seed: int) -> dict:
    """Run the workload as an application would, captured by pg_stat_statements and the slow-query log."""
    conn.execute("SELECT pg_stat_statements_reset()")
    conn.execute("SELECT steward.capture_query_stats(0, 0)")  # the baseline snapshot
    rng = random.Random(seed)
    logged = 0
    for shape in workload:
        slow_logged = False
        for _ in range(shape.calls):
            text = shape.make(rng)
            ms = timed(conn, text)
            if ms >= slow_ms and not slow_logged:
                conn.execute("SELECT steward.log_slow_query(%s, %s::numeric)", [text, round(ms, 3)])
                slow_logged, logged = True, logged + 1
    conn.execute("SELECT pg_stat_force_next_flush()")  # the workload's writes reach the shared statistics
    captured = conn.execute("SELECT logged FROM steward.capture_query_stats(0, 0)").fetchone()[0]
    return {"captured_from_pg_stat_statements": captured, "slow_query_log_entries": logged}


PHASES = ("none", "steward", "baseline")


def copy_tables(conn: psycopg.Connection, workload: list[Shape]) -> None:
    """One copy of the workload's tables per phase (schema ``phase_NAME``), same rows in the same order, with the
    tables' own indexes: the phases are then timed alternately, so that a change of load hits all alike."""
    for phase in PHASES:
        conn.execute(f"CREATE SCHEMA phase_{phase}")
        for table in dict.fromkeys(s.table for s in workload):
            conn.execute(f"CREATE TABLE phase_{phase}.{table} (LIKE public.{table} INCLUDING ALL)")
            conn.execute(f"INSERT INTO phase_{phase}.{table} SELECT * FROM public.{table}")


def create_for_real(conn: psycopg.Connection, phase: str, statements: list[str]) -> dict:
    """Run the CREATE INDEX statements on the phase's copy of the tables; what they made, how long it took."""
    before = {r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index")}
    started = time.perf_counter()
    for statement in statements:
        for step in (s.strip() for s in statement.split(";")):
            if step:
                conn.execute(step.replace(" ON public.", f" ON phase_{phase}."))
    seconds = time.perf_counter() - started
    made = [r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index") if r[0] not in before]
    size = sum(conn.execute("SELECT pg_relation_size(%s::regclass)", [name]).fetchone()[0] for name in made)
    return {"indexes": made, "create_seconds": seconds, "bytes": size}


def workload_times(conn: psycopg.Connection, workload: list[Shape], repeat: int, seed: int) -> dict[str, dict]:
    """Per phase, the median ms of each shape over ``repeat`` runs (the phases alternate run by run, after one
    warm-up run each), and calls x median summed over the shapes."""
    conn.execute("VACUUM ANALYZE")  # index-only scans need the visibility map, as after any autovacuum
    rng = random.Random(seed)
    runs: dict[str, dict[str, list[float]]] = {p: {s.name: [] for s in workload} for p in PHASES}
    for round_ in range(repeat + 1):
        for shape in workload:
            text = shape.make(rng)
            order = PHASES[round_ % 3:] + PHASES[:round_ % 3]
            for phase in order:
                conn.execute(f"SET search_path = phase_{phase}")
                ms = timed(conn, text)
                if round_:
                    runs[phase][shape.name].append(ms)
    conn.execute("RESET search_path")
    out = {}
    for phase in PHASES:
        medians = {name: statistics.median(values) for name, values in runs[phase].items()}
        out[phase] = {"total_ms": sum(s.calls * medians[s.name] for s in workload), "median_ms": medians}
    return out


# --------------------------------------------------------------------------- the Dexter-style baseline


def predicate_columns(text: str) -> dict[str, list[str]]:
    """Per table of a single-table statement, the columns its WHERE compares with a value."""
    stmt = pglast.parse_sql(text)[0].stmt
    if not isinstance(stmt, pglast.ast.SelectStmt) or len(stmt.fromClause or ()) != 1:
        return {}
    relation = stmt.fromClause[0]
    if not isinstance(relation, pglast.ast.RangeVar):
        return {}
    table = f"{relation.schemaname or 'public'}.{relation.relname}"
    found: list[str] = []
    where = json.loads(pglast.parser.parse_sql_json(text))["stmts"][0]["stmt"]["SelectStmt"].get("whereClause")
    for kind, node in walk(where):
        if kind != "A_Expr":
            continue
        refs = [side["ColumnRef"] for side in (node.get("lexpr"), node.get("rexpr"))
                if isinstance(side, dict) and "ColumnRef" in side]
        if len(refs) == 1 and "String" in refs[0]["fields"][-1]:
            name = refs[0]["fields"][-1]["String"]["sval"]
            if name not in found:
                found.append(name)
    return {table: found} if found else {}


def explain_cost(conn: psycopg.Connection, text: str) -> float:
    return float(conn.execute(f"EXPLAIN (FORMAT JSON) {text}").fetchone()[0][0]["Plan"]["Total Cost"])


def dexter_baseline(conn: psycopg.Connection, workload: list[Shape], seed: int) -> dict:
    """Per shape, the cheapest one- or two-column hypothetical B-tree on its predicate columns, kept when it
    saves >= 50 % of the cost; one statement per distinct index."""
    rng = random.Random(seed)
    started = time.perf_counter()
    chosen: dict[tuple[str, tuple[str, ...]], None] = {}
    hypothetical = 0
    for shape in workload:
        text = shape.make(rng)
        for table, columns in predicate_columns(text).items():
            base = explain_cost(conn, text)
            options = [(c,) for c in columns] + [(a, b) for a in columns for b in columns if a != b]
            best: tuple[float, tuple[str, ...]] | None = None
            for option in options:
                conn.execute("SELECT hypopg_create_index(%s)", [f"CREATE INDEX ON {table} ({', '.join(option)})"])
                cost = explain_cost(conn, text)
                conn.execute("SELECT hypopg_reset()")
                hypothetical += 1
                if best is None or (cost, len(option)) < (best[0], len(best[1])):
                    best = (cost, option)
            if best is not None and best[0] <= (1 - MIN_BASELINE_SAVING) * base:
                chosen[(table, best[1])] = None
    statements = [f"CREATE INDEX CONCURRENTLY ON {t} ({', '.join(c)})" for t, c in chosen]
    return {"statements": statements, "seconds": time.perf_counter() - started, "hypothetical_indexes": hypothetical}


# --------------------------------------------------------------------------- precision and recall


@dataclass
class Score:
    expected: list[str]
    suggested: list[str]
    matched_expected: list[str] = field(default_factory=list)
    matching_suggestions: list[str] = field(default_factory=list)
    on_nothing_tables: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "expected": self.expected, "suggested": self.suggested, "matched_expected": self.matched_expected,
            "matching_suggestions": self.matching_suggestions, "on_must_get_nothing_tables": self.on_nothing_tables,
            "precision": len(self.matching_suggestions) / len(self.suggested) if self.suggested else 1.0,
            "recall": len(self.matched_expected) / len(self.expected) if self.expected else 1.0,
            "indexes": len(self.suggested),
        }


def score(workload: list[Shape], statements: list[str]) -> Score:
    expected = list(dict.fromkeys(s.expected for s in workload if s.expected))
    wanted = {e: parse_index(e) for e in expected}
    answered_tables = {f"public.{s.table}" for s in workload if s.expected}
    nothing_tables = {f"public.{s.table}" for s in workload} - answered_tables
    suggested = {s: parse_index(s) for s in statements}
    result = Score([w.text() for w in wanted.values()], [i.text() for i in suggested.values()])
    for text, want in wanted.items():
        if any(matches(got, want) for got in suggested.values()):
            result.matched_expected.append(wanted[text].text())
    for got in suggested.values():
        if any(matches(got, want) for want in wanted.values()):
            result.matching_suggestions.append(got.text())
        if got.table in nothing_tables:
            result.on_nothing_tables.append(got.text())
    return result


# --------------------------------------------------------------------------- (c) 500 shapes


def letters(n: int) -> str:
    """Names in letters: libpg_query gives one fingerprint to names that differ only in a number suffix."""
    return "".join(chr(97 + int(d)) for d in str(n))


SCALE_SHAPES = [
    "SELECT * FROM {t} WHERE a = {v}",
    "SELECT * FROM {t} WHERE b = {v}",
    "SELECT * FROM {t} WHERE a = {v} AND c > {v}",
    "SELECT * FROM {t} WHERE b = {v} AND d < {v}",
    "SELECT * FROM {t} WHERE c = {v} ORDER BY d LIMIT 10",
    "SELECT e FROM {t} WHERE d = {v}",
    "SELECT count(*) FROM {t} WHERE a = {v} AND b = {v}",
    "SELECT * FROM {t} WHERE e BETWEEN {v} AND {v} + 10",
    "SELECT a, b FROM {t} WHERE flag = 'rare' AND c = {v}",
    "UPDATE {t} SET e = e + 1 WHERE d = {v}",
]


def scale(conn: psycopg.Connection, n_shapes: int, rows: int) -> dict:
    n_tables = -(-n_shapes // len(SCALE_SHAPES))
    for i in range(n_tables):
        t = f"scale_{letters(i)}"
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, a int, b int, c int, d int, e int, flag text)")
        conn.execute(f"INSERT INTO {t} SELECT g, g % 1000, g % 500, g % 97, g % 2000, g % 5000, "
                     f"CASE WHEN g % 200 = 0 THEN 'rare' ELSE 'common' END FROM generate_series(1, {rows}) g")
    conn.execute("VACUUM ANALYZE")
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_reset()")  # loaded long ago, as in (a)
    texts = [SCALE_SHAPES[k % len(SCALE_SHAPES)].format(t=f"scale_{letters(k // len(SCALE_SHAPES))}", v=k % 90 + 1)
             for k in range(n_shapes)]
    conn.execute("SELECT pg_stat_statements_reset()")
    conn.execute("DELETE FROM steward.query_performance_log")
    conn.execute("SELECT steward.capture_query_stats(0, 0)")
    for text in texts:
        conn.execute(text)
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT steward.capture_query_stats(0, 0)")
    in_log = conn.execute("SELECT count(DISTINCT fingerprint) FROM steward.query_performance_log "
                          "WHERE source = 'pg_stat_statements' AND query_text LIKE '%scale_%'").fetchone()[0]
    conn.execute("SELECT count(*) FROM steward.suggest_indexes(since => '1 hour')")  # the session's package loaded
    started = time.perf_counter()
    found = conn.execute("SELECT count(*) FROM steward.suggest_indexes(since => '1 hour')").fetchone()[0]
    seconds = time.perf_counter() - started
    return {"shapes": n_shapes, "tables": n_tables, "rows_per_table": rows, "shapes_in_log": in_log,
            "suggestions": found, "seconds": seconds, "goal_seconds": SPEED_GOAL_S * n_shapes / 500,
            "met": seconds < SPEED_GOAL_S * n_shapes / 500}


# --------------------------------------------------------------------------- main


def known_answers(url: str, rows: int, repeat: int, slow_ms: float, seed: int) -> dict:
    workload = shapes(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        setup(conn, rows)
        setup_seconds = time.perf_counter() - started
        capture = capture_workload(conn, workload, slow_ms, seed)
        started = time.perf_counter()
        rows_out = conn.execute("SELECT create_statement FROM steward.suggest_indexes(since => '1 day')").fetchall()
        advisor_seconds = time.perf_counter() - started
        ours = [r[0] for r in rows_out]
        baseline = dexter_baseline(conn, workload, seed)
        copy_tables(conn, workload)
        made = create_for_real(conn, "steward", ours)
        made_baseline = create_for_real(conn, "baseline", baseline["statements"])
        times = workload_times(conn, workload, repeat, seed + 1)
    return {
        "setup_seconds": setup_seconds, "capture": capture,
        "shapes": [{"name": s.name, "table": s.table, "calls": s.calls, "expected": s.expected,
                    "example": s.make(random.Random(seed))} for s in workload],
        "steward": {"statements": ours, "seconds": advisor_seconds, **score(workload, ours).as_dict(),
                    "created": made, "workload": times["steward"],
                    "speedup": times["none"]["total_ms"] / times["steward"]["total_ms"]},
        "baseline": {**baseline, **score(workload, baseline["statements"]).as_dict(), "created": made_baseline,
                     "workload": times["baseline"],
                     "speedup": times["none"]["total_ms"] / times["baseline"]["total_ms"]},
        "before": times["none"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows, 3 repeats, 100 shapes for (c)")
    parser.add_argument("--rows", type=int, default=300_000, help="rows of each large table of (a) and (b)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each shape per phase of (b)")
    parser.add_argument("--shapes", type=int, default=500, help="distinct captured shapes of (c)")
    parser.add_argument("--scale-rows", type=int, default=20_000, help="rows of each table of (c)")
    parser.add_argument("--slow-ms", type=float, default=5.0, help="statements at least this slow are logged")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part", choices=("all", "known", "scale"), default="all",
                        help="(a) and (b) on the known answers, (c) the many shapes, or both")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat, args.shapes, args.scale_rows = 50_000, 3, 100, 5_000
    with LocalServer() as server:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
            admin.execute("CREATE DATABASE scale")
        for database in ("bench", "scale"):
            with psycopg.connect(server.url_for(database), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_steward CASCADE")
                conn.execute("CREATE EXTENSION hypopg")
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        result = {}
        if args.part in ("all", "known"):
            result["known"] = known_answers(server.url_for("bench"), args.rows, args.repeat, args.slow_ms, args.seed)
        if args.part in ("all", "scale"):
            with psycopg.connect(server.url_for("scale"), autocommit=True) as conn:
                result["scale"] = scale(conn, args.shapes, args.scale_rows)
    result.update(parameters={**vars(args), "output": str(args.output)}, machine=machine.describe())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    report(result)
    print(f"written: {args.output}")


def report(result: dict) -> None:
    if "known" in result:
        report_known(result["known"])
    if "scale" in result:
        s = result["scale"]
        print(f"suggest_indexes over {s['shapes_in_log']} captured shapes on {s['tables']} tables: "
              f"{s['seconds']:.2f} s, {s['suggestions']} suggestions "
              f"(goal < {s['goal_seconds']:.0f} s: {'met' if s['met'] else 'missed'})")


def report_known(known: dict) -> None:
    before = known["before"]["total_ms"]
    print(f"workload without suggested indexes: {before:,.0f} ms (calls x median ms, summed over the shapes)")
    for label, key in (("pg_steward suggest_indexes", "steward"), ("Dexter-style baseline", "baseline")):
        r = known[key]
        print(f"{label}: {r['indexes']} indexes, precision {r['precision']:.0%}, recall {r['recall']:.0%}, "
              f"on must-get-nothing tables {len(r['on_must_get_nothing_tables'])}; workload "
              f"{r['workload']['total_ms']:,.0f} ms = {r['speedup']:.2f}x faster; "
              f"index bytes {r['created']['bytes']:,}; advice took {r['seconds']:.2f} s")
        for text in r["suggested"]:
            print(f"    {text}{'' if text in r['matching_suggestions'] else '   (not expected)'}")
    print(f"expected: {', '.join(known['steward']['expected'])}")


if __name__ == "__main__":
    main()
