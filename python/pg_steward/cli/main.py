"""Entry point of ``pg-steward``: parses arguments, runs one command, maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from pg_steward import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pg-steward",
        description="Keeps partitioned tables healthy and explains where performance goes.",
    )
    parser.add_argument("--version", action="version", version=f"pg-steward {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show pg_steward on the seed tables in a throwaway local server",
        description="Start a throwaway local PostgreSQL (or use --dsn), install the extension, "
        "create the seed documents' partitioned tables and show their partition trees.",
    )
    demo.add_argument("--dsn", help="use this database instead of a throwaway server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "demo":
            from pg_steward.cli import demo

            demo.run(console, args.dsn)
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line, never a traceback
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"pg-steward: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
