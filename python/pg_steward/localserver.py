"""Throwaway local PostgreSQL servers, for the demo and the tests.

Built on testing.postgresql. ``initdb`` and ``postgres`` refuse to run as
root, so when we are root they run through small wrapper scripts that hand
the data directory to an unprivileged system user and ``exec setpriv`` into
the real binary (``exec`` keeps the pid, so shutdown signals still reach the
postmaster). The server preloads pg_cron and pg_stat_statements.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SERVER_USER = os.environ.get("PG_STEWARD_SERVER_USER", "pgsteward")
DATABASE = "test"

_WRAPPER = """#!/bin/sh
# Run {binary} as {user}; the data directory's parent is handed over first.
prev=""; data=""
for arg in "$@"; do [ "$prev" = "-D" ] && data="$arg"; prev="$arg"; done
if [ -n "$data" ]; then
  mkdir -p "$data" && chown -R {user}: "$(dirname "$data")"
fi
exec setpriv --reuid={user} --regid={user} --clear-groups -- {binary} "$@"
"""


def bindir() -> Path:
    """Directory of the server binaries, from pg_config (PG_CONFIG may name it)."""
    pg_config = os.environ.get("PG_CONFIG", "pg_config")
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _wrappers(directory: Path, user: str) -> dict[str, str]:
    pwd.getpwnam(user)  # KeyError when the user is missing: scripts/install-deps creates it
    paths = {}
    for name in ("initdb", "postgres"):
        path = directory / name
        path.write_text(_WRAPPER.format(binary=bindir() / name, user=user))
        path.chmod(stat.S_IRWXU)
        paths[name] = str(path)
    return paths


class LocalServer:
    """A PostgreSQL server in a temporary directory, stopped and removed on exit."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        import testing.postgresql

        self.settings = {
            "shared_preload_libraries": "pg_cron,pg_stat_statements",
            "cron.database_name": DATABASE,
            "max_connections": "60",
            "max_prepared_transactions": "10",  # prepared transactions can be planted (health checks)
            "fsync": "off",
            "log_min_messages": "warning",
            **(settings or {}),
        }
        args = "-h 127.0.0.1 -c logging_collector=off " + " ".join(
            f"-c {name}={value}" for name, value in self.settings.items()
        )
        kwargs: dict[str, Any] = {"postgres_args": args}
        self._wrapper_dir: str | None = None
        if os.geteuid() == 0:
            self._wrapper_dir = tempfile.mkdtemp(prefix="pg_steward_bin_")
            kwargs.update(_wrappers(Path(self._wrapper_dir), SERVER_USER))
        else:
            kwargs.update(initdb=str(bindir() / "initdb"), postgres=str(bindir() / "postgres"))
        self._pg = testing.postgresql.Postgresql(**kwargs)

    @property
    def url(self) -> str:
        return self._pg.url()

    def url_for(self, database: str) -> str:
        return self._pg.url(database=database)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._pg.settings["port"])

    @property
    def log_path(self) -> Path:
        return Path(self._pg.base_dir) / f"{self._pg.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def is_alive(self) -> bool:
        return self._pg.is_alive()

    def restart(self, immediate: bool = False) -> None:
        """Stop the server and start it again on the same data directory and port.

        ``immediate`` sends SIGQUIT to the postmaster (``pg_ctl stop -m immediate``): every backend
        exits at once without a checkpoint and the next start runs crash recovery. Otherwise SIGINT
        (``-m fast``). testing.postgresql's own ``terminate`` always sends SIGINT, so the immediate
        stop goes through its base class, which sends the signal given and waits for the exit.
        """
        from testing.common.database import Database

        if immediate:
            Database.terminate(self._pg, signal.SIGQUIT)
        else:
            self._pg.terminate()
        self._pg.start()

    def stop(self) -> None:
        self._pg.stop()
        if self._wrapper_dir:
            shutil.rmtree(self._wrapper_dir, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
