"""Upgrade scripts: ALTER EXTENSION UPDATE must give exactly what CREATE EXTENSION gives.

extension/build.py builds pg_steward--A--CURRENT.sql for every released version A
(its frozen script is in extension/released/). For each: install version A,
update to CURRENT, and compare the catalogs (catalog_snapshot.snapshot) with a
fresh install of CURRENT; with data in every table of A, the update keeps it.
Every released version must also reach the current default_version through the
installed upgrade scripts. See docs/RELEASING.md.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import ROOT, extension_build, pg_config
from support.catalog_snapshot import diff, snapshot, strays

EXTENSION = "pg_steward"
RELEASED_DIR = ROOT / "extension" / "released"
CONTROL = ROOT / f"{EXTENSION}.control"
INSTALLED_DIR = Path(pg_config("--sharedir")) / "extension"
PKGLIBDIR = pg_config("--pkglibdir")


# --- File names and the upgrade graph (pure functions) ------------------------------------------------------------


def default_version(control_text: str) -> str:
    match = re.search(r"^\s*default_version\s*=\s*'([^']+)'", control_text, re.MULTILINE)
    assert match, "no default_version in the control file"
    return match.group(1)


def parse_upgrade(name: str, extension: str = EXTENSION) -> tuple[str, str] | None:
    """``pg_steward--A--B.sql`` -> ("A", "B"); None for any other name.

    PostgreSQL's rules: a version is not empty, contains no "--" and neither
    starts nor ends with "-" (so the split is unambiguous).
    """
    prefix, suffix = f"{extension}--", ".sql"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    parts = name[len(prefix) : -len(suffix)].split("--")
    if len(parts) != 2 or not all(_valid_version(v) for v in parts) or parts[0] == parts[1]:
        return None
    return parts[0], parts[1]


def parse_released(name: str, extension: str = EXTENSION) -> str | None:
    """``pg_steward--A.sql`` -> "A"; None for any other name (upgrade scripts included)."""
    prefix, suffix = f"{extension}--", ".sql"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    version = name[len(prefix) : -len(suffix)]
    return version if _valid_version(version) else None


def _valid_version(version: str) -> bool:
    return bool(version) and "--" not in version and not version.startswith("-") and not version.endswith("-") \
        and "/" not in version


def upgrade_edges(names: Iterable[str], extension: str = EXTENSION) -> dict[str, set[str]]:
    """The upgrade graph of a set of file names: version -> versions one script away."""
    edges: dict[str, set[str]] = {}
    for name in names:
        parsed = parse_upgrade(name, extension)
        if parsed:
            edges.setdefault(parsed[0], set()).add(parsed[1])
    return edges


def update_path(edges: dict[str, set[str]], source: str, target: str) -> list[str] | None:
    """The shortest chain of versions from source to target ([source] when equal), or None.

    Breadth first, as PostgreSQL chooses (fewest scripts).
    """
    previous: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        version = queue.popleft()
        if version == target:
            path = []
            step: str | None = version
            while step is not None:
                path.append(step)
                step = previous[step]
            return path[::-1]
        for following in sorted(edges.get(version, ())):
            if following not in previous:
                previous[following] = version
                queue.append(following)
    return None


def stranded_versions(released: Iterable[str], upgrade_names: Iterable[str], target: str) -> list[str]:
    """Released versions from which no chain of upgrade scripts leads to ``target``."""
    edges = upgrade_edges(upgrade_names)
    return sorted(v for v in set(released) if update_path(edges, v, target) is None)


# --- The tree ----------------------------------------------------------------------------------------------------


CURRENT = default_version(CONTROL.read_text())


def _sql_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.sql")) if directory.is_dir() else []


RELEASED_FILES = _sql_files(RELEASED_DIR)
RELEASED = sorted(v for v in map(parse_released, RELEASED_FILES) if v)
# What the build makes: one upgrade script from every released version to the current one.
UPGRADE_FILES = [f"{EXTENSION}--{v}--{CURRENT}.sql" for v in RELEASED if v != CURRENT]


def built_upgrade(name: str) -> bytes:
    """The text extension/build.py makes for upgrade script ``name``, with this server's pkglibdir."""
    parsed = parse_upgrade(name)
    assert parsed, name
    return extension_build().script(parsed[1], parsed[0], PKGLIBDIR).encode()


def released_script(version: str) -> bytes:
    """A frozen script as the Makefile installs it: its install location filled in."""
    frozen = (RELEASED_DIR / f"{EXTENSION}--{version}.sql").read_text()
    return frozen.replace("@PKGLIBDIR@", PKGLIBDIR).encode()


def assert_installed(name: str, expected: bytes | Path | None) -> None:
    """Script ``name`` is in the installed extension directory (and, given what it must hold, identical)."""
    installed = INSTALLED_DIR / name
    assert installed.is_file(), (
        f"{name} is not installed in {INSTALLED_DIR}: the installed pg_steward is stale; run `make install`"
    )
    if expected is not None:
        want = expected.read_bytes() if isinstance(expected, Path) else expected
        assert installed.read_bytes() == want, (
            f"{installed} differs from what the tree builds: the installed pg_steward is stale; run `make install`"
        )


def assert_install_is_current() -> None:
    assert_installed(f"{EXTENSION}.control", CONTROL)
    assert_installed(f"{EXTENSION}--{CURRENT}.sql", None)


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def _create(conn: psycopg.Connection, version: str | None = None) -> None:
    if version is None:
        conn.execute(sql.SQL("CREATE EXTENSION {} CASCADE").format(sql.Identifier(EXTENSION)))
    else:
        conn.execute(
            sql.SQL("CREATE EXTENSION {} VERSION {} CASCADE").format(sql.Identifier(EXTENSION), sql.Literal(version))
        )


def _installed_version(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s", [EXTENSION]).fetchone()[0]


def _fresh_snapshot(new_database: Callable[..., str], version: str) -> dict:
    with _connect(new_database(extension=False)) as conn:
        _create(conn, version)
        assert _installed_version(conn) == version
        assert strays(conn) == [], "a fresh install leaves objects in schema steward that are not members"
        return snapshot(conn)


def _assert_same(upgraded: dict, fresh: dict, what: str) -> None:
    differences = diff(upgraded, fresh, names=("upgraded", "fresh"))
    assert not differences, f"{what} differs from a fresh install:\n" + "\n".join(differences)


# --- The upgrade scripts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", UPGRADE_FILES, ids=lambda name: name.removeprefix(f"{EXTENSION}--")[:-4])
def test_upgrade_gives_what_a_fresh_install_gives(script: str, new_database: Callable[..., str]) -> None:
    parsed = parse_upgrade(script)
    assert parsed, f"{script}: not a {EXTENSION}--OLD--NEW.sql name"
    source, target = parsed
    assert source in RELEASED, (
        f"{script} upgrades from {source}, which has no frozen script extension/released/{EXTENSION}--{source}.sql: "
        "copy the built script of that release there (docs/RELEASING.md)"
    )
    assert target in RELEASED or target == CURRENT, (
        f"{script} upgrades to {target}, which is neither released (extension/released/) "
        f"nor the default_version {CURRENT} of {CONTROL.name}"
    )
    assert_install_is_current()
    assert_installed(script, built_upgrade(script))
    assert_installed(f"{EXTENSION}--{source}.sql", released_script(source))
    # Without its own full script, CREATE EXTENSION ... VERSION target would itself run an upgrade chain.
    assert_installed(f"{EXTENSION}--{target}.sql", released_script(target) if target != CURRENT else None)

    with _connect(new_database(extension=False)) as conn:
        _create(conn, source)
        assert _installed_version(conn) == source
        conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(sql.Identifier(EXTENSION), sql.Literal(target)))
        assert _installed_version(conn) == target
        upgraded = snapshot(conn)
        leftovers = strays(conn)

    _assert_same(upgraded, _fresh_snapshot(new_database, target), f"{source} updated to {target}")
    assert leftovers == [], f"{source} updated to {target} leaves objects that belong to no extension: {leftovers}"


@pytest.mark.parametrize("version", [v for v in RELEASED if v != CURRENT])
def test_released_version_updates_to_the_default_version(version: str, new_database: Callable[..., str]) -> None:
    """ALTER EXTENSION pg_steward UPDATE (no TO: the default_version) from every release, along PostgreSQL's path."""
    assert_install_is_current()
    assert_installed(f"{EXTENSION}--{version}.sql", released_script(version))
    path = update_path(upgrade_edges(UPGRADE_FILES), version, CURRENT)
    assert path, f"no chain of built upgrade scripts leads from {version} to {CURRENT}"
    for step_from, step_to in itertools.pairwise(path):
        script = f"{EXTENSION}--{step_from}--{step_to}.sql"
        assert_installed(script, built_upgrade(script))
    with _connect(new_database(extension=False)) as conn:
        _create(conn, version)
        conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE").format(sql.Identifier(EXTENSION)))
        assert _installed_version(conn) == CURRENT
        upgraded = snapshot(conn)
    _assert_same(upgraded, _fresh_snapshot(new_database, CURRENT), f"{version} updated to {CURRENT}")


# Rows for every table of 0.1.0, written as a user of 0.1.0 would have them (plain SQL: the 0.1.0 Python
# package is not installed here, so its functions cannot run).
POPULATE_0_1_0 = """
CREATE TABLE public.events (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;
INSERT INTO public.events VALUES (1, '2026-01-05 10:00+00');
INSERT INTO steward.partition_config (parent, span, premake, retention, time_zone)
    VALUES ('public.events', '1 month', 2, '1 year', 'Europe/Paris');
INSERT INTO steward.partition_maintenance_log (parent, action, partition, ok, rows_moved, detail)
    VALUES ('public.events', 'create', 'public.events_p2026_01', true, 1, 'from 0.1.0');
INSERT INTO steward.query_performance_log (query_hash, query_text, execution_time_ms, fingerprint, source)
    VALUES ('h1', 'SELECT 1', 12.5, 'f1', 'manual');
INSERT INTO steward.query_capture_settings (slow_mean_time_ms) VALUES (250);
INSERT INTO steward.query_stats_snapshot (captured_at, server_started_at, server_version, entries)
    VALUES ('2026-11-30 00:00+00', '2026-11-01 00:00+00', 150000, 1);
INSERT INTO steward.query_stats_snapshot_entry (snapshot_id, captured_at, userid, dbid, toplevel, queryid, calls,
                                                total_exec_time)
    SELECT snapshot_id, captured_at, 10, 1, true, 42, 7, 99.5 FROM steward.query_stats_snapshot;
INSERT INTO steward.health_thresholds (check_name, warning, critical, note) VALUES ('connections', 70, 90, 'ours');
"""


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                       "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [table]).fetchall()]


def _table_digests(conn: psycopg.Connection,
                   columns: dict[str, list[str]] | None = None) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the rows of every table of the extension (of ``columns`` of each table, by
    default all of them: columns a version adds are not data an update could lose)."""
    tables = [r[0] for r in conn.execute(
        "SELECT c.oid::regclass::text FROM pg_depend d JOIN pg_class c ON c.oid = d.objid "
        "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass "
        "AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s) AND d.deptype = 'e' "
        "AND c.relkind IN ('r', 'p') ORDER BY 1", [EXTENSION]).fetchall()]
    chosen = columns or {table: _columns(conn, table) for table in tables}
    return {table: conn.execute(sql.SQL(
        "SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
        "FROM (SELECT {} FROM {}) AS t").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in chosen.get(table, _columns(conn, table))),
            sql.SQL(table))).fetchone() for table in tables}


@pytest.mark.parametrize("version", [v for v in RELEASED if v == "0.1.0"])
def test_update_keeps_the_data_of_every_table(version: str, new_database: Callable[..., str]) -> None:
    """0.1.0 with rows in every one of its tables, updated: every row is still there, and 0.2.0 works on them."""
    assert_install_is_current()
    with _connect(new_database(extension=False)) as conn:
        _create(conn, version)
        conn.execute(POPULATE_0_1_0)
        before = _table_digests(conn)
        columns = {table: _columns(conn, table) for table in before}
        assert [t for t, (count, _) in before.items() if count == 0] == [], "a table of 0.1.0 is left empty"
        conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE").format(sql.Identifier(EXTENSION)))
        assert _installed_version(conn) == CURRENT
        after = _table_digests(conn, columns)
        assert {t: after.get(t) for t in before} == before
        # The current version's functions run on what 0.1.0 left.
        assert conn.execute("SELECT sql_version, python_version FROM steward.version()").fetchone() == (
            CURRENT, CURRENT)
        leaves = conn.execute("SELECT count(*) FROM steward.partitions('public.events') WHERE is_leaf").fetchone()
        assert leaves[0] >= 1
        assert conn.execute("SELECT count(*) FROM steward.slow_queries('100 years')").fetchone()[0] == 1


def test_every_released_version_reaches_the_default_version() -> None:
    stranded = stranded_versions(RELEASED, UPGRADE_FILES, CURRENT)
    assert stranded == [], (
        f"no chain of built upgrade scripts leads from {stranded} to the default_version {CURRENT}"
    )


def test_upgrade_and_released_file_names() -> None:
    assert not (ROOT / "extension" / "upgrades").exists(), (
        "upgrade scripts are built by extension/build.py, not written: extension/upgrades/ must not exist"
    )
    bad_released = [name for name in RELEASED_FILES if parse_released(name) is None or parse_upgrade(name)]
    assert bad_released == [], f"extension/released/ holds files not named {EXTENSION}--VERSION.sql"
    # The Makefile builds pg_steward--CURRENT.sql; a frozen copy of it would be installed over it.
    assert CURRENT not in RELEASED, (
        f"extension/released/{EXTENSION}--{CURRENT}.sql freezes the current default_version: "
        f"bump default_version first (docs/RELEASING.md)"
    )


def test_upgrade_and_released_scripts_are_installed() -> None:
    assert_install_is_current()
    for name in UPGRADE_FILES:
        assert_installed(name, built_upgrade(name))
    for version in RELEASED:
        assert_installed(f"{EXTENSION}--{version}.sql", released_script(version))


def test_postgres_finds_the_same_update_paths(new_database: Callable[..., str]) -> None:
    """pg_extension_update_paths() (over the installed scripts) agrees with the walk over the tree's file names."""
    versions = {*RELEASED, CURRENT}
    edges = upgrade_edges(UPGRADE_FILES)
    with _connect(new_database(extension=False)) as conn:
        rows = conn.execute("SELECT source, target, path FROM pg_extension_update_paths(%s)", [EXTENSION]).fetchall()
    seen = set()
    for source, target, path in rows:
        if source in versions and target in versions:
            seen.add((source, target))
            ours = update_path(edges, source, target)
            theirs = path.split("--") if path else None
            assert (ours is None) == (theirs is None), (
                f"{source} -> {target}: PostgreSQL finds {path!r}, the tree's scripts give {ours}; "
                "is the installed extension stale (make install)?"
            )
    missing = {(s, t) for s in versions for t in versions if s != t} - seen
    assert not missing, f"versions PostgreSQL does not know (stale install? run make install): {sorted(missing)}"


# --- The path walk, on made-up names -------------------------------------------------------------------------------


def test_parse_names() -> None:
    assert parse_upgrade("pg_steward--0.1.0--0.2.0.sql") == ("0.1.0", "0.2.0")
    assert parse_upgrade("pg_steward--1.0-beta1--1.0.sql") == ("1.0-beta1", "1.0")
    assert parse_upgrade("pg_steward--0.1.0.sql") is None
    assert parse_upgrade("pg_steward--0.1.0--0.2.0--0.3.0.sql") is None
    assert parse_upgrade("pg_steward--0.1.0--0.1.0.sql") is None
    assert parse_upgrade("pg_steward--0.1.0--.sql") is None
    assert parse_upgrade("other--0.1.0--0.2.0.sql") is None
    assert parse_upgrade("pg_steward--0.1.0--0.2.0.sql.orig") is None
    assert parse_released("pg_steward--0.1.0.sql") == "0.1.0"
    assert parse_released("pg_steward--0.1.0--0.2.0.sql") is None
    assert parse_released("pg_steward.control") is None
    assert default_version("comment = 'x'\ndefault_version = '1.2.3'\n") == "1.2.3"


def test_no_upgrades_and_nothing_released_is_trivially_fine() -> None:
    assert stranded_versions([], [], "0.1.0") == []
    assert stranded_versions(["0.1.0"], [], "0.1.0") == []
    assert update_path({}, "0.1.0", "0.1.0") == ["0.1.0"]


def test_walk_follows_chains_and_finds_gaps() -> None:
    names = [
        "pg_steward--0.1.0--0.2.0.sql",
        "pg_steward--0.2.0--0.3.0.sql",
        "pg_steward--0.3.0--0.2.0.sql",  # a downgrade: a way back, not forward
        "pg_steward--0.4.0--0.5.0.sql",
        "pg_steward--0.1.0.sql",  # not an upgrade script: ignored
        "README.md",
    ]
    assert stranded_versions(["0.1.0", "0.2.0"], names, "0.3.0") == []
    assert stranded_versions(["0.1.0", "0.2.0", "0.4.0"], names, "0.5.0") == ["0.1.0", "0.2.0"]
    assert stranded_versions(["0.1.0", "0.2.0", "0.3.0", "0.5.0"], names, "0.4.0") == ["0.1.0", "0.2.0", "0.3.0",
                                                                                      "0.5.0"]
    assert stranded_versions(["0.3.0"], names, "0.2.0") == []  # downgrades count when they are the way
    assert update_path(upgrade_edges(names), "0.1.0", "0.3.0") == ["0.1.0", "0.2.0", "0.3.0"]


def test_walk_takes_the_shortest_path_and_survives_cycles() -> None:
    names = [
        "pg_steward--1.0--1.1.sql",
        "pg_steward--1.1--1.2.sql",
        "pg_steward--1.2--1.0.sql",
        "pg_steward--1.0--1.2.sql",
        "pg_steward--1.2--2.0.sql",
    ]
    edges = upgrade_edges(names)
    assert update_path(edges, "1.0", "2.0") == ["1.0", "1.2", "2.0"]
    assert update_path(edges, "1.1", "1.0") == ["1.1", "1.2", "1.0"]
    assert update_path(edges, "2.0", "1.0") is None
    assert stranded_versions(["1.0", "1.1", "1.2", "2.0"], names, "3.0") == ["1.0", "1.1", "1.2", "2.0"]


# --- The snapshot itself -------------------------------------------------------------------------------------------

# Members of every kind the snapshot describes, for databases where the extension itself has none yet.
EXTRA_MEMBERS = """
CREATE FUNCTION steward.extra_touch() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$ BEGIN NEW.touched := now(); RETURN NEW; END $$;
CREATE TYPE steward.extra_mood AS ENUM ('calm', 'busy');
CREATE DOMAIN steward.extra_positive AS integer NOT NULL DEFAULT 1 CONSTRAINT extra_positive_check CHECK (VALUE > 0);
CREATE TYPE steward.extra_pair AS (low integer, high integer);
CREATE TYPE steward.extra_range AS RANGE (subtype = bigint);
CREATE TABLE steward.extra_t (
    id bigserial PRIMARY KEY,
    mood steward.extra_mood NOT NULL DEFAULT 'calm',
    weight steward.extra_positive,
    name text COLLATE "C" CHECK (name <> ''),
    touched timestamptz,
    UNIQUE (name)
) WITH (fillfactor = 90);
CREATE INDEX extra_t_touched ON steward.extra_t (touched) WHERE touched IS NOT NULL;
CREATE TRIGGER extra_t_touch BEFORE UPDATE ON steward.extra_t FOR EACH ROW EXECUTE FUNCTION steward.extra_touch();
ALTER TABLE steward.extra_t ENABLE ROW LEVEL SECURITY;
CREATE POLICY extra_t_calm ON steward.extra_t FOR SELECT USING (mood = 'calm');
CREATE VIEW steward.extra_v WITH (security_barrier) AS SELECT id, name FROM steward.extra_t WHERE weight > 1;
CREATE SEQUENCE steward.extra_s AS integer START 10 INCREMENT 5 CACHE 2;
COMMENT ON TABLE steward.extra_t IS 'extra table';
COMMENT ON COLUMN steward.extra_t.name IS 'extra column';
COMMENT ON TYPE steward.extra_mood IS 'extra type';
GRANT SELECT ON steward.extra_v TO PUBLIC;
GRANT SELECT (name) ON steward.extra_t TO PUBLIC;
ALTER EXTENSION pg_steward ADD FUNCTION steward.extra_touch();
ALTER EXTENSION pg_steward ADD TYPE steward.extra_mood;
ALTER EXTENSION pg_steward ADD DOMAIN steward.extra_positive;
ALTER EXTENSION pg_steward ADD TYPE steward.extra_pair;
ALTER EXTENSION pg_steward ADD TYPE steward.extra_range;
ALTER EXTENSION pg_steward ADD TABLE steward.extra_t;
ALTER EXTENSION pg_steward ADD SEQUENCE steward.extra_t_id_seq;
ALTER EXTENSION pg_steward ADD VIEW steward.extra_v;
ALTER EXTENSION pg_steward ADD SEQUENCE steward.extra_s;
"""

# pg_extension_config_dump() only runs inside an extension script; a superuser can register a table directly.
REGISTER_EXTRA_TABLE = """
UPDATE pg_extension SET extconfig = array_append(extconfig, 'steward.extra_t'::regclass::oid),
                        extcondition = array_append(extcondition, 'WHERE id > 100')
WHERE extname = 'pg_steward'
"""


def _functions_in_schema(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT o.type || ' ' || o.identity FROM pg_proc p, pg_identify_object('pg_proc'::regclass, p.oid, 0) o "
        "WHERE p.pronamespace = 'steward'::regnamespace"
    ).fetchall()
    return {r[0] for r in rows}


def test_snapshot_of_a_fresh_install(conn: psycopg.Connection) -> None:
    snap = snapshot(conn)
    assert snap["extension pg_steward"]["version"] == CURRENT
    assert snap["extension pg_steward"]["requires"] == ["plpython3u"]
    assert snap["schema steward"]["comment"], snap["schema steward"]
    assert "=U/postgres" in snap["schema steward"]["acl"], snap["schema steward"]
    assert _functions_in_schema(conn) <= set(snap), "a function of the extension is missing from the snapshot"
    version = snap["function steward.version()"]
    assert version["language"] == "plpython3u"
    assert version["config"] and "search_path=pg_catalog, pg_temp" in version["config"]
    assert "steward._load_python()" in version["body"]
    assert not version["security_definer"]
    assert strays(conn) == []


def test_snapshot_equals_after_drop_and_create_extension(conn: psycopg.Connection) -> None:
    before = snapshot(conn)
    conn.execute("DROP EXTENSION pg_steward")
    conn.execute("CREATE EXTENSION pg_steward")
    assert diff(before, snapshot(conn)) == []


def test_snapshot_describes_members_of_every_kind_without_oids(new_database: Callable[..., str]) -> None:
    """Two databases (different OIDs) with the same members of every kind give the same snapshot."""
    snaps = []
    for _ in range(2):
        with _connect(new_database()) as conn:
            conn.execute(EXTRA_MEMBERS)
            conn.execute(REGISTER_EXTRA_TABLE)
            snaps.append(snapshot(conn))
            assert strays(conn) == []
    assert diff(*snaps) == []
    snap = snaps[0]
    table = snap["table steward.extra_t"]
    assert table["column_order"] == ["id", "mood", "weight", "name", "touched"]
    assert table["columns"]["id"]["default"] == "nextval('steward.extra_t_id_seq'::regclass)"
    assert table["columns"]["name"]["comment"] == "extra column"
    assert table["columns"]["name"]["acl"] == ["=r/postgres"]
    assert table["options"] == ["fillfactor=90"]
    assert table["indexes"]["extra_t_touched"]["definition"].startswith("CREATE INDEX extra_t_touched ON steward.")
    assert "extra_t_touch" in table["triggers"] and "extra_t_calm" in table["policies"]
    assert {"extra_t_pkey", "extra_t_name_key", "extra_t_name_check"} <= set(table["constraints"])
    assert snap["view steward.extra_v"]["view_definition"]
    assert "=r/postgres" in snap["view steward.extra_v"]["acl"]
    assert snap["sequence steward.extra_s"]["sequence"]["increment"] == 5
    assert snap["sequence steward.extra_t_id_seq"]["sequence"]["owned_by"] == "steward.extra_t.id"
    assert snap["type steward.extra_mood"]["labels"] == ["calm", "busy"]
    assert snap["type steward.extra_positive"]["constraints"]["extra_positive_check"]["definition"] == (
        "CHECK (VALUE > 0)"
    )
    assert [a["name"] for a in snap["type steward.extra_pair"]["attributes"]] == ["low", "high"]
    assert snap["type steward.extra_range"]["subtype"] == "bigint"
    assert snap["extension pg_steward"]["config_dump"]["steward.extra_t"] == "WHERE id > 100"


def _first_member_table(snap: dict) -> str | None:
    tables = sorted(key for key in snap if key.startswith("table "))
    return tables[0].removeprefix("table ") if tables else None


CHANGES = {
    "function body": (
        "CREATE OR REPLACE FUNCTION steward.normalize_query(query text) RETURNS text LANGUAGE plpython3u "
        "STABLE STRICT SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $python$\nreturn query\n$python$",
        "function steward.normalize_query(pg_catalog.text): body",
    ),
    "function setting": (
        "ALTER FUNCTION steward.version() SET work_mem = '1MB'",
        "function steward.version(): config",
    ),
    "function volatility": (
        "ALTER FUNCTION steward.query_fingerprint(text) IMMUTABLE",
        "function steward.query_fingerprint(pg_catalog.text): volatility",
    ),
    "function comment": (
        "COMMENT ON FUNCTION steward.partitions(regclass) IS 'something else'",
        "function steward.partitions(pg_catalog.regclass): comment",
    ),
    "function grant": (
        "REVOKE EXECUTE ON FUNCTION steward.version() FROM PUBLIC",
        "function steward.version(): acl",
    ),
    "schema grant": ("REVOKE USAGE ON SCHEMA steward FROM PUBLIC", "schema steward: acl"),
    "schema comment": ("COMMENT ON SCHEMA steward IS 'changed'", "schema steward: comment"),
    "member added": (
        "CREATE FUNCTION steward.added() RETURNS int LANGUAGE sql RETURN 1; "
        "ALTER EXTENSION pg_steward ADD FUNCTION steward.added()",
        "function steward.added(): only in b",
    ),
    "member dropped": (
        "ALTER EXTENSION pg_steward DROP FUNCTION steward.normalize_query(text); "
        "DROP FUNCTION steward.normalize_query(text)",
        "function steward.normalize_query(pg_catalog.text): only in a",
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_diff_names_the_changed_object(change: str, conn: psycopg.Connection) -> None:
    statement, expected = CHANGES[change]
    before = snapshot(conn)
    conn.execute(statement)
    differences = diff(before, snapshot(conn))
    assert differences, f"{change}: the snapshot did not notice"
    assert any(line.startswith(expected) for line in differences), differences


def test_diff_names_a_new_column(conn: psycopg.Connection) -> None:
    """On a table of the extension; while it has none, on one added to it for the test."""
    table = _first_member_table(snapshot(conn))
    if table is None:
        conn.execute(EXTRA_MEMBERS)
        table = "steward.extra_t"
    before = snapshot(conn)
    conn.execute(f"ALTER TABLE {table} ADD COLUMN upgrade_test_note text DEFAULT 'x'")
    differences = diff(before, snapshot(conn))
    assert f"table {table}: columns: upgrade_test_note: only in b" in differences, differences
    assert any(line.startswith(f"table {table}: column_order:") for line in differences), differences


def test_diff_names_table_level_changes(conn: psycopg.Connection) -> None:
    conn.execute(EXTRA_MEMBERS)
    before = snapshot(conn)
    conn.execute("ALTER TABLE steward.extra_t ALTER COLUMN touched SET DEFAULT now()")
    conn.execute("DROP INDEX steward.extra_t_touched")
    conn.execute("ALTER TABLE steward.extra_t ADD CONSTRAINT extra_t_touched_check CHECK (touched > '2000-01-01')")
    conn.execute("CREATE OR REPLACE VIEW steward.extra_v WITH (security_barrier) AS "
                 "SELECT id, name FROM steward.extra_t WHERE weight > 2")
    conn.execute("ALTER TYPE steward.extra_mood ADD VALUE 'idle' BEFORE 'busy'")
    conn.execute("ALTER SEQUENCE steward.extra_s INCREMENT 7")
    differences = "\n".join(diff(before, snapshot(conn)))
    for expected in [
        "table steward.extra_t: columns: touched: default: a=None b='now()'",
        "table steward.extra_t: indexes: extra_t_touched: only in a",
        "table steward.extra_t: constraints: extra_t_touched_check: only in b",
        "view steward.extra_v: view_definition: differs:",
        "type steward.extra_mood: labels: a=['calm', 'busy'] b=['calm', 'idle', 'busy']",
        "sequence steward.extra_s: sequence: increment: a=5 b=7",
    ]:
        assert expected in differences, differences


def test_objects_outside_the_extension_are_ignored(conn: psycopg.Connection) -> None:
    before = snapshot(conn)
    conn.execute(
        """
        CREATE TABLE public.mine (id int PRIMARY KEY, v text);
        CREATE VIEW public.mine_v AS SELECT * FROM public.mine;
        CREATE FUNCTION public.version() RETURNS text LANGUAGE sql RETURN 'mine';
        CREATE TYPE public.mood AS ENUM ('x');
        CREATE SCHEMA other;
        CREATE FUNCTION other.partitions(regclass) RETURNS int LANGUAGE sql RETURN 1;
        COMMENT ON TABLE public.mine IS 'mine';
        CREATE FUNCTION steward.not_ours() RETURNS int LANGUAGE sql RETURN 1;
        CREATE TABLE steward.not_ours_t (id serial PRIMARY KEY);
        CREATE INDEX ON steward.not_ours_t (id);
        """
    )
    assert diff(before, snapshot(conn)) == []
    # ... but strays() reports what sits in the extension's schema without belonging to it.
    assert strays(conn) == ["function steward.not_ours()", "table steward.not_ours_t"]


def test_snapshot_needs_the_extension(new_database: Callable[..., str]) -> None:
    with _connect(new_database(extension=False)) as conn, pytest.raises(LookupError, match="not installed"):
        snapshot(conn)


def test_diff_on_made_up_snapshots() -> None:
    a = {"function f()": {"body": "x\ny\n", "config": ["a=1"]}, "table t": {"columns": {"c": {"type": "int"}}}}
    b = {"function f()": {"body": "x\nz\n", "config": ["a=1"]}, "table u": {}}
    assert diff(a, a) == []
    lines = diff(a, b, names=("old", "new"))
    assert lines[0].startswith("function f(): body: differs:")
    assert "-y" in lines[0] and "+z" in lines[0]
    assert lines[1:] == ["table t: only in old", "table u: only in new"]
    assert diff({"t": {"acl": ["x"]}}, {"t": {"acl": ["y"]}}) == ["t: acl: a=['x'] b=['y']"]
