"""Entry point of ``pg-steward``: the registry of commands; parses arguments, runs one, maps errors to exit codes.

Each command is a module (``demo``, ``maintain``, ``report``, ``check``) with
``add_parser(subparsers)`` and ``run(args, console, err) -> int``; a module
may say with ``FAILURE_STATUS`` which exit status means it could not work.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType

from rich.console import Console

from pg_steward import __version__
from pg_steward.cli import check, convert, demo, export, maintain, report, restore
from pg_steward.cli.connect import CliError, describe
from pg_steward.cli.output import printable, stdout_console

COMMANDS: dict[str, ModuleType] = {"demo": demo, "maintain": maintain, "report": report, "check": check,
                                 "partition-existing": convert}
COMMANDS |= {"export": export, "import": restore}  # retention mode export (cli/export.py, cli/restore.py)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pg-steward",
        description="Keeps partitioned tables healthy and explains where performance goes.",
    )
    parser.add_argument("--version", action="version", version=f"pg-steward {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    console = stdout_console()
    err = Console(stderr=True)
    failure: int = getattr(command, "FAILURE_STATUS", 1)
    try:
        status: int = command.run(args, console, err)
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pg-steward report ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as error:
        print(printable(f"pg-steward: error: {error}"), file=sys.stderr)
        return failure
    except Exception as error:  # one clear line, never a traceback
        if os.environ.get("PG_STEWARD_DEBUG"):
            raise
        print(printable(f"pg-steward: error: {describe(error)}"), file=sys.stderr)
        return failure


if __name__ == "__main__":
    sys.exit(main())
