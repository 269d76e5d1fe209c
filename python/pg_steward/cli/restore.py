"""``pg-steward import FILE``: a partition written by ``pg-steward export``, loaded back and attached.

The manifest and the data file are checked first (SHA-256, complete gzip, row
count): a file that fails is refused before anything is sent. Then, in one
transaction, ``steward.prepare_partition_import`` makes the empty partition
for the manifest's bounds (an overlapping or existing partition is refused,
rows of the range in DEFAULT are moved into it), the rows are copied in
(``COPY ... FROM STDIN``), and the partition's count must have grown by the
manifest's rows, or everything is rolled back.

Loading runs the table's triggers, defaults and CHECK constraints, code its
owner wrote, with the rights of the role that runs ``pg-steward``: the
import is refused unless that role is the table's owner (or the owner is a
superuser), so that a superuser never runs another role's code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from pg_steward.cli import manifest
from pg_steward.cli.connect import Client, CliError, connect, require_extension
from pg_steward.cli.export import COLUMNS_SQL, pin_session
from pg_steward.cli.output import FORMATS, print_rows, write_flat
from pg_steward.sqltext import qualified, quote_ident

_PARENT_SQL = """
SELECT n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name,
       pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS owner, c.relkind::pg_catalog.text AS kind,
       (c.relowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles AS r
                                           WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
        OR (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.oid OPERATOR(pg_catalog.=) c.relowner))
         AS safe
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid
"""

_NAME_SQL = """
SELECT n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="load a partition written by pg-steward export back into its table",
        description="Check FILE (a manifest, or the data file beside it) against its SHA-256 and row count, "
        "create the partition for its bounds (refusing overlaps), COPY the rows in and check the count, all in "
        "one transaction.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the manifest (*.manifest.json) or data file")
    parser.add_argument("--into", metavar="PARENT", help="load into this partitioned table instead of the manifest's")
    parser.add_argument("--dsn", required=True, help="the database")
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    try:
        path = manifest.manifest_path(args.file)
        entry = manifest.read(path)
        data = manifest.verify(path.parent, entry)
    except manifest.ManifestError as error:
        raise CliError(f"{error}: nothing imported") from None
    with connect(args.dsn) as db:
        require_extension(db)
        row = import_file(db, entry, data, args.into)
    if args.format != "table":
        write_flat(sys.stdout, args.format, [row])
    else:
        print_rows(console, "import", [row], list(row))
    return 0


def _target(db: Client, entry: manifest.Manifest, into: str | None) -> tuple[int, dict[str, Any]]:
    name = into or entry.parent
    oid = db.relation(name)
    if oid is None:
        raise CliError(f"table {name} does not exist: nothing imported")
    parent = db.query(_PARENT_SQL, oid)[0]
    if parent["kind"] != "p":
        raise CliError(f"{name} is not a partitioned table: nothing imported")
    if not parent["safe"]:
        raise CliError(f"connect as {parent['owner']}, the owner of {name}: loading rows runs its triggers, defaults "
                       "and CHECK constraints, which must not run with another role's rights; nothing imported")
    have = {c["name"]: c["type"] for c in db.query(COLUMNS_SQL, oid)}
    for column, kind in entry.columns:
        if have.get(column) != kind:
            found = f"is of type {have[column]}" if column in have else "does not exist"
            raise CliError(f"column {column} of the file is of type {kind}, in {name} it {found}: nothing imported")
    return oid, parent


def import_file(db: Client, entry: manifest.Manifest, data: Path, into: str | None) -> dict[str, Any]:
    oid, parent = _target(db, entry, into)
    label = f"{parent['schema']}.{parent['name']}"
    columns = ", ".join(quote_ident(c[0]) for c in entry.columns)
    with db.conn.transaction():
        pin_session(db)
        made = db.value("SELECT steward.prepare_partition_import($1::pg_catalog.int8::pg_catalog.oid::"
                        "pg_catalog.regclass, $2, $3)::pg_catalog.oid::pg_catalog.int8", oid,
                        entry.range_from, entry.range_to)
        where = db.query(_NAME_SQL, made)[0]
        table = qualified(where["schema"], where["name"])
        before = db.value(f"SELECT pg_catalog.count(*) AS n FROM {table}")
        with db.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT text)") as copy:
            for chunk in manifest.decompressed(data):
                copy.write(chunk)
        after = db.value(f"SELECT pg_catalog.count(*) AS n FROM {table}")
        if after - before != entry.rows:
            raise CliError(f"{after - before} rows loaded, the manifest says {entry.rows}: nothing imported")
    return {"table": label, "partition": f"{where['schema']}.{where['name']}", "rows": entry.rows,
            "moved_from_default": before, "range_from": entry.range_from, "range_to": entry.range_to,
            "exported_at": entry.created_at}
