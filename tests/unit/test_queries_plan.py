"""Plan parsing, advice and pruning on EXPLAIN (FORMAT JSON) output, without a server."""

from __future__ import annotations

import pytest

from pg_steward.errors import StewardError
from pg_steward.queries.advice import advise, filter_columns
from pg_steward.queries.facts import Facts, RelationFacts, RootFacts
from pg_steward.queries.plan import detail, parse_plan
from pg_steward.queries.pruning import key_columns, pruning
from pg_steward.queries.statements import classify, classify_prepared, require_plain


def scan(relation: str, rows: float, est: float, loops: int = 1, total: float = 1.0, **more) -> dict:
    return {"Node Type": "Seq Scan", "Schema": "public", "Relation Name": relation, "Alias": relation,
            "Plan Rows": est, "Actual Rows": rows, "Actual Loops": loops, "Actual Total Time": total, **more}


def analyzed(plan: dict) -> list[dict]:
    return [{"Plan": plan, "Planning Time": 0.1, "Execution Time": 10.0}]


def test_inclusive_time_counts_loops_and_exclusive_subtracts_children() -> None:
    plan = parse_plan(analyzed({
        "Node Type": "Nested Loop", "Join Type": "Inner", "Plan Rows": 10, "Actual Rows": 10, "Actual Loops": 1,
        "Actual Total Time": 9.0,
        "Plans": [scan("a", 10, 10, total=1.0), scan("b", 1, 1, loops=10, total=0.5)],
    }))
    top, _a, b = plan.nodes
    assert (b.parent_id, b.depth, b.time_ms) == (1, 1, 5.0)  # 0.5 ms x 10 loops
    assert top.exclusive_time_ms == pytest.approx(9.0 - 1.0 - 5.0)
    assert b.relation == "public.b" and plan.analyzed


def test_parallel_nodes_are_divided_by_processes() -> None:
    plan = parse_plan(analyzed({
        "Node Type": "Gather", "Workers Launched": 2, "Plan Rows": 300, "Actual Rows": 300, "Actual Loops": 1,
        "Actual Total Time": 12.0, "Plans": [scan("t", 100, 100, loops=3, total=10.0)],
    }))
    gather, worker_scan = plan.nodes
    assert worker_scan.processes == 3
    assert worker_scan.time_ms == pytest.approx(10.0)  # 3 loops in 3 processes at once
    assert gather.exclusive_time_ms == pytest.approx(2.0)


def test_never_executed_node_and_plain_explain() -> None:
    plan = parse_plan(analyzed({"Node Type": "Append", "Plan Rows": 1, "Actual Rows": 0, "Actual Loops": 1,
                                "Actual Total Time": 0.1, "Plans": [scan("p1", 0, 5, loops=0, total=0.0)]}))
    assert plan.nodes[1].accuracy_ratio is None and not plan.nodes[1].executed
    plain = parse_plan([{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Plan Rows": 5}}])
    assert not plain.analyzed and plain.nodes[0].time_ms is None


def test_misestimate_is_reported_where_it_starts() -> None:
    plan = parse_plan(analyzed({
        "Node Type": "Hash Join", "Join Type": "Inner", "Plan Rows": 10, "Actual Rows": 50_000, "Actual Loops": 1,
        "Actual Total Time": 50.0, "Plans": [scan("orders", 50_000, 5, total=20.0), scan("c", 10, 10)],
    }))
    facts = Facts(relations={"public.orders": RelationFacts("public.orders", 1000, modified_since_analyze=49_000)})
    found = [a for a in advise(plan, facts) if a.problem == "row misestimate"]
    assert len(found) == 1 and found[0].node_id == 2
    assert found[0].fix == "ANALYZE public.orders;" and "49000 rows changed" in found[0].detail


def test_sort_and_hash_spills_suggest_a_work_mem() -> None:
    plan = parse_plan(analyzed({
        "Node Type": "Sort", "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 1, "Actual Total Time": 1.0,
        "Sort Method": "external merge", "Sort Space Used": 2048, "Sort Space Type": "Disk",
        "Plans": [{"Node Type": "Hash", "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 1, "Actual Total Time": 1,
                   "Hash Batches": 8, "Original Hash Batches": 8, "Peak Memory Usage": 1024}],
    }))
    fixes = {a.problem: a.fix for a in advise(plan, Facts(work_mem_kb=1024, hash_mem_multiplier=2.0))}
    assert fixes["sort spills to disk"].startswith("SET work_mem = '6MB'")  # 2 MB on disk, x3 in memory
    assert fixes["hash spills to disk"].startswith("SET work_mem = '5MB'")  # 1 MB x 8 x 1.25 / 2


def test_sequential_scan_discarding_rows_gets_an_index_on_the_filter() -> None:
    node = scan("orders", 10, 10, **{"Rows Removed by Filter": 99_990,
                                     "Filter": "((orders.status = 'x'::text) AND (orders.created > now()))"})
    facts = Facts(relations={"public.orders": RelationFacts("public.orders", 100_000)})
    found = advise(parse_plan(analyzed(node)), facts)
    assert [a.fix for a in found] == ['CREATE INDEX CONCURRENTLY ON public.orders ("status", "created");']
    small = Facts(relations={"public.orders": RelationFacts("public.orders", 100)})
    node_small = scan("orders", 10, 10, **{"Rows Removed by Filter": 90, "Filter": "(orders.status = 'x'::text)"})
    assert advise(parse_plan(analyzed(node_small)), small) == []


@pytest.mark.parametrize(("text", "columns"), [
    ("(t.a = 1)", ["a"]),
    ("((t.b > 5) AND (t.a = 1))", ["a", "b"]),
    ("((t.a)::text = 'x'::text)", ["a"]),
    ("(t.a = ANY ('{1,2}'::integer[]))", ["a"]),
    ("((t.a IS NULL) AND (t.c ~~ 'ab%'::text))", ["a", "c"]),
    ("(t.a = t.b)", []),
    ("((t.a = 1) OR (t.b = 2))", []),
    ("(lower(t.e) = 'x'::text)", []),
    ("(other.a = 1)", []),
])
def test_filter_columns(text: str, columns: list[str]) -> None:
    assert filter_columns(text, "t") == columns


def test_heap_fetches_on_index_only_scans_ask_for_vacuum() -> None:
    node = {"Node Type": "Index Only Scan", "Schema": "public", "Relation Name": "t", "Index Name": "t_pkey",
            "Plan Rows": 1000, "Actual Rows": 1000, "Actual Loops": 1, "Actual Total Time": 1.0,
            "Heap Fetches": 800}
    found = advise(parse_plan(analyzed(node)), Facts())
    assert [a.fix for a in found] == ['VACUUM (ANALYZE) "public"."t";']
    node["Heap Fetches"] = 5
    assert advise(parse_plan(analyzed(node)), Facts()) == []


def partitioned_facts(n: int) -> Facts:
    root = RootFacts("public.m", n, "RANGE (d)")
    relations = {f"public.m_{i}": RelationFacts(f"public.m_{i}", 100, root="public.m") for i in range(n)}
    return Facts(relations=relations, roots={"public.m": root})


def test_pruning_counts_partitions_and_subplans_removed() -> None:
    facts = partitioned_facts(4)
    every = parse_plan(analyzed({"Node Type": "Append", "Plan Rows": 4, "Actual Rows": 4, "Actual Loops": 1,
                                 "Actual Total Time": 1, "Plans": [scan(f"m_{i}", 1, 1) for i in range(4)]}))
    [row] = pruning(every, facts)
    assert (row.partitions_total, row.partitions_in_plan, row.pruned) == (4, 4, False)
    assert "d >= ..." in row.fix and [a.problem for a in advise(every, facts)] == ["partitions not pruned"]
    runtime = parse_plan(analyzed({"Node Type": "Append", "Plan Rows": 4, "Actual Rows": 1, "Actual Loops": 1,
                                   "Actual Total Time": 1, "Subplans Removed": 2,
                                   "Plans": [scan("m_0", 1, 1), scan("m_1", 0, 1, loops=0)]}))
    [row] = pruning(runtime, facts)
    assert (row.partitions_in_plan, row.subplans_removed, row.partitions_executed, row.pruned) == (2, 2, 1, True)
    assert key_columns("RANGE (a, b)") == "a, b"


def test_statement_classification() -> None:
    assert classify("SELECT 1").writes == []
    assert classify("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d").writes
    assert classify("SELECT * INTO x FROM t").writes
    assert classify("UPDATE t SET a = 1").kind == "UpdateStmt"
    assert classify("UPDATE t SET a = 1").writes == ["it is an UPDATE statement"]
    assert classify("DELETE FROM t").writes == ["it is a DELETE statement"]
    with pytest.raises(StewardError, match="exactly one statement"):
        classify("SELECT 1; SELECT 2")
    with pytest.raises(StewardError, match="does not parse"):
        classify("SELEC 1")
    with pytest.raises(StewardError, match="cannot analyze a DROP"):
        classify("DROP TABLE t")
    with pytest.raises(StewardError, match="cannot analyze an EXPLAIN statement"):
        classify("EXPLAIN SELECT 1")
    with pytest.raises(StewardError, match="not a plain query"):
        require_plain(classify("DELETE FROM t"), allow_writes=False)
    require_plain(classify("DELETE FROM t"), allow_writes=True)


def test_execute_is_classified_by_what_it_runs() -> None:
    assert classify("EXECUTE q('2024-01-01', 1 + 1)").prepared == "q"
    assert classify('EXECUTE "Q"').prepared == "Q"
    # SQL PREPARE: the whole query string is stored; the PREPARE of that name is found in it.
    stored = "SELECT 1; PREPARE q(date) AS SELECT * FROM t WHERE d = $1 FOR UPDATE; PREPARE r AS SELECT 2"
    assert classify_prepared("q", stored, from_sql=True).writes == ["it locks rows (FOR UPDATE / FOR SHARE)"]
    assert classify_prepared("r", stored, from_sql=True) == classify("SELECT 2")
    assert classify_prepared("p", "UPDATE t SET a = $1", from_sql=False).kind == "UpdateStmt"  # the protocol's
    with pytest.raises(StewardError, match="2 PREPAREs of that name"):
        classify_prepared("q", "PREPARE q AS SELECT 1; DEALLOCATE q; PREPARE q AS DELETE FROM t", from_sql=True)


def test_both_shapes_of_explain_output_read_alike() -> None:
    """PostgreSQL 18's output (Index Searches, Disabled, fractional rows, Planning buffers) and 17's give the
    same nodes; the index searches appear in the node's detail where the server prints them."""
    v17 = {"Node Type": "Index Scan", "Schema": "public", "Relation Name": "t", "Alias": "t",
           "Index Name": "t_pkey", "Plan Rows": 3, "Actual Rows": 1, "Actual Loops": 3, "Actual Total Time": 0.1,
           "Index Cond": "(t.id = ANY ('{1,5,900}'::integer[]))", "Shared Hit Blocks": 6}
    v18 = {**v17, "Actual Rows": 1.0, "Disabled": False, "Index Searches": 9}
    old = parse_plan(analyzed(v17))
    new = parse_plan([{**analyzed(v18)[0], "Planning": {"Shared Hit Blocks": 4, "Shared Read Blocks": 0}}])
    assert (old.nodes[0].rows_actual_total, new.nodes[0].rows_actual_total) == (3.0, 3.0)
    assert old.nodes[0].get("Shared Hit Blocks") == new.nodes[0].get("Shared Hit Blocks") == 6
    assert old.nodes[0].index_searches is None and new.nodes[0].index_searches == 9
    assert "Index Searches" not in detail(old.nodes[0])
    assert "Index Searches: 9 over 3 loops" in detail(new.nodes[0])
    assert advise(old, Facts()) == advise(new, Facts())
