"""Entry point of ``pg-steward``: parses arguments, runs one command, maps errors to exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from rich.console import Console

from pg_steward import __version__
from pg_steward.cli.connect import CliError, describe, read_dsn_file
from pg_steward.cli.output import print_rows, write_csv, write_json
from pg_steward.cli.reports import REPORTS

FORMATS = ("table", "json", "csv")


def _targets(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("databases")
    group.add_argument("--dsn", action="append", default=[], metavar="DSN",
                       help="a libpq connection string or URI; repeat it for a fleet (default: the PG* "
                            "environment variables)")
    group.add_argument("--dsn-file", metavar="FILE",
                       help="a file of DSNs, one per line (# comments and blank lines are skipped)")
    group.add_argument("--jobs", type=int, default=8, metavar="N",
                       help="databases worked on at the same time (default 8)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pg-steward",
        description="Keeps partitioned tables healthy and explains where performance goes.",
    )
    parser.add_argument("--version", action="version", version=f"pg-steward {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="show pg_steward on the seed tables in a throwaway local server",
        description="Start a throwaway local PostgreSQL (or use --dsn), install the extension, create the "
        "seed documents' workload (sales_analytics with rows stranded in DEFAULT, a duplicate index, "
        "bloat), manage and maintain it, schedule jobs, and print what was done and the reports.")
    demo.add_argument("--dsn", help="use this database instead of a throwaway server")

    maintain = commands.add_parser(
        "maintain", help="run partition maintenance from outside (optionally DETACH ... CONCURRENTLY)",
        description="Maintain every managed table (steward.maintain_partitions, one transaction per table). "
        "With --concurrently, tables whose retention mode is detach lose their expired partitions "
        "through ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, which only a client can run.")
    maintain.add_argument("--table", metavar="TABLE", help="only this managed table")
    maintain.add_argument("--concurrently", action="store_true",
                          help="detach expired partitions with DETACH PARTITION ... CONCURRENTLY")
    maintain.add_argument("--format", choices=FORMATS, default="table")
    _targets(maintain)

    report = commands.add_parser(
        "report", help="print a report, or write all of them as one HTML page with charts",
        description="Reports: " + "; ".join(f"{r.name}: {r.what}" for r in REPORTS.values()) + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("name", nargs="?", choices=list(REPORTS), metavar="NAME",
                        help=f"one of: {', '.join(REPORTS)}")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--html", metavar="FILE",
                        help="write every report as one self-contained HTML page with charts")
    _targets(report)

    check = commands.add_parser(
        "check", help="monitoring plugin over steward.health(): one line, exit 0/1/2/3",
        description="One status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios/Icinga "
        "conventions). Over several databases the worst one decides; an unreachable database is CRITICAL.")
    _targets(check)
    return parser


def dsns_of(args: argparse.Namespace) -> list[str]:
    found = list(args.dsn)
    if args.dsn_file:
        found += read_dsn_file(args.dsn_file)
    if not found and not args.dsn_file:
        found = [""]  # libpq's defaults: PGHOST, PGDATABASE, ... as psql would use
    if not found:
        raise CliError(f"no DSN in {args.dsn_file}")
    return found


def run_demo(args: argparse.Namespace, console: Console, err: Console) -> int:
    from pg_steward.cli import demo

    demo.run(console, args.dsn)
    return 0


def run_maintain(args: argparse.Namespace, console: Console, err: Console) -> int:
    from pg_steward.cli import commands

    dsns = dsns_of(args)
    outcomes = commands.fleet(
        dsns, lambda dsn: commands.maintain_rows(dsn, args.table, args.concurrently, err, len(dsns) == 1),
        args.jobs, err, "maintaining")
    rows = [{"database": o.database, **r} for o in outcomes for r in (o.value or [])]
    if args.format == "json":
        write_json(sys.stdout, rows)
    elif args.format == "csv":
        write_csv(sys.stdout, rows)
    elif not rows:
        console.print("maintenance: nothing to do" if all(o.ok for o in outcomes) else "")
    else:
        print_rows(console, "maintenance", rows, ["database", "table", "action", "partition", "ok",
                                                            "detail"])
    status = commands.report_errors(outcomes)
    failed_actions = any(not r["ok"] for r in rows)
    return status or (1 if failed_actions else 0)


def run_report(args: argparse.Namespace, console: Console, err: Console) -> int:
    from pg_steward.cli import commands, html

    if args.html:
        outcomes = commands.fleet(dsns_of(args), commands.html_section, args.jobs, err, "reading reports")
        sections = [o.value for o in outcomes if o.value is not None]
        if not sections:
            return commands.report_errors(outcomes)  # nothing to show: no page
        sections += [html.Section(o.database, notes=[o.error or ""]) for o in outcomes if o.value is None]
        try:
            with open(args.html, "w", encoding="utf-8") as out:
                out.write(html.page(sections))
        except OSError as error:
            raise CliError(f"cannot write {args.html}: {error.strerror}") from None
        err.print(f"wrote {args.html}")
        return commands.report_errors(outcomes)
    if not args.name:
        raise CliError("give a report NAME or --html FILE (see pg-steward report --help)")
    outcomes = commands.fleet(dsns_of(args), lambda dsn: commands.report_rows(dsn, args.name), args.jobs, err,
                              f"reading {args.name}")
    commands.print_report(console, args.name, [o for o in outcomes if o.ok], args.format)
    return commands.report_errors(outcomes)


def run_check(args: argparse.Namespace, console: Console, err: Console) -> int:
    from pg_steward.cli import check, commands

    outcomes = commands.fleet(dsns_of(args), commands.health_verdict, args.jobs, err, "checking")
    code, line = check.status_line([(o.database, commands.check_outcome(o)) for o in outcomes])
    print(line)
    return code


COMMANDS: dict[str, Callable[[argparse.Namespace, Console, Console], int]] = {
    "demo": run_demo, "maintain": run_maintain, "report": run_report, "check": run_check,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    err = Console(stderr=True)
    failure = 3 if args.command == "check" else 1  # a monitoring plugin says UNKNOWN when it cannot work
    try:
        return COMMANDS[args.command](args, console, err)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pg-steward report ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as error:
        print(f"pg-steward: error: {error}", file=sys.stderr)
        return failure
    except Exception as error:  # one clear line, never a traceback
        if os.environ.get("PG_STEWARD_DEBUG"):
            raise
        print(f"pg-steward: error: {describe(error)}", file=sys.stderr)
        return failure


if __name__ == "__main__":
    sys.exit(main())
