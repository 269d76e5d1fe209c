"""SQL fragments that choose which relations of the catalog pg_steward's reports look at.

``USER_SCHEMA`` keeps the users' schemas: not ``pg_catalog``,
``information_schema``, the TOAST schemas, nor another session's temporary
schema (whose tables only that session can read or vacuum). It is written
over a ``pg_catalog.pg_namespace`` row aliased ``n``.
"""

from __future__ import annotations

USER_SCHEMA = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
    "AND NOT pg_catalog.pg_is_other_temp_schema(n.oid)"
)
