"""Judging values: changes, targets, attainment and status. Pure functions.

Rules, each tested with hand-worked values:

- change_pct = (value - base) / |base|; unknown (None) when the base is zero
  or missing, so a change from nothing is never +inf or NaN. A negative base
  is flagged, and dividing by its absolute value keeps "better" positive.
- attainment = value / target when higher is better, target / value when lower
  is better. A lower-is-better KPI at zero meets any positive target; one that
  cannot be computed because its denominator is zero (spend with no new
  customers) has no value and so no attainment.
- status: on_track when attainment >= 1; at_risk when within the warn band
  (attainment >= 1 - warn); off_track otherwise; no_target without a target
  for the period's grain; no_data without a value.
- Which target applies to a period (grain, effective date, growth over a
  baseline, pacing of a partial period) is decided in ``kpi_cli.targets``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kpi_cli.periods import Period
from kpi_cli.review_model import Change, Status


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def change(value: Any, base: Any, period: Period) -> Change:
    """``value`` compared with ``base`` (the value of ``period``)."""
    if value is None or base is None:
        return Change(period, base, None, None, base_negative=bool(base and base < 0))
    delta = value - base if type(value) is type(base) else _mixed_delta(value, base)
    pct = None if base == 0 else float(delta) / abs(float(base))

    return Change(period, base, delta, pct, base_negative=base < 0)


def _mixed_delta(value: Any, base: Any) -> Any:
    if isinstance(value, Decimal) or isinstance(base, Decimal):
        return Decimal(str(value)) - Decimal(str(base))

    return value - base


def attainment(value: Any, target: float | None, direction: str) -> float | None:
    """How much of the target was reached (1.0 = exactly met)."""
    actual = _number(value)
    if actual is None or target is None:
        return None
    if direction == "lower":
        if actual <= 0:
            return None if target <= 0 else float("inf")
        return target / actual
    if target == 0:
        return None

    return actual / target


def status(
    value: Any, target: float | None, achieved: float | None, warn: float
) -> Status:
    """The status word for a value against its target."""
    if value is None:
        return "no_data"
    if target is None:
        return "no_target"
    if achieved is None:
        return "no_target"
    if achieved >= 1:
        return "on_track"
    if achieved >= 1 - warn:
        return "at_risk"

    return "off_track"


def cap_attainment(value: float | None) -> float | None:
    """Attainment fit for JSON and display: infinity (met at zero cost) is None."""
    if value is None or value == float("inf"):
        return None

    return value


def judge(
    value: Any,
    target: float | None,
    direction: str,
    warn: float,
    *,
    had_rows: bool = False,
) -> tuple[float | None, Status]:
    """Attainment (fit for display) and status of a value against its target.

    A lower-is-better KPI that had rows but no value is a cost with nothing to
    show for it (spend and no new customers): attainment 0, off track, rather
    than "no data". Callers pass ``had_rows`` only for costs (money per
    result); a rate with an empty denominator stays unknown.
    """
    if value is None and had_rows and direction == "lower" and target is not None:
        return 0.0, "off_track"
    achieved = attainment(value, target, direction)

    return cap_attainment(achieved), status(value, target, achieved, warn)
