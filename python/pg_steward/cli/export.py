"""``pg-steward export``: the expired partitions of tables in retention mode export, written to files, then retired.

For each partition ``steward.export_candidates`` lists: its rows are copied
out (``COPY (SELECT ...) TO STDOUT``, text format: see cli/manifest.py) into a
gzip file under a temporary name, fsync'ed and renamed; the file is read back
(SHA-256, decompressed, rows counted); the manifest is written beside it; then
``steward.record_partition_export`` counts the partition's rows again under
its lock and, when they match, records the export and drops (or detaches)
the partition. All of it is one transaction that holds SHARE on the partition
from before the COPY (within the table's lock_timeout): no row can be added,
changed or removed between the copy and the drop (writers of that partition
wait; its readers do not), and a step that fails rolls everything back.
``--dry-run`` lists what would be exported and retired and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import sys
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from pg_steward.cli import manifest
from pg_steward.cli.connect import Client, CliError, connect, describe, require_extension
from pg_steward.cli.output import FORMATS, print_rows, write_flat
from pg_steward.sqltext import qualified, quote_ident

COLUMNS = ["table", "partition", "rows", "file", "action", "ok", "detail"]

_CANDIDATES_SQL = """
SELECT e.parent_table::pg_catalog.oid::pg_catalog.int8 AS parent,
       e.partition::pg_catalog.oid::pg_catalog.int8 AS oid,
       e.range_from, e.range_to, pn.nspname::pg_catalog.text AS parent_schema,
       pc.relname::pg_catalog.text AS parent_name,
       n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name
FROM steward.export_candidates($1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass) AS e
JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) e.partition::pg_catalog.oid
JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
JOIN pg_catalog.pg_class AS pc ON pc.oid OPERATOR(pg_catalog.=) e.parent_table::pg_catalog.oid
JOIN pg_catalog.pg_namespace AS pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace
"""

# The columns a COPY can write back: not dropped, not generated (PostgreSQL computes those again on import).
COLUMNS_SQL = """
SELECT a.attname::pg_catalog.text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
FROM pg_catalog.pg_attribute AS a
WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid
  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) ''
ORDER BY a.attnum
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export", help="write expired partitions (retention mode export) to verified files, then retire them",
        description="For each expired partition of a table in retention mode export: COPY it to a gzip file "
        "with a manifest (row count, SHA-256), read the file back to verify it, then record the export, which "
        "drops (or detaches) the partition once its rows are counted again. Load a file back with pg-steward import.")
    parser.add_argument("table", nargs="?", metavar="TABLE", help="only this managed table")
    parser.add_argument("--dir", required=True, type=Path, metavar="DIR", help="directory the files are written to")
    parser.add_argument("--then", choices=("drop", "detach"), default="drop", dest="then_mode",
                        help="what becomes of a partition once its export is recorded (default: drop)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be exported and retired; write nothing")
    parser.add_argument("--dsn", required=True, help="the database")
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace, console: Console, err: Console) -> int:
    if not args.dry_run and not args.dir.is_dir():
        raise CliError(f"--dir {args.dir} is not a directory")
    with connect(args.dsn) as db:
        require_extension(db)
        rows = export_all(db, args.table, args.dir.resolve(), args.then_mode, args.dry_run, err)
    if args.format != "table":
        write_flat(sys.stdout, args.format, rows)
    elif not rows:
        console.print("export: no partition awaits export")
    else:
        print_rows(console, "export", rows, COLUMNS)
    return 0 if all(r["ok"] for r in rows) else 1


def export_all(db: Client, table: str | None, directory: Path, then_mode: str, dry_run: bool,
               err: Console) -> list[dict[str, Any]]:
    oid = None
    if table is not None:
        oid = db.relation(table)
        if oid is None:
            raise CliError(f"table {table} does not exist")
    out = []
    for part in db.query(_CANDIDATES_SQL, oid):
        name = f"{part['schema']}.{part['name']}"
        parent = qualified(part["parent_schema"], part["parent_name"])
        if dry_run:
            out.append(_row(parent, name, None, None, f"would export, then {then_mode}", True,
                            f"{part['range_from']} to {part['range_to']}"))
            continue
        err.print(f"exporting {name}", markup=False, highlight=False)
        try:
            out.append(export_one(db, part, parent, directory, then_mode))
        except (psycopg.Error, manifest.ManifestError, OSError) as error:  # this one stays; the others go on
            out.append(_row(parent, name, None, None, "export", False, describe(error)))
    return out


def _row(table: str, partition: str, rows: int | None, file: str | None, action: str, ok: bool,
         detail: str | None) -> dict[str, Any]:
    return {"table": table, "partition": partition, "rows": rows, "file": file, "action": action, "ok": ok,
            "detail": detail}


def pin_session(db: Client) -> None:
    """The text formats of both ends (manifest.SESSION_SETTINGS), for the rest of the transaction."""
    for name, value in manifest.SESSION_SETTINGS:
        db.query("SELECT pg_catalog.set_config($1, $2, true)", name, value)


_LOCK_TIMEOUT_SQL = """
SELECT (pg_catalog.date_part('epoch', c.lock_timeout) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 AS ms
FROM steward.partition_config AS c WHERE c.parent OPERATOR(pg_catalog.=) $1::pg_catalog.int8::pg_catalog.oid
"""


def freeze(db: Client, part: dict[str, Any]) -> None:
    """SHARE on the partition, within the table's lock_timeout: its rows stay as they are until the transaction
    ends (writers wait; readers go on), so the file holds exactly the rows that are then dropped."""
    ms = db.value(_LOCK_TIMEOUT_SQL, part["parent"]) or 2000
    db.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", f"{int(ms)}ms")
    db.execute(f"LOCK TABLE ONLY {qualified(part['schema'], part['name'])} IN SHARE MODE")
    db.query("SELECT pg_catalog.set_config('lock_timeout', '0', true)")


def copy_out(db: Client, part: dict[str, Any], columns: list[list[str]], data: Path) -> int:
    """The partition's rows into ``data`` (gzip, atomic); the rows written. Runs in the caller's transaction,
    after ``freeze``."""
    # Not ONLY: a sub-partitioned partition's rows are in the partitions below it (a partition has no other
    # children), and record_partition_export counts them all.
    select = (f"COPY (SELECT {', '.join(quote_ident(c[0]) for c in columns)} "
              f"FROM {qualified(part['schema'], part['name'])}) TO STDOUT (FORMAT text)")
    rows = 0
    with manifest.atomic_file(data) as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed, db.conn.cursor() as cursor:
            with cursor.copy(select) as copy:
                for chunk in copy:
                    packed.write(chunk)
                    rows += bytes(chunk).count(b"\n")
    return rows


def export_one(db: Client, part: dict[str, Any], parent: str, directory: Path, then_mode: str) -> dict[str, Any]:
    """One partition, in one transaction: frozen (SHARE), copied, the file read back, its manifest written, its
    export recorded (which retires it). Whatever fails rolls the transaction back: nothing is retired."""
    name = f"{part['schema']}.{part['name']}"
    stem = manifest.base_name(part["schema"], part["name"])
    data = directory / (stem + manifest.DATA_SUFFIX)
    with db.conn.transaction():
        pin_session(db)
        freeze(db, part)
        columns = [[c["name"], c["type"]] for c in db.query(COLUMNS_SQL, part["oid"])]
        rows = copy_out(db, part, columns, data)
        sha, counted = manifest.file_digest(data)  # read back: what is on disk is what was copied
        if counted != rows:
            raise manifest.ManifestError(f"{data}: {counted} rows read back, {rows} copied")
        entry = manifest.Manifest(
            parent=parent, partition=qualified(part["schema"], part["name"]), range_from=part["range_from"],
            range_to=part["range_to"], columns=columns, rows=rows, sha256=sha, data_file=data.name,
            server_version=db.value("SELECT pg_catalog.current_setting('server_version') AS v"),
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        written = manifest.write_manifest(directory, entry, stem)
        manifest.verify(directory, manifest.read(written))
        done = db.query("SELECT action, detail FROM steward.record_partition_export("
                        "$1::pg_catalog.int8::pg_catalog.oid::pg_catalog.regclass, $2::pg_catalog.int8, $3, $4, $5)",
                        part["oid"], rows, sha, str(data), then_mode)
    return _row(parent, name, rows, str(data), done[0]["action"], True, done[0]["detail"])
