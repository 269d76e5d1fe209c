"""The same query functions driven from a client through psycopg (the command line's path)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from pg_steward.db import PsycopgDatabase
from pg_steward.errors import StewardError
from pg_steward.queries.capture import capture_query_stats, log_slow_query
from pg_steward.queries.explain import analyze_query_performance, check_pruning, query_advice


def test_capture_and_analysis_from_a_client(new_database: Callable[..., str]) -> None:
    with psycopg.connect(new_database(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("CREATE TABLE big AS SELECT g AS id, g % 1000 AS k FROM generate_series(1, 50000) g")
        conn.execute("ANALYZE big")
        db = PsycopgDatabase(conn)
        assert capture_query_stats(db, 0, 0)["baseline"]
        conn.execute("SELECT count(*) FROM big WHERE k = 3")
        summary = capture_query_stats(db, 0, 0)
        assert summary["logged"] >= 1 and not summary["baseline"]
        assert log_slow_query(db, "SELECT 1", 5, None, None) > 0
        nodes = analyze_query_performance(db, "SELECT * FROM big WHERE k = 3")
        assert nodes[-1]["relation"] == "public.big" and nodes[-1]["rows_actual"] == 50
        fixes = [a["fix"] for a in query_advice(db, "SELECT * FROM big WHERE k = 3")]
        assert fixes == ['CREATE INDEX CONCURRENTLY ON public.big ("k");']
        assert check_pruning(db, "SELECT * FROM big") == []
        with pytest.raises(StewardError, match="not a plain query"):
            analyze_query_performance(db, "DELETE FROM big")
        assert conn.execute("SELECT count(*) FROM big").fetchone() == (50000,)
