"""The plans of the statements a call runs, as auto_explain shows them (nested statements included)."""

from __future__ import annotations

import psycopg


def plans_of_calls(conn: psycopg.Connection, sql: str, calls: int = 1, params: list | None = None) -> list[str]:
    """The plans auto_explain shows for every statement ``sql`` runs, over ``calls`` calls in one session; the
    session's settings are reset after (``plan_cache_mode`` set by the caller included)."""
    plans: list[str] = []
    conn.execute("LOAD 'auto_explain'")
    for setting, value in (("log_min_duration", "0"), ("log_nested_statements", "on"), ("log_level", "notice")):
        conn.execute(f"SET auto_explain.{setting} = {value}")
    conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for _ in range(calls):
        conn.execute(sql, params).fetchall()
    conn.execute("RESET ALL")
    return plans
