"""The HTML review report: one self-contained file a manager can open or print.

A review becomes a *view*: plain objects holding every string already
formatted in the report language and every chart already laid out as SVG
geometry. The Jinja templates in ``report_templates/`` only arrange them, so
a project can restyle or reorder the report without re-deriving numbers, and
all formatting stays in ``kpi_cli.formatting``.

Templates are looked up in the project's ``report_templates/`` folders first,
then in the built-in ones; the built-ins are also reachable as
``builtin/NAME`` so an override can extend the template it replaces.
"""

from __future__ import annotations

import functools
import math
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from kpi_cli import formatting as f
from kpi_cli.errors import TemplateError
from kpi_cli.periods import Period
from kpi_cli.resources import builtin_dir
from kpi_cli.review_model import (
    Anomaly,
    Breakdown,
    Change,
    KpiResult,
    Review,
    SourceHealth,
    TrendPoint,
)

ENTRY_TEMPLATE = "review.html"
BUILTIN_PREFIX = "builtin"

# Interface strings. Numbers, dates and statuses come from ``formatting``.
STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "review": "KPI 复盘",
        "generated": "生成于",
        "currency": "币种",
        "data_through": "数据截至",
        "partial": "本期进行中：已过 {elapsed}/{total} 天，按同样天数比较",
        "attention": "需要关注",
        "attention_none": "所有设定了目标的指标均已达成，本期没有需要关注的指标。",
        "summary": "核心指标",
        "summary_all": "全部指标",
        "details": "指标详情",
        "value": "本期",
        "target": "目标",
        "attainment": "达成率",
        "previous": "环比",
        "year_ago": "同比",
        "previous_value": "上期",
        "year_ago_value": "去年同期",
        "projected": "按进度预计全期",
        "trend": "近 {count} 期趋势",
        "trend_current": "本期",
        "trend_target": "目标",
        "trend_empty": "没有可绘制的趋势数据。",
        "breakdown": "按 {dimension} 拆分",
        "key": "维度值",
        "blank_key": "（空）",
        "status": "状态",
        "change": "环比",
        "anomaly": "异常",
        "anomaly_up": "异常偏高",
        "anomaly_down": "异常偏低",
        "baseline": "常态基准",
        "score": "偏离分数",
        "notes": "说明",
        "base_negative": "基期为负，变化率仅供参考",
        "data": "数据状况",
        "rows_in_period": "本期行数",
        "in_period": "本期数据时间",
        "range": "全部数据时间",
        "rows_total": "总行数",
        "complete": "数据完整",
        "incomplete": "数据不完整",
        "issues": "问题",
        "file": "文件",
        "rows": "行数",
        "encoding": "编码",
        "delimiter": "分隔符",
        "state": "状态",
        "state_ok": "正常",
        "state_header_only": "仅有表头",
        "state_empty": "空文件",
        "no_sources": "本次复盘没有数据源信息。",
        "appendix": "附录：指标定义",
        "description": "说明",
        "owner": "负责人",
        "objective": "业务目标",
        "unit": "单位",
        "direction": "方向",
        "grain": "周期",
        "target_value": "目标值",
        "warn": "预警区间",
        "warn_text": "低于目标 {share} 以内记为有风险",
        "due": "截止日期",
        "filter": "筛选条件",
        "dimension": "拆分维度",
        "measure": "计算口径（SQL）",
        "by_targets": "分项目标",
        "target_range": "目标区间",
        "baseline_year_ago": "（较去年同期）",
        "baseline_previous": "（较上期）",
        "baseline_trailing": "（较近 {count} 期均值）",
        "direction_higher": "越高越好",
        "direction_lower": "越低越好",
        "unit_count": "数量",
        "unit_currency": "金额（{currency}）",
        "unit_percent": "百分比",
        "unit_ratio": "比率",
        "unit_score": "分数",
        "unit_days": "天数",
        "grain_day": "日",
        "grain_week": "周",
        "grain_month": "月",
        "grain_quarter": "季度",
        "grain_year": "年",
        "warnings": "提示",
        "glossary": "术语",
        "footer": "由 {generated_by} 生成",
        "none": "—",
        "contents": "目录",
    },
    "en": {
        "review": "KPI review",
        "generated": "Generated",
        "currency": "Currency",
        "data_through": "Data through",
        "partial": "Period in progress: day {elapsed} of {total}, compared "
        "with the same number of days",
        "attention": "Needs attention",
        "attention_none": "Nothing needs attention: every KPI with a target "
        "is on track.",
        "summary": "Core KPIs",
        "summary_all": "All KPIs",
        "details": "KPI details",
        "value": "This period",
        "target": "Target",
        "attainment": "Attainment",
        "previous": "vs previous",
        "year_ago": "vs year ago",
        "previous_value": "Previous",
        "year_ago_value": "Year ago",
        "projected": "Projected for the full period",
        "trend": "Last {count} periods",
        "trend_current": "This period",
        "trend_target": "Target",
        "trend_empty": "No trend data to draw.",
        "breakdown": "By {dimension}",
        "key": "Value of dimension",
        "blank_key": "(blank)",
        "status": "Status",
        "change": "vs previous",
        "anomaly": "Anomaly",
        "anomaly_up": "Unusually high",
        "anomaly_down": "Unusually low",
        "baseline": "usual level",
        "score": "score",
        "notes": "Notes",
        "base_negative": "the base was negative; read the change with care",
        "data": "Data health",
        "rows_in_period": "Rows in period",
        "in_period": "Data in period",
        "range": "All data",
        "rows_total": "Rows in total",
        "complete": "Complete",
        "incomplete": "Incomplete",
        "issues": "Issues",
        "file": "File",
        "rows": "Rows",
        "encoding": "Encoding",
        "delimiter": "Delimiter",
        "state": "State",
        "state_ok": "OK",
        "state_header_only": "Header only",
        "state_empty": "Empty file",
        "no_sources": "This review holds no information about its sources.",
        "appendix": "Appendix: KPI definitions",
        "description": "Description",
        "owner": "Owner",
        "objective": "Objective",
        "unit": "Unit",
        "direction": "Direction",
        "grain": "Grain",
        "target_value": "Target",
        "warn": "Warning band",
        "warn_text": "at risk when short of target by up to {share}",
        "due": "Due",
        "filter": "Filter",
        "dimension": "Breakdown",
        "measure": "Measure (SQL)",
        "by_targets": "Targets by value",
        "target_range": "Target range",
        "baseline_year_ago": " over the same period a year ago",
        "baseline_previous": " over the previous period",
        "baseline_trailing": " over the mean of the last {count} periods",
        "direction_higher": "Higher is better",
        "direction_lower": "Lower is better",
        "unit_count": "Count",
        "unit_currency": "Money ({currency})",
        "unit_percent": "Percent",
        "unit_ratio": "Ratio",
        "unit_score": "Score",
        "unit_days": "Days",
        "grain_day": "Day",
        "grain_week": "Week",
        "grain_month": "Month",
        "grain_quarter": "Quarter",
        "grain_year": "Year",
        "warnings": "Warnings",
        "glossary": "Glossary",
        "footer": "Made by {generated_by}",
        "none": "—",
        "contents": "Contents",
    },
}


# ---------------------------------------------------------------------------
# The view: what templates receive.


@dataclass(frozen=True)
class ChangeView:
    """A comparison as shown: text, a direction-aware tone and an arrow."""

    label: str
    text: str
    detail: str  # absolute change and the base value, for a tooltip or table
    tone: str  # good, bad, flat or na: colour by meaning, not by sign
    arrow: str  # ▲ ▼ or empty: the sign survives greyscale print
    warning: str = ""


@dataclass(frozen=True)
class BarView:
    """An attainment bullet: fill and target mark as percentages of the track."""

    fill: float
    mark: float
    overflow: bool


@dataclass(frozen=True)
class AxisTick:
    pos: float
    label: str
    current: bool = False
    minor: bool = False


@dataclass(frozen=True)
class Mark:
    """A bar or a dot of the trend chart."""

    x: float
    y: float
    width: float
    height: float
    current: bool
    title: str


@dataclass(frozen=True)
class ChartView:
    """A trend chart laid out in SVG user units (scaled by its viewBox)."""

    kind: str  # bars or line
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    baseline: float
    y_ticks: tuple[AxisTick, ...]
    x_ticks: tuple[AxisTick, ...]
    marks: tuple[Mark, ...]
    lines: tuple[str, ...]  # polyline point lists, one per run without gaps
    gaps: tuple[float, ...]  # x positions of periods without a value
    target_path: str
    band: tuple[float, float] | None  # x and width of the current period's band
    current_label: Mark | None  # where the current value is written
    current_anchor: str  # text-anchor: end on the last slot, so it stays inside
    current_text: str
    summary: str  # the chart in words, for screen readers


@dataclass(frozen=True)
class RowView:
    key: str
    value: str
    value_exact: str
    target: str
    attainment: str
    status: str
    status_label: str
    status_symbol: str
    change: ChangeView
    anomaly: str


@dataclass(frozen=True)
class BreakdownView:
    title: str
    dimension: str
    rows: tuple[RowView, ...]


@dataclass(frozen=True)
class KpiView:
    id: str
    anchor: str
    name: str
    unit: str
    direction: str
    status: str
    status_label: str
    status_symbol: str
    value: str  # compact where readers expect it (万/亿 on Chinese cards)
    value_exact: str
    has_value: bool
    target: str
    target_compact: str
    has_target: bool
    attainment: str
    bar: BarView | None
    previous: ChangeView
    year_ago: ChangeView
    projected: str
    chart: ChartView | None
    trend_title: str
    breakdown: BreakdownView | None
    notes: tuple[str, ...]
    anomaly: str
    definition: tuple[tuple[str, str], ...]
    filter_sql: str
    measure_sql: str


@dataclass(frozen=True)
class FileView:
    path: str
    rows: str
    encoding: str
    delimiter: str
    state: str
    state_label: str


@dataclass(frozen=True)
class SourceView:
    name: str
    complete: bool
    complete_label: str
    reach: str
    rows_total: str
    rows_in_period: str
    in_period: str
    range: str
    issues: tuple[str, ...]
    files: tuple[FileView, ...]


@dataclass(frozen=True)
class ReportView:
    lang: str
    html_lang: str
    title: str
    project: str
    period: str
    period_label: str
    partial: str
    generated: str
    currency: str
    tally: tuple[tuple[str, str, str, int], ...]  # status, label, symbol, count
    attention: tuple[KpiView, ...]
    summary_title: str
    cards: tuple[KpiView, ...]
    kpis: tuple[KpiView, ...]
    sources: tuple[SourceView, ...]
    warnings: tuple[str, ...]
    glossary: tuple[tuple[str, str], ...]
    footer: str


class Formatter:
    """Formatting functions bound to a report's language and currency.

    Handed to templates as ``fmt`` so an override can format raw values from
    ``review`` the same way the built-in report does.
    """

    def __init__(self, lang: str, currency: str) -> None:
        self.lang = lang
        self.currency = currency

    def value(self, value: Any, unit: str, decimals: int | None = None) -> str:
        return f.format_value(
            value, unit, lang=self.lang, currency=self.currency, decimals=decimals
        )

    def compact(
        self, value: Any, unit: str, decimals: int | None = None, trim: bool = False
    ) -> str:
        return f.format_compact(
            value,
            unit,
            lang=self.lang,
            currency=self.currency,
            decimals=decimals,
            trim=trim,
        )

    def change(self, value: Any, unit: str, decimals: int | None = None) -> str:
        return f.format_change(
            value, unit, lang=self.lang, currency=self.currency, decimals=decimals
        )

    def pct(self, value: float | None, signed: bool = True) -> str:
        return f.format_pct(value, lang=self.lang, signed=signed)

    def period(self, period: Period) -> str:
        return f.format_period(period, self.lang)

    def date(self, value: Any) -> str:
        return f.format_date(value, self.lang)

    def datetime(self, value: Any) -> str:
        return f.format_datetime(value, self.lang)

    def status(self, status: str) -> str:
        return f.status_label(status, self.lang)

    def symbol(self, status: str) -> str:
        return f.status_symbol(status)


# ---------------------------------------------------------------------------
# Rendering.


def render_html(
    review: Review,
    *,
    lang: str | None = None,
    template_dirs: Sequence[Path] = (),
    generated_by: str = "kpi",
) -> str:
    """Render ``review`` as one self-contained HTML document.

    ``lang`` overrides the review's language (``zh`` or ``en``).
    ``template_dirs`` are searched before the built-in templates.

    Raises:
        TemplateError: naming the template file and line that failed.
    """
    language = lang or review.language
    if language not in STRINGS:
        language = "en"
    view = build_view(review, lang=language, generated_by=generated_by)
    env = _environment(tuple(Path(d).resolve() for d in template_dirs))
    context = {
        "report": view,
        "review": review,
        "t": STRINGS[language],
        "lang": language,
        "fmt": Formatter(language, review.project.currency),
        "generated_by": generated_by,
    }
    try:
        return env.get_template(ENTRY_TEMPLATE).render(context)
    except jinja2.TemplateError as e:
        raise _template_error(e) from e


@functools.lru_cache(maxsize=16)
def _environment(template_dirs: tuple[Path, ...]) -> jinja2.Environment:
    builtin = jinja2.FileSystemLoader(builtin_dir("report_templates"))
    loaders: list[jinja2.BaseLoader] = [
        jinja2.FileSystemLoader([str(d) for d in template_dirs]),
        builtin,
        jinja2.PrefixLoader({BUILTIN_PREFIX: builtin}),
    ]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # Every template, .html or not, escapes what it prints: breakdown keys
        # and notes come from shop data.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template_error(error: jinja2.TemplateError) -> TemplateError:
    """Name the template file and line of a Jinja error."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = f"{error.filename or error.name or '?'}, line {error.lineno}"
        return TemplateError(f"{where}: {error.message}")
    if isinstance(error, jinja2.TemplateNotFound):
        return TemplateError(
            f"template {error.name!r} not found in the project's "
            "report_templates/ or the built-in templates"
        )
    # Runtime errors: Jinja rewrites the traceback so template frames carry
    # the template's file name and line.
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.endswith((".html", ".htm", ".css", ".svg", ".j2"))
    ]
    if frames:
        where = f"{frames[-1].filename}, line {frames[-1].lineno}"
    else:
        where = "report template"
    return TemplateError(f"{where}: {error.message or error}")


# ---------------------------------------------------------------------------
# Building the view.


def build_view(review: Review, *, lang: str, generated_by: str = "kpi") -> ReportView:
    """Everything the templates show, formatted in ``lang``."""
    t = STRINGS[lang]
    fmt = Formatter(lang, review.project.currency)
    kpis = tuple(
        _kpi_view(k, fmt, t, review.project.trend_periods) for k in review.kpis
    )
    by_id = {k.id: k for k in kpis}
    period = review.period
    partial = ""
    if period.is_partial:
        partial = t["partial"].format(elapsed=period.days, total=period.full_days)
    core = review.core or review.kpis
    counts: dict[str, int] = {}
    for k in review.kpis:
        counts[k.status] = counts.get(k.status, 0) + 1
    tally = tuple(
        (s, f.status_label(s, lang), f.status_symbol(s), counts[s])
        for s in ("on_track", "at_risk", "off_track", "incomplete_data", "no_data")
        if counts.get(s)
    )
    name = review.project.name

    return ReportView(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        title=f"{name} · {t['review']} · {f.format_period(period, lang)}",
        project=name,
        period=f.format_period(period, lang),
        period_label=period.label,
        partial=partial,
        generated=fmt.datetime(review.generated_at),
        currency=review.project.currency,
        tally=tally,
        attention=tuple(by_id[k.id] for k in review.attention),
        summary_title=t["summary"] if review.core else t["summary_all"],
        cards=tuple(by_id[k.id] for k in core),
        kpis=kpis,
        sources=tuple(_source_view(s, fmt, t) for s in review.sources),
        warnings=review.warnings,
        glossary=tuple(review.definitions.items()),
        footer=t["footer"].format(generated_by=generated_by),
    )


def _kpi_view(
    result: KpiResult, fmt: Formatter, t: dict[str, str], trend_n: int
) -> KpiView:
    kpi = result.kpi
    unit, places = kpi.unit, kpi.decimals
    has_value = f.is_known(result.value)
    has_target = f.is_known(result.target)
    count = len(result.trend) or trend_n

    return KpiView(
        id=kpi.id,
        anchor=f"kpi-{kpi.id}",
        name=kpi.name.get(fmt.lang) or kpi.id,
        unit=unit,
        direction=kpi.direction,
        status=result.status,
        status_label=fmt.status(result.status),
        status_symbol=fmt.symbol(result.status),
        value=fmt.compact(result.value, unit, places) if has_value else t["none"],
        value_exact=fmt.value(result.value, unit, places) if has_value else t["none"],
        has_value=has_value,
        target=fmt.value(result.target, unit, places) if has_target else t["none"],
        target_compact=fmt.compact(result.target, unit, places)
        if has_target
        else t["none"],
        has_target=has_target,
        attainment=fmt.pct(result.attainment, signed=False)
        if f.is_known(result.attainment)
        else t["none"],
        bar=_bar(result.attainment),
        previous=_change(
            result.previous, t["previous"], t["previous_value"], kpi, fmt, t
        ),
        year_ago=_change(
            result.year_ago, t["year_ago"], t["year_ago_value"], kpi, fmt, t
        ),
        projected=fmt.value(result.projected, unit, places)
        if f.is_known(result.projected)
        else "",
        chart=_chart(result.trend, result.period, unit, places, fmt),
        trend_title=t["trend"].format(count=count),
        breakdown=_breakdown(result.breakdown, kpi, fmt, t),
        notes=result.notes,
        anomaly=_anomaly(result.anomaly, unit, places, fmt, t),
        definition=_definition(result, fmt, t),
        filter_sql=kpi.filter or "",
        measure_sql=kpi.measure,
    )


def _tone(delta: Any, direction: str) -> str:
    """good or bad by the KPI's direction: for cost, a fall is good."""
    if not f.is_known(delta):
        return "na"
    sign = f.to_decimal(delta)
    if sign == 0:
        return "flat"
    up = sign > 0

    return "good" if up == (direction == "higher") else "bad"


def _change(
    change: Change | None,
    label: str,
    base_label: str,
    kpi: Any,
    fmt: Formatter,
    t: dict[str, str],
) -> ChangeView:
    if change is None:
        return ChangeView(label, f.not_available(fmt.lang), "", "na", "")
    delta = change.change if f.is_known(change.change) else change.change_pct
    arrow = ""
    if f.is_known(delta) and f.to_decimal(delta) != 0:
        arrow = "▲" if f.to_decimal(delta) > 0 else "▼"
    base = fmt.value(change.value, kpi.unit, kpi.decimals)
    detail = f"{base_label} {base}"
    # Percent KPIs change in points: "+1.2 pp" says more than "+30%" of 4%.
    if kpi.unit == "percent" and f.is_known(change.change):
        text = fmt.change(change.change, kpi.unit, kpi.decimals)
    else:
        if f.is_known(change.change):
            detail = f"{fmt.change(change.change, kpi.unit, kpi.decimals)} · {detail}"
        text = fmt.pct(change.change_pct)
        if not f.is_known(change.change_pct):
            arrow = ""

    if arrow:
        tone = _tone(delta, kpi.direction)
    else:
        tone = "na" if text == f.not_available(fmt.lang) else "flat"

    return ChangeView(
        label=label,
        text=text,
        detail=detail,
        tone=tone,
        arrow=arrow,
        warning=t["base_negative"] if change.base_negative else "",
    )


def _bar(attainment: float | None) -> BarView | None:
    """A track from 0 to 150 % of target, the target marked at two thirds."""
    if not f.is_known(attainment):
        return None
    top = 1.5
    share = max(0.0, float(attainment)) / top

    return BarView(
        fill=round(min(share, 1.0) * 100, 2),
        mark=round(100 / top, 2),
        overflow=share > 1,
    )


def _anomaly(
    anomaly: Anomaly | None,
    unit: str,
    places: int | None,
    fmt: Formatter,
    t: dict[str, str],
) -> str:
    if anomaly is None:
        return ""
    head = t["anomaly_up"] if anomaly.direction == "up" else t["anomaly_down"]
    parts = [head]
    if f.is_known(anomaly.baseline):
        parts.append(f"{t['baseline']} {fmt.value(anomaly.baseline, unit, places)}")
    if f.is_known(anomaly.score):
        parts.append(f"{t['score']} {f.format_number(anomaly.score, 1, fmt.lang)}")
    if anomaly.method:
        parts.append(anomaly.method)
    text = " · ".join(parts)

    return f"{text}: {anomaly.reason}" if anomaly.reason else text


def _breakdown(
    breakdown: Breakdown | None, kpi: Any, fmt: Formatter, t: dict[str, str]
) -> BreakdownView | None:
    if breakdown is None or not breakdown.rows:
        return None
    rows = []
    for row in breakdown.rows:
        change = _change(row.previous, t["change"], t["previous_value"], kpi, fmt, t)
        rows.append(
            RowView(
                key=t["blank_key"] if row.key in (None, "") else str(row.key),
                value=fmt.compact(row.value, kpi.unit, kpi.decimals),
                value_exact=fmt.value(row.value, kpi.unit, kpi.decimals),
                target=fmt.value(row.target, kpi.unit, kpi.decimals)
                if f.is_known(row.target)
                else t["none"],
                attainment=fmt.pct(row.attainment, signed=False)
                if f.is_known(row.attainment)
                else t["none"],
                status=row.status,
                status_label=fmt.status(row.status),
                status_symbol=fmt.symbol(row.status),
                change=change,
                anomaly=_anomaly(row.anomaly, kpi.unit, kpi.decimals, fmt, t),
            )
        )

    return BreakdownView(
        title=t["breakdown"].format(dimension=breakdown.dimension),
        dimension=breakdown.dimension,
        rows=tuple(rows),
    )


def _definition(
    result: KpiResult, fmt: Formatter, t: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    kpi = result.kpi
    rows: list[tuple[str, str]] = []
    if kpi.description:
        rows.append((t["description"], kpi.description))
    if kpi.owner:
        rows.append((t["owner"], kpi.owner))
    if kpi.objective or kpi.stage:
        rows.append(
            (t["objective"], " · ".join(x for x in (kpi.objective, kpi.stage) if x))
        )
    rows.append((t["unit"], t[f"unit_{kpi.unit}"].format(currency=fmt.currency)))
    rows.append((t["direction"], t[f"direction_{kpi.direction}"]))
    rows.append((t["grain"], t[f"grain_{kpi.grain}"]))
    target = kpi.target
    if target is not None:
        if target.value is not None:
            grain = target.grain or kpi.grain
            value = fmt.value(target.value, kpi.unit, kpi.decimals)
            rows.append((t["target_value"], f"{value} / {t[f'grain_{grain}']}"))
        rows.extend(_target_kinds(target, kpi, fmt, t))
        rows.append(
            (t["warn"], t["warn_text"].format(share=fmt.pct(target.warn, signed=False)))
        )
        if target.due is not None:
            rows.append((t["due"], fmt.date(target.due)))
        if target.by:
            by = " · ".join(
                f"{key} {fmt.value(value, kpi.unit, kpi.decimals)}"
                for key, value in target.by.items()
            )
            rows.append((t["by_targets"], by))
    if kpi.dimension:
        rows.append((t["dimension"], kpi.dimension))

    return tuple(rows)


def _target_kinds(
    target: Any, kpi: Any, fmt: Formatter, t: dict[str, str]
) -> list[tuple[str, str]]:
    """Growth and range targets, for project files that set them.

    Read with ``getattr`` so the report works with target settings that have
    only a value as well as with those that add growth and min/max.
    """
    rows: list[tuple[str, str]] = []
    growth = getattr(target, "growth", None)
    if growth is not None:
        baseline = getattr(target, "baseline", "year_ago")
        base = t.get(f"baseline_{baseline}", baseline)
        if baseline == "trailing":
            base = base.format(count=getattr(target, "trailing", None) or "")
        rows.append((t["target_value"], f"{fmt.pct(growth)}{base}"))
    low, high = getattr(target, "min", None), getattr(target, "max", None)
    if low is not None or high is not None:
        low_text = fmt.value(low, kpi.unit, kpi.decimals) if low is not None else "…"
        high_text = fmt.value(high, kpi.unit, kpi.decimals) if high is not None else "…"
        rows.append((t["target_range"], f"{low_text} – {high_text}"))

    return rows


def _source_view(source: SourceHealth, fmt: Formatter, t: dict[str, str]) -> SourceView:
    def span(first: Any, last: Any) -> str:
        if first is None and last is None:
            return t["none"]
        # Within one year the year is said once: the period title already has it.
        short = first is not None and last is not None and first.year == last.year
        a = _moment(first, fmt, t, short)
        b = _moment(last, fmt, t, short)
        return f"{a} – {b}"

    files = tuple(
        FileView(
            path=file.path,
            rows=fmt.value(file.rows, "count") if file.rows is not None else t["none"],
            encoding=file.encoding or t["none"],
            delimiter=_show_delimiter(file.delimiter) or t["none"],
            state=file.state,
            state_label=t[f"state_{file.state}"],
        )
        for file in source.files
    )

    return SourceView(
        name=source.name,
        complete=source.complete,
        complete_label=t["complete"] if source.complete else t["incomplete"],
        reach=fmt.datetime(source.last) if source.last is not None else t["none"],
        rows_total=fmt.value(source.rows, "count"),
        rows_in_period=fmt.value(source.period_rows, "count")
        if source.period_rows is not None
        else t["none"],
        in_period=span(source.period_first, source.period_last),
        range=span(source.first, source.last),
        issues=source.issues,
        files=files,
    )


def _moment(value: Any, fmt: Formatter, t: dict[str, str], short: bool) -> str:
    if value is None:
        return t["none"]

    return f.format_datetime(value, fmt.lang, with_year=not short)


def _show_delimiter(delimiter: str | None) -> str:
    names = {"\t": "TAB", " ": "SPACE"}
    if delimiter is None:
        return ""

    return names.get(delimiter, delimiter)


# ---------------------------------------------------------------------------
# Trend chart geometry.

_W, _H = 480, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 4.0, 476.0, 18.0, 162.0


def _chart(
    trend: tuple[TrendPoint, ...],
    current: Period,
    unit: str,
    places: int | None,
    fmt: Formatter,
) -> ChartView | None:
    """Lay out the trend: bars for amounts and counts, a line for rates."""
    points = list(trend)
    values = [float(p.value) if f.is_known(p.value) else None for p in points]
    targets = [float(p.target) if f.is_known(p.target) else None for p in points]
    known = [v for v in values if v is not None] + [v for v in targets if v is not None]
    if not points or not known:
        return None

    kind = "bars" if unit in ("count", "currency") else "line"
    low, high = min(known), max(known)
    if kind == "bars" or low >= 0 and low < high * 0.5:
        low = min(low, 0.0)
        high = max(high, 0.0)
    ticks = _nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    span = high - low or 1.0

    def y(v: float) -> float:
        return round(_BOTTOM - (v - low) / span * (_BOTTOM - _TOP), 2)

    n = len(points)
    slot = (_RIGHT - _LEFT) / n
    centres = [_LEFT + slot * (i + 0.5) for i in range(n)]
    current_index = next(
        (i for i, p in enumerate(points) if p.period.start == current.start), n - 1
    )
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    tick_places = _tick_places(step, unit)
    y_ticks = tuple(
        AxisTick(y(v), _axis_label(v, unit, tick_places, fmt)) for v in ticks
    )
    x_ticks = _x_ticks(points, centres, current_index, fmt)

    marks: list[Mark] = []
    gaps: list[float] = []
    lines: list[str] = []
    run: list[str] = []
    bar_width = min(slot * 0.62, 36.0)
    zero = y(max(low, min(0.0, high)))
    for i, (point, value) in enumerate(zip(points, values, strict=True)):
        label = f.format_period_short(point.period, fmt.lang)
        if value is None:
            gaps.append(round(centres[i], 2))
            if run:
                lines.append(" ".join(run))
                run = []
            continue
        title = f"{label}: {fmt.value(point.value, unit, places)}"
        if kind == "bars":
            top = min(y(value), zero)
            marks.append(
                Mark(
                    x=round(centres[i] - bar_width / 2, 2),
                    y=top,
                    width=round(bar_width, 2),
                    height=round(max(abs(zero - y(value)), 0.5), 2),
                    current=i == current_index,
                    title=title,
                )
            )
        else:
            marks.append(
                Mark(round(centres[i], 2), y(value), 0, 0, i == current_index, title)
            )
            run.append(f"{centres[i]:.2f},{y(value):.2f}")
    if run:
        lines.append(" ".join(run))

    current_value = values[current_index]
    current_label = None
    current_text = ""
    anchor = "middle"
    if current_value is not None:
        x = centres[current_index]
        if current_index == n - 1:
            anchor = "end"
            x = min(x + (bar_width / 2 if kind == "bars" else 6), _RIGHT)
        current_label = Mark(round(x, 2), y(current_value), 0, 0, True, "")
        current_text = fmt.compact(points[current_index].value, unit, places)
    band = (round(_LEFT + slot * current_index, 2), round(slot, 2))
    summary = ", ".join(
        f"{f.format_period_short(p.period, fmt.lang)} "
        f"{fmt.value(p.value, unit, places)}"
        for p in points
    )

    return ChartView(
        kind=kind,
        width=_W,
        height=_H,
        plot_left=_LEFT,
        plot_right=_RIGHT,
        plot_top=_TOP,
        baseline=_BOTTOM,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        marks=tuple(marks),
        lines=tuple(lines),
        gaps=tuple(gaps),
        target_path=_target_path(targets, slot, y),
        band=band,
        current_label=current_label,
        current_anchor=anchor,
        current_text=current_text,
        summary=summary,
    )


def _target_path(targets: list[float | None], slot: float, y: Any) -> str:
    """A stepped dashed line: each period's target across its own slot."""
    parts: list[str] = []
    previous = False
    for i, target in enumerate(targets):
        if target is None:
            previous = False
            continue
        left, right = _LEFT + slot * i, _LEFT + slot * (i + 1)
        parts.append(f"{'L' if previous else 'M'}{left:.2f} {y(target):.2f}")
        parts.append(f"L{right:.2f} {y(target):.2f}")
        previous = True

    return " ".join(parts)


def _x_ticks(
    points: list[TrendPoint], centres: list[float], current: int, fmt: Formatter
) -> tuple[AxisTick, ...]:
    """Period labels; on long trends every other one is minor (hidden when narrow)."""
    n = len(points)
    every = max(1, math.ceil(n / 16))
    ticks = []
    for i, point in enumerate(points):
        distance = current - i
        if distance % every:
            continue
        ticks.append(
            AxisTick(
                pos=round(centres[i], 2),
                label=f.format_period_short(point.period, fmt.lang),
                current=i == current,
                minor=n > 8 and (distance // every) % 2 == 1,
            )
        )

    return tuple(ticks)


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 × 10^k."""
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.5 and len(ticks) < count + 3:
        ticks.append(round(value, 12))
        if value >= high:
            break
        value += step

    return ticks


def _tick_places(step: float, unit: str) -> int:
    scale = 100 if unit == "percent" else 1
    return max(0, -math.floor(math.log10(step * scale) + 1e-9))


def _axis_label(value: float, unit: str, places: int, fmt: Formatter) -> str:
    if unit in ("count", "currency"):
        return fmt.compact(value, unit, places, trim=True)
    return fmt.value(value, unit, places)
