"""pg_upgrade from PostgreSQL 15 to the major under test, with pg_steward installed, managed tables, logs and a
pg_cron schedule: afterwards the registry, the logs, the schedule and maintenance work on the new cluster.

The old cluster is PostgreSQL 15 with this tree's pg_steward installed: ``PG_CONFIG_15`` names its pg_config
(default ``pg_config``, Debian's 15). ``.ci/run`` runs 15 first, so by the time 16-18 run, 15 has pg_steward;
elsewhere the test says what is missing and skips. The new cluster is the server under test (``PG_CONFIG``).
After pg_upgrade the function bodies are the old cluster's, built for the old installation's pkglibdir: the
package must be found in the new installation all the same (``steward._load_python``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from conftest import pg_config
from pg_steward.localserver import SERVER_USER

pytestmark = pytest.mark.slow

VERSION = (Path(__file__).resolve().parent.parent / "pg_steward.control").read_text().split(
    "default_version = '")[1].split("'")[0]
OLD_PG_CONFIG = os.environ.get("PG_CONFIG_15", "pg_config")


def _config(pg_config_path: str, flag: str) -> str:
    return subprocess.run([pg_config_path, flag], capture_output=True, text=True, check=True).stdout.strip()


def _major(pg_config_path: str) -> int:
    return int(_config(pg_config_path, "--version").split()[1].split(".")[0])


def _old_installation() -> Path:
    """The old cluster's bindir; skips (saying what is missing) when there is no PostgreSQL 15 with pg_steward."""
    if shutil.which(OLD_PG_CONFIG) is None and not Path(OLD_PG_CONFIG).is_file():
        pytest.skip(f"no PostgreSQL 15 to upgrade from ({OLD_PG_CONFIG} not found; set PG_CONFIG_15)")
    if _major(OLD_PG_CONFIG) != 15:
        pytest.skip(f"{OLD_PG_CONFIG} is not PostgreSQL 15")
    package = Path(_config(OLD_PG_CONFIG, "--pkglibdir")) / "pg_steward" / VERSION
    if not package.is_dir():
        pytest.skip(f"pg_steward {VERSION} is not installed in PostgreSQL 15 "
                    f"(make install PG_CONFIG={OLD_PG_CONFIG})")
    return Path(_config(OLD_PG_CONFIG, "--bindir"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A data directory of one installation, run as the server user when we are root."""

    def __init__(self, bindir: Path, data: Path, sockets: Path) -> None:
        self.bindir, self.data, self.sockets, self.port = bindir, data, sockets, _free_port()

    def run(self, *args: str | Path, cwd: Path | None = None) -> str:
        prefix = []
        if os.geteuid() == 0:
            prefix = ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--clear-groups", "--"]
        done = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, cwd=cwd)
        if done.returncode != 0:  # pg_upgrade names a log of its own: its errors and last lines say why
            logs = ""
            for log in sorted(self.data.parent.glob("*/pg_upgrade_output.d/*/log/*.log")):
                lines = log.read_text(errors="replace").splitlines()
                logs += f"\n--- {log}:\n" + "\n".join([x for x in lines if "error" in x.lower()] + lines[-15:])
            raise AssertionError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}{logs}")
        return done.stdout

    def init(self) -> None:
        # 15's clusters have no data checksums by default, 18's have them, and pg_upgrade wants both alike:
        # the new cluster is made without them where initdb has the option (as a DBA upgrading a 15 cluster does).
        initdb = self.bindir / "initdb"
        help_text = subprocess.run([initdb, "--help"], capture_output=True, text=True).stdout
        checksums = ["--no-data-checksums"] if "--no-data-checksums" in help_text else []
        self.run(initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "--locale=C", "--encoding=UTF8",
                 *checksums)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = ''\nunix_socket_directories = '{self.sockets}'\n"
                       "shared_preload_libraries = 'pg_cron'\ncron.database_name = 'postgres'\nfsync = off\n")

    def start(self) -> None:
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-w", "-l", self.data.parent / f"{self.data.name}.log",
                 "start")

    def stop(self) -> None:
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(host=str(self.sockets), port=self.port, user="postgres", dbname=database,
                               autocommit=True)


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pg_steward_upgrade_"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def strip_debian_attver(conn: psycopg.Connection) -> None:
    """Debian's 15.20 server stamps every column with an attribute option ``pg_attver=N`` that no other build
    knows: pg_upgrade to PyPI's 16-18 fails on any database ("unrecognized parameter pg_attver") until the old
    cluster's catalog is rid of it. Not pg_steward's doing; a DBA upgrading from that build needs the same."""
    if conn.execute("SELECT count(*) FROM pg_catalog.pg_attribute WHERE "
                    "pg_catalog.array_to_string(attoptions, ',') LIKE '%pg_attver=%'").fetchone()[0] == 0:
        return
    conn.execute("SET allow_system_table_mods = on")
    conn.execute("""
        UPDATE pg_catalog.pg_attribute AS a
        SET attoptions = (SELECT pg_catalog.array_agg(o) FROM pg_catalog.unnest(a.attoptions) AS o
                          WHERE o NOT LIKE 'pg\\_attver=%')
        WHERE pg_catalog.array_to_string(a.attoptions, ',') LIKE '%pg_attver=%'""")


SNAPSHOT = {
    "registry": "SELECT parent::text, span::text, premake, retention::text, registered_owner::text "
                "FROM steward.partition_config ORDER BY 1",
    "log": "SELECT id, parent, action, partition, ok, username FROM steward.partition_maintenance_log ORDER BY id",
    "partitions": "SELECT inhrelid::regclass::text FROM pg_inherits ORDER BY 1",
    "rows": "SELECT count(*) FROM public.events",
}


def test_pg_upgrade_from_15_keeps_registry_logs_schedule_and_maintenance(workdir: Path) -> None:
    new_major = _major(os.environ.get("PG_CONFIG", "pg_config"))
    if new_major == 15:
        pytest.skip("the server under test is PostgreSQL 15: nothing newer to upgrade to")
    old = Cluster(_old_installation(), workdir / "old", workdir)
    new = Cluster(Path(pg_config("--bindir")), workdir / "new", workdir)
    old.init()
    old.start()
    try:
        with old.connect("postgres") as admin:
            admin.execute("CREATE EXTENSION pg_cron")
            admin.execute("CREATE DATABASE app")
        with old.connect("app") as app:
            app.execute("CREATE EXTENSION pg_steward CASCADE")
            app.execute("CREATE EXTENSION dblink")
            app.execute("CREATE TABLE public.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)")
            app.execute("CREATE TABLE public.events_default PARTITION OF public.events DEFAULT")
            app.execute("INSERT INTO public.events SELECT g, current_date - g FROM generate_series(1, 90) AS g")
            app.execute("SELECT * FROM steward.manage('public.events', '1 month', premake => 2)")
            app.execute("INSERT INTO public.events VALUES (0, current_date + 200)")  # in DEFAULT: work for later
            jobid = app.execute("SELECT jobid FROM steward.schedule('maintenance', '0 3 * * *')").fetchone()[0]
            before = {name: app.execute(sql).fetchall() for name, sql in SNAPSHOT.items()}
            assert app.execute("SELECT count(*) FROM public.events_default").fetchone() == (1,)
        for database in ("postgres", "app", "template1"):
            with old.connect(database) as conn:
                strip_debian_attver(conn)
    finally:
        old.stop()

    new.init()
    new.run(new.bindir / "pg_upgrade", "-b", old.bindir, "-B", new.bindir, "-d", old.data, "-D", new.data,
            "-U", "postgres", "-p", str(old.port), "-P", str(new.port), "-s", workdir, cwd=workdir)
    new.start()
    try:
        with new.connect("app") as app:
            assert app.execute("SHOW server_version_num").fetchone()[0].startswith(str(new_major))
            versions = app.execute("SELECT sql_version, python_version, package_dir FROM steward.version()")
            sql_version, python_version, package_dir = versions.fetchone()
            assert (sql_version, python_version) == (VERSION, VERSION)
            # The function bodies were built for 15's pkglibdir; the package is loaded from the new one.
            assert Path(package_dir) == Path(pg_config("--pkglibdir")) / "pg_steward" / VERSION
            after = {name: app.execute(sql).fetchall() for name, sql in SNAPSHOT.items()}
            assert after == before
            app.execute("ALTER EXTENSION pg_steward UPDATE")  # nothing to do: the same version
            assert app.execute("SELECT extversion FROM pg_extension "
                               "WHERE extname = 'pg_steward'").fetchone() == (VERSION,)
            app.execute("CALL steward.run_maintenance()")
            assert app.execute("SELECT count(*) FROM public.events_default").fetchone() == (0,)
            assert app.execute("SELECT count(*) FROM public.events").fetchone() == before["rows"][0]
            assert app.execute("SELECT count(*) FROM steward.partition_maintenance_log "
                               "WHERE id > %s AND action = 'create' AND ok",
                               [before["log"][-1][0]]).fetchone()[0] >= 1
            jobs = app.execute("SELECT jobid, job, schedule, active FROM steward.jobs").fetchall()
            assert jobs == [(jobid, "maintenance", "0 3 * * *", True)]
            assert app.execute("SELECT steward.unschedule('maintenance')").fetchone() == (True,)
    finally:
        new.stop()
