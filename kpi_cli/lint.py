"""Check a project without running a review: definitions, then SMART targets.

Problems with the definitions (an unknown model, a dimension or time column
the model lacks, a measure or filter that does not compile, per-value targets
that do not add up, too many or too few core KPIs) become findings. Then each
KPI is graded on the five SMART letters, each pass / warn / fail with its
reason:

- S: it has a name, an owner (fail without) and a description (warn);
- M: its measure compiles to a number, and its history fits the unit
  (percent values within 0..1, counts whole);
- A: its target against its own history at the target's grain: fail when the
  target is beyond the best period so far AND the change it needs over the
  last period exceeds the 90th percentile of period-over-period changes;
  warn "too easy" when at least 90% of the history periods already met it;
- R: it has an objective, or belongs to the project's current stage;
- T: it has a target with a due date or an effective date.

The history is computed through the review's grouped queries (one query per
model and grain), over the periods fully covered by the KPI's sources, ending
with the last complete period the data reaches.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from kpi_cli import compile as compiler
from kpi_cli import models, targets
from kpi_cli.config import KpiSettings
from kpi_cli.errors import ConfigError, QueryError
from kpi_cli.periods import Period, containing, last_complete
from kpi_cli.project import Project
from kpi_cli.review_model import TargetDetail

log = logging.getLogger(__name__)

State = Literal["pass", "warn", "fail"]
LETTERS = ("S", "M", "A", "R", "T")
TOO_EASY_SHARE = 0.9  # share of history periods meeting the target
CHANGE_QUANTILE = 0.9  # percentile of period-over-period changes
MIN_HISTORY = 4  # periods needed before judging achievability
CORE_RANGE = (3, 5)  # core KPIs per stage
HISTORY_PERIODS = {"day": 91, "week": 52, "month": 24, "quarter": 8, "year": 5}
BY_SUM_TOLERANCE = 0.005  # per-value targets may miss the total by 0.5%
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "DECIMAL",
    "FLOAT",
    "DOUBLE",
    "REAL",
)


@dataclass(frozen=True)
class Check:
    """One SMART letter of one KPI."""

    state: State
    reason: str
    # The reason as a code and its parts, worded per language by check_text.
    code: str = ""
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Finding:
    """A problem with the project's definitions."""

    severity: Literal["warn", "fail"]
    where: str
    message: str


@dataclass(frozen=True)
class Achievability:
    """The figures behind the A verdict (direction-aware: changes for the
    better are positive, so a cost falling 10% is +0.10)."""

    periods: int
    target: float | None
    last: float | None = None
    best: float | None = None
    p90_change: float | None = None
    needed_change: float | None = None
    share_met: float | None = None
    beyond_best: bool = False


@dataclass(frozen=True)
class KpiLint:
    """The SMART grading of one KPI."""

    kpi: KpiSettings
    checks: dict[str, Check]
    history: Achievability | None = None
    history_grain: str | None = None
    history_values: tuple[tuple[Period, float], ...] = ()

    @property
    def worst(self) -> State:
        states = [c.state for c in self.checks.values()]
        return "fail" if "fail" in states else "warn" if "warn" in states else "pass"


@dataclass(frozen=True)
class LintReport:
    """Everything ``kpi lint`` found."""

    project: str
    file: str
    findings: tuple[Finding, ...]
    kpis: tuple[KpiLint, ...]
    core_count: int = 0
    stage: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return any(f.severity == "fail" for f in self.findings) or any(
            k.worst == "fail" for k in self.kpis
        )

    @property
    def warned(self) -> bool:
        return any(f.severity == "warn" for f in self.findings) or any(
            k.worst == "warn" for k in self.kpis
        )

    def exit_code(self, strict: bool = False) -> int:
        """1 when a check failed (or, with ``strict``, warned), else 0."""
        return 1 if self.failed or (strict and self.warned) else 0


# ------------------------------------------------------------ pure rules


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation between closest ranks
    (as DuckDB's ``quantile_cont`` and NumPy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)

    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def achievability(
    history: Sequence[float], target: float | None, direction: str
) -> Achievability:
    """Compare a target with a history of values, oldest first.

    With ``sign`` +1 (higher is better) or -1 (lower): the best value is the
    max of ``sign * h``; the change between consecutive periods is
    ``sign * (h[i] - h[i-1]) / |h[i-1]|`` (skipped when ``h[i-1]`` is 0); the
    change needed is ``sign * (target - last) / |last|``; a period meets the
    target when ``sign * h >= sign * target``. The change needed starts from
    the last period alone, so a thin last period (an export that tails off)
    inflates it; the A verdict then leans on "beyond the best" as well.
    """
    sign = 1.0 if direction == "higher" else -1.0
    if target is None or not history:
        return Achievability(len(history), target)
    last = history[-1]
    best = max(history, key=lambda h: sign * h)
    changes = [
        sign * (b - a) / abs(a)
        for a, b in zip(history, history[1:], strict=False)
        if a != 0
    ]
    p90 = quantile(changes, CHANGE_QUANTILE) if changes else None
    needed = sign * (target - last) / abs(last) if last != 0 else None
    met = sum(1 for h in history if sign * h >= sign * target)

    return Achievability(
        periods=len(history),
        target=target,
        last=last,
        best=best,
        p90_change=p90,
        needed_change=needed,
        share_met=met / len(history),
        beyond_best=sign * target > sign * best,
    )


def judge_achievability(facts: Achievability, grain: str, fmt: Any) -> Check:
    """The A verdict from the figures (``fmt`` formats a KPI value)."""
    if facts.target is None:
        return Check(
            "warn", "target could not be resolved (baseline missing)", "unresolved"
        )
    if facts.periods < MIN_HISTORY:
        return Check(
            "warn",
            f"only {facts.periods} {grain}(s) of history; need {MIN_HISTORY} to judge",
            "short_history",
            (("periods", facts.periods), ("grain", grain)),
        )
    figures = (
        f"target {fmt(facts.target)}; best {fmt(facts.best)}; "
        f"met in {_pct(facts.share_met)} of {facts.periods} {grain}s; "
        f"needs {_signed(facts.needed_change)} vs last {grain}, "
        f"p90 change {_signed(facts.p90_change)}"
    )
    parts = (
        ("target", fmt(facts.target)),
        ("best", fmt(facts.best)),
        ("met", _pct(facts.share_met)),
        ("periods", facts.periods),
        ("grain", grain),
        ("needed", _signed(facts.needed_change)),
        ("p90", _signed(facts.p90_change)),
    )
    stretched = (
        facts.needed_change is not None
        and facts.p90_change is not None
        and facts.needed_change > facts.p90_change
    )
    if facts.beyond_best and stretched:
        return Check(
            "fail",
            "beyond anything achieved and above usual growth: " + figures,
            "beyond",
            parts,
        )
    if facts.share_met is not None and facts.share_met >= TOO_EASY_SHARE:
        return Check("warn", "too easy: " + figures, "too_easy", parts)

    return Check("pass", figures, "figures", parts)


def range_check(
    history: Sequence[float], low: float | None, high: float | None
) -> Check:
    """The A verdict of a range target: too easy or never reached."""
    if len(history) < MIN_HISTORY:
        return Check(
            "warn",
            f"only {len(history)} period(s) of history",
            "range_short",
            (("periods", len(history)),),
        )
    inside = sum(
        1 for h in history if (low is None or h >= low) and (high is None or h <= high)
    )
    share = inside / len(history)
    figures = f"in range in {_pct(share)} of {len(history)} periods"
    parts = (("met", _pct(share)), ("periods", len(history)))
    if share >= TOO_EASY_SHARE:
        return Check("warn", "too easy: " + figures, "range_too_easy", parts)
    if inside == 0:
        return Check("warn", "never reached: " + figures, "range_never", parts)

    return Check("pass", figures, "range", parts)


def specific(kpi: KpiSettings) -> Check:
    """S: a name and an owner (required), a description (expected)."""
    if not (kpi.name.zh or kpi.name.en):
        return Check("fail", "no name", "no_name")
    if not kpi.owner:
        return Check("fail", "no owner", "no_owner")
    if not kpi.description:
        return Check("warn", "no description", "no_description")

    return Check("pass", f"owner {kpi.owner}", "owner", (("owner", kpi.owner),))


def relevant(kpi: KpiSettings, stage: str | None) -> Check:
    """R: an objective, or the project's current stage."""
    if kpi.objective:
        return Check(
            "pass",
            f"objective: {kpi.objective}",
            "objective",
            (("objective", kpi.objective),),
        )
    if kpi.stage and stage and kpi.stage == stage:
        return Check(
            "pass", f"stage {stage} (current)", "current_stage", (("stage", stage),)
        )
    if kpi.stage:
        current = stage or "not set"
        return Check(
            "warn",
            f"stage {kpi.stage} is not the current stage ({current})",
            "other_stage",
            (("stage", kpi.stage), ("current", stage)),
        )

    return Check("fail", "no objective and no stage", "no_objective")


def timely(kpi: KpiSettings, today: dt.date) -> Check:
    """T: a grain and, on its target, a due date or an effective date
    (warn when every due date is before ``today``)."""
    entries = targets.schedule(kpi)
    if not entries:
        return Check(
            "fail", f"{kpi.grain}; no target", "no_target", (("grain", kpi.grain),)
        )
    dues = [e.due for e in entries if e.due]
    dated = [e.effective for e in entries if e.effective]
    if not dues and not dated:
        return Check(
            "fail",
            f"{kpi.grain}; no due date or effective date",
            "no_date",
            (("grain", kpi.grain),),
        )
    if dues and max(dues) < today and not dated:
        return Check(
            "warn",
            f"{kpi.grain}; due date {max(dues)} has passed",
            "overdue",
            (("grain", kpi.grain), ("date", max(dues))),
        )
    when = f"due {max(dues)}" if dues else f"effective from {min(dated)}"
    code = "due" if dues else "effective"
    day = max(dues) if dues else min(dated)

    return Check(
        "pass", f"{kpi.grain}; {when}", code, (("grain", kpi.grain), ("date", day))
    )


def measurable(
    kpi: KpiSettings, column_type: str | None, values: Sequence[float]
) -> Check:
    """M: the measure compiles to a number consistent with the unit."""
    if column_type is None:
        return Check("fail", "the measure does not compile", "no_compile")
    if not column_type.upper().startswith(_NUMERIC):
        return Check(
            "fail",
            f"the measure returns {column_type}, not a number",
            "not_number",
            (("type", column_type),),
        )
    if not values:
        return Check(
            "warn",
            f"{column_type}; no values in the history",
            "no_values",
            (("type", column_type),),
        )
    if kpi.unit == "percent":
        outside = [v for v in values if not 0 <= v <= 1]
        if outside:
            worst = max(outside, key=lambda v: abs(v - 0.5))
            return Check(
                "warn",
                f"{len(outside)} of {len(values)} values outside 0..1 (e.g. "
                f"{worst:g}); percent KPIs are fractions, 0.042 = 4.2%",
                "percent_outside",
                (("count", len(outside)), ("of", len(values)), ("example", worst)),
            )
    if kpi.unit == "count":
        fractional = [v for v in values if v != math.floor(v)]
        if fractional:
            return Check(
                "warn",
                f"{len(fractional)} of {len(values)} values are not whole "
                f"(e.g. {fractional[0]:g}); a count should be",
                "count_fraction",
                (
                    ("count", len(fractional)),
                    ("of", len(values)),
                    ("example", fractional[0]),
                ),
            )

    return Check(
        "pass",
        f"{column_type}; {len(values)} values fit unit {kpi.unit}",
        "fits",
        (("type", column_type), ("count", len(values)), ("unit", kpi.unit)),
    )


def by_sum_findings(kpi: KpiSettings, file: str) -> list[Finding]:
    """Per-value amounts of an additive KPI that do not add up to the total.

    Growth and range targets are not summed: per-value growth rates do not
    add up to anything without each value's baseline.
    """
    findings = []
    for i, entry in enumerate(targets.schedule(kpi)):
        if entry.kind != "value" or not entry.by or not kpi.is_additive:
            continue
        total = sum(entry.by.values())
        if abs(total - entry.value) > BY_SUM_TOLERANCE * abs(entry.value or 1):
            where = "target.by" if kpi.target else f"targets[{i}].by"
            findings.append(
                Finding(
                    "warn",
                    f"{file}: kpis[{kpi.id}].{where}",
                    f"per-value targets of {len(entry.by)} value(s) add up to "
                    f"{total:,.10g}, not the total "
                    f"target {entry.value:,.10g} (difference {total - entry.value:+,.10g})",
                )
            )

    return findings


def core_finding(
    kpis: Sequence[KpiSettings], stage: str | None, file: str
) -> tuple[int, Finding | None]:
    """Core KPIs of the current stage; a warning outside 3-5."""
    core = [k for k in kpis if k.core and (stage is None or k.stage in (None, stage))]
    low, high = CORE_RANGE
    if low <= len(core) <= high:
        return len(core), None
    label = f"stage {stage}" if stage else "the project"
    return len(core), Finding(
        "warn",
        f"{file}: kpis.core",
        f"{len(core)} core KPI(s) for {label}; keep {low}-{high} so the review "
        "stays focused",
    )


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


def _signed(change: float | None) -> str:
    return "n/a" if change is None else f"{change * 100:+.1f}%"


# ------------------------------------------------------------- the run


def lint_project(
    project: Project,
    *,
    history: int | None = None,
    today: dt.date | None = None,
) -> LintReport:
    """Check ``project`` (already loaded, so its file is valid).

    ``history`` overrides the periods of history per grain (see
    ``HISTORY_PERIODS``).

    Raises:
        DataError: an export cannot be read.
    """
    from kpi_cli.review import open_session, today_in

    settings = project.settings
    file = project.file.name
    stage = settings.project.stage
    today = today or today_in(project)
    session = open_session(project, kpis=[])
    try:
        findings: list[Finding] = []
        compiled: dict[str, tuple[KpiSettings, str]] = {}
        types: dict[str, str | None] = {}
        for kpi in settings.kpis:
            problems, column_type, time_column = _check_definition(session, kpi, file)
            findings += problems
            types[kpi.id] = column_type
            if column_type is not None and time_column is not None:
                compiled[kpi.id] = (kpi, time_column)
            findings += by_sum_findings(kpi, file)
        series = _histories(session, list(compiled.values()), history, today)
    finally:
        session.close()

    count, core = core_finding(settings.kpis, stage, file)
    if core is not None:
        findings.append(core)
    graded = []
    for kpi in settings.kpis:
        graded.append(
            _grade(kpi, types[kpi.id], series.get(kpi.id), stage, today, project)
        )

    return LintReport(
        project=settings.project.name,
        file=str(project.file),
        findings=tuple(findings),
        kpis=tuple(graded),
        core_count=count,
        stage=stage,
    )


@dataclass(frozen=True)
class _Series:
    grain: str
    values: tuple[tuple[Period, float], ...]
    target: TargetDetail | None
    upcoming: Period


def _grade(
    kpi: KpiSettings,
    column_type: str | None,
    series: _Series | None,
    stage: str | None,
    today: dt.date,
    project: Project,
) -> KpiLint:
    from kpi_cli.formatting import format_value

    def fmt(value: Any) -> str:
        return format_value(
            value,
            kpi.unit,
            lang="en",
            currency=project.settings.project.currency,
            decimals=kpi.decimals,
        )

    values = [v for _, v in series.values] if series else []
    checks = {
        "S": specific(kpi),
        "M": measurable(kpi, column_type, values),
        "R": relevant(kpi, stage),
        # A due date is judged at the period after the data's last complete
        # one, so an old export is linted as of its own time.
        "T": timely(kpi, series.upcoming.start if series else today),
    }
    facts = None
    if not targets.schedule(kpi) or all(e.kind is None for e in targets.schedule(kpi)):
        checks["A"] = Check("fail", "no target value, growth or range", "no_kind")
    elif series is None:
        checks["A"] = Check(
            "fail", "no history: the KPI does not compile", "no_history"
        )
    elif series.target is None:
        checks["A"] = Check(
            "warn", "no target applies to the next period", "no_next_target"
        )
    elif series.target.kind == "range":
        checks["A"] = range_check(values, series.target.low, series.target.high)
    else:
        facts = achievability(values, series.target.value, kpi.direction)
        checks["A"] = judge_achievability(facts, series.grain, fmt)

    return KpiLint(
        kpi=kpi,
        checks={letter: checks[letter] for letter in LETTERS},
        history=facts,
        history_grain=series.grain if series else None,
        history_values=series.values if series else (),
    )


def _check_definition(
    session: Any, kpi: KpiSettings, file: str
) -> tuple[list[Finding], str | None, str | None]:
    """Model, columns, filter and measure of one KPI.

    Returns the findings, the measure's DuckDB type (None when it does not
    compile) and the time column used.
    """
    where = f"{file}: kpis[{kpi.id}]"
    known = set(session.models) | set(session.sources)
    if kpi.model not in known:
        close = difflib.get_close_matches(kpi.model, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        names = ", ".join(sorted(known)) or "none"
        message = (
            f"unknown model {kpi.model!r}: not a queries/*.sql file nor a source"
            f"{hint} (models and sources: {names})"
        )
        return [Finding("fail", f"{where}.model", message)], None, None
    try:
        models.register(session.con, {kpi.model}, session.models, set(session.sources))
    except (ConfigError, QueryError) as e:
        return [Finding("fail", f"{where}.model", str(e))], None, None

    columns = [
        row[0]
        for row in session.con.execute(
            f"DESCRIBE {compiler.quote(kpi.model)}"
        ).fetchall()
    ]
    source = session.sources.get(kpi.model)
    time_column = kpi.time_column or (source.time_column if source else None)
    problems = []
    if time_column is None:
        problems.append(
            Finding(
                "fail",
                f"{where}.time_column",
                f"required: model {kpi.model!r} has no time column of its own",
            )
        )
    elif time_column not in columns:
        problems.append(
            _missing_column(where, "time_column", time_column, kpi.model, columns)
        )
    if kpi.dimension and kpi.dimension not in columns:
        problems.append(
            _missing_column(where, "dimension", kpi.dimension, kpi.model, columns)
        )
    if problems:
        return problems, None, None

    # Bind the filter alone first, so an error is pinned on the right field.
    period = containing("day", dt.date(2000, 1, 1))
    bare = kpi.model_copy(update={"measure": "count(*)", "dimension": None})
    for field_name, probe in (("filter", bare), ("measure", kpi)):
        if field_name == "filter" and not kpi.filter:
            continue
        query = compiler.build(kpi.model, time_column, kpi.filter, (probe,), [period])
        try:
            cursor = session.con.execute(
                f"SELECT * FROM ({query.sql}) LIMIT 0", list(query.params)
            )
        except duckdb.Error as e:
            message = models.duckdb_message(e)
            value = getattr(kpi, field_name)
            return (
                [Finding("fail", f"{where}.{field_name}", f"{value!r}: {message}")],
                None,
                None,
            )
    types = {d[0]: str(d[1]) for d in cursor.description}

    return [], types.get(kpi.id), time_column


def _missing_column(
    where: str, field_name: str, column: str, model: str, columns: list[str]
) -> Finding:
    close = difflib.get_close_matches(column, columns, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Finding(
        "fail",
        f"{where}.{field_name}",
        f"no column {column!r} in model {model!r}{hint} (columns: {', '.join(columns)})",
    )


def _histories(
    session: Any,
    kpis: list[tuple[KpiSettings, str]],
    history: int | None,
    today: dt.date,
) -> dict[str, _Series]:
    """Each KPI's trailing values at its target's grain (one query per model
    and grain) and its target for the period after the last complete one."""
    from kpi_cli.review import kpi_sources

    week_start = session.project.settings.project.week_start_index
    plans: dict[str, list[tuple[KpiSettings, list[Period], Period, tuple]]] = {}
    for kpi, _ in kpis:
        infos = [session.sources[n] for n in kpi_sources(session, kpi)]
        dated = [i for i in infos if i.time_column]
        if not dated or any(i.first is None or i.last is None for i in dated):
            continue
        # Only periods every source covers from start to end count as history.
        first = max(i.first.date() for i in dated)
        last = min(min(i.last.date() for i in dated), today - dt.timedelta(days=1))
        entries = targets.schedule(kpi)
        grain = targets.grain_of(kpi, entries[-1]) if entries else kpi.grain
        anchor = last_complete(grain, last + dt.timedelta(days=1), week_start)
        count = history or HISTORY_PERIODS[grain]
        periods = [p for p in anchor.trailing(count) if p.start >= first]
        upcoming = containing(grain, anchor.end + dt.timedelta(days=1), week_start)
        plans.setdefault(grain, []).append((kpi, periods, upcoming, (first, last)))

    time_columns = {
        name: info.time_column
        for name, info in session.sources.items()
        if info.time_column
    }
    series: dict[str, _Series] = {}
    for grain, members in plans.items():
        wanted: dict[tuple[dt.date, dt.date], Period] = {}
        for kpi, periods, upcoming, _ in members:
            for p in [*periods, *targets.needed_periods([kpi], [upcoming])]:
                wanted.setdefault((p.start, p.end), p)
        ordered = list(wanted.values())
        index = {(p.start, p.end): i for i, p in enumerate(ordered)}
        results: compiler.Results = {}
        group = [kpi for kpi, *_ in members]
        for query in compiler.plan(group, ordered, time_columns):
            for key, values in compiler.execute(session.con, query).items():
                results.setdefault(key, {}).update(values)

        for kpi, periods, upcoming, (first, last) in members:

            def value_of(
                p: Period,
                kpi: KpiSettings = kpi,
                span: tuple = (first, last),
                results: compiler.Results = results,
                index: dict = index,
            ) -> Any:
                row = results.get((index[(p.start, p.end)], None, None))
                raw = None if row is None else row.get(kpi.id)
                covered = span[0] <= p.start and p.end <= span[1]
                if raw is None and kpi.is_additive and covered:
                    return 0
                return raw

            values = tuple(
                (p, float(v)) for p in periods if (v := value_of(p)) is not None
            )
            detail = targets.resolve(kpi, upcoming, value_of)
            series[kpi.id] = _Series(grain, values, detail, upcoming)
            log.debug("history of %s: %d %s(s)", kpi.id, len(values), grain)

    return series


# ------------------------------------------------------------- rendering

_MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}
_STATES = {"pass": "通过", "warn": "警告", "fail": "未通过"}
# What each letter checks, shown before its reason in Chinese.
LETTER_LABELS = {
    "S": "名称、说明与负责人",
    "M": "度量可编译且返回数字",
    "A": "目标与历史",
    "R": "关联目标或当前阶段",
    "T": "周期与截止日期",
}
_GRAINS_ZH = {"day": "天", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
_FIGURES_ZH = (
    "目标 {target}；历史最佳 {best}；{periods} 个{grain}中 {met} 达标；"
    "较上一{grain}需 {needed}，p90 变化 {p90}"
)
_REASONS_ZH = {
    "unresolved": "无法确定目标（缺少基期）",
    "short_history": "仅有 {periods} 个{grain}的历史，至少需要 "
    + str(MIN_HISTORY)
    + " 个",
    "beyond": "超出历史最好水平且高于通常增幅：" + _FIGURES_ZH,
    "too_easy": "目标过易：" + _FIGURES_ZH,
    "figures": _FIGURES_ZH,
    "range_short": "仅有 {periods} 个周期的历史",
    "range_too_easy": "目标过易：{periods} 个周期中 {met} 在区间内",
    "range_never": "从未达到：{periods} 个周期中 {met} 在区间内",
    "range": "{periods} 个周期中 {met} 在区间内",
    "no_name": "缺少名称",
    "no_owner": "缺少负责人",
    "no_description": "缺少说明",
    "owner": "负责人 {owner}",
    "objective": "目标：{objective}",
    "current_stage": "属于当前阶段 {stage}",
    "other_stage": "阶段 {stage} 不是当前阶段（{current}）",
    "no_objective": "既无关联目标，也无阶段",
    "no_target": "按{grain}；没有目标",
    "no_date": "按{grain}；没有截止日期或生效日期",
    "overdue": "按{grain}；截止日期 {date} 已过",
    "due": "按{grain}；截止 {date}",
    "effective": "按{grain}；{date} 起生效",
    "no_compile": "度量无法编译",
    "not_number": "度量返回 {type}，不是数字",
    "no_values": "{type}；历史中没有数值",
    "percent_outside": (
        "{of} 个值中有 {count} 个超出 0..1（如 {example:g}）；"
        "百分比 KPI 用小数表示，0.042 = 4.2%"
    ),
    "count_fraction": "{of} 个值中有 {count} 个不是整数（如 {example:g}）；计数应为整数",
    "fits": "{type}；{count} 个值符合单位 {unit}",
    "no_kind": "没有目标值、增长目标或区间",
    "no_history": "没有历史：该 KPI 无法编译",
    "no_next_target": "下一周期没有适用的目标",
}


def state_label(state: str, lang: str) -> str:
    """A verdict as a word: 通过/警告/未通过 or pass/warn/fail."""
    return _STATES.get(state, state) if lang == "zh" else state


def check_text(check: Check, lang: str) -> str:
    """A check's reason in ``lang``; the English reason for English, and for a
    check without a known code."""
    template = _REASONS_ZH.get(check.code) if lang == "zh" else None
    if template is None:
        return check.reason
    # Unknown figures arrive as "n/a" from _pct/_signed.
    params = {k: "不适用" if v == "n/a" else v for k, v in check.params}
    if "grain" in params:
        params["grain"] = _GRAINS_ZH.get(params["grain"], params["grain"])
    if params.get("current", "") is None:
        params["current"] = "未设置"

    return template.format(**params)


def lint_json(report: LintReport, lang: str = "en") -> dict[str, Any]:
    """The report as a JSON-ready dict: English keys, states and reasons; each
    check also carries its ``code`` and its ``text`` in ``lang``."""

    def facts(item: KpiLint) -> dict[str, Any] | None:
        h = item.history
        if h is None:
            return None
        return {
            "grain": item.history_grain,
            "periods": h.periods,
            "target": h.target,
            "last": h.last,
            "best": h.best,
            "p90_change": h.p90_change,
            "needed_change": h.needed_change,
            "share_met": h.share_met,
            "beyond_best": h.beyond_best,
        }

    return {
        "project": report.project,
        "file": report.file,
        "ok": not report.failed,
        "stage": report.stage,
        "core_count": report.core_count,
        "findings": [
            {"severity": f.severity, "where": f.where, "message": f.message}
            for f in report.findings
        ],
        "kpis": [
            {
                "id": item.kpi.id,
                "state": item.worst,
                "checks": {
                    letter: {
                        "state": c.state,
                        "reason": c.reason,
                        "code": c.code,
                        "text": check_text(c, lang),
                    }
                    for letter, c in item.checks.items()
                },
                "history": facts(item),
            }
            for item in report.kpis
        ],
    }


def summary(report: LintReport, lang: str = "en") -> str:
    """One line: how many KPIs pass, warn and fail, and the findings."""
    states = [k.worst for k in report.kpis]
    fails = sum(1 for f in report.findings if f.severity == "fail")
    warns = len(report.findings) - fails
    if lang == "zh":
        return (
            f"{len(states)} 个 KPI：{states.count('pass')} 个通过，"
            f"{states.count('warn')} 个警告，{states.count('fail')} 个未通过；"
            f"{fails} 个定义错误，{warns} 个警告"
        )
    return (
        f"{len(states)} KPI(s): {states.count('pass')} pass, "
        f"{states.count('warn')} warn, {states.count('fail')} fail; "
        f"{fails} definition error(s), {warns} warning(s)"
    )


def lint_renderable(report: LintReport, lang: str = "en") -> Any:
    """Findings, a compact SMART table, the reasons behind it, a summary, in
    ``lang``. Findings (definition errors) stay in English: most carry
    DuckDB's own message."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    styles = {"pass": "green", "warn": "yellow", "fail": "bold red"}
    parts: list[Any] = []
    for f in report.findings:
        line = f"{_MARKS[f.severity]} {f.where}: {f.message}"
        parts.append(Text(line, style=styles[f.severity]))
    table = Table(title=f"SMART · {report.project}", title_justify="left")
    table.add_column("KPI")
    for letter in LETTERS:
        table.add_column(letter, justify="center")
    for item in report.kpis:
        cells = [
            Text(
                f"{_MARKS[c.state]} {state_label(c.state, lang)}", style=styles[c.state]
            )
            for c in item.checks.values()
        ]
        table.add_row(item.kpi.id, *cells)
    parts.append(table)
    # Every warn and fail with its reason, and the figures behind each A.
    for item in report.kpis:
        for letter, c in item.checks.items():
            if c.state != "pass" or letter == "A":
                label = f"（{LETTER_LABELS[letter]}）" if lang == "zh" else ""
                reason = check_text(c, lang)
                line = f"{item.kpi.id} {letter}{label} {_MARKS[c.state]} {reason}"
                parts.append(Text(line, style=styles[c.state]))
    parts.append(Text(summary(report, lang)))

    return Group(*parts)
