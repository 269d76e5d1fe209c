"""The tests share one server for the whole run, and roles belong to the server, not to a test's database:
a role name created in two test modules makes the later one fail with "role ... already exists" when both
run (and pass when either runs alone). Each literal ``CREATE ROLE name`` of the suite is in one module only."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
CREATE_ROLE = re.compile(r'CREATE ROLE "?([A-Za-z_][A-Za-z_0-9]*)')


def test_each_role_name_is_created_by_one_test_module() -> None:
    modules: dict[str, set[str]] = defaultdict(set)
    for path in TESTS.rglob("*.py"):
        for name in CREATE_ROLE.findall(path.read_text()):
            modules[name.lower()].add(str(path.relative_to(TESTS)))
    assert len(modules) > 20  # the suite's roles were found
    shared = {name: sorted(paths) for name, paths in modules.items() if len(paths) > 1}
    assert not shared, f"role names created by several test modules (name them after their module): {shared}"
