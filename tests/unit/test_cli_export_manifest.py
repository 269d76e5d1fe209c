"""The files of an exported partition (cli/manifest.py) and the record's argument checks, without a server."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from pg_steward.cli import manifest
from pg_steward.errors import StewardError
from pg_steward.partitions.export import check_record_arguments

ROWS = b"1\t2024-01-01\ta\\nb\n2\t2024-01-02\t\\N\n"


def written(tmp_path: Path, data: bytes = ROWS) -> manifest.Manifest:
    path = tmp_path / ("s.p" + manifest.DATA_SUFFIX)
    path.write_bytes(gzip.compress(data))
    entry = manifest.Manifest(parent="s.t", partition="s.p", range_from="2024-01-01", range_to="2024-02-01",
                              columns=[["id", "bigint"], ["at", "date"], ["note", "text"]], rows=data.count(b"\n"),
                              sha256=hashlib.sha256(path.read_bytes()).hexdigest(), data_file=path.name,
                              server_version="15.8", created_at="2026-01-01T00:00:00+00:00")
    manifest.write_manifest(tmp_path, entry, "s.p")
    return entry


def test_a_written_manifest_reads_back_and_verifies(tmp_path: Path) -> None:
    entry = written(tmp_path)
    read = manifest.read(tmp_path / ("s.p" + manifest.MANIFEST_SUFFIX))
    assert read == entry and read.rows == 2  # an escaped newline in a value is not a row
    assert manifest.verify(tmp_path, read) == tmp_path / read.data_file
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    entry = written(tmp_path)
    data = tmp_path / entry.data_file
    whole = data.read_bytes()
    data.write_bytes(whole[:-3])
    with pytest.raises(manifest.ManifestError, match=r"SHA-256|not a complete gzip"):
        manifest.verify(tmp_path, entry)
    data.write_bytes(gzip.compress(ROWS + b"3\t2024-01-03\tc\n"))
    rehashed = manifest.Manifest(**{**manifest.as_dict(entry), "sha256": hashlib.sha256(data.read_bytes()).hexdigest()})
    with pytest.raises(manifest.ManifestError, match="3 rows, the manifest says 2"):
        manifest.verify(tmp_path, rehashed)
    data.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(manifest.ManifestError, match="not a complete gzip"):
        manifest.file_digest(data)


@pytest.mark.parametrize(("change", "match"), [
    ({"format": "other"}, "not a pg_steward export manifest"),
    ({"rows": -1}, "rows must be a count"),
    ({"rows": True}, "rows must be a count"),
    ({"sha256": "ABC"}, "sha256 must be"),
    ({"data_file": "../etc/passwd"}, "data_file must be a file name"),
    ({"data_file": ".."}, "data_file must be a file name"),
    ({"columns": []}, "columns must be a list"),
    ({"columns": [["a", "int"], ["a", "int"]]}, "names a column twice"),
    ({"parent": ""}, "parent must be a non-empty string"),
    ({"extra": 1}, "unknown manifest fields: extra"),
    ({"copy_format": "binary"}, "copy_format must be"),
])
def test_malformed_manifests_are_refused(tmp_path: Path, change: dict, match: str) -> None:
    entry = manifest.as_dict(written(tmp_path))
    with pytest.raises(manifest.ManifestError, match=match):
        manifest.parse(json.dumps({**entry, **change}))
    with pytest.raises(manifest.ManifestError, match="not JSON"):
        manifest.parse("{")


def test_file_names_are_safe_and_distinct() -> None:
    assert manifest.base_name("public", "events_p2024_01") == "public.events_p2024_01"
    assert "/" not in manifest.base_name("a/b", "../c") and ".." not in manifest.base_name("a", "..")
    assert manifest.base_name("a.b", "c") != manifest.base_name("a", "b.c")
    assert manifest.manifest_path(Path("d/x.copy.gz")) == Path("d/x.manifest.json")
    with pytest.raises(manifest.ManifestError, match="neither a manifest"):
        manifest.manifest_path(Path("x.txt"))


def test_an_atomic_file_is_removed_when_the_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "f"
    with pytest.raises(RuntimeError), manifest.atomic_file(target) as out:
        out.write(b"half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "match"), [
    ((None, "a" * 64, "f", "drop"), "row_count must not be NULL"),
    ((-1, "a" * 64, "f", "drop"), "row_count must be 0 or more"),
    ((0, "a" * 63, "f", "drop"), "sha256 must be"),
    ((0, "a" * 64, "", "drop"), "location must not be empty"),
    ((0, "a" * 64, "f", "archive"), "then_mode must be one of"),
])
def test_record_arguments(args: tuple, match: str) -> None:
    with pytest.raises(StewardError, match=match):
        check_record_arguments(*args)
    check_record_arguments(0, "a" * 64, "f", "detach")
