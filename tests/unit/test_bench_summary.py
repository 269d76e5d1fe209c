"""The benchmark report (bench/summary.py): ratios, goals, the scaling table and the README section."""

from __future__ import annotations

from typing import Any

import pytest

from support.bench_modules import load

summary = load("summary")


def partition_result(tables: int, idle: tuple[float, float, float], due: tuple[float, float, float],
                     rescue: tuple[float, float] | None = None) -> dict[str, Any]:
    names = ("steward maintain_partitions()", "steward run_maintenance()", "partman run_maintenance()")
    result: dict[str, Any] = {
        "parameters": {"tables": tables, "rows": 1_000_000 if rescue else 0},
        "setup_seconds": {"steward": tables * 0.014, "partman": tables * 0.012},
        "a_idle": {"median": dict(zip(names, idle, strict=True))},
        "b_due": {"median": dict(zip(names, due, strict=True))},
    }
    if rescue:
        result["c_default_rescue"] = {"median": {"steward": rescue[0], "manual": rescue[1]}}
    return result


FACTS = {"date": "2026-11-21", "command": "bench/run_all.py", "nproc": 2, "cpu": "AMD EPYC", "memory_gb": 23.5,
         "os": "Linux", "load_average": 0.4, "versions": {"PostgreSQL": "15.20", "pg_partman": "4.7.2"}}


def run(name: str, code: int = 0) -> dict[str, Any]:
    return {"name": name, "command": f"bench/{name}.py", "seconds": 60.0, "exit": code, "load": 1.25}


def test_partition_ratios_are_peer_over_ours_and_goals_are_checked() -> None:
    rows = summary.partition_rows(partition_result(1000, (0.2, 0.25, 3.0), (6.0, 10.0, 9.0), rescue=(1.4, 1.0)))
    assert [r[3] for r in rows] == ["15.00x faster", "12.00x faster", "1.50x faster", "1.11x slower",
                                    "1.40x the time"]
    assert [r[5] for r in rows] == ["yes", "yes", "yes", "**no**", "**no**"]
    assert rows[0][1] == "`maintain_partitions()` 0.20 s" and rows[0][2] == "pg_partman `run_maintenance()` 3.00 s"


def test_without_the_default_rescue_there_is_no_row_for_it() -> None:
    rows = summary.partition_rows(partition_result(100, (0.1, 0.1, 1.0), (1.0, 1.0, 2.0)))
    assert len(rows) == 4 and not any("DEFAULT" in str(r[0]) for r in rows)


def test_scaling_rows_are_ordered_by_size_with_time_per_table() -> None:
    lines = summary.scaling_section([partition_result(5000, (1.0, 0.9, 18.0), (25.0, 20.0, 60.0)),
                                     partition_result(100, (0.01, 0.01, 0.4), (0.5, 0.4, 1.0))])
    body = [line for line in lines if line.startswith("| 1") or line.startswith("| 5")]
    assert [b.split(" | ")[0] for b in body] == ["| 100", "| 5,000"]
    assert body[1].split(" | ")[3] == "20.00x" and body[1].split(" | ")[5] == "3.00x"
    assert body[1].rstrip(" |").endswith("4.0 / 12.0")  # ms per table: 20 s and 60 s over 5,000 tables


def test_no_scaling_runs_no_section() -> None:
    assert summary.scaling_section([]) == []


def test_render_leaves_out_what_did_not_run_and_lists_failures() -> None:
    text = summary.render({}, [partition_result(100, (0.1, 0.1, 1.0), (1.0, 1.0, 2.0))], FACTS,
                          [run("partition_maintenance_100"), run("soak", code=1)])
    assert text.startswith(summary.START_MARKER) and text.rstrip().endswith(summary.END_MARKER)
    assert "### Soak" not in text and "### Faults" not in text and "Side by side" not in text
    assert "| soak | `bench/soak.py` | 60 | 1.2 | exit 1 |" in text
    assert "PostgreSQL 15.20, pg_partman 4.7.2" in text and "2 min in all" in text


def test_soak_and_faults_sections_state_what_held() -> None:
    soak = {"seconds": 600.0, "command": "bench/soak.py --minutes 10",
            "settings": {"tables": 3, "lock_timeout_s": 2.0, "seed": 5},
            "writers": {"sessions": 8, "statements": 1_307_090, "statements_per_second": 2178.5, "errors": 0},
            "maintenance": {"runs": 302, "run_errors": 0, "median_run_s": 0.4, "longest_run_s": 1.2,
                            "rows_moved_from_default": 9000},
            "query_capture": {"runs": 119, "errors": 0},
            "rows": {"acknowledged": 100, "in_tables": 90, "retired": 10, "lost": 0, "duplicated": 0},
            "lock_waits": {"longest_wait_s": 0.161}, "goals": {"writer errors = 0": True, "retention ran": False}}
    faults = {"tables": 10, "seed": 7, "command": "bench/faults.py", "seconds": 600.0,
              "summary": {"kill": {"tried": 100, "interrupted": 97, "interrupted_after_partial_commit": 40,
                                   "rounds_with_problems": 0},
                          "immediate": {"tried": 10, "interrupted": 10, "interrupted_after_partial_commit": 3,
                                        "rounds_with_problems": 1},
                          "next_run_completes": True}}
    text = summary.render({"soak": soak, "faults": faults}, [], FACTS, [run("soak"), run("faults")])
    assert "1,307,090 writer statements" in text and "0 lost, 0 duplicated" in text
    assert "| writer errors = 0 | yes |" in text and "| retention ran | **no** |" in text
    assert "| kill | 100 | 97 | 40 | 0 |" in text and "| immediate | 10 | 10 | 3 | 1 |" in text
    assert "The next maintenance run completed: yes." in text


def test_replace_section_keeps_the_rest_of_the_document() -> None:
    document = f"intro\n{summary.START_MARKER}\nold numbers\n{summary.END_MARKER}\nafter\n"
    section = f"{summary.START_MARKER}\nnew numbers\n{summary.END_MARKER}\n"
    assert summary.replace_section(document, section) == (
        f"intro\n{summary.START_MARKER}\nnew numbers\n{summary.END_MARKER}\nafter\n")
    with pytest.raises(ValueError):
        summary.replace_section("no markers here", section)


def test_pg_partman_5_rows_carry_their_own_goals_with_the_fresh_session_and_memory() -> None:
    result = partition_result(1000, (0.2, 0.1, 3.0), (1.0, 1.0, 3.0))
    for key, peer in (("a_idle", 2.5), ("b_due", 2.5)):
        result[key]["median"][summary.PARTMAN5_CALL] = peer
    result["a_idle"]["fresh_median"] = {"steward maintain_partitions()": 0.2, "steward run_maintenance()": 0.1,
                                        summary.PARTMAN_CALL: 3.0, summary.PARTMAN5_CALL: 2.5}
    result["a_idle"]["peak_kb"] = {"steward run_maintenance()": 51200, summary.PARTMAN5_CALL: 40960}
    result["b_due"]["peak_kb"] = {"steward": 102400, "partman5": 81920}
    rows = summary.partition_rows(result)
    five = [r for r in rows if str(r[2]).startswith("pg_partman 5.1.0")]
    assert [(r[0].split(", ")[-1], r[4], r[5]) for r in five if "run_maintenance" in r[1]] == [
        ("nothing due", ">= 20x", "yes"), ("fresh session", ">= 20x", "yes"),
        ("one partition due each", ">= 3x", "**no**")]
    assert rows[-1][1] == "(a) steward run_maintenance() 50 MB, (b) steward 100 MB"
    lines = summary.scaling_section([result])
    assert "(a) ratio 5.1.0" in lines[4] and lines[-2].split(" | ")[-5:-1] == ["25.00x", "25.00x", "2.50x", "50 MB"]
