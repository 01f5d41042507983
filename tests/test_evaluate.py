"""Changes, attainment and status: the rules of kpi_cli.evaluate, by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_cli.evaluate import attainment, change, judge, status
from kpi_cli.periods import parse_period

WEEK = parse_period("2025-W10")


@pytest.mark.parametrize(
    ("value", "base", "delta", "pct", "negative"),
    [
        (1500, 1000, 500, 0.5, False),
        (0, 2000, -2000, -1.0, False),
        (500, 0, 500, None, False),  # from zero: unknown, never inf
        (0, 0, 0, None, False),
        (-1000, -2000, 1000, 0.5, True),  # a smaller loss is an improvement
        (1500, -500, 2000, 4.0, True),
        (
            Decimal("7500.00"),
            Decimal("4500.00"),
            Decimal("3000.00"),
            3000 / 4500,
            False,
        ),
        (None, 100, None, None, False),
    ],
    ids=[
        "up",
        "to-zero",
        "from-zero",
        "zero-zero",
        "neg-base",
        "neg-to-pos",
        "decimal",
        "no-value",
    ],
)
def test_change(value, base, delta, pct, negative) -> None:
    result = change(value, base, WEEK)

    assert result.change == delta
    assert result.change_pct == (pytest.approx(pct) if pct is not None else None)
    assert result.base_negative is negative


def test_change_keeps_money_exact() -> None:
    result = change(Decimal("0.30"), Decimal("0.10"), WEEK)

    assert result.change == Decimal("0.20")
    assert isinstance(result.change, Decimal)


@pytest.mark.parametrize(
    ("value", "target", "direction", "expected"),
    [
        (1200, 1000, "higher", 1.2),
        (800, 1000, "higher", 0.8),
        (40, 50, "lower", 1.25),  # CAC under target is good
        (60, 50, "lower", 50 / 60),
        (0, 50, "lower", float("inf")),
        (None, 50, "lower", None),
        (10, None, "higher", None),
        (10, 0, "higher", None),
    ],
    ids=[
        "over",
        "under",
        "lower-under",
        "lower-over",
        "lower-zero",
        "no-value",
        "no-target",
        "zero-target",
    ],
)
def test_attainment(value, target, direction, expected) -> None:
    assert attainment(value, target, direction) == (
        pytest.approx(expected) if expected not in (None, float("inf")) else expected
    )


@pytest.mark.parametrize(
    ("value", "target", "achieved", "warn", "expected"),
    [
        (100, 100, 1.0, 0.05, "on_track"),
        (96, 100, 0.96, 0.05, "at_risk"),
        (95, 100, 0.95, 0.05, "at_risk"),  # exactly at the band's edge
        (94, 100, 0.94, 0.05, "off_track"),
        (None, 100, None, 0.05, "no_data"),
        (5, None, None, 0.05, "no_target"),
    ],
    ids=["met", "in-band", "band-edge", "below-band", "no-data", "no-target"],
)
def test_status(value, target, achieved, warn, expected) -> None:
    assert status(value, target, achieved, warn) == expected


def test_a_cost_with_nothing_to_show_is_off_track() -> None:
    # Spend with no new customers: the CAC has no value, but it failed.
    assert judge(None, 50.0, "lower", 0.0, had_rows=True) == (0.0, "off_track")
    # Without rows it is simply unknown.
    assert judge(None, 50.0, "lower", 0.0) == (None, "no_data")
    # Zero cost meets any positive target; the infinite attainment is not shown.
    assert judge(0, 50.0, "lower", 0.0) == (None, "on_track")
