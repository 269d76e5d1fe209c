"""The rules that decide which doc examples run and how their output is compared (no server)."""

from __future__ import annotations

import re

import pytest

from support.doc_examples import (
    ROOT,
    SHELL_NOT_RUN,
    all_examples,
    documents,
    matches,
    parse,
    substitute,
    unjudged,
)

DOC = """Intro.

```sql
SELECT 1;
```

```text
 ?column?
----------
        1
(1 row)
```

```sql
-- not run: needs a second server
SELECT * FROM elsewhere;
```

```sql
RETURNS TABLE (a int)
```

```sh
pg-steward check --dsn postgresql://db1/app
```

Prose between.

```text
not the output of the block above: prose stands between
```

```python
print("not an example")
```
"""


def test_blocks_are_found_with_their_line_language_and_output() -> None:
    found = parse("x.md", DOC)
    assert [(e.line, e.language) for e in found] == [(3, "sql"), (14, "sql"), (19, "sql"), (23, "sh")]
    assert found[0].output is not None and "(1 row)" in found[0].output
    assert found[3].output is None  # prose between a block and a text block: no output shown


def test_a_signature_is_not_an_example() -> None:
    found = parse("x.md", DOC)
    assert [e.is_signature for e in found] == [False, False, True, False]
    assert parse("x.md", "```sql\nsteward.jobs (job text)\n```\n")[0].is_signature


def test_an_sql_example_is_marked_by_its_first_line_with_a_reason() -> None:
    found = parse("x.md", DOC)
    assert found[0].not_run_reason is None
    assert found[1].not_run_reason == "needs a second server"
    later = parse("x.md", "```sql\nSELECT 1;\n-- not run: too late, only the first line counts\n```\n")[0]
    assert later.not_run_reason is None


def test_a_shell_example_is_marked_by_the_list() -> None:
    shell = parse("README.md", "```sh\nmake test PG_MAJOR=17    # also 16 or 18; 15 (Debian's) is the default\n```\n")
    assert shell[0].not_run_reason == SHELL_NOT_RUN[("README.md", shell[0].first_line)]
    assert parse("README.md", "```sh\npg-steward --version\n```\n")[0].not_run_reason is None


def test_marks_without_a_reason_or_naming_nothing_are_problems() -> None:
    examples = parse("x.md", "```sql\n-- not run:\nSELECT 1;\n```\n```sh\nls\n```\n")
    problems = unjudged(examples, {("x.md", "ls"): "", ("x.md", "gone"): "reason"})
    assert problems == ["SHELL_NOT_RUN gives no reason for ('x.md', 'ls')",
                        "SHELL_NOT_RUN names no shell example: ('x.md', 'gone')",
                        "x.md:1: 'not run' without a reason"]


@pytest.mark.parametrize(("expected", "actual", "ok"), [
    ("a | b\n(1 row)", "a | b\n(1 row)\n\n", True),
    (" a   |  b ", "a | b", True),  # psql's padding
    ("x = ...", "x = 42", True),
    ("x = ...", "y = 42", False),
    ("head\n...\n(3 rows)", "head\n1\n2\n3\n(3 rows)", True),
    ("head\n...\n(3 rows)", "head\n(3 rows)", True),
    ("head\n(3 rows)", "head\n1\n(3 rows)", False),
    ("one", "one\ntwo", False),
    ("a.b", "axb", False),  # only ... is special
])
def test_output_matching(expected: str, actual: str, ok: bool) -> None:
    assert matches(expected, actual) is ok


def test_stand_ins_only_are_substituted() -> None:
    assert substitute("x --dsn postgresql://db1/app", {"postgresql://db1/app": "postgresql://h/t1"}) \
        == "x --dsn postgresql://h/t1"
    with pytest.raises(ValueError, match="not a stand-in"):
        substitute("x", {"mydb": "t1"})


def test_every_sql_and_shell_block_of_the_docs_is_run_or_marked() -> None:
    """Each ```sql and ```sh fence of the docs is a signature, an example that is run, or a marked one; the
    marks all name an example and give a reason."""
    fences = sum(len(re.findall(r"^```(?:sql|sh)[ \t]*$", path.read_text(), re.MULTILINE)) for path in documents())
    signatures = sum(e.is_signature for path in documents()
                     for e in parse(str(path.relative_to(ROOT)), path.read_text()))
    examples = all_examples()
    run = [e for e in examples if e.not_run_reason is None]
    marked = [e for e in examples if e.not_run_reason is not None]
    assert fences == signatures + len(run) + len(marked)
    assert unjudged(examples) == []
    assert len(run) > len(marked)
    assert {e.doc for e in examples} >= {"README.md", "docs/cli.md", "extension/schedule.md"}


def test_the_examples_create_no_role_other_tests_use() -> None:
    """Roles are cluster-wide: a role an example names starts with doc_."""
    for example in all_examples():
        for role in re.findall(r"\b(?:TO|ROLE|run_as\s*=>)\s+'?\"?(\w+)", example.body):
            if role.upper() not in {"PUBLIC", "CURRENT_USER"}:
                assert role.startswith("doc_"), f"{example.where}: role {role}"
