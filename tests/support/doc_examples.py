"""The examples of the docs, found and judged without a server: which fenced blocks are examples, which are
run and which are marked not to be, the output a doc shows after one, and whether the real output matches it.

Rules (tests/unit/test_doc_examples_rules.py proves them; tests/test_doc_examples.py runs the examples):

- every fenced ```sql and ```sh block of README.md, docs/*.md and extension/*.md is an example, except a
  reference signature (a ```sql block whose first line is ``RETURNS ...`` or ``steward.name(``);
- an SQL example is run unless its first line is ``-- not run: <reason>``; a shell example is run unless
  SHELL_NOT_RUN names it (document, first line) with a reason;
- a ```text block right after an example (blank lines between allowed) is the output the doc shows: the
  real output must match it, line by line, where ``...`` in a line stands for any text and a line that is
  only ``...`` for any number of lines; a run of blanks equals one blank (psql pads columns to their
  values), and blanks at either end of a line are ignored;
- a shell example runs with the stand-ins of STANDINS replaced by the test server's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LANGUAGES = ("sql", "sh")
NOT_RUN = re.compile(r"^\s*--\s*not run:\s*(\S.*)$")
SIGNATURE = re.compile(r"^\s*(RETURNS\b|steward\.\w+\s*\()")

# Shell examples that cannot run in a test, by (document, first line), with the reason.
SHELL_NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "make demo    # installs what is missing, builds, installs, and shows pg_steward on a "
                  "throwaway server"): "runs the demo and then the whole test suite, this one included",
    ("README.md", "apt-get install python3-venv                    # as root, once"):
        "installs a system package",
    ("README.md", "make install                       # or: pgxn install ./   (PG_CONFIG=... picks the server)"):
        "writes into the server's directories; the tests install pg_steward before they start",
    ("README.md", "make install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config   # Debian/Ubuntu (PGDG) packages"):
        "names the servers of other machines",
    ("README.md", "make test PG_MAJOR=17    # also 16 or 18; 15 (Debian's) is the default"):
        "runs the whole test suite on another PostgreSQL",
    ("extension/schedule.md",
     "PGOPTIONS='-c steward.drop_with_jobs=allow' pg_restore --clean --if-exists --dbname=app app.dump"):
        "needs a dump of the database; tests/test_schedule_cron_hygiene.py runs this restore",
}

# Placeholders of shell examples, replaced by the test's values (keys of the dict given to substitute()).
STANDINS = ("postgresql://db1/app", "postgresql://db2/app")


@dataclass(frozen=True)
class Example:
    doc: str  # path relative to the repository
    line: int  # of the opening fence
    language: str
    body: str
    output: str | None  # the ```text block that follows, if any

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.body.splitlines()[0] if self.body.strip() else ""

    @property
    def is_signature(self) -> bool:
        return self.language == "sql" and bool(SIGNATURE.match(self.first_line))

    @property
    def not_run_reason(self) -> str | None:
        """Why the example is not run, or None when it is run."""
        if self.language == "sql":
            match = NOT_RUN.match(self.first_line)
            return match.group(1).strip() if match else None
        return SHELL_NOT_RUN.get((self.doc, self.first_line))


_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def parse(doc: str, text: str) -> list[Example]:
    """The ```sql and ```sh blocks of a document (signatures included), each with the ```text block after it."""
    fences = list(_FENCE.finditer(text))
    found = []
    for i, fence in enumerate(fences):
        if fence.group(1) not in LANGUAGES:
            continue
        output = None
        if i + 1 < len(fences) and fences[i + 1].group(1) == "text" \
                and not text[fence.end():fences[i + 1].start()].strip():
            output = fences[i + 1].group(2)
        found.append(Example(doc, text[:fence.start()].count("\n") + 1, fence.group(1), fence.group(2), output))
    return found


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted((root / "extension").glob("*.md"))]


def all_examples(root: Path = ROOT) -> list[Example]:
    """Every example of the docs, signatures left out."""
    return [e for path in documents(root) for e in parse(str(path.relative_to(root)), path.read_text())
            if not e.is_signature]


def unjudged(examples: list[Example], shell_not_run: dict[tuple[str, str], str] = SHELL_NOT_RUN) -> list[str]:
    """Problems of the marks: a SHELL_NOT_RUN entry that names no example, an empty reason."""
    problems = []
    shells = {(e.doc, e.first_line) for e in examples if e.language == "sh"}
    for key, reason in shell_not_run.items():
        if key not in shells:
            problems.append(f"SHELL_NOT_RUN names no shell example: {key}")
        if not reason.strip():
            problems.append(f"SHELL_NOT_RUN gives no reason for {key}")
    problems += [f"{e.where}: 'not run' without a reason" for e in examples
                 if e.language == "sql" and re.match(r"^\s*--\s*not run\b", e.first_line)
                 and NOT_RUN.match(e.first_line) is None]
    return problems


def substitute(command: str, values: dict[str, str]) -> str:
    """A shell example with its stand-ins replaced (each key of ``values`` must be one of STANDINS)."""
    for standin, value in values.items():
        if standin not in STANDINS:
            raise ValueError(f"not a stand-in: {standin}")
        command = command.replace(standin, value)
    return command


def _blanks(line: str) -> str:
    return " ".join(line.split())


def _line_matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def matches(expected: str, actual: str) -> bool:
    """Whether output ``actual`` matches the output a doc shows (``...`` rules in the module docstring)."""
    want = [_blanks(line) for line in expected.strip("\n").splitlines()]
    got = [_blanks(line) for line in actual.strip("\n").splitlines()]

    def walk(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i].strip() == "...":
            return any(walk(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and _line_matches(want[i], got[j]) and walk(i + 1, j + 1)

    return walk(0, 0)
