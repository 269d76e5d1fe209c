"""The fix loop: apply once every fix the index reports propose, read them again (issue 18).

Each seed plants a database of its own from a seeded generator: duplicate, overlapping (prefix), invalid
(failed CREATE UNIQUE INDEX CONCURRENTLY, CREATE INDEX ON ONLY) and unused indexes, primary keys and unique
constraints with extra indexes beside them, foreign keys with and without an index (two on the same columns
too), partitioned tables, and a workload that scans some indexes. The properties:

- every runnable fix runs as given (none errors);
- each finding fixed is gone, and no new finding has a runnable fix: none undoes a fix, none asks for more;
- no fix removed a constraint, nor the last valid index on columns the workload used.

A fix that is a comment only (it starts with ``--``: advice a DBA completes, such as missing_index's column) is
not applied. One finding's fix waits for another's: the unused finding on the index a duplicate finding keeps
(its SQL comes once the duplicate is gone, so that both of a pair are never dropped at once). Its index is still
there after the first round, and its fix is then applied in a second round, after which nothing is left.
"""

from __future__ import annotations

import random

import psycopg
import pytest
from psycopg import errors

from pg_steward.workloads import sql as workload_sql
from support.reports import flush_stats, rows

SEEDS = range(8)


def _runnable(fix: str | None) -> bool:
    return bool(fix) and not fix.lstrip().startswith("--")


def _findings(conn: psycopg.Connection) -> list[dict]:
    """Every finding with SQL for indexes: index_report, index_bloat, and health's index fixes."""
    found = [dict(r, source="index_report") for r in rows(conn, "SELECT * FROM steward.index_report()")]
    for r in rows(conn, "SELECT * FROM steward.index_bloat()"):
        found.append({"source": "index_bloat", "problem": "bloat", "table": r["table_name"],
                      "index": r["index_name"], "fix": r["fix"]})
    for r in rows(conn, "SELECT * FROM steward.health()"):
        if r["fix"] and "INDEX" in r["fix"].upper():
            found.append({"source": "health", "problem": r["check_name"], "table": None, "index": None,
                          "fix": r["fix"]})
    return found


def _key(finding: dict) -> tuple[object, ...]:
    return (finding["source"], finding["problem"], finding["table"], finding["index"])


def _constraints(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return set(conn.execute("SELECT conrelid::regclass::text, conname FROM pg_constraint AS k "
                            "JOIN pg_namespace AS n ON n.oid = k.connamespace WHERE n.nspname = 'public'").fetchall())


_USED_COLUMNS_SQL = """
SELECT i.indrelid::regclass::text, string_to_array(i.indkey::text, ' ')::int[]
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_indexes AS s ON s.indexrelid = i.indexrelid
WHERE n.nspname = 'public' AND i.indisvalid AND coalesce(s.idx_scan, 0) > 0
"""

_COVERED_SQL = """
SELECT EXISTS (SELECT FROM pg_index AS i
               WHERE i.indrelid = %s::regclass AND i.indisvalid
                 AND (string_to_array(i.indkey::text, ' ')::int[])[1:%s] = %s::int[])
"""


class Planter:
    """Builds one random database of index problems on ``conn``."""

    def __init__(self, conn: psycopg.Connection, seed: int) -> None:
        self.conn = conn
        self.rng = random.Random(seed)
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def maybe(self, p: float = 0.5) -> bool:
        return self.rng.random() < p

    def plant(self) -> None:
        self.conn.execute("CREATE TABLE ref (id int PRIMARY KEY, code int NOT NULL, UNIQUE (code, id))")
        self.conn.execute("INSERT INTO ref SELECT g, g FROM generate_series(1, 200) g")
        if self.maybe():
            self.conn.execute("CREATE UNIQUE INDEX ref_id_again ON ref (id)")  # a duplicate of the primary key
        for _ in range(self.rng.randint(1, 3)):
            self.table()
        if self.maybe(0.7):
            self.partitioned()
        self.conn.execute("ANALYZE")
        self.workload()

    def table(self) -> None:
        t = self.name("t")
        self.conn.execute(f"CREATE TABLE {t} (id int, a int, b int, c int, ref_id int, ref_code int)")
        self.conn.execute(f"INSERT INTO {t} SELECT g, g % 13, g % 7, g, 1 + g % 200, 1 + g % 200 "
                          f"FROM generate_series(1, 2000) g")
        if self.maybe():
            self.conn.execute(f"ALTER TABLE {t} ADD PRIMARY KEY (id)")
            if self.maybe():
                self.conn.execute(f"CREATE UNIQUE INDEX {t}_id_unique ON {t} (id)")
        if self.maybe(0.7):
            self.conn.execute(f"ALTER TABLE {t} ADD FOREIGN KEY (ref_id) REFERENCES ref")
            if self.maybe(0.3):
                self.conn.execute(f"ALTER TABLE {t} ADD FOREIGN KEY (ref_id) REFERENCES ref")  # same columns
            if self.maybe(0.4):
                self.conn.execute(f"CREATE INDEX ON {t} (ref_id)")
        if self.maybe(0.4):
            self.conn.execute(f"ALTER TABLE {t} ADD FOREIGN KEY (ref_code, ref_id) REFERENCES ref (code, id)")
        for _ in range(self.rng.randint(0, 4)):
            columns = self.rng.choice(["a", "b", "c", "a, b", "b, a", "a, b, c", "c, a", "ref_id, a"])
            unique = "UNIQUE " if columns.startswith("c") and self.maybe(0.3) else ""
            for _ in range(self.rng.choice([1, 1, 2, 3])):  # sometimes the same index again
                self.conn.execute(f"CREATE {unique}INDEX ON {t} ({columns})")
        if self.maybe(0.5):  # a failed CREATE UNIQUE INDEX CONCURRENTLY: a duplicate key
            with pytest.raises(errors.UniqueViolation):
                self.conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {t}_a_failed ON {t} ({self.rng.choice('ab')})")

    def partitioned(self) -> None:
        p = self.name("p")
        self.conn.execute(f"CREATE TABLE {p} (d date NOT NULL, k int, ref_id int REFERENCES ref) "
                          f"PARTITION BY RANGE (d)")
        for month in (1, 2, 3):
            self.conn.execute(f"CREATE TABLE {p}_{month} PARTITION OF {p} "
                              f"FOR VALUES FROM ('2024-0{month}-01') TO ('2024-0{month + 1}-01')")
        self.conn.execute(f"INSERT INTO {p} SELECT '2024-01-01'::date + g % 90, g % 11, 1 + g % 200 "
                          f"FROM generate_series(1, 3000) g")
        if self.maybe():
            self.conn.execute(f"CREATE INDEX {p}_k ON ONLY {p} (k)")  # never attached: invalid
            if self.maybe():
                self.conn.execute(f"CREATE INDEX {p}_1_k ON {p}_1 (k)")
                self.conn.execute(f"ALTER INDEX {p}_k ATTACH PARTITION {p}_1_k")
        if self.maybe():
            self.conn.execute(f"CREATE INDEX ON {p} (d)")
            if self.maybe():
                self.conn.execute(f"CREATE INDEX ON {p} (d)")
        if self.maybe(0.4):
            self.conn.execute(f"CREATE INDEX ON {p} (ref_id)")

    def workload(self) -> None:
        self.conn.execute("SET enable_seqscan = off")
        tables = [r[0] for r in self.conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') "
            "AND NOT relispartition").fetchall()]
        for table in tables:
            columns = [r[0] for r in self.conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped", [table]).fetchall()]
            for column in self.rng.sample(columns, k=min(2, len(columns))):
                for _ in range(self.rng.randint(1, 3)):
                    self.conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL "
                                      f"AND {column} = {column}")
        self.conn.execute("RESET enable_seqscan")
        flush_stats(self.conn)


def _waiting(findings: list[dict]) -> list[dict]:
    """The unused findings whose fix waits for a duplicate's drop."""
    return [f for f in findings if f["problem"] == "unused" and not _runnable(f["fix"])
            and "waits for the drop of its duplicate" in f["fix"]]


def _apply(conn: psycopg.Connection, findings: list[dict], label: str) -> None:
    for finding in findings:
        try:
            conn.execute(finding["fix"])
        except psycopg.Error as error:
            pytest.fail(f"{label}: the fix of {_key(finding)} did not run as given: {finding['fix']}: {error}")
    flush_stats(conn)


def _index_exists(conn: psycopg.Connection, finding: dict) -> bool:
    return conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
                        [finding.get("schema", "public"), finding["index"]]).fetchone()[0]


def fix_loop(conn: psycopg.Connection, label: str) -> list[dict]:
    """Apply every fix once, then the fixes that waited for them; check the properties. The waiting findings."""
    before = _findings(conn)
    constraints = _constraints(conn)
    used = conn.execute(_USED_COLUMNS_SQL).fetchall()
    applied = [f for f in before if _runnable(f["fix"])]
    assert applied, "the planted database has problems to fix"
    waiting = _waiting(before)
    _apply(conn, applied, label)
    # health() sums up index_report: while a finding waits, its summary stays until the second round.
    after = [f for f in _findings(conn) if not (waiting and f["source"] == "health")]
    fixed = {_key(f) for f in applied}
    assert [_key(f) for f in after if _key(f) in fixed] == [], f"{label}: fixed findings are still there"
    assert [f["index"] for f in waiting if not _index_exists(conn, f)] == [], \
        f"{label}: an index whose finding waited for its duplicate's drop was dropped with it"
    later = {_key(f) for f in waiting}
    assert [(_key(f), f["fix"]) for f in after if _runnable(f["fix"]) and _key(f) not in later] == [], \
        f"{label}: new findings after the fixes"
    second = [f for f in after if _runnable(f["fix"]) and _key(f) in later]
    _apply(conn, second, label)
    final = _findings(conn)
    assert [_key(f) for f in final if _key(f) in fixed | later] == [], f"{label}: fixed findings are still there"
    assert [(_key(f), f["fix"]) for f in final if _runnable(f["fix"])] == [], \
        f"{label}: findings left after the waiting fixes"
    assert _constraints(conn) == constraints, f"{label}: a fix removed a constraint"
    for table, columns in used:
        keys = [c for c in columns if c != 0]
        if len(keys) != len(columns):
            continue
        assert conn.execute(_COVERED_SQL, [table, len(keys), keys]).fetchone()[0], \
            f"{label}: the last valid index on {table} {keys}, which queries used, was dropped"
    return waiting


@pytest.mark.parametrize("seed", SEEDS)
def test_applying_every_fix_once_leaves_nothing_to_fix(conn: psycopg.Connection, seed: int) -> None:
    Planter(conn, seed).plant()
    fix_loop(conn, f"seed {seed}")


def test_the_demo_duplicate_pair_loses_one_index_per_round(conn: psycopg.Connection) -> None:
    # The demo's two unscanned indexes on sales_analytics (customer_id): the duplicate finding drops one, the
    # unused finding on the other waits for it, so following both never leaves the column without its index
    # in one round. (The demo's other problem, a bloated table, is index_bloat's: left out here.)
    conn.execute(workload_sql("seed_tables"))
    pair_sql = [line for line in workload_sql("demo_problems").splitlines()
                if line.startswith("CREATE INDEX sales_analytics_customer")]
    assert len(pair_sql) == 2
    for statement in pair_sql:
        conn.execute(statement)
    conn.execute("ANALYZE")
    flush_stats(conn)
    before = _findings(conn)
    pair = {"sales_analytics_customer_idx", "sales_analytics_customer_copy_idx"}
    assert {f["problem"] for f in before if f["index"] in pair} == {"duplicate", "unused"}, before
    waiting = fix_loop(conn, "demo")
    assert [f["index"] for f in waiting if f["index"] in pair] == ["sales_analytics_customer_idx"]
    assert "sales_analytics_customer_copy_idx" in waiting[0]["fix"]
