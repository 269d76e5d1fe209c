"""``pg-steward check``: steward.health() as a monitoring plugin (Nagios/Icinga conventions).

One status line, then exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Over a
fleet the worst database decides. A database that cannot be reached is
CRITICAL (it is down for its users); one that cannot be checked (no
pg_steward, no steward.health()) is UNKNOWN. A single check that cannot tell
(status unknown, e.g. too little activity yet) is named in the line but does
not turn a database whose other checks pass into UNKNOWN, or monitoring would
page for every fresh database; with no check known at all it is UNKNOWN.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from pg_steward.cli.connect import connect, has_functions, require_extension
from pg_steward.cli.fleet import Outcome, add_targets, over
from pg_steward.cli.output import printable

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
STATUS = {"ok": OK, "warning": WARNING, "critical": CRITICAL, "unknown": UNKNOWN}
SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}  # which one wins when combining
FAILURE_STATUS = UNKNOWN  # a monitoring plugin says UNKNOWN when it cannot work


@dataclass(frozen=True)
class Verdict:
    code: int
    summary: str
    counts: dict[str, int]


def worst(codes: Sequence[int]) -> int:
    return max(codes, key=lambda c: SEVERITY[c]) if codes else UNKNOWN


def evaluate(rows: Sequence[dict[str, Any]]) -> Verdict:
    """The verdict over steward.health() rows (check_name, status, value, threshold, ...)."""
    if not rows:
        return Verdict(UNKNOWN, "steward.health() returned no checks", {})
    counts = {name: 0 for name in STATUS}
    problems = []
    codes = []
    for row in rows:
        status = str(row.get("status") or "unknown").lower()
        code = STATUS.get(status, UNKNOWN)
        codes.append(code)
        counts[status if status in STATUS else "unknown"] += 1
        if code != OK:
            value = f"={row['value']}" if row.get("value") not in (None, "") else ""
            threshold = f" (threshold {row['threshold']})" if row.get("threshold") not in (None, "") else ""
            problems.append((SEVERITY[code], f"{row.get('check_name')}{value} {NAMES[code].lower()}{threshold}"))
    problems.sort(key=lambda p: -p[0])
    tally = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    detail = "; ".join(p[1] for p in problems)
    known = [c for c in codes if c != UNKNOWN]
    summary = f"{tally}: {detail}" if detail else tally
    return Verdict(worst(known) if known else UNKNOWN, summary.replace("|", "/"), counts)


def status_line(verdicts: Sequence[tuple[str, Verdict]]) -> tuple[int, str]:
    """One line for one database or a fleet, with performance data after ``|``."""
    code = worst([v.code for _, v in verdicts])
    if len(verdicts) == 1:
        text = verdicts[0][1].summary
    else:
        text = f"{len(verdicts)} databases: " + "; ".join(
            f"{name} {NAMES[v.code]}" + (f" ({v.summary})" if v.code != OK else "") for name, v in verdicts)
    totals = {name: sum(v.counts.get(name, 0) for _, v in verdicts) for name in STATUS}
    perf = " ".join(f"{name}={n}" for name, n in totals.items())
    return code, f"PG_STEWARD {NAMES[code]} - {' '.join(text.split())} | {perf}"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="monitoring plugin over steward.health(): one line, exit 0/1/2/3",
        description="One status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios/Icinga "
        "conventions). Over several databases the worst one decides; an unreachable database is CRITICAL.")
    add_targets(parser)


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    outcomes = over(args, health_verdict, err, "checking")
    code, line = status_line([(o.database, outcome_verdict(o)) for o in outcomes])
    print(printable(line))  # names of checks and databases are data
    return code


def health_verdict(dsn: str) -> Verdict:
    with connect(dsn) as db:
        require_extension(db)
        if not has_functions(db, ("health",)):
            return Verdict(UNKNOWN, f"steward.health() is not available in database {db.dbname}", {})
        return evaluate(db.query("SELECT * FROM steward.health()"))


def outcome_verdict(outcome: Outcome[Verdict]) -> Verdict:
    if outcome.value is not None:
        return outcome.value
    error = outcome.error or "failed"
    code = CRITICAL if error.startswith("cannot connect") else UNKNOWN
    return Verdict(code, error, {})
