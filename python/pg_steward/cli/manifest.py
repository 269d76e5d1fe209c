"""The files of an exported partition: gzip'ed COPY text and a JSON manifest beside it (pure, no database).

The rows are in PostgreSQL's COPY text format: one line per row (a newline in a
value is written as ``\\n``), so a file's rows are counted without parsing, it
loads into any server version from 15 on whatever the architecture, and
``zcat`` shows it. The binary format would be smaller to parse but is tied to
each type's binary representation; text is what survives a major upgrade.

The manifest names the partition and its bounds, the columns and their types,
the row count and the SHA-256 of the compressed file: a file whose hash or
row count differs from its manifest is refused before anything is loaded or
dropped. Every file is written under a temporary name, fsync'ed, then renamed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

FORMAT = "pg_steward partition export 1"
COPY_FORMAT = "text"
DATA_SUFFIX = ".copy.gz"
MANIFEST_SUFFIX = ".manifest.json"
# The settings both sessions (export and import) pin, so that values are written and read the same way.
SESSION_SETTINGS = (("DateStyle", "ISO, YMD"), ("TimeZone", "UTC"), ("IntervalStyle", "postgres"),
                    ("extra_float_digits", "3"), ("bytea_output", "hex"), ("client_encoding", "UTF8"))
CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(Exception):
    """A file or manifest that cannot be trusted: its message says why; nothing was loaded or dropped."""


@dataclass(frozen=True)
class Manifest:
    parent: str  # schema-qualified, quoted where needed
    partition: str
    range_from: str
    range_to: str
    columns: list[list[str]]  # [name, type] in COPY order
    rows: int
    sha256: str
    data_file: str  # name of the data file, in the manifest's directory
    server_version: str
    created_at: str
    format: str = FORMAT
    copy_format: str = COPY_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def base_name(schema: str, name: str) -> str:
    """A file name for a partition that is safe on any file system: every byte but [A-Za-z0-9_-] escaped."""
    return urllib.parse.quote(schema, safe="_-").replace(".", "%2E") + "." + \
        urllib.parse.quote(name, safe="_-").replace(".", "%2E")


def parse(text: str) -> Manifest:
    """A manifest from its JSON; ``ManifestError`` for anything malformed."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ManifestError(f"manifest is not JSON: {error}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ManifestError(f"not a pg_steward export manifest (format must be {FORMAT!r})")
    if raw.get("copy_format") != COPY_FORMAT:
        raise ManifestError(f"copy_format must be {COPY_FORMAT!r}")
    strings = ("parent", "partition", "range_from", "range_to", "sha256", "data_file", "server_version",
               "created_at")
    for key in strings:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ManifestError(f"manifest field {key} must be a non-empty string")
    if not isinstance(raw.get("rows"), int) or isinstance(raw["rows"], bool) or raw["rows"] < 0:
        raise ManifestError("manifest field rows must be a count (0 or more)")
    if not _SHA256.fullmatch(raw["sha256"]):
        raise ManifestError("manifest field sha256 must be 64 lowercase hexadecimal digits")
    columns = raw.get("columns")
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, list) and len(c) == 2 and all(isinstance(p, str) and p for p in c)
                       for c in columns)):
        raise ManifestError("manifest field columns must be a list of [name, type] pairs")
    if len({c[0] for c in columns}) != len(columns):
        raise ManifestError("manifest field columns names a column twice")
    if os.path.basename(raw["data_file"]) != raw["data_file"] or raw["data_file"] in (".", ".."):
        raise ManifestError("manifest field data_file must be a file name in the manifest's directory")
    known = set(strings) | {"rows", "columns", "format", "copy_format"}
    if set(raw) - known:
        raise ManifestError(f"unknown manifest fields: {', '.join(sorted(set(raw) - known))}")
    return Manifest(**raw)


def read(path: Path) -> Manifest:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"cannot read {path}: {error.strerror}") from None


def manifest_path(path: Path) -> Path:
    """The manifest of ``path``: itself, or the one beside its data file."""
    if path.name.endswith(MANIFEST_SUFFIX):
        return path
    if path.name.endswith(DATA_SUFFIX):
        return path.with_name(path.name[:-len(DATA_SUFFIX)] + MANIFEST_SUFFIX)
    raise ManifestError(f"{path} is neither a manifest (*{MANIFEST_SUFFIX}) nor a data file (*{DATA_SUFFIX})")


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of the compressed file, and the rows (lines) of its decompressed content. ``ManifestError`` for a
    file that is not complete gzip (truncated, corrupted)."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as raw:
            for chunk in iter(lambda: raw.read(CHUNK), b""):
                sha.update(chunk)
        return sha.hexdigest(), sum(chunk.count(b"\n") for chunk in decompressed(path))
    except OSError as error:
        raise ManifestError(f"cannot read {path}: {error.strerror or error}") from None


def decompressed(path: Path) -> Iterator[bytes]:
    """The COPY text of a data file, in chunks; ``ManifestError`` when it is not complete gzip."""
    try:
        with gzip.open(path, "rb") as data:
            yield from iter(lambda: data.read(CHUNK), b"")
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ManifestError(f"{path} is not a complete gzip file ({error or type(error).__name__})") from None


def verify(directory: Path, manifest: Manifest) -> Path:
    """The data file of ``manifest`` if its hash and row count are the manifest's; ``ManifestError`` otherwise."""
    if manifest.copy_format != COPY_FORMAT:
        raise ManifestError(f"copy_format must be {COPY_FORMAT!r}")
    data = directory / manifest.data_file
    sha, rows = file_digest(data)
    if sha != manifest.sha256:
        raise ManifestError(f"{data}: SHA-256 {sha} differs from the manifest's {manifest.sha256}")
    if rows != manifest.rows:
        raise ManifestError(f"{data}: {rows} rows, the manifest says {manifest.rows}")
    return data


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A file written under a temporary name in ``path``'s directory, fsync'ed and renamed to ``path`` when the
    block ends without error (the directory fsync'ed too); removed when it raises."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    handle = temporary.open("wb")
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except BaseException:
        handle.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_manifest(directory: Path, manifest: Manifest, stem: str) -> Path:
    path = directory / (stem + MANIFEST_SUFFIX)
    with atomic_file(path) as out:
        out.write(manifest.to_json().encode())
    return path


def as_dict(manifest: Manifest) -> dict[str, Any]:
    return asdict(manifest)
