"""Compute a review: every KPI of a project for one period.

The pipeline: open a DuckDB session in the project's time zone, register the
sources and the models the KPIs need, run one grouped query per model, then
evaluate each KPI against its comparisons and targets, and measure what each
source held for the period.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from kpi_cli import anomaly, evaluate, explain, models, progress, segments, targets
from kpi_cli import compile as compiler
from kpi_cli.config import KpiSettings
from kpi_cli.errors import ConfigError, PeriodError
from kpi_cli.health import distrust, source_health
from kpi_cli.periods import Period, containing, last_complete, parse_period
from kpi_cli.project import Project
from kpi_cli.review_model import (
    Breakdown,
    BreakdownRow,
    KpiResult,
    Review,
    SourceHealth,
    TrendPoint,
)
from kpi_cli.sources import SourceInfo, register_sources

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A DuckDB connection with a project's sources and models registered."""

    con: duckdb.DuckDBPyConnection
    project: Project
    sources: dict[str, SourceInfo]
    models: dict[str, models.Model]

    def close(self) -> None:
        self.con.close()


def today_in(project: Project) -> dt.date:
    """Today's date in the project's time zone."""
    return dt.datetime.now(ZoneInfo(project.settings.project.timezone)).date()


def open_session(
    project: Project, kpis: Sequence[KpiSettings] | None = None
) -> Session:
    """Connect, register sources and the models ``kpis`` need, confine access.

    Raises:
        DataError: an export cannot be read.
        QueryError: a model does not compile.
        ConfigError: a KPI names an unknown model.
    """
    settings = project.settings
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = ?", [settings.project.timezone])
        segments.set_variables(con, settings.segments)
        progress.prepare(con)
        with progress.step(con, "loading sources"):
            sources = register_sources(
                con,
                settings.sources,
                base_dir=project.data_dir,
                timezone=settings.project.timezone,
                cache_dir=project.state_dir / "cache",
            )
        _confine(con, project)
        available = models.discover(project.query_dirs, set(sources))
        wanted = {k.model for k in (settings.kpis if kpis is None else kpis)}
        models.register(con, wanted, available, set(sources))
    except BaseException:
        con.close()
        raise

    return Session(con, project, sources, available)


def _confine(con: duckdb.DuckDBPyConnection, project: Project) -> None:
    """Let project SQL read only the project's data and cache folders."""
    allowed = sorted({str(project.data_dir), str(project.state_dir / "cache")})
    con.execute("SET allowed_directories = ?", [allowed])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def choose_period(
    project: Project,
    text: str | None,
    *,
    today: dt.date | None = None,
    as_of: dt.date | None = None,
) -> Period:
    """The period to review: ``text`` or a default, cut at ``as_of``.

    Without ``text``, the default is the period containing ``as_of`` (the
    period to date), or without ``as_of`` the last complete period before
    today. Without ``as_of``, a period that has not ended is cut after
    yesterday (data for today is still arriving), or after today if it starts
    today.

    Raises:
        PeriodError: unreadable text, or a period that starts after ``as_of``.
    """
    settings = project.settings.project
    today = today or today_in(project)
    week_start = settings.week_start_index
    if text:
        period = parse_period(text, week_start)
    elif as_of:
        period = containing(settings.grain, as_of, week_start)
    else:
        period = last_complete(settings.grain, today, week_start)
    cutoff = as_of or max(today - dt.timedelta(days=1), min(period.start, today))
    if period.start > cutoff:
        raise PeriodError(
            f"period {period.label} starts on {period.start}, after the data's "
            f"as-of date {cutoff}; choose an earlier period"
        )
    if period.end > cutoff:
        period = period.cut((cutoff - period.start).days + 1)

    return period


def comparison_periods(
    period: Period, trend: int, kpis: Sequence[KpiSettings] = ()
) -> list[Period]:
    """Every period a review computes: the period, its comparisons, its trend,
    and the baselines and last-year pacing the ``kpis``' targets need."""
    wanted = [period, period.previous(), period.year_ago(), *period.trailing(trend)]
    wanted += targets.needed_periods(kpis, wanted)
    unique: dict[tuple[dt.date, dt.date], Period] = {}
    for p in wanted:
        unique.setdefault((p.start, p.end), p)

    return list(unique.values())


def run_review(
    project: Project,
    period: Period,
    *,
    kpi_ids: Sequence[str] | None = None,
    language: str | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Compute the review of ``project`` for ``period``.

    Raises:
        ConfigError, DataError, QueryError: see ``open_session`` and
            ``compile.execute``.
    """
    kpis = select_kpis(project, kpi_ids)
    session = open_session(project, kpis)
    try:
        return compute(session, period, kpis, language=language, now=now)
    finally:
        session.close()


def select_kpis(project: Project, kpi_ids: Sequence[str] | None) -> list[KpiSettings]:
    """The KPIs named (all when None), in project order.

    Raises:
        ConfigError: an id is unknown (the message suggests the closest).
    """
    everything = project.settings.kpis
    if not kpi_ids:
        return list(everything)
    known = {k.id: k for k in everything}
    for kpi_id in kpi_ids:
        if kpi_id not in known:
            import difflib

            close = difflib.get_close_matches(kpi_id, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown KPI {kpi_id!r} in {project.file.name}{hint} "
                f"(KPIs: {', '.join(known) or 'none'})"
            )

    return [k for k in everything if k.id in set(kpi_ids)]


def compute(
    session: Session,
    period: Period,
    kpis: Sequence[KpiSettings],
    *,
    language: str | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Run the grouped queries in an open session and evaluate every KPI."""
    project = session.project
    settings = project.settings.project
    periods = comparison_periods(period, settings.trend_periods, kpis)
    periods += anomaly.extra_periods(periods, period, project.settings.anomaly)
    index = {(p.start, p.end): i for i, p in enumerate(periods)}
    time_columns = {
        name: info.time_column
        for name, info in session.sources.items()
        if info.time_column
    }

    results: compiler.Results = {}
    # Ratio KPIs also compute their numerator and denominator by value, in
    # the same query, so an off-track one can be explained without a rescan.
    planned = [*kpis, *explain.review_support(kpis)]
    for query in compiler.plan(planned, periods, time_columns):
        with progress.step(session.con, f"query over {query.model}"):
            computed = compiler.execute(session.con, query)
        for key, values in computed.items():
            results.setdefault(key, {}).update(values)

    health = source_health(session.con, session.sources, project.settings, period)
    ordered = sorted(kpis, key=lambda k: not k.core)
    evaluated = [
        _evaluate(kpi, period, periods, index, results, session, health)
        for kpi in ordered
    ]
    evaluated = explain.attach_all(evaluated, results, index)
    warnings = tuple(w for info in session.sources.values() for w in info.warnings)

    return Review(
        project=settings,
        period=period,
        generated_at=now or dt.datetime.now(ZoneInfo(settings.timezone)),
        kpis=tuple(evaluated),
        sources=tuple(health.values()),
        warnings=warnings,
        language=language or settings.language,
        definitions={m.name: str(m.path) for m in session.models.values()},
    )


def kpi_sources(session: Session, kpi: KpiSettings) -> tuple[str, ...]:
    """The sources a KPI's model reads, directly or through other models."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = [kpi.model]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in session.sources and name not in session.models:
            found.add(name)
            continue
        model = session.models.get(name)
        if model is None:
            continue
        for ref in models.referenced_names(model.sql):
            if ref in session.sources or ref in session.models:
                stack.append(ref)

    return tuple(sorted(found))


def _value(
    results: compiler.Results,
    pid: int,
    kpi: KpiSettings,
    dimension: str | None = None,
    key: Any = None,
) -> Any:
    row = results.get((pid, dimension, key))
    return None if row is None else row.get(kpi.id)


def _covered(period: Period, sources: Sequence[SourceInfo], sparse: set[str]) -> bool:
    """Whether every source's data spans the period.

    A sparse source (rows not expected every day) counts as covering any
    period after its first row.
    """
    for info in sources:
        if info.time_column is None:
            continue
        if info.last is None or info.first is None:
            return False
        if info.first.date() > period.start:
            return False
        if info.last.date() < period.end and info.name not in sparse:
            return False

    return True


def _starts_late(
    period: Period, sources: Sequence[SourceInfo], sparse: set[str]
) -> bool:
    """Whether a (non-sparse) source's data begins inside the period."""
    return any(
        info.time_column is not None
        and info.name not in sparse
        and info.first is not None
        and period.start < info.first.date() <= period.end
        for info in sources
    )


def _zero_like(kpi: KpiSettings) -> Any:
    return Decimal(0) if kpi.unit == "currency" else 0


def _empty_value(kpi: KpiSettings, results: compiler.Results) -> Any:
    """The KPI's value over no rows: its measure's own answer, or 0 for sums."""
    value = results.get(compiler.EMPTY, {}).get(kpi.id)
    if value is None and kpi.is_additive:
        return _zero_like(kpi)

    return value


def _filled(
    value: Any,
    kpi: KpiSettings,
    period: Period,
    infos: list[SourceInfo],
    results: compiler.Results,
    sparse: set[str],
) -> Any:
    """A period without rows that the data covers gets the empty-set value."""
    if value is None and infos and _covered(period, infos, sparse):
        return _empty_value(kpi, results)

    return value


def _evaluate(
    kpi: KpiSettings,
    period: Period,
    periods: list[Period],
    index: dict[tuple[dt.date, dt.date], int],
    results: compiler.Results,
    session: Session,
    health: dict[str, SourceHealth],
) -> KpiResult:
    names = kpi_sources(session, kpi)
    infos = [session.sources[n] for n in names]
    sparse = {n for n in names if session.project.settings.sources[n].sparse}

    def value_of(p: Period, dimension: str | None = None, key: Any = None) -> Any:
        raw = _value(results, index[(p.start, p.end)], kpi, dimension, key)
        return _filled(raw, kpi, p, infos, results, sparse)

    value = value_of(period)
    detail = targets.resolve(kpi, period, value_of)
    target = detail.value if detail else None
    # Only a cost (money per result) with rows but no value is a failure; a
    # rate with nothing to rate (no deliveries, so none late) is simply unknown.
    is_cost = kpi.unit == "currency"
    had_rows = is_cost and (index[(period.start, period.end)], None, None) in results
    achieved, state = targets.judge(value, detail, kpi.direction, had_rows=had_rows)
    notes: list[str] = list(detail.notes) if detail else []
    incomplete = [n for n in names if not health[n].complete]
    if incomplete and state != "on_track":
        state = "incomplete_data"
        notes.append("incomplete:" + ",".join(incomplete))
    entry = targets.entry_for(kpi, period)
    if entry is not None and period.grain != targets.grain_of(kpi, entry):
        notes.append(f"target_grain:{targets.grain_of(kpi, entry)}")

    previous, year_ago = period.previous(), period.year_ago()

    def base_of(p: Period) -> Any:
        # The exports may start inside a comparison period, or the shop simply
        # sold nothing on its first days: rows cannot tell which, so the value
        # stands and a note warns the reader that the base may be partial.
        if _starts_late(p, infos, sparse):
            notes.append(f"partial_base:{p.label}")
        return value_of(p)

    trend = tuple(
        TrendPoint(p, value_of(p), _target_value(kpi, p, value_of))
        for p in period.trailing(session.project.settings.project.trend_periods)
    )

    result = KpiResult(
        kpi=kpi,
        period=period,
        value=value,
        target=target,
        attainment=achieved,
        status=state,
        previous=evaluate.change(value, base_of(previous), previous),
        year_ago=evaluate.change(value, base_of(year_ago), year_ago),
        trend=trend,
        breakdown=distrust(
            _breakdown(kpi, period, periods, index, results, value_of), incomplete
        ),
        sources=names,
        notes=tuple(notes),
        projected=targets.projected(value, detail, kpi, period),
        target_detail=detail,
    )

    # Judged after evaluation, from values the grouped queries already hold.
    return anomaly.attach(
        result, value_of, session.project.settings.anomaly, incomplete=bool(incomplete)
    )


def _target_value(kpi: KpiSettings, period: Period, value_of: Any) -> float | None:
    detail = targets.resolve(kpi, period, value_of)

    return detail.value if detail else None


def _breakdown(
    kpi: KpiSettings,
    period: Period,
    periods: list[Period],
    index: dict[tuple[dt.date, dt.date], int],
    results: compiler.Results,
    value_of: Any,
) -> Breakdown | None:
    dimension = kpi.dimension
    if dimension is None:
        return None
    pids = {index[(p.start, p.end)] for p in periods}
    # Only this KPI's own rows: other queries over the same dimension (another
    # filter, say) hold keys this KPI never saw.
    keys = {
        key
        for (pid, dim, key), values in results.items()
        if dim == dimension and pid in pids and kpi.id in values
    }
    entry = targets.entry_for(kpi, period)
    keys |= set(entry.by) if entry else set()
    previous = period.previous()
    current_pid = index[(period.start, period.end)]
    rows = []
    for key in keys:
        value = value_of(period, dimension, key)
        if value is None and (current_pid, dimension, key) not in results:
            value = _empty_value(kpi, results)

        def part_of(p: Period, key: Any = key) -> Any:
            return value_of(p, dimension, key)

        # The part's own baseline and last-year curve set its target and pace.
        detail = targets.resolve(kpi, period, part_of, part=True, key=key)
        target = detail.value if detail else None
        achieved, state = targets.judge(
            value,
            detail,
            kpi.direction,
            had_rows=kpi.unit == "currency"
            and (current_pid, dimension, key) in results,
        )
        before = value_of(previous, dimension, key)
        previous_pid = index[(previous.start, previous.end)]
        if before is None and (previous_pid, dimension, key) not in results:
            before = _empty_value(kpi, results)
        rows.append(
            BreakdownRow(
                key=key,
                value=value,
                target=target,
                attainment=achieved,
                status=state,
                previous=evaluate.change(value, before, previous),
                projected=targets.projected(value, detail, kpi, period),
                target_detail=detail,
            )
        )
    rows.sort(key=lambda r: (r.value is None, -(float(r.value or 0)), str(r.key)))

    return Breakdown(dimension, tuple(rows))


def kpi_sql(project: Project, period: Period, kpi_id: str) -> str:
    """The grouped query that computes ``kpi_id``, with its parameters listed.

    Registers the sources (to learn their time columns) but runs no KPI query.
    """
    select_kpis(project, [kpi_id])
    kpis = project.settings.kpis
    session = open_session(project, kpis)
    try:
        periods = comparison_periods(
            period, project.settings.project.trend_periods, kpis
        )
        time_columns = {
            name: info.time_column
            for name, info in session.sources.items()
            if info.time_column
        }
        # The KPI runs inside the grouped query of its model: show that one.
        (query,) = [
            q
            for q in compiler.plan(kpis, periods, time_columns)
            if kpi_id in {k.id for k in q.kpis}
        ]
    finally:
        session.close()
    lines = [f"-- KPI {kpi_id} over model {query.model}, period {period.label}", ""]
    lines.append(query.sql + ";")
    lines.append("")
    lines.append("-- parameters (period index, start, end exclusive):")
    for i, p in enumerate(periods):
        lines.append(f"--   {i}: {p.start_ts()} .. {p.end_ts()}  ({p.label})")

    return "\n".join(lines)
