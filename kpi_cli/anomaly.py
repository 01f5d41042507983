"""Anomalies: is a period's value unusual against the KPI's own history?

The rule, applied to each KPI of a review and to each value of its breakdown:

- The baseline is the ``[anomaly] history`` periods before the review period
  (at day grain the same weekday of the previous weeks, so a Monday is judged
  against Mondays). Periods touching a known promotion day are left out, and a
  period that itself touches one is not judged: a Double 11 spike is planned,
  and its week has no comparable history. When the review period is partial,
  every baseline period is cut to the same elapsed days.
- With ``m`` the median and ``MAD`` the median absolute deviation of the
  baseline, the robust z-score is ``0.6745 * (x - m) / MAD``. The MAD is
  floored at ``mad_floor * |m|`` so that a nearly flat series does not turn
  noise into alarms, and for counts also at ``0.6745 * sqrt(max(m, 1))``
  (Poisson noise: a channel with a handful of orders a week varies by about
  the square root of that). A value is flagged when ``|z| >= threshold``.
- A breakdown value that had rows in every baseline period and has none
  now (no value, or zero for a sum or count) is flagged as ``vanished``
  with a score of at least the threshold, whatever its noise.
- Fewer than ``min_history`` known baseline values, or a baseline median and
  MAD both zero for a non-count KPI, give no judgement.

``score`` in an ``Anomaly`` is ``|z|``; ``direction`` says up or down and
``baseline`` is the median.

Known limit: ratios get no noise floor for small denominators, so the AOV of
a channel down to five orders, or the cost per customer of a channel with
two new customers, can be flagged for sampling noise alone; a floor would
need each ratio's denominator, which only ``kpi explain`` computes today.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from kpi_cli.config import AnomalySettings, KpiSettings
from kpi_cli.periods import Period
from kpi_cli.review_model import Anomaly, KpiResult

# 0.6745 is the 0.75 quantile of the standard normal: it scales a MAD to a
# standard deviation, so the score reads like a z-score on normal data.
_Z_SCALE = 0.6745
_DAY = dt.timedelta(days=1)

ValueOf = Callable[..., Any]


def _promotion_spans(
    specs: Sequence[str], years: range
) -> list[tuple[dt.date, dt.date]]:
    """Concrete date spans of promotion specs over ``years``."""
    spans = []
    for spec in specs:
        first, _, last = spec.partition("..")
        last = last or first
        if len(first) == 10:
            spans.append((dt.date.fromisoformat(first), dt.date.fromisoformat(last)))
            continue
        for year in years:
            start = _month_day(year, first)
            end = _month_day(year, last)
            # A yearly span such as 12-20..01-05 runs over the new year.
            if end < start:
                end = _month_day(year + 1, last)
            spans.append((start, end))

    return spans


def _month_day(year: int, text: str) -> dt.date:
    month, day = int(text[:2]), int(text[3:])
    if (month, day) == (2, 29) and not _leap(year):
        day = 28

    return dt.date(year, month, day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def touches_promotion(period: Period, specs: Sequence[str]) -> bool:
    """Whether any day of ``period`` is a promotion day of ``specs``."""
    if not specs:
        return False
    years = range(period.start.year - 1, period.complete_end.year + 1)
    end = period.complete_end

    return any(
        start <= end and period.start <= stop
        for start, stop in _promotion_spans(specs, years)
    )


def baseline_periods(period: Period, settings: AnomalySettings) -> list[Period]:
    """The periods whose values form ``period``'s baseline, oldest first.

    Promotion periods are already left out; the list may therefore be shorter
    than ``settings.history``.
    """
    if period.grain == "day":
        candidates = [
            dataclasses.replace(
                period,
                start=period.start - dt.timedelta(weeks=n),
                end=period.start - dt.timedelta(weeks=n),
                full_end=None,
            )
            for n in range(settings.history, 0, -1)
        ]
    else:
        earlier = period.trailing(settings.history + 1)[:-1]
        if period.is_partial:
            candidates = [p.cut(period.days) for p in earlier]
        else:
            candidates = earlier

    return [p for p in candidates if not touches_promotion(p, settings.promotions)]


def extra_periods(
    computed: Sequence[Period], period: Period, settings: AnomalySettings
) -> list[Period]:
    """Baseline periods of ``period`` not already among ``computed``."""
    if not settings.enabled:
        return []
    have = {(p.start, p.end) for p in computed}

    return [
        p for p in baseline_periods(period, settings) if (p.start, p.end) not in have
    ]


def robust_z(
    value: float, history: Sequence[float], *, mad_floor: float, count: bool
) -> tuple[float, float, float] | None:
    """``(z, median, mad_used)`` of ``value`` against ``history``.

    Returns None when the spread is zero and no floor applies (nothing to
    scale by).
    """
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    floor = mad_floor * abs(median)
    if count:
        floor = max(floor, _Z_SCALE * math.sqrt(max(median, 1.0)))
    spread = max(mad, floor)
    if spread == 0:
        return None

    return _Z_SCALE * (value - median) / spread, median, spread


def judge(
    value: Any,
    history: Sequence[Any],
    kpi: KpiSettings,
    settings: AnomalySettings,
    *,
    method: str = "robust_z",
) -> Anomaly | None:
    """The anomaly of ``value`` against ``history`` (values of the baseline)."""
    known = [x for x in history if x is not None]
    if len(known) < settings.min_history:
        return None
    numbers = [float(x) for x in known]
    count = kpi.unit == "count"
    scored = robust_z(
        float(value) if value is not None else 0.0,
        numbers,
        mad_floor=settings.mad_floor,
        count=count,
    )
    baseline = statistics.median(known)
    # Only a value present in EVERY baseline period can vanish: a sparse one
    # (an order some weeks) is absent often, and that is not news.
    vanished = (value is None or (kpi.is_additive and value == 0)) and all(
        x is not None and x > 0 for x in history
    )
    if vanished:
        score = settings.threshold
        if value is not None and scored is not None:
            score = max(score, abs(scored[0]))
        return Anomaly(score, "down", baseline, method, "vanished")
    if value is None or scored is None:
        return None
    z = scored[0]
    if abs(z) < settings.threshold:
        return None

    return Anomaly(abs(z), "up" if z > 0 else "down", baseline, method)


def attach(
    result: KpiResult,
    value_of: ValueOf,
    settings: AnomalySettings,
    *,
    incomplete: bool = False,
) -> KpiResult:
    """``result`` with anomalies judged for the KPI and each breakdown value.

    ``value_of(period, dimension=None, key=None)`` is the review's lookup of
    computed values. Nothing is judged when anomalies are disabled, when the
    KPI's data is incomplete for the period (a cut export is not a collapse),
    or when the period touches a promotion day.
    """
    period = result.period
    if (
        not settings.enabled
        or incomplete
        or touches_promotion(period, settings.promotions)
    ):
        return result
    baseline = baseline_periods(period, settings)
    method = "robust_z_weekday" if period.grain == "day" else "robust_z"
    kpi = result.kpi

    total = judge(
        result.value, [value_of(p) for p in baseline], kpi, settings, method=method
    )
    breakdown = result.breakdown
    if breakdown is not None:
        rows = tuple(
            dataclasses.replace(
                row,
                anomaly=judge(
                    row.value,
                    [value_of(p, breakdown.dimension, row.key) for p in baseline],
                    kpi,
                    settings,
                    method=method,
                ),
            )
            for row in breakdown.rows
        )
        breakdown = dataclasses.replace(breakdown, rows=rows)

    return dataclasses.replace(result, anomaly=total, breakdown=breakdown)
