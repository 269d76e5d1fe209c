"""pg-steward run by a superuser in a database whose owner set a hostile search_path (CVE-2018-1058).

The owner of a database may ``ALTER DATABASE ... SET search_path = evil,
pg_catalog, public``, with operators and functions in ``evil`` that shadow
pg_catalog's for the unqualified names of anyone's statements. Whatever
pg-steward runs there must find none of them: here each would make the owner
a superuser (and note that it ran).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import psycopg
import pytest

from pg_steward.cli.reports import REPORTS
from test_cli import run
from test_cli_commands import expiring_table

PINNED = "-c search_path=pg_catalog"
OPERAND_TYPES = ("text", "name", "oid", "regclass", "regnamespace", '"char"', "integer", "bigint", "boolean")
# Functions the command line (or a careless statement of it) might call unqualified: (name, arguments, result).
FUNCTIONS = (
    ("lower", "text", "text"), ("upper", "text", "text"), ("quote_ident", "text", "text"),
    ("current_setting", "text", "text"), ("current_setting", "text, boolean", "text"),
    ("set_config", "text, text, boolean", "text"), ("to_regclass", "text", "regclass"),
    ("current_database", "", "name"), ("now", "", "timestamptz"), ("clock_timestamp", "", "timestamptz"),
    ("current_schemas", "boolean", "name[]"), ("parse_ident", "text, boolean", "text[]"),
    ("cardinality", "anyarray", "integer"), ("pg_get_expr", "pg_node_tree, oid", "text"),
    ("format_type", "oid, integer", "text"), ("pg_try_advisory_lock", "bigint", "boolean"),
    ("pg_advisory_unlock", "bigint", "boolean"),
)


def traps(owner: str) -> str:
    """The owner's schema evil: every operator and function above runs evil.trap() first."""
    sql = [f"""
        CREATE SCHEMA evil AUTHORIZATION {owner};
        SET ROLE {owner};
        CREATE TABLE evil.ran (who text, what text);
        GRANT INSERT ON evil.ran TO PUBLIC;
        CREATE FUNCTION evil.trap(what text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO evil.ran VALUES (pg_catalog.current_user(), what);
            BEGIN
                EXECUTE 'ALTER ROLE {owner} SUPERUSER';
            EXCEPTION WHEN OTHERS THEN NULL;
            END;
        END $$;"""]
    for number, kind in enumerate(OPERAND_TYPES):
        sql.append(f"""
        CREATE FUNCTION evil.eq{number}(a {kind}, b {kind}) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN PERFORM evil.trap('= {kind.strip('"')}'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
        CREATE OPERATOR evil.= (LEFTARG = {kind}, RIGHTARG = {kind}, FUNCTION = evil.eq{number});""")
    for name, arguments, result in FUNCTIONS:
        names = [f"a{i}" for i in range(len(arguments.split(","))) if arguments]
        declared = ", ".join(f"{n} {t.strip()}" for n, t in zip(names, arguments.split(","), strict=False)) \
            if arguments else ""
        if name == "cardinality":
            body = "RETURN pg_catalog.cardinality(a0);"
        else:
            body = f"RETURN pg_catalog.{name}({', '.join(names)});"
        sql.append(f"""
        CREATE FUNCTION evil.{name}({declared}) RETURNS {result} LANGUAGE plpgsql AS $$
        BEGIN PERFORM evil.trap('{name}'); {body} END $$;""")
    sql.append("RESET ROLE;")
    return "\n".join(sql)


def pinned(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, options=PINNED)


def is_superuser(url: str, role: str) -> bool:
    with pinned(url) as conn:
        return bool(conn.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", [role]).fetchone()[0])


def evil_ran(url: str) -> list[tuple[str, str]]:
    with pinned(url) as conn:
        return conn.execute("SELECT who, what FROM evil.ran").fetchall()


@pytest.fixture
def hostile(new_database: Callable[..., str]) -> Iterator[tuple[str, str]]:
    """A database owned by an ordinary role, with managed tables, whose search_path starts with evil traps."""
    def make(extension: bool) -> tuple[str, str]:
        url = new_database(extension=extension)
        with psycopg.connect(url, autocommit=True) as conn:
            owner = f"owner_{conn.info.backend_pid}"
            made.append((url, owner))
            conn.execute(f"CREATE ROLE {owner} LOGIN")
            conn.execute(f'ALTER DATABASE "{conn.info.dbname}" OWNER TO {owner}')
            if extension:
                expiring_table(conn, "events")
                conn.execute("CREATE TABLE sales (id bigint, sold date NOT NULL) PARTITION BY RANGE (sold)")
                conn.execute("SELECT * FROM steward.manage('sales', '1 month', premake => 2)")
                conn.execute("INSERT INTO sales VALUES (1, current_date)")
            conn.execute(traps(owner))
            conn.execute(f'ALTER DATABASE "{conn.info.dbname}" SET search_path = evil, pg_catalog, public')
        # The traps work: a superuser's plain statement under the database's search_path springs them.
        with psycopg.connect(url) as conn:
            conn.execute("SELECT lower('X'), 'a'::text = 'b', now()")
            assert conn.execute("SELECT count(*) FROM evil.ran").fetchone()[0] == 3
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [owner]).fetchone() == (True,)
            conn.rollback()
        assert not is_superuser(url, owner) and evil_ran(url) == []
        return url, owner

    made: list[tuple[str, str]] = []
    yield make  # type: ignore[misc]
    for url, owner in made:
        with pinned(url) as conn:
            conn.execute(f"REVOKE ALL ON DATABASE \"{conn.info.dbname}\" FROM {owner}")
            conn.execute(f'ALTER DATABASE "{conn.info.dbname}" OWNER TO CURRENT_USER')
            conn.execute(f"DROP OWNED BY {owner} CASCADE")
            conn.execute(f"DROP ROLE {owner}")


def test_maintain_report_check_run_none_of_the_owners_code(hostile: Callable[[bool], tuple[str, str]]) -> None:
    url, owner = hostile(True)
    result = run("maintain", "--concurrently", "--format", "json", "--dsn", url)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sum(r["action"] == "detach concurrently" and r["ok"] for r in rows) == 2, rows
    # named as in the database's search_path; sales had its parent analyzed (its partitions were made by manage)
    assert {r["table"] for r in rows} == {"events", "sales"}
    assert [r["ok"] for r in rows if r["table"] == "sales"] == [True]
    again = run("maintain", "--table", "events", "--dsn", url)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
    for name in REPORTS:
        result = run("report", name, "--format", "json", "--dsn", url)
        if name == "jobs":  # pg_cron lives in another database, and this one has no dblink
            assert result.returncode == 1 and "needs dblink" in result.stderr, result.stderr
            continue
        assert result.returncode == 0, (name, result.stderr)
        assert isinstance(json.loads(result.stdout), list)
    partitions = json.loads(run("report", "partitions", "--format", "json", "--dsn", url).stdout)
    assert {r["table"] for r in partitions} == {"events", "sales"}
    page = run("report", "--html", "/dev/null", "--dsn", url)
    assert page.returncode == 0, page.stderr
    checked = run("check", "--dsn", url)
    assert checked.returncode in (0, 1, 2) and checked.stdout.startswith("PG_STEWARD "), checked
    assert evil_ran(url) == []
    assert not is_superuser(url, owner)


def test_suggested_indexes_plan_the_workload_without_the_owners_functions(
        hostile: Callable[[bool], tuple[str, str]]) -> None:
    """The workload's statements are planned with the database's schemas, so that their tables resolve as the
    application's do, but pg_catalog first: an IMMUTABLE function of the owner's that shadows pg_catalog's is
    not folded into a plan, with the superuser's rights, as the database's search_path would have it. It
    counts its calls in a sequence, since suggest_indexes rolls back what the planning did."""
    url, owner = hostile(True)
    with pinned(url) as conn:
        conn.execute("CREATE TABLE public.customers (id int, name text)")
        conn.execute("INSERT INTO public.customers SELECT n, 'name ' || n FROM pg_catalog.generate_series(1, 20000) n")
        conn.execute("ANALYZE public.customers")
        conn.execute(f"""
            SET ROLE {owner};
            CREATE SEQUENCE evil.planned;
            CREATE OR REPLACE FUNCTION evil.lower(a0 text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN PERFORM pg_catalog.nextval('evil.planned'); RETURN pg_catalog.lower(a0); END $$;
            RESET ROLE""")
        for _ in range(3):
            conn.execute("SELECT steward.log_slow_query($$SELECT * FROM customers WHERE name = lower('X')$$, "
                         "500, 20000, 0)")
    result = run("report", "indexes", "--format", "json", "--dsn", url)
    assert result.returncode == 0, result.stderr
    suggested = [r for r in json.loads(result.stdout) if r["source"] == "suggested indexes"]
    assert [(r["table_name"], r["columns"]) for r in suggested] == [("public.customers", ["name"])], suggested
    with pinned(url) as conn:
        assert conn.execute("SELECT last_value, is_called FROM evil.planned").fetchone() == (1, False)
    assert evil_ran(url) == []
    assert not is_superuser(url, owner)


def test_demo_runs_none_of_the_owners_code(hostile: Callable[[bool], tuple[str, str]]) -> None:
    url, owner = hostile(False)
    result = run("demo", "--dsn", url)
    assert result.returncode == 0, result.stderr
    assert "2148 before, 0 after" in result.stdout
    assert evil_ran(url) == []
    assert not is_superuser(url, owner)


def test_partition_existing_runs_none_of_the_owners_code(hostile: Callable[[bool], tuple[str, str]]) -> None:
    url, owner = hostile(True)
    with pinned(url) as conn:
        conn.execute("CREATE TABLE public.stream (id bigint GENERATED BY DEFAULT AS IDENTITY, "
                     "created_at timestamptz NOT NULL DEFAULT now(), payload text, PRIMARY KEY (id, created_at)); "
                     "INSERT INTO public.stream (created_at, payload) SELECT timestamptz '2024-01-01 00:00+00' "
                     "+ g * interval '1 hour', 'p' || g FROM generate_series(1, 500) AS g")
    command = ("partition-existing", "stream", "--key", "created_at", "--span", "1 month", "--dsn", url)
    for option in ("--plan", "--batch-size=100", "--swap", "--finish"):
        result = run(*command, option)
        assert result.returncode == 0, (option, result.stderr)
    assert "stream: step finished, 500 rows copied" in result.stdout
    assert evil_ran(url) == []
    assert not is_superuser(url, owner)
    with pinned(url) as conn:
        assert conn.execute("SELECT relkind FROM pg_catalog.pg_class WHERE oid = 'public.stream'::pg_catalog.regclass"
                            ).fetchone() == ("p",)


def test_export_and_import_run_none_of_the_owners_code(hostile: Callable[[bool], tuple[str, str]],
                                                       tmp_path) -> None:
    url, owner = hostile(True)
    with pinned(url) as conn:
        conn.execute("UPDATE steward.partition_config SET retention_mode = 'export' "
                     "WHERE parent = 'public.events'::regclass")
    dry = run("export", "--dir", str(tmp_path), "--dry-run", "--dsn", url)
    assert dry.returncode == 0, dry.stderr
    result = run("export", "events", "--dir", str(tmp_path), "--format", "json", "--dsn", url)
    assert result.returncode == 0, result.stderr
    assert [r["action"] for r in json.loads(result.stdout)] == ["export, drop", "export, drop"]
    with pinned(url) as conn:
        conn.execute("SELECT steward.unmanage('public.events')")
    for manifest in sorted(tmp_path.glob("*.manifest.json")):
        loaded = run("import", str(manifest), "--dsn", url)
        assert loaded.returncode == 0, loaded.stderr
    with pinned(url) as conn:
        assert conn.execute("SELECT count(*) FROM public.events").fetchone() == (200,)
    assert evil_ran(url) == [] and not is_superuser(url, owner)
