"""extension/build.py: markers, the order of sources, and what each script holds; no server needed.

Every ``@python module.function(args)`` marker must name a function that imports and accepts the
database and those arguments, and its arguments must be the SQL function's own input parameters in
order, so a renamed or moved entry point fails here rather than in a user's session.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from conftest import ROOT, extension_build

build = extension_build()
IDEMPOTENT_DIR = ROOT / "extension" / "idempotent"

# PL/Python bodies that are not a marker: the loader itself.
HAND_WRITTEN = {"steward._load_python"}


def _balanced(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start`` (quotes and comments of SQL respected)."""
    depth, i, quote = 0, start, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith("--", i):
            i = text.index("\n", i)
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise AssertionError(f"unbalanced parenthesis at {start}")


def _split_top_level(params: str) -> list[str]:
    parts, depth, current, quote = [], 0, [], None
    for line in params.splitlines():
        line = line.split("--", 1)[0] if "'" not in line.split("--", 1)[0] else line
        for ch in line + "\n":
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append("".join(current).strip())
                current = []
                continue
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def input_parameters(params: str) -> list[str]:
    names = []
    for param in _split_top_level(params):
        tokens = param.split()
        mode = tokens[0].upper() if tokens[0].upper() in ("IN", "OUT", "INOUT", "VARIADIC") else "IN"
        if mode == "OUT":
            continue
        name = tokens[1] if tokens[0].upper() == mode and len(tokens) > 2 else tokens[0]
        names.append(name.strip('"'))
    return names


def plpython_routines() -> list[tuple[str, list[str], str]]:
    """(name, input parameters, body) of every PL/Python function and procedure in the idempotent sources."""
    found = []
    for path in sorted(IDEMPOTENT_DIR.glob("*.sql")):
        text = path.read_text()
        for match in re.finditer(r"CREATE OR REPLACE (?:FUNCTION|PROCEDURE) (steward\.\w+)\(", text):
            close = _balanced(text, match.end() - 1)
            header_end = text.index("AS $", close)
            if "LANGUAGE plpython3u" not in text[close:header_end]:
                continue
            tag = re.match(r"AS (\$\w*\$)", text[header_end:])
            assert tag, match.group(1)
            body_start = header_end + tag.end()
            body = text[body_start:text.index(tag.group(1), body_start)]
            found.append((match.group(1), input_parameters(text[match.end():close]), body))
    return found


ROUTINES = plpython_routines()
MARKERS = build.markers()


def test_the_sources_have_routines_and_markers() -> None:
    assert len(ROUTINES) >= 25 and len(MARKERS) >= 25, (len(ROUTINES), len(MARKERS))


@pytest.mark.parametrize("marker", MARKERS, ids=lambda m: f"{m.module}.{m.function}")
def test_every_marker_names_a_function_that_takes_its_arguments(marker: object) -> None:
    module = importlib.import_module(marker.module)
    function = getattr(module, marker.function, None)
    assert callable(function), f"{marker.source}:{marker.line}: {marker.module} has no function {marker.function}"
    try:
        inspect.signature(function).bind(object(), *marker.args)
    except TypeError as error:
        raise AssertionError(f"{marker.source}:{marker.line}: {marker.function}{marker.args}: {error}") from None


@pytest.mark.parametrize("routine", ROUTINES, ids=lambda r: r[0])
def test_every_plpython_body_is_one_marker_of_the_sql_parameters(routine: tuple[str, list[str], str]) -> None:
    name, parameters, body = routine
    if name in HAND_WRITTEN:
        return
    code = [line for line in body.strip().splitlines() if not line.lstrip().startswith("#")]
    assert len(code) == 1 and code[0].startswith("@python "), f"{name}: the body is not one @python marker"
    match = build.PYTHON_MARKER.match(code[0])
    assert match, code[0]
    args = [a.strip() for a in match["args"].split(",") if a.strip()]
    assert [a for a in args if not a.startswith("plpy.")] == parameters, (
        f"{name}: the marker passes {args}, the SQL parameters are {parameters}"
    )


def test_markers_expand_into_the_shim() -> None:
    text = "AS $python$\n@python pg_steward.runtime.versions()\n$python$;\n@text_formats\n"
    out = build.expand("x.sql", text)
    assert 'if GD.get("pg_steward") != "@VERSION@":' in out
    assert "from pg_steward.runtime import call\nfrom pg_steward.runtime import versions\nreturn call(versions)" in out
    assert "SET DateStyle = 'ISO, YMD'\nSET TimeZone = 'UTC'\nSET IntervalStyle = 'iso_8601'" in out
    assert "@" not in out.replace("@VERSION@", "")
    with pytest.raises(SystemExit, match="unknown marker @nonsense"):
        build.expand("x.sql", "@nonsense here\n")
    with pytest.raises(SystemExit, match="a @python marker reads"):
        build.expand("x.sql", "@python not a call\n")


def test_versions_order_numerically() -> None:
    ordered = ["0.1.0", "0.2.0", "0.9.1", "0.10.0", "1.0.0"]
    assert sorted(reversed(ordered), key=build.version_key) == ordered


def test_an_upgrade_runs_the_incremental_sources_after_its_version_only() -> None:
    every = build.incremental_sources()
    assert every and all(p.parent.parent.name == "incremental" for p in every)
    versions = [p.parent.name for p in every]
    assert versions == sorted(versions, key=build.version_key)
    newest = versions[-1]
    assert build.incremental_sources(after=newest) == []
    assert build.incremental_sources(after="0.0.0") == every


def test_scripts_hold_guard_incrementals_and_idempotents_in_order() -> None:
    install = build.script("9.9.9", None, "/lib/pg")
    upgrade = build.script("9.9.9", "0.1.0", "/lib/pg")
    assert "@VERSION@" not in install and "@PKGLIBDIR@" not in install
    assert '"/lib/pg"' in install and '"@PKGLIBDIR@"' not in install  # the built-for pkglibdir
    assert install.index("extension/guard.sql") < install.index("extension/incremental/") < install.index(
        "extension/idempotent/schema.sql")
    assert "CREATE TABLE steward.partition_config" in install
    assert "CREATE TABLE steward.partition_config" not in upgrade  # 0.1.0 made it
    assert upgrade.index("extension/guard.sql") < upgrade.index("extension/idempotent/schema.sql")
    assert "\\echo Use \"ALTER EXTENSION pg_steward UPDATE TO '9.9.9'\"" in upgrade
    assert "@PKGLIBDIR@" in build.script("9.9.9", None, None)  # make freeze leaves it open
    # Every routine of the install script is replaced by the upgrade: nothing of the old version stays.
    created = set(re.findall(r"CREATE OR REPLACE (?:FUNCTION|PROCEDURE) (steward\.\w+)", install))
    assert created == set(re.findall(r"CREATE OR REPLACE (?:FUNCTION|PROCEDURE) (steward\.\w+)", upgrade))
    assert not re.search(r"^CREATE (?:FUNCTION|PROCEDURE|VIEW|TRIGGER)", install, re.MULTILINE), (
        "functions, procedures, views and triggers are CREATE OR REPLACE in the idempotent sources"
    )


def test_every_idempotent_source_is_listed() -> None:
    assert sorted(build.IDEMPOTENT) == sorted(p.name for p in IDEMPOTENT_DIR.glob("*.sql"))
