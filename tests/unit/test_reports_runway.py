"""Forecasting math of steward.growth_forecasts: least-squares growth, runway to a limit, restarts."""

from __future__ import annotations

import datetime as dt

import pytest

from pg_steward.reports import runway

DAY = runway.DAY
TODAY = dt.date(2026, 1, 1)


def test_slope_of_a_steady_counter_is_its_growth_per_day() -> None:
    points = [(i * DAY, 1000.0 + 50 * i) for i in range(5)]
    assert runway.slope_per_day(points) == pytest.approx(50.0)


def test_slope_fits_noisy_points_by_least_squares() -> None:
    # (0, 0), (1 day, 10), (2 days, 14): slope = 7 a day by least squares, not the last step (4).
    assert runway.slope_per_day([(0.0, 0.0), (DAY, 10.0), (2 * DAY, 14.0)]) == pytest.approx(7.0)


def test_slope_needs_two_distinct_times() -> None:
    assert runway.slope_per_day([]) is None
    assert runway.slope_per_day([(5.0, 1.0)]) is None
    assert runway.slope_per_day([(5.0, 1.0), (5.0, 3.0)]) is None


def test_current_run_starts_after_the_last_restart() -> None:
    points = [(3 * DAY, 10.0), (0.0, 900.0), (DAY, 950.0), (2 * DAY, 5.0)]
    assert runway.current_run(points) == [(2 * DAY, 5.0), (3 * DAY, 10.0)]
    assert runway.current_run([(0.0, 1.0), (DAY, 1.0)]) == [(0.0, 1.0), (DAY, 1.0)]


def test_runway_of_a_growing_sequence() -> None:
    way = runway.runway(current=1000, limit=2000, per_day=100, today=TODAY)
    assert way.days_left == pytest.approx(10.0)
    assert way.runs_out_on == dt.date(2026, 1, 11)


def test_runway_of_a_descending_sequence_heads_to_its_minimum() -> None:
    way = runway.runway(current=-1000, limit=-2000, per_day=-250, today=TODAY)
    assert way.days_left == pytest.approx(4.0)
    assert way.runs_out_on == dt.date(2026, 1, 5)


def test_no_growth_or_growth_away_from_the_limit_never_runs_out() -> None:
    for per_day in (None, 0.0, -5.0):
        assert runway.runway(1000, 2000, per_day, TODAY) == runway.Runway(None, None)


def test_at_the_limit_runs_out_today() -> None:
    assert runway.runway(2000, 2000, None, TODAY) == runway.Runway(0.0, TODAY)


def test_a_date_past_any_calendar_is_no_date_but_keeps_its_days() -> None:
    way = runway.runway(1, 2**63 - 1, 1e-6, TODAY)
    assert way.runs_out_on is None and way.days_left is not None and way.days_left > 1e20


def test_partition_runway_needs_no_history() -> None:
    now = 100 * DAY
    assert runway.days_until(130 * DAY, now) == pytest.approx(30.0)
    assert runway.days_until(90 * DAY, now) == pytest.approx(-10.0)
    assert runway.spans_left(130 * DAY, now, 30 * DAY) == pytest.approx(1.0)
    assert runway.spans_left(130 * DAY, now, 0) is None
