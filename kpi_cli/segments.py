"""Member segments by recency, frequency and money, and how members moved.

As of a day ``A`` (the end of a period), a customer with at least one counted
order on or before ``A`` is a member, classified by the ``[segments]``
settings:

- dormant (沉睡会员): no counted order in the ``dormant_days`` days ending on
  ``A``, i.e. ``A - last order day >= dormant_days`` (with the default 90, a
  last order exactly 90 days before ``A`` is dormant, 89 days is not);
- high value (高价值会员): not dormant, and at least ``high_value_orders``
  orders or at least ``high_value_amount`` paid in the ``window_days`` days
  ending on ``A`` (both bounds inclusive);
- regular (普通会员): every other member.

``segment_report`` classifies everyone as of the period's last day and as of
the day before it started, in ONE grouped DuckDB query over the orders, and
returns counts, each segment's share of members and of the window's revenue,
the period's revenue by the segment its buyers were in when it began
(``new`` for first-time buyers), and the transition matrix; dormant members
who moved to regular or high value are the period's reactivations.

Days are local calendar days in the project's time zone. The same rule, as of
the day before each order, tags orders in the ``order_segments`` model, so
segment KPIs are ordinary measures.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from kpi_cli.compile import quote
from kpi_cli.config import SegmentSettings
from kpi_cli.errors import DataError, QueryError
from kpi_cli.models import duckdb_message
from kpi_cli.periods import Period

log = logging.getLogger(__name__)

SEGMENTS: tuple[str, ...] = ("high_value", "regular", "dormant")
NAMES: dict[str, dict[str, str]] = {
    "high_value": {"zh": "高价值会员", "en": "High value"},
    "regular": {"zh": "普通会员", "en": "Regular"},
    "dormant": {"zh": "沉睡会员", "en": "Dormant"},
    "new": {"zh": "新客", "en": "New"},
}

# Settings the order_segments model reads through DuckDB variables.
_VARIABLES = ("dormant_days", "window_days", "high_value_orders", "high_value_amount")


def set_variables(con: duckdb.DuckDBPyConnection, settings: SegmentSettings) -> None:
    """Hand the ``[segments]`` thresholds to SQL models (``getvariable``)."""
    for name in _VARIABLES:
        con.execute(f"SET VARIABLE segments_{name} = ?", [getattr(settings, name)])


@dataclass(frozen=True)
class SegmentRow:
    """One segment as of the period's end."""

    segment: str
    members: int
    share: float | None
    window_revenue: Decimal
    revenue_share: float | None
    members_before: int
    period_revenue: Decimal  # paid in the period by those in it at the start


@dataclass(frozen=True)
class SegmentReport:
    """Member segments of a period (see the module docstring)."""

    period: Period
    as_of: dt.date
    before: dt.date
    settings: SegmentSettings
    rows: tuple[SegmentRow, ...]
    new_members: int
    new_revenue: Decimal
    transitions: dict[tuple[str, str], int]
    reactivated: int

    @property
    def members(self) -> int:
        return sum(r.members for r in self.rows)


def _classify(last: str, orders: str, amount: str, day: str) -> str:
    """SQL CASE for the segment as of ``day`` (parameters are named)."""
    return (
        f"CASE WHEN {last} IS NULL THEN NULL "
        f"WHEN {day} - {last} >= $dormant_days THEN 'dormant' "
        f"WHEN {orders} >= $high_value_orders "
        f"OR {amount} >= $high_value_amount THEN 'high_value' "
        "ELSE 'regular' END"
    )


def _sql(settings: SegmentSettings) -> str:
    """The one-pass query; identifiers from settings, every value bound."""
    customer, time, amount = (
        quote(settings.customer),
        quote(settings.time),
        quote(settings.amount),
    )
    where = f"({settings.filter}) AND " if settings.filter else ""
    window0 = "day BETWEEN $before - ($window_days - 1) AND $before"
    window1 = "day BETWEEN $as_of - ($window_days - 1) AND $as_of"
    before = _classify("last0", "n0", "m0", "$before")
    after = _classify("last1", "n1", "m1", "$as_of")

    return f"""
WITH o AS (
    SELECT {customer}::VARCHAR AS customer, CAST({time} AS DATE) AS day,
           {amount} AS amount
    FROM {quote(settings.model)}
    WHERE {where}{customer} IS NOT NULL AND {time} IS NOT NULL
      AND CAST({time} AS DATE) <= $as_of
),
c AS (
    SELECT customer,
           max(day) FILTER (WHERE day <= $before) AS last0,
           count(*) FILTER (WHERE {window0}) AS n0,
           coalesce(sum(amount) FILTER (WHERE {window0}), 0) AS m0,
           max(day) AS last1,
           count(*) FILTER (WHERE {window1}) AS n1,
           coalesce(sum(amount) FILTER (WHERE {window1}), 0) AS m1,
           coalesce(sum(amount) FILTER (WHERE day >= $start), 0) AS paid_now
    FROM o
    GROUP BY customer
)
SELECT {before} AS segment_before, {after} AS segment_after,
       count(*) AS members, sum(m1) AS window_revenue, sum(paid_now) AS period_revenue
FROM c
GROUP BY ALL
"""


def segment_report(
    con: duckdb.DuckDBPyConnection, period: Period, settings: SegmentSettings
) -> SegmentReport:
    """Classify members as of ``period``'s end and the day before it began.

    Raises:
        QueryError: the configured model, columns or filter do not exist.
        DataError: the amounts cannot be summed.
    """
    before = period.start - dt.timedelta(days=1)
    params = {
        "as_of": period.end,
        "before": before,
        "start": period.start,
        "dormant_days": settings.dormant_days,
        "window_days": settings.window_days,
        "high_value_orders": settings.high_value_orders,
        "high_value_amount": Decimal(str(settings.high_value_amount)),
    }
    try:
        rows = con.execute(_sql(settings), params).fetchall()
    except (duckdb.ConversionException, duckdb.InvalidInputException) as e:
        raise DataError(
            f"[segments] over {settings.model!r}: {duckdb_message(e)}"
        ) from e
    except duckdb.Error as e:
        raise QueryError(
            f"[segments]: {duckdb_message(e)}; check model = {settings.model!r}, "
            f"customer = {settings.customer!r}, time = {settings.time!r}, "
            f"amount = {settings.amount!r} and filter = {settings.filter!r} in the "
            "project file"
        ) from e

    transitions: dict[tuple[str, str], int] = {}
    members = dict.fromkeys(SEGMENTS, 0)
    members_before = dict.fromkeys(SEGMENTS, 0)
    window = dict.fromkeys(SEGMENTS, Decimal(0))
    paid_by_start = dict.fromkeys((*SEGMENTS, "new"), Decimal(0))
    for seg_before, seg_after, count, window_revenue, period_revenue in rows:
        origin = seg_before or "new"
        transitions[(origin, seg_after)] = count
        members[seg_after] += count
        window[seg_after] += _money(window_revenue)
        paid_by_start[origin] += _money(period_revenue)
        if seg_before is not None:
            members_before[seg_before] += count

    total_members = sum(members.values())
    total_window = sum(window.values(), Decimal(0))
    report_rows = tuple(
        SegmentRow(
            segment=name,
            members=members[name],
            share=members[name] / total_members if total_members else None,
            window_revenue=window[name],
            revenue_share=float(window[name] / total_window) if total_window else None,
            members_before=members_before[name],
            period_revenue=paid_by_start[name],
        )
        for name in SEGMENTS
    )
    reactivated = sum(
        count
        for (origin, target), count in transitions.items()
        if origin == "dormant" and target != "dormant"
    )

    return SegmentReport(
        period=period,
        as_of=period.end,
        before=before,
        settings=settings,
        rows=report_rows,
        new_members=sum(c for (o, _), c in transitions.items() if o == "new"),
        new_revenue=paid_by_start["new"],
        transitions=transitions,
        reactivated=reactivated,
    )


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def run_segments(project: Any, period: Period) -> SegmentReport:
    """Open a session with the segments model registered and report on it.

    Raises:
        ConfigError: ``[segments] model`` is neither a model nor a source.
        QueryError, DataError: see ``segment_report``.
    """
    from kpi_cli import models
    from kpi_cli.review import open_session

    settings = project.settings.segments
    session = open_session(project, [])
    try:
        if settings.model not in session.sources:
            models.register(
                session.con, {settings.model}, session.models, set(session.sources)
            )
        return segment_report(session.con, period, settings)
    finally:
        session.close()
