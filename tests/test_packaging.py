"""PGXN packaging: META.json against the Meta Spec 1.0.0, `make dist`, and `pgxn install/check/load`.

Everything that builds runs in a throwaway ``git clone`` of the repository, so
the work tree is never written to. The clone is brought to the state of the
work tree first (tracked changes and new files that .gitignore does not
exclude, as ``git add -A`` would stage them) and that state is committed
*in the clone only*, so ``make dist`` (``git archive HEAD``) packs what is
being tested. On a clean work tree this is exactly HEAD.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

import pg_steward
from conftest import ROOT, pg_config, pg_regress_passed
from pg_steward.localserver import LocalServer

META = json.loads((ROOT / "META.json").read_text())
DIST = f"{META['name']}-{META['version']}"
PGXN = Path(sys.executable).parent / "pgxn"
PG_CONFIG = shutil.which(os.environ.get("PG_CONFIG", "pg_config")) or "pg_config"

# PGXN Meta Spec 1.0.0 (https://pgxn.org/meta/spec.txt)
REQUIRED_KEYS = {"name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"}
OPTIONAL_KEYS = {"description", "generated_by", "tags", "no_index", "prereqs", "release_status", "resources"}
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd", "gfdl_1_2", "gfdl_1_3",
    "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
    "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
VERSION_RANGE = re.compile(rf"(?:(?:[=!]=|[<>]=?)\s*)?(?:{SEMVER.pattern})")
TERM = re.compile(r"[^/\\\s\x00-\x1f\x7f]{2,}")
TAG = re.compile(r"[^/\\\x00-\x1f\x7f]{2,255}")
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONSHIPS = {"requires", "recommends", "suggests", "conflicts"}


def control_default_version() -> str:
    text = (ROOT / "pg_steward.control").read_text()
    match = re.search(r"^default_version\s*=\s*'([^']*)'", text, re.MULTILINE)
    assert match, "no default_version in pg_steward.control"
    return match.group(1)


def run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} (in {cwd}) exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def build_env(**extra: str) -> dict[str, str]:
    """The environment for make and pgxn: no PG_CONFIG (pgxn passes --pg_config to make) nor other PG* variables."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    env.update(extra)
    return env


def _git(*args: str, cwd: Path = ROOT) -> str:
    return run(["git", *args], cwd=cwd, timeout=120).stdout


def _paths(listing: str) -> set[str]:
    return {path for path in listing.split("\0") if path and not path.endswith("/")}  # no nested repositories


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A throwaway clone of the repository holding the work tree's state as its HEAD."""
    target = tmp_path / "pg_steward"
    run(["git", "clone", "--quiet", str(ROOT), str(target)], cwd=tmp_path, timeout=120)
    committed = _paths(_git("ls-tree", "-r", "-z", "--name-only", "HEAD"))
    current = _paths(_git("ls-files", "-z", "--cached", "--others", "--exclude-standard"))
    for path in committed | current:
        source, copy = ROOT / path, target / path
        if copy.is_symlink() or copy.exists():
            copy.unlink()
        if path in current and (source.is_symlink() or source.is_file()):
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy, follow_symlinks=False)
    _git("add", "--all", cwd=target)
    _git("-c", "user.name=pg_steward tests", "-c", "user.email=tests@pg-steward.invalid",
         "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "work tree snapshot", cwd=target)
    return target


def test_meta_json_follows_the_meta_spec_1_0_0() -> None:
    missing = REQUIRED_KEYS - META.keys()
    assert not missing, f"META.json lacks required keys: {sorted(missing)}"
    unknown = {key for key in META.keys() - REQUIRED_KEYS - OPTIONAL_KEYS if not key.lower().startswith("x_")}
    assert not unknown, f"META.json has keys the spec does not define: {sorted(unknown)}"

    assert META["name"] == "pg_steward"
    assert TERM.fullmatch(META["name"])
    assert SEMVER.fullmatch(META["version"]), META["version"]
    assert isinstance(META["abstract"], str) and META["abstract"].strip()
    maintainers = META["maintainer"] if isinstance(META["maintainer"], list) else [META["maintainer"]]
    assert maintainers and all(isinstance(m, str) and m.strip() for m in maintainers)
    assert META["maintainer"] == "pg_steward developers"
    assert META["license"] == "postgresql"
    licenses = META["license"] if isinstance(META["license"], list) else [META["license"]]
    assert set(licenses) <= LICENSES

    spec = META["meta-spec"]
    assert re.fullmatch(r"1\.0\.\d+", spec["version"]), spec
    assert spec.get("url", "https://pgxn.org/meta/spec.txt") in {"https://pgxn.org/meta/spec.txt",
                                                                 "http://pgxn.org/meta/spec.txt"}

    assert isinstance(META["provides"], dict) and META["provides"], "provides names no extension"
    for extension, data in META["provides"].items():
        assert TERM.fullmatch(extension), extension
        assert {"file", "version"} <= data.keys(), f"{extension}: file and version are required"
        assert data.keys() <= {"file", "version", "abstract", "docfile"}, data
        assert SEMVER.fullmatch(data["version"]), data

    assert META.get("release_status", "stable") in {"stable", "testing", "unstable"}
    tags = META.get("tags")
    assert tags is None or (tags and all(isinstance(tag, str) and TAG.fullmatch(tag) for tag in tags)), tags
    for phase, relationships in META.get("prereqs", {}).items():
        assert phase in PHASES, phase
        for relationship, prereqs in relationships.items():
            assert relationship in RELATIONSHIPS, relationship
            for name, version in prereqs.items():
                assert TERM.fullmatch(name), name
                ranges = [] if version == 0 else str(version).split(",")
                assert all(part.strip() == "0" or VERSION_RANGE.fullmatch(part.strip()) for part in ranges), version


def test_meta_json_versions_and_files_match_the_tree() -> None:
    version = control_default_version()
    assert version == META["version"] == pg_steward.__version__
    assert META["provides"]["pg_steward"]["version"] == version
    assert META["prereqs"]["runtime"]["requires"].get("plpython3u") == 0  # the control file's requires
    for extension, data in META["provides"].items():
        for key in ("file", "docfile"):
            if key in data:
                path = data[key]
                assert not Path(path).is_absolute() and "\\" not in path, f"{extension}.{key}: {path}"
                assert (ROOT / path).is_file(), f"{extension}.{key} names a missing file: {path}"
    assert "PostgreSQL License" in (ROOT / "LICENSE").read_text()


def test_make_dist_builds_the_pgxn_zip(clone: Path) -> None:
    run(["make", "-s", f"PG_CONFIG={PG_CONFIG}", "dist"], cwd=clone, env=build_env(), timeout=300)
    archive = clone / f"{DIST}.zip"
    assert archive.is_file(), f"make dist did not write {archive.name}: {sorted(p.name for p in clone.iterdir())}"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        packed_meta = json.loads(zf.read(f"{DIST}/META.json"))
    outside = [name for name in names if not name.startswith(f"{DIST}/")]
    assert not outside, f"entries outside {DIST}/: {outside}"
    expected = {"META.json", "LICENSE", "pg_steward.control", "Makefile", "extension/build.py",
                "extension/idempotent/runtime.sql",
                "python/pg_steward/__init__.py"}
    missing = {path for path in expected if f"{DIST}/{path}" not in names}
    assert not missing, f"{archive.name} lacks {sorted(missing)}"
    for data in packed_meta["provides"].values():
        assert f"{DIST}/{data['file']}" in names, data
    assert packed_meta["version"] == META["version"]
    # Build outputs sit at the top of the tree (the frozen scripts of extension/released/ are sources).
    built = [name for name in names
             if re.fullmatch(rf"{DIST}/(pg_steward--[^/]*\.sql|results/.*|regression\.\w+)", name)]
    assert not built, f"build outputs in the archive: {built}"


@pytest.mark.slow
def test_pgxn_install_installs_a_working_extension(clone: Path, new_database: Callable[..., str]) -> None:
    started = time.time() - 1
    run([str(PGXN), "install", "--pg_config", PG_CONFIG, "./"], cwd=clone, env=build_env(), timeout=900)

    control = Path(pg_config("--sharedir")) / "extension" / "pg_steward.control"
    assert control.is_file(), f"{control} missing after pgxn install"
    assert control.stat().st_mtime >= started, f"{control} was not (re)installed by pgxn install"
    assert control.read_text() == (clone / "pg_steward.control").read_text()
    version = META["version"]
    assert (control.parent / f"pg_steward--{version}.sql").is_file()
    package = Path(pg_config("--pkglibdir")) / "pg_steward" / version / "pg_steward" / "__init__.py"
    assert package.is_file() and package.stat().st_mtime >= started, f"{package} was not installed by pgxn install"

    with psycopg.connect(new_database(extension=False), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_steward CASCADE")
        assert conn.execute("SELECT python_version FROM steward.version()").fetchone() == (version,)


@pytest.mark.slow
def test_pgxn_check_runs_the_regression_suite(clone: Path, server: LocalServer) -> None:
    env = build_env(PGHOST=server.host, PGPORT=str(server.port), PGUSER="postgres")
    result = subprocess.run([str(PGXN), "check", "--pg_config", PG_CONFIG, "./"], cwd=clone, env=env,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    diffs = clone / "regression.diffs"
    assert result.returncode == 0, output + (diffs.read_text() if diffs.exists() else "")

    passed = pg_regress_passed(result.stdout)
    suite = {path.stem for path in (clone / "sql").glob("*.sql")}
    assert suite, "no pg_regress tests in sql/"
    assert suite <= passed, f"tests that did not pass: {sorted(suite - passed)}\n{output}"
    assert re.search(rf"All {len(passed)} tests passed\.", result.stdout), output


def test_pgxn_load_creates_the_extension_named_in_meta_json(clone: Path, server: LocalServer,
                                                            new_database: Callable[..., str]) -> None:
    url = new_database(extension=False)
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION plpython3u")  # pgxn load runs CREATE EXTENSION without CASCADE
    env = build_env(PGHOST=server.host, PGPORT=str(server.port), PGUSER="postgres")
    run([str(PGXN), "load", "--pg_config", PG_CONFIG, "-d", database, "./"], cwd=clone, env=env, timeout=300)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_steward'").fetchone()
    assert row == (META["version"],), "pgxn load did not create the extension"
