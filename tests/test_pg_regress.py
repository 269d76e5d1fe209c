"""The pg_regress suite (sql/ + expected/) run by `make installcheck` against the test server.

pg_regress reports each test as ``test install ... ok 61 ms`` up to PostgreSQL 15 and in TAP from 16 on
(``ok 1 - install 61 ms``); every test of the Makefile's REGRESS must be reported ok, in either form
(conftest.pg_regress_passed).
"""

from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT, pg_regress_passed
from pg_steward.localserver import LocalServer


def regress_tests() -> list[str]:
    [line] = [line for line in (ROOT / "Makefile").read_text().splitlines() if re.match(r"REGRESS\s*=", line)]
    return line.split("=", 1)[1].split()


def test_passed_reads_both_formats() -> None:
    old = "test install                      ... ok           61 ms\ntest partitions ... FAILED      12 ms\n"
    tap = "ok 1         - install                                    61 ms\nnot ok 2     - partitions  12 ms\n"
    assert pg_regress_passed(old) == pg_regress_passed(tap) == {"install"}


def test_make_installcheck(server: LocalServer) -> None:
    env = dict(os.environ, PGHOST=server.host, PGPORT=str(server.port), PGUSER="postgres")
    result = subprocess.run(["make", "-s", "installcheck"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    diffs = ROOT / "regression.diffs"
    detail = diffs.read_text() if diffs.exists() else result.stdout + result.stderr
    assert result.returncode == 0, detail
    assert pg_regress_passed(result.stdout) == set(regress_tests()), result.stdout
