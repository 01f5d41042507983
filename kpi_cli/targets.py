"""Target resolution: which target holds for a period and what it asks for.

A KPI has one ``[kpis.target]`` or a schedule of ``[[kpis.targets]]``; each
entry of a schedule applies from its ``effective`` date until the next one
(an entry without a date applies from the start), and a period is judged by
the entry in force on its first day. A target applies only to periods of its
grain (the KPI's grain unless it sets its own).

Kinds of target, each resolved to a ``TargetDetail``:

- value: an absolute number for one whole period;
- growth: ``baseline * (1 + growth)``, the baseline being the value of the
  same period a year ago, of the previous period, or the mean of the N
  periods before (always complete periods); growth is signed, so a
  lower-is-better KPI is cut with a negative growth;
- range: ``min``/``max`` bounds; in range is on track, outside by less than
  ``warn`` (relative to the bound crossed) is at risk.

Pacing: in a partial period an additive KPI is judged against the share of
the full target expected by now, linearly by elapsed days or along last
year's curve (the share of last year's same-period total reached by the same
elapsed day). Non-additive KPIs (ratios, averages) are not prorated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from kpi_cli import evaluate
from kpi_cli.config import KpiSettings, TargetSettings
from kpi_cli.periods import Period
from kpi_cli.review_model import Number, Status, TargetDetail

ValueOf = Callable[[Period], Any]


def schedule(kpi: KpiSettings) -> tuple[TargetSettings, ...]:
    """The KPI's target entries, oldest first (the undated one leads)."""
    if kpi.target is not None:
        return (kpi.target,)

    return tuple(
        sorted(kpi.targets, key=lambda t: (t.effective is not None, t.effective))
    )


def entry_for(kpi: KpiSettings, period: Period) -> TargetSettings | None:
    """The target entry in force on ``period``'s first day, or None."""
    chosen = None
    for entry in schedule(kpi):
        if entry.effective is None or entry.effective <= period.start:
            chosen = entry

    return chosen


def grain_of(kpi: KpiSettings, entry: TargetSettings) -> str:
    """The grain a target entry is set for."""
    return entry.grain or kpi.grain


def baseline_periods(entry: TargetSettings, period: Period) -> tuple[Period, ...]:
    """The complete periods a growth target is measured from (none otherwise)."""
    if entry.kind != "growth":
        return ()
    whole = period.complete()
    if entry.baseline == "previous":
        return (whole.previous(),)
    if entry.baseline == "year_ago":
        return (whole.year_ago(),)

    return tuple(whole.trailing((entry.trailing or 1) + 1)[:-1])


def pacing_periods(
    kpi: KpiSettings, entry: TargetSettings, period: Period
) -> tuple[Period, ...]:
    """Last year's same span and whole period, when pacing follows last year."""
    if not (period.is_partial and kpi.is_additive and entry.pacing == "last_year"):
        return ()

    return (period.year_ago(), period.complete().year_ago())


def needed_periods(
    kpis: Iterable[KpiSettings], periods: Sequence[Period]
) -> list[Period]:
    """Extra periods whose values the targets of ``periods`` depend on."""
    extra: list[Period] = []
    for kpi in kpis:
        for period in periods:
            entry = entry_for(kpi, period)
            if entry is None or period.grain != grain_of(kpi, entry):
                continue
            extra += baseline_periods(entry, period)
            extra += pacing_periods(kpi, entry, period)

    return extra


def resolve(
    kpi: KpiSettings,
    period: Period,
    value_of: ValueOf,
    *,
    part: bool = False,
    key: Any = None,
) -> TargetDetail | None:
    """The target of ``kpi`` for ``period``, or None when none applies.

    ``value_of`` returns the KPI's value for another period (None when
    unknown); for a breakdown value (``part``), it must return that value's
    figures, and the target comes from ``by[key]`` (an amount for a value
    target, a growth rate for a growth target).
    """
    entry = entry_for(kpi, period)
    if entry is None or entry.kind is None or period.grain != grain_of(kpi, entry):
        return None
    number = None
    if part:
        number = entry.by.get(str(key)) if key is not None else None
        if number is None:
            return None
    notes: list[str] = []
    full = low = high = growth = baseline = None
    periods: tuple[Period, ...] = ()
    if entry.kind == "value":
        full = number if part else entry.value
    elif entry.kind == "growth":
        growth = number if part else entry.growth
        periods = baseline_periods(entry, period)
        values = [value_of(p) for p in periods]
        if any(v is None for v in values):
            missing = ",".join(
                p.label for p, v in zip(periods, values, strict=True) if v is None
            )
            notes.append(f"baseline_missing:{missing}")
        else:
            baseline = sum(float(v) for v in values) / len(values)
            full = baseline * (1 + (growth or 0.0))
    else:
        low, high = entry.min, entry.max

    share, pacing = 1.0, None
    if period.is_partial and kpi.is_additive:
        share, pacing, note = pace(entry, period, value_of)
        if note:
            notes.append(note)
        low = None if low is None else low * share
        high = None if high is None else high * share

    return TargetDetail(
        kind=entry.kind,
        full=full,
        value=None if full is None else full * share,
        warn=entry.warn,
        low=low,
        high=high,
        share=share,
        pacing=pacing,
        growth=growth,
        baseline=baseline,
        baseline_kind=entry.baseline if entry.kind == "growth" else None,
        baseline_periods=periods,
        effective=entry.effective,
        due=entry.due,
        notes=tuple(notes),
    )


def pace(
    entry: TargetSettings, period: Period, value_of: ValueOf
) -> tuple[float, str, str | None]:
    """Share of the full period's target expected by ``period.end``.

    Returns the share, the pacing used and a note when last year's curve
    could not be used (no total last year, or nothing by this day) and the
    linear pace stood in.
    """
    linear = period.days / period.full_days
    if entry.pacing == "linear":
        return linear, "linear", None
    so_far = value_of(period.year_ago())
    whole = value_of(period.complete().year_ago())
    if so_far is None or whole is None or float(whole) <= 0 or float(so_far) <= 0:
        return linear, "linear", "pacing_fallback:linear"

    return float(so_far) / float(whole), "last_year", None


def projected(
    value: Any, detail: TargetDetail | None, kpi: KpiSettings, period: Period
) -> Number | None:
    """The full-period value at the current pace, for additive partial periods.

    Uses the target's pace when there is one, else the linear one. None for
    complete periods, non-additive KPIs and unknown values.
    """
    if value is None or not period.is_partial or not kpi.is_additive:
        return None
    share = detail.share if detail is not None else period.days / period.full_days
    if share <= 0:
        return None
    if isinstance(value, Decimal):
        return value / Decimal(repr(share))

    return float(value) / share


def range_attainment(value: Any, low: float | None, high: float | None) -> float:
    """1.0 inside the range, else 1 minus the relative distance to the bound.

    Below ``low`` that is ``value / low`` (for a positive bound); above
    ``high`` it is ``1 - (value - high) / |high|``; never below zero.
    """
    actual = float(value)
    if low is not None and actual < low:
        gap = (low - actual) / abs(low) if low else math.inf
    elif high is not None and actual > high:
        gap = (actual - high) / abs(high) if high else math.inf
    else:
        return 1.0

    return max(0.0, 1.0 - gap)


def judge(
    value: Any, detail: TargetDetail | None, direction: str, *, had_rows: bool = False
) -> tuple[float | None, Status]:
    """Attainment (fit for display) and status of ``value`` against a target.

    Value targets follow ``evaluate.judge`` (``had_rows``: the KPI had rows
    but no value). A range is always a target, so its status comes straight
    from its attainment and warn band.
    """
    if detail is None:
        return evaluate.judge(value, None, direction, 0.0, had_rows=had_rows)
    if detail.kind == "range":
        if value is None:
            return None, "no_data"
        achieved = range_attainment(value, detail.low, detail.high)
        if achieved >= 1:
            return achieved, "on_track"
        return achieved, "at_risk" if achieved >= 1 - detail.warn else "off_track"

    return evaluate.judge(
        value, detail.value, direction, detail.warn, had_rows=had_rows
    )
