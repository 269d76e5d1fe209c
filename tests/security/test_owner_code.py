"""A table owner's code never runs with the rights of the (superuser) role that maintains the table.

The attack: sec_owner owns a partitioned table whose DEFAULT partition holds rows of a month with no partition.
Maintenance run by a superuser (as pg_cron runs it) moves those rows: it copies them into a new partition
and deletes them from DEFAULT, which fires sec_owner's triggers, evaluates sec_owner's CHECK constraints and
generated columns. Any of them trying ``ALTER ROLE sec_owner SUPERUSER`` succeeded in 0.1.0; now each runs as
sec_owner, cannot climb back (``RESET ROLE``, ``SET ROLE``, ``SET SESSION AUTHORIZATION`` are refused inside the
security-definer function pg_steward runs them through), and cannot tamper with that function or the
session's settings without the step being refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

OWNER = "sec_owner"

# Tries every way up, each in its own block so that one refusal does not hide the next; notes what worked.
ESCALATE = """
CREATE FUNCTION public.escalate() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    BEGIN ALTER ROLE sec_owner SUPERUSER; EXCEPTION WHEN others THEN NULL; END;
    BEGIN RESET ROLE; ALTER ROLE sec_owner SUPERUSER; EXCEPTION WHEN others THEN NULL; END;
    BEGIN SET ROLE postgres; ALTER ROLE sec_owner SUPERUSER; EXCEPTION WHEN others THEN NULL; END;
    BEGIN PERFORM pg_catalog.set_config('role', 'postgres', false); ALTER ROLE sec_owner SUPERUSER;
    EXCEPTION WHEN others THEN NULL; END;
    BEGIN SET SESSION AUTHORIZATION postgres; ALTER ROLE sec_owner SUPERUSER; EXCEPTION WHEN others THEN NULL; END;
    BEGIN RESET SESSION AUTHORIZATION; ALTER ROLE sec_owner SUPERUSER; EXCEPTION WHEN others THEN NULL; END;
    RETURN true;
END
$f$;
CREATE FUNCTION public.escalate_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM public.escalate();
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$f$;
"""

# The table: monthly, with rows of January 2026 in DEFAULT (no partition for them yet).
TABLE = """
CREATE TABLE public.sales (id bigint, sold date NOT NULL) PARTITION BY RANGE (sold);
CREATE TABLE public.sales_default PARTITION OF public.sales DEFAULT;
INSERT INTO public.sales SELECT g, DATE '2026-01-01' + (g % 28) FROM generate_series(1, 50) AS g;
"""


def _is_superuser(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [OWNER]).fetchone()[0]


@pytest.fixture
def owned(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A superuser's connection to a database where sec_owner (an ordinary role) owns public.sales."""
    conn.execute(f"DROP ROLE IF EXISTS {OWNER}")
    conn.execute(f"CREATE ROLE {OWNER} LOGIN")
    conn.execute(f"GRANT CREATE ON SCHEMA public TO {OWNER}")
    _as_owner(conn, ESCALATE + TABLE)
    conn.execute("INSERT INTO steward.partition_config (parent, span, premake) VALUES ('public.sales', '1 month', 0)")
    yield conn
    conn.execute(f"DROP OWNED BY {OWNER} CASCADE")
    conn.execute(f"DROP ROLE {OWNER}")


def _as_owner(conn: psycopg.Connection, sql: str) -> None:
    """Run ``sql`` logged in as the owner (not SET ROLE from a superuser session, which owner code could undo)."""
    with psycopg.connect(conn.info.dsn, user=OWNER, autocommit=True) as owner:
        owner.execute(sql)


def _moved(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM public.sales_default").fetchone()[0]


PLANTS = {
    "trigger on DEFAULT, before delete": "CREATE TRIGGER t BEFORE DELETE ON public.sales_default "
                                         "FOR EACH ROW EXECUTE FUNCTION public.escalate_trigger()",
    "trigger on the parent, before insert (cloned to the new partition)":
        "CREATE TRIGGER t BEFORE INSERT ON public.sales FOR EACH ROW EXECUTE FUNCTION public.escalate_trigger()",
    "statement trigger on DEFAULT": "CREATE TRIGGER t AFTER DELETE ON public.sales_default "
                                    "FOR EACH STATEMENT EXECUTE FUNCTION public.escalate_trigger()",
    "CHECK constraint on the parent": "ALTER TABLE public.sales ADD CONSTRAINT c CHECK (public.escalate())",
}

ENTRY_POINTS: dict[str, Callable[[psycopg.Connection], None]] = {
    "maintain_partitions": lambda c: c.execute("SELECT * FROM steward.maintain_partitions('public.sales')").fetchall(),
    "run_maintenance": lambda c: c.execute("CALL steward.run_maintenance()"),
    "create_partition": lambda c: c.execute("SELECT steward.create_partition('public.sales', '2026-01-01')"),
    "manage": lambda c: c.execute("SELECT * FROM steward.manage('public.sales', premake => 0)").fetchall(),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("plant", PLANTS)
def test_owner_code_cannot_become_superuser(owned: psycopg.Connection, plant: str, entry: str) -> None:
    _as_owner(owned, PLANTS[plant])
    ENTRY_POINTS[entry](owned)
    assert not _is_superuser(owned), f"{plant}: sec_owner became superuser through {entry}"
    # The owner's code ran (as the owner) and did not stop the work: the rows are in their partition.
    assert _moved(owned) == 0
    partition = owned.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'sales_p2026_01'").fetchone()
    assert partition == (OWNER,)


def test_owner_code_runs_as_the_owner_and_sees_the_superuser_only_as_session(owned: psycopg.Connection) -> None:
    _as_owner(owned, """
        CREATE TABLE public.seen (current_role_name text, session_role_name text);
        CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN INSERT INTO public.seen VALUES (current_user, session_user); RETURN OLD; END $f$;
        CREATE TRIGGER n BEFORE DELETE ON public.sales_default FOR EACH ROW EXECUTE FUNCTION public.note();
    """)
    owned.execute("SELECT * FROM steward.maintain_partitions('public.sales')").fetchall()
    seen = set(owned.execute("SELECT current_role_name, session_role_name FROM public.seen").fetchall())
    assert seen == {(OWNER, "postgres")}


def test_owner_code_that_turns_the_runner_into_security_invoker_is_refused(owned: psycopg.Connection) -> None:
    """sec_owner owns the function pg_steward runs its statements through; flipping it to SECURITY INVOKER (so that
    the next statement would run as the superuser) stops the table's work instead."""
    _as_owner(owned, """
        CREATE FUNCTION public.flip() RETURNS trigger LANGUAGE plpgsql AS $f$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.proname LIKE 'pg\\_steward\\_as\\_owner\\_%' AND p.proowner = 'sec_owner'::regrole LOOP
                EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY INVOKER', f);
            END LOOP;
            PERFORM public.escalate();
            RETURN OLD;
        END $f$;
        CREATE TRIGGER f BEFORE DELETE ON public.sales_default FOR EACH ROW EXECUTE FUNCTION public.flip();
    """)
    actions = owned.execute("SELECT action, ok, detail FROM steward.maintain_partitions('public.sales')").fetchall()
    assert not _is_superuser(owned)
    failed = [a for a in actions if not a[1]]
    assert failed and "was changed while it ran" in failed[0][2], actions
    assert _moved(owned) == 50, "the refused step is undone: the rows stay in DEFAULT"
    assert owned.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE 'pg\\_steward\\_as\\_owner\\_%'"
                         ).fetchone()[0] == 0, "the runner function does not outlive the step"


def test_owner_code_that_changes_search_path_is_refused_and_undone(owned: psycopg.Connection) -> None:
    """A plain SET outlives the function it runs in: a search_path planted for the superuser's next statements
    makes the step fail, and its rollback takes the setting back."""
    owned.execute("CREATE SCHEMA evil")
    _as_owner(owned, """
        CREATE FUNCTION public.plant() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN PERFORM pg_catalog.set_config('search_path', 'evil, pg_catalog', false); RETURN OLD; END $f$;
        CREATE TRIGGER p BEFORE DELETE ON public.sales_default FOR EACH ROW EXECUTE FUNCTION public.plant();
    """)
    before = owned.execute("SHOW search_path").fetchone()[0]
    actions = owned.execute("SELECT action, ok, detail FROM steward.maintain_partitions('public.sales')").fetchall()
    failed = [a for a in actions if not a[1]]
    assert failed and "changed the session's search_path" in failed[0][2], actions
    assert owned.execute("SHOW search_path").fetchone()[0] == before
    assert _moved(owned) == 50


def test_the_owner_maintaining_its_own_table_needs_no_runner(owned: psycopg.Connection) -> None:
    """The owner's own call runs its statements directly (nothing to gain): the plain path, no function."""
    owned.execute(f"GRANT INSERT ON steward.partition_maintenance_log TO {OWNER}")
    owned.execute(f"GRANT USAGE ON SEQUENCE steward.partition_maintenance_log_id_seq TO {OWNER}")
    _as_owner(owned, """
        CREATE TABLE public.runners (n bigint);
        CREATE FUNCTION public.count_runners() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN INSERT INTO public.runners SELECT count(*) FROM pg_proc
              WHERE proname LIKE 'pg\\_steward\\_as\\_owner\\_%'; RETURN OLD; END $f$;
        CREATE TRIGGER r BEFORE DELETE ON public.sales_default
            FOR EACH STATEMENT EXECUTE FUNCTION public.count_runners();
    """)
    _as_owner(owned, "SELECT * FROM steward.maintain_partitions('public.sales')")
    assert owned.execute("SELECT n FROM public.runners").fetchall() == [(0,)]
    assert _moved(owned) == 0


def test_a_table_whose_name_holds_a_parameter_marker_is_maintained_as_its_owner(owned: psycopg.Connection) -> None:
    """Statements run as the owner get their parameters written in as literals: ``$1`` inside the quoted name
    ``"ev$1"`` is part of the name, not a parameter (it was replaced, and the statement failed)."""
    _as_owner(owned, """
        CREATE TABLE public."ev$1" (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE public."ev$1_default" PARTITION OF public."ev$1" DEFAULT;
        INSERT INTO public."ev$1" SELECT g, DATE '2026-01-01' + (g % 28) FROM generate_series(1, 20) AS g;
    """)
    owned.execute("""INSERT INTO steward.partition_config (parent, span, premake)
                     VALUES ('public."ev$1"', '1 month', 0)""")
    actions = owned.execute("""SELECT action, ok, detail
                               FROM steward.maintain_partitions('public."ev$1"')""").fetchall()
    assert all(ok for _, ok, _ in actions), actions
    assert owned.execute('SELECT count(*) FROM public."ev$1_default"').fetchone() == (0,)
    assert owned.execute('SELECT count(*) FROM public."ev$1"').fetchone() == (20,)  # moved, none lost
