"""Job names, cron expressions and commands of steward.schedule (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from pg_steward.errors import StewardError
from pg_steward.schedule import jobs
from pg_steward.schedule.cron import conninfo_keywords, conninfo_value, default_conninfo


@pytest.mark.parametrize("text", ["* * * * *", "*/15 * * * *", "30 3 * * 1-5", "0 0 1 jan,jul *", " 5  4 * * * "])
def test_cron_expressions_accepted(text: str) -> None:
    assert jobs.check_schedule(text) == " ".join(text.split())


@pytest.mark.parametrize("text", ["", "5 seconds", "* * * *", "* * * * * *", "1; DROP TABLE x", "@often"])
def test_cron_expressions_refused(text: str) -> None:
    with pytest.raises(StewardError, match="invalid cron expression") as info:
        jobs.check_schedule(text)
    assert info.value.sqlstate == "22023"


def test_macros_are_kept() -> None:
    assert jobs.check_schedule("@Daily") == "@daily"


def test_every_job_has_a_valid_default_schedule() -> None:
    for job in jobs.JOBS.values():
        assert jobs.check_schedule(job.default_schedule) == job.default_schedule


def test_job_names_round_trip_per_database() -> None:
    for name in jobs.JOBS:
        cron = jobs.cron_name("sales db:2", name)
        assert jobs.job_of(cron, "sales db:2") == name
        assert jobs.job_of(cron, "sales db") is None  # another database's job is not ours
    assert jobs.job_of("pg_steward:db:unknown", "db") is None
    assert jobs.job_of("someone_else", "db") is None


def test_unknown_and_null_jobs() -> None:
    with pytest.raises(StewardError, match="unknown job") as info:
        jobs.job("vacuum")
    assert "maintenance" in (info.value.hint or "")
    with pytest.raises(StewardError) as null:
        jobs.job(None)
    assert null.value.sqlstate == "22004"
    assert jobs.job(" Maintenance ").name == "maintenance"


def test_purge_command_quotes_its_age() -> None:
    purge = jobs.job("purge_logs")
    assert jobs.command(purge, None) == "SELECT * FROM steward.purge_logs()"
    assert jobs.command(purge, "90 days") == "SELECT * FROM steward.purge_logs('90 days'::interval)"
    assert jobs.command(purge, "1 day'; DROP") == "SELECT * FROM steward.purge_logs('1 day''; DROP'::interval)"
    with pytest.raises(StewardError, match="purge_logs job only"):
        jobs.command(jobs.job("maintenance"), "1 day")


def test_conninfo_values_are_quoted() -> None:
    assert conninfo_value("a b") == "'a b'"
    assert conninfo_value("it's\\") == "'it\\'s\\\\'"
    info = default_conninfo("cron db", "postgres", "5432", "/tmp/sock dir, /var/run")
    assert "dbname='cron db'" in info and "host='/tmp/sock dir'" in info and "port='5432'" in info
    assert "host='localhost'" in default_conninfo("x", "u", "1", "")


@pytest.mark.parametrize("database", ["d" * 31, "d" * 63, "ü" * 31, "x'; DROP TABLE victim; --" * 2])
def test_job_names_of_long_database_names_fit_and_stay_distinct(database: str) -> None:
    # pg_cron's jobname is a name (63 bytes): cut names of two jobs of one database would be the same.
    names = {jobs.cron_name(database, name) for name in jobs.JOBS}
    assert len(names) == len(jobs.JOBS)
    assert all(len(name.encode()) <= 63 for name in names)
    assert {jobs.job_of(name, database) for name in names} == set(jobs.JOBS)
    assert {jobs.job_of(name, database[:-1] + "e") for name in names} == {None}


KEYWORDS = ["host", "port", "dbname", "user", "password", "passfile", "sslmode", "application_name",
            "connect_timeout", "options"]
VALUES = st.text(alphabet=st.sampled_from(list("ab =\\'x9/-@:?&")), max_size=12)


@given(st.lists(st.tuples(st.sampled_from(KEYWORDS), VALUES, st.sampled_from([" ", "  ", "\t"]),
                          st.booleans()), min_size=1, max_size=6))
def test_conninfo_keywords_read_what_libpq_reads(pairs: list[tuple[str, str, str, bool]]) -> None:
    """The keywords found in any key=value string are those libpq finds (psycopg's parser is libpq's)."""
    parts = []
    for key, value, gap, spaced in pairs:
        quoted = conninfo_value(value) if value == "" or any(c in value for c in " \\'") else value
        parts.append(f"{key}{' = ' if spaced else '='}{quoted}{gap}")
    text = "".join(parts)
    assert conninfo_keywords(text) == set(conninfo_to_dict(text))


@pytest.mark.parametrize(("uri", "has_password"), [
    ("postgresql://u:p@h/db", True),
    ("postgresql://u@h/db", False),
    ("postgres://h:5432/db?password=x", True),
    ("postgresql://h/db?user=u&sslmode=require", False),
    ("postgresql://u:@h/db", True),  # an empty password is still a password keyword
    ("postgresql://h/db?Password=x", True),
])
def test_a_password_in_a_uri_is_found(uri: str, has_password: bool) -> None:
    assert ("password" in conninfo_keywords(uri)) is has_password
