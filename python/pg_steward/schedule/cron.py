"""Where pg_cron is and how to talk to it: in this database, or in another one through dblink.

pg_cron runs in one database per server (``cron.database_name``) and keeps
every job there. From that database pg_steward calls ``cron.schedule``;
from any other it reaches that database through dblink and calls
``cron.schedule_in_database`` (pg_cron 1.4+), which runs the job here.
Statements sent to pg_cron return their rows as one JSON text, so the same
code reads them locally and through dblink.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pg_steward.db import Database, Row
from pg_steward.errors import INVALID_PARAMETER_VALUE, OBJECT_NOT_IN_PREREQUISITE_STATE, StewardError
from pg_steward.sqltext import quote_ident

CONNINFO_SETTING = "steward.cron_conninfo"


@dataclass(frozen=True)
class CronSite:
    database: str  # cron.database_name: where pg_cron keeps its jobs
    here: str  # current_database()
    dblink: str | None  # the schema of dblink, when pg_cron is elsewhere
    conninfo: str | None

    @property
    def local(self) -> bool:
        return self.database == self.here


def conninfo_value(value: str) -> str:
    """A libpq connection-string value, quoted (spaces, quotes and backslashes are safe)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo_keywords(conninfo: str) -> set[str]:
    """The keywords a libpq connection string sets, lower-cased; ``password`` for a password in a URI.

    Reads both forms libpq accepts: ``key=value`` pairs (values bare or single-quoted with backslash escapes)
    and ``postgresql://user:password@host/db?key=value`` URIs. A text libpq would reject may give a partial set;
    it fails at connection time anyway.
    """
    text = conninfo.strip()
    if text.startswith(("postgresql://", "postgres://")):
        rest = text.split("://", 1)[1]
        authority, _, query = rest.partition("?")
        authority = authority.split("/", 1)[0]
        found = set()
        if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
            found.add("password")
        for pair in query.split("&"):
            key = unquote(pair.partition("=")[0]).strip().lower()
            if key:
                found.add(key)
        return found
    keywords = set()
    position, length = 0, len(text)
    while position < length:
        while position < length and text[position].isspace():
            position += 1
        start = position
        while position < length and text[position] != "=" and not text[position].isspace():
            position += 1
        key = text[start:position].lower()
        while position < length and text[position].isspace():
            position += 1
        if position >= length or text[position] != "=":
            break
        position += 1
        while position < length and text[position].isspace():
            position += 1
        if position < length and text[position] == "'":
            position += 1
            while position < length and text[position] != "'":
                position += 2 if text[position] == "\\" else 1
            position += 1
        else:
            while position < length and not text[position].isspace():
                position += 2 if text[position] == "\\" else 1
        if key:
            keywords.add(key)
    return keywords


def refuse_password(conninfo: str) -> None:
    """A password in ``steward.cron_conninfo`` is readable by every role: refused, with the way that needs none."""
    if "password" not in conninfo_keywords(conninfo):
        return
    raise StewardError(
        f"{CONNINFO_SETTING} holds a password, which every role can read", INVALID_PARAMETER_VALUE,
        detail="Settings made with ALTER ROLE or ALTER DATABASE are in pg_db_role_setting, which any role may "
               "read; a session's settings are shown by SHOW to any role.",
        hint=f"Remove it (ALTER ROLE ... RESET {CONNINFO_SETTING}) and change that password. To schedule a job "
             "that runs as a role without superuser rights, have a superuser call steward.schedule(job, "
             "run_as => 'role'): no password is stored (see extension/schedule.md).",
    )


def default_conninfo(database: str, user: str, port: str, socket_dirs: str) -> str:
    """Connection to ``database`` on this server: its first Unix socket, else localhost."""
    first = socket_dirs.split(",")[0].strip() if socket_dirs else ""
    host = first or "localhost"
    parts = {"dbname": database, "user": user, "port": port, "host": host,
             "application_name": "pg_steward schedule"}
    return " ".join(f"{k}={conninfo_value(v)}" for k, v in parts.items())


# cron.database_name is defined by pg_cron itself (not a placeholder from postgresql.conf) only when it is preloaded.
_LOADED = ("EXISTS (SELECT FROM pg_catalog.pg_settings "
           "WHERE name = 'cron.database_name' AND context = 'postmaster')")


# pg_cron's settings are for superusers and pg_read_all_settings only: pg_settings hides them from other roles.
_PRELOADED_SQL = f"""
SELECT {_LOADED} AS loaded,
       EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') AS created_here,
       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
         OR pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') AS reads_settings
"""


def cron_preloaded(db: Database) -> bool | None:
    """Whether pg_cron runs on this server (is in shared_preload_libraries); None when this role cannot tell."""
    row = db.query(_PRELOADED_SQL)[0]
    if row["loaded"] or row["created_here"]:
        return True
    return False if row["reads_settings"] else None


_STATE_SQL = f"""
SELECT pg_catalog.current_database() AS here,
       pg_catalog.current_setting('cron.database_name', true) AS cron_database,
       {_LOADED} AS loaded,
       (SELECT extnamespace::regnamespace::text FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') AS cron_here,
       (SELECT extnamespace::regnamespace::text FROM pg_catalog.pg_extension WHERE extname = 'dblink') AS dblink,
       pg_catalog.current_setting($1, true) AS conninfo,
       current_user AS username,
       pg_catalog.current_setting('port') AS port,
       pg_catalog.current_setting('unix_socket_directories') AS sockets
"""


def locate(db: Database) -> CronSite:
    """pg_cron's database and the way to reach it; a clear error saying what to set when there is none."""
    state = db.query(_STATE_SQL, CONNINFO_SETTING)[0]
    if state["cron_database"] is None or not state["loaded"]:
        raise StewardError(
            "pg_cron is not running on this server", OBJECT_NOT_IN_PREREQUISITE_STATE,
            detail="pg_steward schedules its jobs with pg_cron, which must be preloaded.",
            hint="Set shared_preload_libraries = 'pg_cron' and cron.database_name = '<database>' in "
                 "postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_cron in that database.",
        )
    site = CronSite(state["cron_database"], state["here"], state["dblink"], None)
    if site.local:
        if state["cron_here"] is None:
            raise StewardError(
                f"pg_cron is preloaded but not created in database {site.database}",
                OBJECT_NOT_IN_PREREQUISITE_STATE, hint="Run CREATE EXTENSION pg_cron in this database.")
        return site
    if site.dblink is None:
        raise StewardError(
            f"pg_cron runs in database {site.database}; scheduling from {site.here} needs dblink",
            OBJECT_NOT_IN_PREREQUISITE_STATE,
            detail="pg_steward reaches pg_cron's database through dblink and calls cron.schedule_in_database.",
            hint=f"Run CREATE EXTENSION dblink in database {site.here}; set {CONNINFO_SETTING} if the "
                 f"connection to {site.database} needs more than host, port and user.",
        )
    if state["conninfo"]:
        refuse_password(state["conninfo"])
    conninfo = state["conninfo"] or default_conninfo(site.database, state["username"], state["port"],
                                                     state["sockets"])
    return CronSite(site.database, site.here, site.dblink, conninfo)


def cron_rows(db: Database, site: CronSite, sql: str) -> list[Row]:
    """Rows of ``sql`` run in pg_cron's database (``sql`` holds only literals we quoted)."""
    wrapped = f"SELECT coalesce(pg_catalog.json_agg(q), '[]')::text AS result FROM ({sql}) AS q"
    if site.local:
        text = db.query(wrapped)[0]["result"]
    else:
        assert site.dblink is not None and site.conninfo is not None
        text = db.query(
            f"SELECT result FROM {quote_ident(site.dblink)}.dblink($1, $2) AS t(result text)",
            site.conninfo, wrapped,
        )[0]["result"]
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def check_cron_extension(db: Database, site: CronSite) -> None:
    """pg_cron must be created in its database (checked there, through dblink when remote)."""
    if site.local:
        return
    found = cron_rows(db, site, "SELECT 1 AS ok FROM pg_catalog.pg_extension WHERE extname = 'pg_cron'")
    if not found:
        raise StewardError(
            f"pg_cron is preloaded but not created in database {site.database}",
            OBJECT_NOT_IN_PREREQUISITE_STATE, hint=f"Run CREATE EXTENSION pg_cron in database {site.database}.")
