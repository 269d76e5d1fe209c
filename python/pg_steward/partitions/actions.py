"""What maintenance did to a table, as returned and as logged in ``steward.partition_maintenance_log``.

One home for the action rows that maintenance, retention, span changes and the parents' ANALYZE return and log,
apart from the maintenance loop (``maintain``), so that the steps it calls need not import it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pg_steward.db import Database
from pg_steward.errors import INSUFFICIENT_PRIVILEGE, error_fields, error_message, error_sqlstate


@dataclass
class Action:
    parent: int | None
    action: str
    partition: str | None
    ok: bool
    detail: str | None = None
    rows_moved: int = 0

    def row(self) -> dict[str, Any]:
        return {"parent": self.parent, "action": self.action, "partition": self.partition,
                "ok": self.ok, "detail": self.detail}


def error_text(error: BaseException) -> str:
    """An error as one log detail: its message, then PostgreSQL's DETAIL when it has one (``error_fields``)."""
    detail = error_fields(error).get("detail")
    return error_message(error) + (f" ({detail})" if detail else "")


def log(db: Database, action: Action) -> None:
    """One row of ``steward.partition_maintenance_log`` (``log_all`` of one action)."""
    log_all(db, [action])


def log_all(db: Database, actions: list[Action]) -> None:
    """Rows of ``steward.partition_maintenance_log``, in order, in one INSERT and one subtransaction (a table's
    actions of one call: not a statement and a subtransaction each). Its trigger sets the role and the time,
    and refuses a non-superuser's row about a table it may not manage: such a row (a run over another owner's
    table) is not logged, and the action is still returned; when the INSERT of several rows is refused, each is
    tried alone, so that the rows the caller may write are kept."""
    if not actions:
        return
    try:
        with db.subtransaction():
            db.execute(
                "INSERT INTO steward.partition_maintenance_log (parent, action, partition, ok, rows_moved, detail) "
                "SELECT a.parent::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text, a.action, a.partition, "
                "a.ok, a.rows_moved, a.detail FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
                "pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]), "
                "pg_catalog.unnest($4::pg_catalog.bool[]), pg_catalog.unnest($5::pg_catalog.int8[]), "
                "pg_catalog.unnest($6::pg_catalog.text[])) WITH ORDINALITY "
                "AS a(parent, action, partition, ok, rows_moved, detail, n) "
                "ORDER BY a.n",
                [a.parent for a in actions], [a.action for a in actions], [a.partition for a in actions],
                [a.ok for a in actions], [a.rows_moved for a in actions], [a.detail for a in actions],
            )
    except Exception as error:
        if error_sqlstate(error) != INSUFFICIENT_PRIVILEGE:
            raise
        if len(actions) > 1:
            for action in actions:
                log_all(db, [action])
            return
        action = actions[0]
        if action.parent is None or not db.query(
                "SELECT pg_catalog.has_table_privilege('steward.partition_maintenance_log', 'INSERT') AS ok")[0]["ok"]:
            raise
        if not db.query("SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::bigint::oid "
                        "AND NOT pg_catalog.pg_has_role(relowner, 'USAGE')", action.parent):
            raise  # refused for another reason (no INSERT grant): the caller's error
