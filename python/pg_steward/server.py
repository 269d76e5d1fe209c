"""What the connected server offers: its version, and the columns of a catalog view or relation.

The one place where pg_steward asks which PostgreSQL it runs on. Code that
reads a view whose columns changed between majors (pg_stat_statements,
pg_stat_bgwriter / pg_stat_checkpointer, pg_stat_all_indexes) asks here for
the columns the view really has, and picks by them: a server's version says
what a view should have, the catalog says what it has (an extension not
updated after pg_upgrade keeps its older view).
"""

from __future__ import annotations

from pg_steward.db import Database


def version_num(db: Database) -> int:
    """``server_version_num``: 150010, 170011, 180006, ..."""
    return int(db.query("SELECT pg_catalog.current_setting('server_version_num')::int AS v")[0]["v"])


def columns(db: Database, relation: str) -> set[str]:
    """The column names of ``relation`` (a name as ``to_regclass`` reads it), empty when there is none."""
    rows = db.query("SELECT a.attname::text AS name FROM pg_catalog.pg_attribute a "
                    "WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                    relation)
    return {r["name"] for r in rows}
