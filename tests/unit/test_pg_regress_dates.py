"""The pg_regress sources read dates by the managed tables' clock, never by the session's zone.

pg_regress runs psql with PGTZ=PST8PDT, while a managed table's clock is UTC unless configured: between
00:00 and 08:00 UTC the two are on different days, so a comparison with current_date (or another
session-zone value) passes or fails by the hour the suite runs.
"""
import re
from pathlib import Path

SQL = Path(__file__).resolve().parents[2] / "sql"
# current_date and the local times, and a timestamp cast to date without a zone: each is read in PST8PDT.
SESSION_ZONE_DATES = re.compile(r"\b(current_date|localtimestamp|localtime)\b"
                                r"|\b(now\(\)|current_timestamp)\s*::\s*date\b", re.IGNORECASE)


def test_no_session_zone_dates_in_regression_sources() -> None:
    offenders = [f"{path.name}:{number}: {line.strip()}"
                 for path in sorted(SQL.glob("*.sql"))
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if not line.lstrip().startswith("--") and SESSION_ZONE_DATES.search(line)]
    assert not offenders, "dates by the session's zone (use (now() AT TIME ZONE 'UTC')::date):\n" + "\n".join(offenders)
