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
- A breakdown value that had rows in every available baseline period (one
  the data covers: the KPI as a whole has a value there; at least one) and
  has none now (no value, or zero for a sum or count) is flagged as
  ``vanished`` with a score of at least the threshold, whatever its noise.
- A baseline median and MAD both zero for a non-count KPI give no judgement.

Short history (fewer than ``min_history`` known baseline values: a new shop,
a new export) falls back to the change rule, method ``change``, against the
latest available baseline period (the previous period, or the same weekday
last week at day grain):

- a sum or count that vanished is flagged if its previous value was at least
  ``min_share`` of the KPI's previous total (a channel with a handful of
  sales vanishing is not news);
- otherwise a value is flagged when ``|change| / |previous| >= change_pct``
  and ``|change| >= change_share * |previous total|``; a value that was zero
  or absent before (new) has no percentage change and is not judged.

``score`` in an ``Anomaly`` is ``|z|`` (for ``change``, the absolute change
as a share of the previous value: 1.0 for a vanished one); ``direction``
says up or down and ``baseline`` is the median (for ``change``, the
previous value).

Known limit: ratios get no noise floor for small denominators, so the AOV of
a channel down to five orders, or the cost per customer of a channel with
two new customers, can be flagged for sampling noise alone; a floor would
need each ratio's denominator, which only ``kpi explain`` computes today.

Known limit: with short history, breakdown values of ratios are not judged at
all (a share of the KPI's total says nothing about a channel's AOV, so a tiny
channel would alarm on every swing); the sums and counts of the same channel
carry the alarm. Counts get no Poisson floor in the change rule either.
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
    totals: Sequence[Any] | None = None,
) -> Anomaly | None:
    """The anomaly of ``value`` against ``history`` (values of the baseline).

    ``totals`` are the KPI's own values over the same baseline periods when
    ``value`` is one breakdown value; None when judging the KPI itself. A
    period whose total is None is one the data does not cover. Returns None
    when nothing is unusual or there is too little to judge by.
    """
    part = totals is not None
    totals = history if totals is None else totals
    # Only a value present in EVERY covered baseline period can vanish: a
    # sparse one (an order some weeks) is absent often, and that is not news.
    available = [(x, t) for x, t in zip(history, totals, strict=True) if t is not None]
    gone = value is None or (kpi.is_additive and value == 0)
    vanished = (
        gone and bool(available) and all(x is not None and x > 0 for x, _ in available)
    )
    known = [x for x in history if x is not None]
    if len(known) < settings.min_history:
        return _changed(value, available, kpi, settings, vanished=vanished, part=part)
    numbers = [float(x) for x in known]
    count = kpi.unit == "count"
    scored = robust_z(
        float(value) if value is not None else 0.0,
        numbers,
        mad_floor=settings.mad_floor,
        count=count,
    )
    baseline = statistics.median(known)
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


def _changed(
    value: Any,
    available: Sequence[tuple[Any, Any]],
    kpi: KpiSettings,
    settings: AnomalySettings,
    *,
    vanished: bool,
    part: bool,
) -> Anomaly | None:
    """The short-history rule: the change against the latest covered period."""
    if not available or (part and not kpi.is_additive):
        return None
    before, total = available[-1]
    if before is None or (value is None and not vanished):
        return None
    scale = abs(float(total))
    if vanished:
        if not kpi.is_additive or float(before) < settings.min_share * scale:
            return None
        return Anomaly(1.0, "down", before, "change", "vanished")
    previous = float(before)
    # A value new since the previous period has no percentage change.
    if previous == 0:
        return None
    change = float(value) - previous
    share = abs(change) / abs(previous)
    if share < settings.change_pct or abs(change) < settings.change_share * scale:
        return None

    return Anomaly(share, "up" if change > 0 else "down", before, "change")


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

    totals = [value_of(p) for p in baseline]
    total = judge(result.value, totals, kpi, settings, method=method)
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
                    totals=totals,
                ),
            )
            for row in breakdown.rows
        )
        breakdown = dataclasses.replace(breakdown, rows=rows)

    return dataclasses.replace(result, anomaly=total, breakdown=breakdown)
