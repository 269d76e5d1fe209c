#!/usr/bin/env python3
"""Assembles pg_steward's install and upgrade scripts from the SQL sources in extension/.

Three kinds of source, each run in this order by every script:

- ``guard.sql``: checks that run first, at every install and every upgrade;
- ``incremental/VERSION/*.sql``: what must run exactly once in a database:
  tables, types, indexes, config-dump registrations, ``ALTER``s, ``DROP``s of
  what a version removes. A version's files run in name order, versions in
  version order. The install script runs all of them; the upgrade script from
  a released version A runs those of the versions after A;
- ``idempotent/*.sql``: what is replaced as a whole on every install and every
  upgrade: functions and procedures (``CREATE OR REPLACE``), views, triggers
  (``CREATE OR REPLACE TRIGGER``), comments and grants. Run in the order of
  ``IDEMPOTENT`` below.

So nobody writes an upgrade script: ``pg_steward--A--CURRENT.sql`` is built
for every released A (``extension/released/pg_steward--A.sql``).

Two markers spare the sources the lines every function repeats:

- a function body that is the one line ``@python module.function(arg, ...)``
  becomes the PL/Python shim that loads the package (``steward._load_python``,
  once per session), and returns ``runtime.call(function, arg, ...)``, which
  hands the function the session's database first;
- a line ``@text_formats`` becomes the ``SET`` clauses that fix the text forms
  of dates, timestamps and intervals, which the package reads and writes.

``@VERSION@`` is replaced by the version being built, ``@PKGLIBDIR@`` by the
``--pkglibdir`` given (left as it is without one: ``make freeze``).

Usage: build.py install VERSION [--pkglibdir DIR]
       build.py upgrade FROM VERSION [--pkglibdir DIR]
       build.py markers        (every @python target, one per line: module function args)
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parent
GUARD = "guard.sql"
IDEMPOTENT = ["schema.sql", "runtime.sql", "partitions.sql", "exports.sql", "queries.sql", "reports.sql",
              "schedule.sql"]

PYTHON_MARKER = re.compile(r"^@python\s+(?P<module>[A-Za-z_][\w.]*)\.(?P<function>[A-Za-z_]\w*)\((?P<args>.*)\)\s*$")
TEXT_FORMATS_MARKER = "@text_formats"
TEXT_FORMATS = "SET DateStyle = 'ISO, YMD'\nSET TimeZone = 'UTC'\nSET IntervalStyle = 'iso_8601'"

SHIM = """\
if GD.get("pg_steward") != "@VERSION@":
    plpy.execute("SELECT steward._load_python()")
from pg_steward.runtime import call
from {module} import {function}
return call({call_args})"""


@dataclass(frozen=True)
class Marker:
    """One ``@python`` marker: where it is and what it calls."""

    source: str
    line: int
    module: str
    function: str
    args: tuple[str, ...]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders versions numerically part by part (0.10.0 after 0.9.0); a non-numeric part sorts by text."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.-]", version))


def _markers_of(name: str, text: str) -> list[Marker]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("@python"):
            match = PYTHON_MARKER.match(line)
            if not match:
                raise SystemExit(f"extension/{name}:{number}: a @python marker reads "
                                 "'@python package.module.function(arg, ...)'")
            args = tuple(a.strip() for a in match["args"].split(",") if a.strip())
            found.append(Marker(name, number, match["module"], match["function"], args))
    return found


def expand(name: str, text: str) -> str:
    """A source with its markers expanded (``@VERSION@`` and ``@PKGLIBDIR@`` are left)."""
    markers = {m.line: m for m in _markers_of(name, text)}
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = markers.get(number)
        if marker is not None:
            lines.append(SHIM.format(module=marker.module, function=marker.function,
                                     call_args=", ".join((marker.function, *marker.args))))
        elif line.strip() == TEXT_FORMATS_MARKER:
            lines.append(TEXT_FORMATS)
        elif line.startswith("@"):
            raise SystemExit(f"extension/{name}:{number}: unknown marker {line.split()[0]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def incremental_sources(after: str | None = None) -> list[Path]:
    """The incremental sources of every version (or of the versions after ``after``), in the order they run."""
    versions = sorted((d for d in (EXTENSION_DIR / "incremental").iterdir() if d.is_dir()),
                      key=lambda d: version_key(d.name))
    chosen = [d for d in versions if after is None or version_key(d.name) > version_key(after)]
    return [path for d in chosen for path in sorted(d.glob("*.sql"))]


def idempotent_sources() -> list[Path]:
    directory = EXTENSION_DIR / "idempotent"
    listed = [directory / name for name in IDEMPOTENT]
    unlisted = sorted(set(directory.glob("*.sql")) - set(listed))
    if unlisted:
        raise SystemExit(f"extension/build.py: add {', '.join(p.name for p in unlisted)} to IDEMPOTENT")
    return listed


def all_sources() -> list[Path]:
    return [EXTENSION_DIR / GUARD, *incremental_sources(), *idempotent_sources()]


def markers() -> list[Marker]:
    return [m for path in all_sources()
            for m in _markers_of(str(path.relative_to(EXTENSION_DIR)), path.read_text())]


def script(version: str, upgrade_from: str | None, pkglibdir: str | None) -> str:
    command = (f"ALTER EXTENSION pg_steward UPDATE TO '{version}'" if upgrade_from
               else "CREATE EXTENSION pg_steward CASCADE")
    parts = [
        f"-- pg_steward {version}: "
        + (f"upgrade from {upgrade_from}" if upgrade_from else "install script")
        + ", built by extension/build.py from extension/{guard,incremental,idempotent}; do not edit.\n",
        f"\\echo Use \"{command}\" to load this file. \\quit\n",
    ]
    for path in [EXTENSION_DIR / GUARD, *incremental_sources(upgrade_from), *idempotent_sources()]:
        name = str(path.relative_to(EXTENSION_DIR))
        parts.append(f"\n-- ---- extension/{name}\n\n" + expand(name, path.read_text()))
    text = "".join(parts).replace("@VERSION@", version)
    return text.replace("@PKGLIBDIR@", pkglibdir) if pkglibdir else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Builds pg_steward's extension scripts.")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="the install script of VERSION")
    install.add_argument("version")
    upgrade = commands.add_parser("upgrade", help="the upgrade script from a released version to VERSION")
    upgrade.add_argument("source")
    upgrade.add_argument("version")
    for sub in (install, upgrade):
        sub.add_argument("--pkglibdir", help="fills in @PKGLIBDIR@ (left as it is without it)")
    commands.add_parser("markers", help="every @python marker: source:line module function args")
    args = parser.parse_args(argv)
    if args.command == "markers":
        for m in markers():
            print(f"{m.source}:{m.line} {m.module} {m.function} {' '.join(m.args)}".rstrip())
        return 0
    source = args.source if args.command == "upgrade" else None
    if source is not None and not (EXTENSION_DIR / "released" / f"pg_steward--{source}.sql").is_file():
        parser.error(f"{source} is not a released version (no extension/released/pg_steward--{source}.sql)")
    sys.stdout.write(script(args.version, source, args.pkglibdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
