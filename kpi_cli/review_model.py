"""The data a review hands to renderers and to history.

Plain frozen dataclasses, no behaviour beyond small derived properties. Values
are ``Decimal`` for money (exact), ``float`` for ratios and ``int`` for counts,
``None`` where unknown. Renderers format them; nothing here is formatted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from kpi_cli.config import KpiSettings, ProjectSettings
from kpi_cli.periods import Period

Number = int | float | Decimal
Status = Literal[
    "on_track", "at_risk", "off_track", "no_target", "no_data", "incomplete_data"
]
STATUSES: tuple[str, ...] = (
    "off_track",
    "at_risk",
    "incomplete_data",
    "no_data",
    "no_target",
    "on_track",
)


@dataclass(frozen=True)
class Change:
    """A value compared with the same KPI in another period.

    ``change_pct`` is (value - base) / |base|; ``None`` when the base is zero
    or unknown. ``base_negative`` warns that the base was below zero.
    """

    period: Period
    value: Number | None
    change: Number | None
    change_pct: float | None
    base_negative: bool = False


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    value: Number | None
    target: float | None = None


@dataclass(frozen=True)
class Anomaly:
    """An unusual value against the KPI's own history."""

    score: float
    direction: Literal["up", "down"]
    baseline: Number | None
    method: str
    reason: str = ""


@dataclass(frozen=True)
class TargetDetail:
    """How the target of one KPI (or breakdown value) for one period was set.

    ``kind`` is value, growth or range. ``full`` is the target for the whole
    period (for growth: ``baseline * (1 + growth)``); ``value`` is what the
    period's value is judged against: ``full * share`` for an additive KPI in
    a partial period (``share`` is the part of the period's total expected by
    now, from ``pacing``), else ``full``. Range targets set ``low``/``high``
    (prorated the same way) instead of ``value``.
    """

    kind: Literal["value", "growth", "range"]
    full: float | None
    value: float | None
    warn: float
    low: float | None = None
    high: float | None = None
    share: float = 1.0
    pacing: Literal["linear", "last_year"] | None = None
    growth: float | None = None
    baseline: float | None = None
    baseline_kind: str | None = None
    baseline_periods: tuple[Period, ...] = ()
    effective: dt.date | None = None
    due: dt.date | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BreakdownRow:
    key: str | None
    value: Number | None
    target: float | None = None
    attainment: float | None = None
    status: Status = "no_target"
    previous: Change | None = None
    anomaly: Anomaly | None = None
    projected: Number | None = None
    target_detail: TargetDetail | None = None


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    rows: tuple[BreakdownRow, ...]


@dataclass(frozen=True)
class Streak:
    """The same status for ``length`` periods in a row, ending with this one."""

    status: Status
    length: int


@dataclass(frozen=True)
class TargetChange:
    """The full-period target moved since the last recorded period."""

    before: float | None
    after: float | None


@dataclass(frozen=True)
class KpiResult:
    """One KPI evaluated for the review period."""

    kpi: KpiSettings
    period: Period
    value: Number | None
    target: float | None
    attainment: float | None
    status: Status
    previous: Change | None
    year_ago: Change | None
    trend: tuple[TrendPoint, ...]
    breakdown: Breakdown | None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    anomaly: Anomaly | None = None
    projected: Number | None = None
    streak: Streak | None = None
    target_changed: TargetChange | None = None
    explanation: Explanation | None = None
    target_detail: TargetDetail | None = None

    @property
    def id(self) -> str:
        return self.kpi.id


@dataclass(frozen=True)
class FileHealth:
    """One file matched by a source's glob."""

    path: str
    rows: int | None
    encoding: str | None = None
    delimiter: str | None = None
    state: Literal["ok", "header_only", "empty"] = "ok"
    # (column, strptime formats) for each date column read from text, in the
    # order the formats are tried; several when the file mixes forms.
    date_formats: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class HealthIssue:
    """One data-health finding: a machine ``code``, its ``params`` and the
    English ``text``; renderers word it in the report language from the code
    (``kpi_cli.formatting.issue_text``)."""

    code: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceHealth:
    """What a source held overall and within the review period."""

    name: str
    files: tuple[FileHealth, ...]
    rows: int
    first: dt.datetime | None
    last: dt.datetime | None
    period_rows: int | None = None
    period_first: dt.datetime | None = None
    period_last: dt.datetime | None = None
    complete: bool = True
    issues: tuple[str, ...] = ()
    # Measured by kpi_cli.health for the review period (see its docstring).
    time_column: str | None = None
    key: tuple[str, ...] = ()
    sparse: bool = False
    stale: bool = False
    empty_days: tuple[dt.date, ...] = ()
    duplicate_keys: int | None = None
    null_key_rows: int | None = None
    null_key_share: float | None = None
    null_time_rows: int | None = None
    trailing_periods: int = 0
    trailing_median_rows: float | None = None
    volume_ratio: float | None = None
    volume_drop: bool = False
    # The same findings as ``issues``, in order, each with its code and params.
    coded_issues: tuple[HealthIssue, ...] = ()


@dataclass(frozen=True)
class Review:
    """All KPIs of a project for one period."""

    project: ProjectSettings
    period: Period
    generated_at: dt.datetime
    kpis: tuple[KpiResult, ...]
    sources: tuple[SourceHealth, ...] = ()
    warnings: tuple[str, ...] = ()
    language: str = "zh"
    definitions: dict[str, str] = field(default_factory=dict)

    @property
    def core(self) -> tuple[KpiResult, ...]:
        return tuple(k for k in self.kpis if k.kpi.core)

    @property
    def attention(self) -> tuple[KpiResult, ...]:
        """KPIs off track or at risk, worst first.

        Off track before at risk; within each, core KPIs first, then the
        lowest attainment (unknown attainment last), then the heavier weight.
        """
        flagged = [k for k in self.kpis if k.status in ("off_track", "at_risk")]

        def severity(k: KpiResult) -> tuple[bool, bool, float, float, str]:
            attained = k.attainment if k.attainment is not None else float("inf")
            return (
                k.status != "off_track",
                not k.kpi.core,
                attained,
                -k.kpi.weight,
                k.id,
            )

        return tuple(sorted(flagged, key=severity))


@dataclass(frozen=True)
class Contribution:
    """One part's share of a change (see ``kpi_cli.explain``).

    ``kind`` is ``value`` for a value of the dimension, or ``unattributed``
    for what no single value explains (``reason``: ``overlap`` when parts do
    not add up to the whole, e.g. a customer buying in two channels;
    ``unallocated_target`` when per-value targets do not add up to the
    total target). For ratios ``contribution = mix_effect + rate_effect``.
    ``share`` is ``contribution / total_change``.
    """

    key: str | None
    contribution: Number
    value: Number | None = None
    base: Number | None = None
    mix_effect: Number | None = None
    rate_effect: Number | None = None
    share: float | None = None
    kind: Literal["value", "unattributed"] = "value"
    reason: str = ""


@dataclass(frozen=True)
class Explanation:
    """A KPI's change against a comparison, split across a dimension's values.

    ``contributions`` are ranked by absolute size and add up to
    ``total_change`` (= ``value - base``) exactly before rounding.
    """

    kpi_id: str
    period: Period
    against: Literal["previous", "year_ago", "target"]
    comparison: Period | None
    dimension: str
    method: Literal["difference", "mix_rate"]
    value: Number | None
    base: Number | None
    total_change: Number
    contributions: tuple[Contribution, ...]
