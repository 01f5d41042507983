"""Periods: parsing, labels, comparisons and partial periods, by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi_cli.errors import PeriodError
from kpi_cli.periods import containing, last_complete, parse_period

D = dt.date


@pytest.mark.parametrize(
    ("text", "grain", "start", "end", "label"),
    [
        ("2026-11-30", "day", D(2026, 11, 30), D(2026, 11, 30), "2026-11-30"),
        ("2026-W48", "week", D(2026, 11, 23), D(2026, 11, 29), "2026-W48"),
        ("2025-W01", "week", D(2024, 12, 30), D(2025, 1, 5), "2025-W01"),
        ("2026-W53", "week", D(2026, 12, 28), D(2027, 1, 3), "2026-W53"),
        ("2026-11", "month", D(2026, 11, 1), D(2026, 11, 30), "2026-11"),
        ("2024-02", "month", D(2024, 2, 1), D(2024, 2, 29), "2024-02"),
        ("2026-Q4", "quarter", D(2026, 10, 1), D(2026, 12, 31), "2026-Q4"),
        ("2026", "year", D(2026, 1, 1), D(2026, 12, 31), "2026"),
        (
            "2026-11-01..2026-11-15",
            "range",
            D(2026, 11, 1),
            D(2026, 11, 15),
            "2026-11-01..2026-11-15",
        ),
    ],
    ids=[
        "day",
        "week",
        "week-across-new-year",
        "week-53",
        "month",
        "leap-feb",
        "q",
        "y",
        "range",
    ],
)
def test_parse(text: str, grain: str, start: D, end: D, label: str) -> None:
    period = parse_period(text)

    assert (period.grain, period.start, period.end, period.label) == (
        grain,
        start,
        end,
        label,
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-W54",
        "2025-W53",
        "2026-13",
        "2026-02-30",
        "last week",
        "2026-11-15..2026-11-01",
    ],
    ids=["w54", "no-w53-in-2025", "month-13", "feb-30", "words", "reversed-range"],
)
def test_bad_periods_say_what_is_accepted(text: str) -> None:
    with pytest.raises(PeriodError) as error:
        parse_period(text)

    assert repr(text) in str(error.value)


def test_previous_and_year_ago_of_a_week_use_iso_numbers() -> None:
    week = parse_period("2025-W01")

    assert week.previous().label == "2024-W52"
    assert week.year_ago().label == "2024-W01"
    assert week.year_ago().start == D(2024, 1, 1)
    # 2026-W53 has no twin in 2025 (52 weeks): the last week stands in.
    assert parse_period("2026-W53").year_ago().label == "2025-W52"


def test_month_and_quarter_comparisons() -> None:
    march = parse_period("2025-03")

    assert (march.previous().start, march.previous().end) == (
        D(2025, 2, 1),
        D(2025, 2, 28),
    )
    assert march.year_ago().label == "2024-03"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"


def test_range_compares_with_the_same_length_before_and_a_year_ago() -> None:
    span = parse_period("2026-11-01..2026-11-15")

    assert (span.previous().start, span.previous().end) == (
        D(2026, 10, 17),
        D(2026, 10, 31),
    )
    assert (span.year_ago().start, span.year_ago().end) == (
        D(2025, 11, 1),
        D(2025, 11, 15),
    )


def test_sunday_weeks() -> None:
    week = containing("week", D(2024, 12, 31), week_start=6)

    assert (week.start, week.end) == (D(2024, 12, 29), D(2025, 1, 4))
    # Named by the ISO week of its Monday (2024-12-30 is in 2025-W01).
    assert week.label == "2025-W01"
    assert parse_period("2025-W01", week_start=6).start == D(2024, 12, 29)


def test_partial_week_compares_the_same_elapsed_days() -> None:
    week = parse_period("2025-W11").cut(3)

    assert (week.start, week.end, week.is_partial, week.days) == (
        D(2025, 3, 10),
        D(2025, 3, 12),
        True,
        3,
    )
    previous = week.previous()
    assert (previous.start, previous.end) == (D(2025, 3, 3), D(2025, 3, 5))
    year_ago = week.year_ago()
    assert (year_ago.start, year_ago.end) == (D(2024, 3, 11), D(2024, 3, 13))
    trend = week.trailing(3)
    assert [p.label for p in trend] == ["2025-W09", "2025-W10", "2025-W11"]
    assert not trend[1].is_partial and trend[1].days == 7


def test_day_year_ago_is_the_same_weekday() -> None:
    day = parse_period("2026-11-30")  # a Monday

    assert day.year_ago().start == D(2025, 12, 1)
    assert day.year_ago().start.weekday() == 0


@pytest.mark.parametrize(
    ("grain", "today", "label"),
    [
        ("week", D(2026, 11, 30), "2026-W48"),  # Monday morning: last week
        ("week", D(2026, 12, 3), "2026-W48"),
        ("month", D(2026, 12, 1), "2026-11"),
        ("day", D(2026, 12, 3), "2026-12-02"),
        ("quarter", D(2026, 12, 3), "2026-Q3"),
    ],
    ids=["monday", "thursday", "month", "day", "quarter"],
)
def test_last_complete(grain: str, today: D, label: str) -> None:
    assert last_complete(grain, today).label == label
