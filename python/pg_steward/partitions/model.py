"""The data pg_steward's partition logic works on: a parent, its range partitions, a table's configuration.

Plain values, built by the modules that read the catalog (catalog.py,
config.py) and consumed by the pure planners (plan.py, survey's coverage
check) and by the DDL (create.py, retention.py). Nothing here reads the
database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pg_steward.errors import INVALID_PARAMETER_VALUE, StewardError
from pg_steward.partitions.spans import TIME_KEYS, Span
from pg_steward.partitions.values import Bound
from pg_steward.sqltext import qualified, quote_ident, quote_literal


@dataclass(frozen=True)
class Parent:
    oid: int
    schema: str
    name: str
    owner: str
    strategy: str
    key_column: str | None  # None for multi-column or expression keys
    key_type: str | None
    default_oid: int | None

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def key_sql(self) -> str:
        assert self.key_column is not None
        return quote_ident(self.key_column)

    @property
    def is_time(self) -> bool:
        return self.key_type in TIME_KEYS


@dataclass(frozen=True)
class RangePartition:
    oid: int
    schema: str
    name: str
    start: Bound
    end: Bound
    is_partitioned: bool
    is_foreign: bool = False  # a foreign table, or partitioned with a foreign table below it

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.name)


@dataclass(frozen=True)
class LockPolicy:
    timeout_ms: int = 2000
    retries: int = 3
    pause_ms: int = 500


@dataclass(frozen=True)
class Limits:
    """The ceilings a superuser sets for every table (``steward.maintenance_limits``); these are the defaults."""

    lock_timeout_ms: int = 10_000
    lock_retries: int = 10
    table_budget_ms: int = 60_000
    max_gap_slots: int = 100  # an integer key's gap of more slots is not filled (``plan.wide_gaps``)


# Actions that report rather than do: not counted as work done by a run.
NOT_WORK = ("more", "skip", "gap", "warning", "awaiting export")


@dataclass(frozen=True)
class PartitionOptions:
    """What PostgreSQL does not carry from a parent to a new partition, from the configuration."""

    tablespace: str | None = None
    storage_parameters: tuple[str, ...] = ()
    lock: LockPolicy = field(default_factory=LockPolicy)


@dataclass(frozen=True)
class Config:
    parent_oid: int
    span: Span
    premake: int
    retention: Span | None
    retention_mode: str
    archive_schema: str | None
    time_zone: str
    analyze: bool
    options: PartitionOptions


_OPTION = re.compile(r"([a-z_][a-z0-9_.]*)=(.+)")


def storage_clause(parameters: tuple[str, ...]) -> str:
    """``WITH (name = 'value', ...)`` from ``name=value`` items, each name checked and each value quoted."""
    items = []
    for item in parameters:
        match = _OPTION.fullmatch(item.strip())
        if not match:
            raise StewardError(f"storage parameter {item!r} is not of the form name=value", INVALID_PARAMETER_VALUE)
        items.append(f"{match[1]} = {quote_literal(match[2])}")
    return f" WITH ({', '.join(items)})" if items else ""
