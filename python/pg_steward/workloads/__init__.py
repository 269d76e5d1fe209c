"""SQL workloads shipped with the package: the seed documents' tables and data."""

from __future__ import annotations

from importlib import resources


def sql(name: str) -> str:
    """The text of ``workloads/<name>.sql``."""
    return resources.files(__name__).joinpath(f"{name}.sql").read_text()
