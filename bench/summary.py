"""The benchmark report as Markdown, from the JSON every benchmark writes (pure: no database, no files).

bench/run_all.py runs the benchmarks and hands their results here; the text
it returns is what goes between the markers of bench/README.md. A benchmark
that did not run (``--only``) or failed before writing its JSON is left out
of its table and named in the list of runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Result = dict[str, Any]

START_MARKER = "<!-- results of bench/run_all.py: start (generated, do not edit) -->"
END_MARKER = "<!-- results of bench/run_all.py: end -->"


def seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def times(value: float) -> str:
    return f"{value:.2f}x"


def faster(ratio: float) -> str:
    """``ratio`` is the peer's time over ours."""
    return f"{times(ratio)} faster" if ratio >= 1 else f"{times(1 / ratio)} slower"


def megabytes(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MB"


def count(value: int | float) -> str:
    return f"{value:,}"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


# --------------------------------------------------------------------------- partitions


IDLE, DUE = "a_idle", "b_due"
STEWARD_CALLS = ("steward maintain_partitions()", "steward run_maintenance()")
PARTMAN_CALL = "partman run_maintenance()"
PARTMAN5_CALL = "partman 5.1.0 run_maintenance()"
# The peers and the goals against each: (a) nothing due (warm and fresh session), (b) one partition due each.
PEER_GOALS = ((PARTMAN_CALL, "pg_partman", 10.0, 1.0), (PARTMAN5_CALL, "pg_partman 5.1.0", 20.0, 3.0))


def partition_rows(result: Result) -> list[list[object]]:
    """Rows of the peers table: (a) and (b) against each pg_partman, (c) against hand-written SQL."""
    tables = result["parameters"]["tables"]
    rows: list[list[object]] = []
    for peer_call, peer_name, idle_need, due_need in PEER_GOALS:
        if peer_call not in result[IDLE]["median"]:
            continue
        cases = [(result[IDLE]["median"], f"{tables:,} tables, nothing due", idle_need)]
        if "fresh_median" in result[IDLE]:
            cases.append((result[IDLE]["fresh_median"], f"{tables:,} tables, nothing due, fresh session", idle_need))
        cases.append((result[DUE]["median"], f"{tables:,} tables, one partition due each", due_need))
        for medians, label, need in cases:
            peer = medians[peer_call]
            for call in STEWARD_CALLS:
                ours = medians[call]
                ratio = peer / ours
                rows.append([f"partitions: {label}", f"`{call.split(' ', 1)[1]}` {seconds(ours)}",
                             f"{peer_name} `run_maintenance()` {seconds(peer)}", faster(ratio),
                             f">= {need:g}x", met(ratio >= need)])
    if "session_cost" in result:
        cost = result["session_cost"]["median"]
        rows.append(["fresh session, `psql -c`",
                     f"`SELECT steward.version()` {seconds(cost['SELECT steward.version()'])}",
                     f"`SELECT 1` {seconds(cost['SELECT 1'])}",
                     f"+{result['session_cost']['python_load_seconds'] * 1000:.0f} ms", "", ""])
    peaks = {**{f"(a) {k}": v for k, v in result[IDLE].get("peak_kb", {}).items()},
             **{f"(b) {k}": v for k, v in result[DUE].get("peak_kb", {}).items()}}
    if peaks:
        rows.append([f"partitions: backend peak memory (VmHWM), {tables:,} tables",
                     ", ".join(f"{k} {megabytes(v)}" for k, v in peaks.items() if "steward" in k),
                     ", ".join(f"{k} {megabytes(v)}" for k, v in peaks.items() if "steward" not in k), "", "", ""])
    if "c_default_rescue" in result:
        medians = result["c_default_rescue"]["median"]
        ratio = medians["steward"] / medians["manual"]
        rows.append([f"partitions: {result['parameters']['rows']:,} rows out of DEFAULT",
                     f"`create_partition()` {seconds(medians['steward'])}",
                     f"hand-written SQL {seconds(medians['manual'])}", f"{times(ratio)} the time", "<= 1.3x",
                     met(ratio <= 1.3)])
    return rows


def scaling_section(runs: list[Result]) -> list[str]:
    """How maintenance time grows with the number of managed tables, one row per run."""
    if not runs:
        return []
    rows = []
    with5 = any(PARTMAN5_CALL in r[IDLE]["median"] for r in runs)
    for r in sorted(runs, key=lambda r: r["parameters"]["tables"]):
        n = r["parameters"]["tables"]
        idle, due = r[IDLE]["median"], r[DUE]["median"]
        setup = r["setup_seconds"]
        rows.append([
            count(n), f"{setup['steward']:.1f} / {setup['partman']:.1f}",
            f"{seconds(idle[STEWARD_CALLS[0]])} / {seconds(idle[STEWARD_CALLS[1]])} / {seconds(idle[PARTMAN_CALL])}",
            times(idle[PARTMAN_CALL] / idle[STEWARD_CALLS[1]]),
            f"{seconds(due[STEWARD_CALLS[0]])} / {seconds(due[STEWARD_CALLS[1]])} / {seconds(due[PARTMAN_CALL])}",
            times(due[PARTMAN_CALL] / due[STEWARD_CALLS[1]]),
            f"{due[STEWARD_CALLS[1]] / n * 1000:.1f} / {due[PARTMAN_CALL] / n * 1000:.1f}",
        ])
        if with5:
            fresh = r[IDLE].get("fresh_median", {})
            rows[-1] += [
                f"{setup.get('partman5', float('nan')):.1f}",
                times(idle[PARTMAN5_CALL] / idle[STEWARD_CALLS[1]]) if PARTMAN5_CALL in idle else "n/a",
                times(fresh[PARTMAN5_CALL] / fresh[STEWARD_CALLS[1]]) if PARTMAN5_CALL in fresh else "n/a",
                times(due[PARTMAN5_CALL] / due[STEWARD_CALLS[1]]) if PARTMAN5_CALL in due else "n/a",
                megabytes(r[IDLE].get("peak_kb", {}).get(STEWARD_CALLS[1])),
                megabytes(r[DUE].get("peak_kb", {}).get("steward")),
            ]
    return ["### Maintenance time by number of managed tables", "",
            "Median seconds of the runs of `bench/partition_maintenance.py` at each size (setup: "
            "`steward.manage()` against `partman.create_parent()` for all tables; (a) nothing due, (b) one "
            "partition due per table; pg_steward's `maintain_partitions()` / `CALL run_maintenance()` / "
            "pg_partman's `run_maintenance()`). The ratio is pg_partman's time over `CALL run_maintenance()`'s."
            + (" The columns after the first ratios compare with pg_partman 5.1.0 (`infinite_time_partitions` "
               "on; fresh: the first call of a new session), and give pg_steward's backend peak memory (VmHWM: a "
               "fresh session's nothing-due run; the session of the due runs)." if with5 else ""),
            "", *table(["managed tables", "setup s (steward / partman)", "(a) nothing due", "(a) ratio",
                        "(b) one due each", "(b) ratio", "(b) ms per table (steward / partman)",
                        *(["setup s (partman 5.1.0)", "(a) ratio 5.1.0", "(a) fresh ratio 5.1.0", "(b) ratio 5.1.0",
                           "peak (a)", "peak (b)"] if with5 else [])], rows), ""]


# --------------------------------------------------------------------------- queries, reports, CLI


def capture_rows(result: Result) -> list[list[object]]:
    p = result["parameters"]
    with_capture, without = (sum(result[k]) / len(result[k]) for k in ("tps_with_capture", "tps_without"))
    return [[f"pgbench with `capture_query_stats()` every {p['interval']:g} s ({p['rounds']} x {p['seconds']} s, "
             f"{result['entries_per_capture']:,.0f} statements in pg_stat_statements)",
             f"{with_capture:,.0f} TPS", f"{without:,.0f} TPS without capture",
             f"{result['ratio']:.3f} (from the capture's own {result['capture_ms_idle_new_session']:.0f} ms: "
             f"{result['ratio_from_capture_cost']:.3f})", ">= 0.99",
             met(result["ratio"] >= 0.99 or result["ratio_from_capture_cost"] >= 0.99)]]


def analysis_rows(result: Result) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, r in result["analyze"].items():
        ok = r["ours_ms"] <= 1.05 * r["same_options_ms"] + 2
        rows.append([f"`analyze_query_performance`, {name.replace('_', ' ')}", f"{r['ours_ms']:.1f} ms",
                     f"`EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON)` {r['same_options_ms']:.1f} ms "
                     f"(bare `EXPLAIN (ANALYZE, FORMAT JSON)` {r['bare_ms']:.1f} ms)",
                     f"{times(r['ratio_same_options'])} (+{r['extra_ms_same_options']:.1f} ms)",
                     "<= 1.05x + 2 ms", met(ok)])
    fp = result["fingerprints"]
    rows.append([f"fingerprints inside the server ({fp['statements']:,} statements)",
                 f"{fp['per_second']:,.0f} per second", "(no peer inside the server)", "", "", ""])
    return rows


def bloat_rows(result: Result) -> list[list[object]]:
    s = result["summary"]
    rows: list[list[object]] = []
    for kind in ("table", "index"):
        ours, classic, exact = (s[f"{kind}_{m}_mae_truth"] for m in ("ours", "classic", "pgstattuple"))
        rows.append([f"{kind} bloat, mean error against a rewrite (points of size)", f"{ours}",
                     f"classic estimate query {classic}, pgstattuple {exact}",
                     f"{classic / ours:.1f}x smaller than classic" if ours and classic else "", "below classic",
                     met(ours is not None and classic is not None and ours < classic)])
    t = s["timing"]
    rows.append([f"`table_bloat()` over {s['timing_tables']:,} tables", f"{seconds(t['estimate_s'])}",
                 f"pgstattuple_approx {seconds(t['pgstattuple_approx_s'])}, "
                 f"pgstattuple {seconds(t['pgstattuple_s'])}",
                 f"{faster(t['pgstattuple_approx_s'] / t['estimate_s'])} than pgstattuple_approx", ">= 5x faster",
                 met(t["pgstattuple_approx_s"] >= 5 * t["estimate_s"])])
    for name, mem in s.get("peak_memory", {}).items():
        if mem["peak_kb"] is not None:
            rows.append([f"peak backend memory (VmHWM), `{name}` over {s['timing_tables']:,} tables",
                         f"{mem['peak_kb'] / 1024:.0f} MB", f"{mem['loaded_kb'] / 1024:.0f} MB after loading the "
                         "package", "", "(recorded)", ""])
    return rows


def fleet_rows(result: Result) -> list[list[object]]:
    n = result["databases"]
    return [[f"`pg-steward {name}` over {n} databases", f"`--jobs {n}` {seconds(r['parallel_s'])}",
             f"`--jobs 1` {seconds(r['serial_s'])}", faster(r["speedup"]), "faster",
             met(r["speedup"] > 1)] for name, r in result["results"].items()]


# --------------------------------------------------------------------------- soak and faults


def soak_section(result: Result) -> list[str]:
    w, m, q, rows, waits = (result[k] for k in ("writers", "maintenance", "query_capture", "rows", "lock_waits"))
    lines = [f"### Soak ({result['seconds'] / 60:.1f} min, {w['sessions']} writers, "
             f"{result['settings']['tables']} tables, seed {result['settings']['seed']})", "",
             f"{count(w['statements'])} writer statements "
             f"({w['statements_per_second']:,.0f}/s), {count(w['errors'])} errors; "
             f"{count(rows['acknowledged'])} rows acknowledged = {count(rows['in_tables'])} present + "
             f"{count(rows['retired'])} retired by retention; {rows['lost']} lost, {rows['duplicated']} duplicated; "
             f"longest writer lock wait {waits['longest_wait_s']} s (lock_timeout "
             f"{result['settings']['lock_timeout_s']} s); {m['runs']} maintenance runs, {m['run_errors']} failed "
             f"(median {m['median_run_s']} s, longest {m['longest_run_s']} s), "
             f"{count(m['rows_moved_from_default'])} rows moved out of DEFAULT; {q['runs']} query captures, "
             f"{q['errors']} failed.", ""]
    lines += table(["goal", "met"], [[goal, met(ok)] for goal, ok in result["goals"].items()])
    return [*lines, ""]


def faults_section(result: Result) -> list[str]:
    s = result["summary"]
    rows = [[fault, s[fault]["tried"], s[fault]["interrupted"], s[fault]["interrupted_after_partial_commit"],
             s[fault]["rounds_with_problems"]] for fault in ("kill", "immediate")]
    return [f"### Faults ({result['tables']} tables, seed {result['seed']})", "",
            f"{result['seconds']:.0f} s. A fault at a random point of a maintenance run "
            "that creates partitions and moves rows out of DEFAULT: `kill` terminates the maintenance backend, "
            "`immediate` stops the server with `-m immediate` and starts it again. A problem is a stray or "
            "half-attached table, a helper CHECK left behind, an advisory lock still held, or any table whose "
            "rows changed.", "",
            *table(["fault", "tried", "interrupted a run", "after some tables committed", "rounds with a problem"],
                   rows), "",
            f"The next maintenance run completed: {met(s['next_run_completes'])}.", ""]


# --------------------------------------------------------------------------- the whole report


def header(facts: Result, runs: list[Result]) -> list[str]:
    versions = ", ".join(f"{name} {version}" for name, version in facts["versions"].items())
    total = sum(r["seconds"] for r in runs)
    return [f"Run of {facts['date']}: `{facts['command']}`, {total / 60:.0f} min in all.", "",
            f"Machine: {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory_gb']} GB, {facts['os']}; "
            f"load average {facts['load_average']:.1f} before the run.", "", f"Versions: {versions}.", ""]


def peers_section(results: dict[str, Result]) -> list[str]:
    rows: list[list[object]] = []
    for name, make in (("partition_maintenance", partition_rows), ("query_capture", capture_rows),
                       ("query_analysis", analysis_rows), ("report_bloat", bloat_rows), ("cli_fleet", fleet_rows)):
        if name in results:
            rows += make(results[name])
    if not rows:
        return []
    return ["### Side by side with the peers", "",
            *table(["measurement", "pg_steward", "peer", "ratio", "goal", "met"], rows), ""]


def runs_section(runs: list[Result]) -> list[str]:
    rows = [[r["name"], f"`{r['command']}`", f"{r['seconds']:.0f}", f"{r['load']:.1f}",
             "ok" if r["exit"] == 0 else f"exit {r['exit']}"] for r in runs]
    return ["### Every run", "",
            "Load: the machine's 5-minute load average when the benchmark ended (above the number of CPUs, something "
            "else competed for them).", "",
            *table(["benchmark", "command", "seconds", "load", "status"], rows), ""]


def render(results: dict[str, Result], scaling: list[Result], facts: Result, runs: list[Result]) -> str:
    """The Markdown between the markers: results maps a benchmark's name to its JSON."""
    lines = [START_MARKER, "", *header(facts, runs), *peers_section(results), *scaling_section(scaling)]
    if "soak" in results:
        lines += soak_section(results["soak"])
    if "faults" in results:
        lines += faults_section(results["faults"])
    lines += [*runs_section(runs), END_MARKER]
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """``document`` with the text between the markers (markers included) replaced by ``section``."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError("bench/README.md has no results markers")
    return document[:start] + section.rstrip("\n") + document[end + len(END_MARKER):]
