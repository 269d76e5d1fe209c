"""The pg_regress suite (sql/ + expected/) run by `make installcheck` against the test server."""

from __future__ import annotations

import os
import subprocess

from conftest import ROOT
from pg_steward.localserver import LocalServer


def test_make_installcheck(server: LocalServer) -> None:
    env = dict(os.environ, PGHOST=server.host, PGPORT=str(server.port), PGUSER="postgres")
    result = subprocess.run(["make", "-s", "installcheck"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    diffs = ROOT / "regression.diffs"
    detail = diffs.read_text() if diffs.exists() else result.stdout + result.stderr
    assert result.returncode == 0, detail
    assert "All 3 tests passed." in result.stdout or "tests passed" in result.stdout, result.stdout
