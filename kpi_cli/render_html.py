"""The HTML review report: one self-contained file a manager can open or print.

A review becomes a *view*: plain objects holding every string already
formatted in the report language and every chart already laid out as SVG
geometry. The Jinja templates in ``report_templates/`` only arrange them, so
a project can restyle or reorder the report without re-deriving numbers, and
all formatting stays in ``kpi_cli.formatting``.

Source issues and loader warnings are worded in the report language by
``kpi_cli.formatting.issue_text``; a loader warning it does not know is shown
in English as it came.

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
    TargetDetail,
    TrendPoint,
)

ENTRY_TEMPLATE = "review.html"
# Empty days named in the data section; the JSON output lists them all.
_DAYS_SHOWN = 10
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
        # Targets: how this period's target was set.
        "growth_formula": "目标 = {base}{value} × (1 {sign} {rate})",
        "growth_missing": "目标 = {base} × (1 {sign} {rate})：基期没有数据，本期无目标",
        "base_year_ago": "去年同期（{periods}）",
        "base_previous": "上期（{periods}）",
        "base_trailing": "近 {count} 期均值（{periods}）",
        "pace": "进度目标 {pace}（{method}）· 按进度预计全期 {projected}，"
        "全期目标 {full}",
        "pace_linear": "按天线性，已过 {share}",
        "pace_last_year": "按去年同期曲线，此时应完成 {share}",
        "pace_fallback": "去年同期没有可用数据，改按天线性",
        "effective": "目标自 {date} 起生效",
        "target_changed": "目标调整 {before} → {after}",
        "target_changed_word": "目标已调整",
        # Explanations of an off-track KPI.
        "why": "原因拆解",
        "against_previous": "对比上期",
        "against_year_ago": "对比去年同期",
        "against_target": "对比目标",
        "why_line": "{against}：{base} → {value}（{total}），按 {dimension} 拆分",
        "why_top": "列出贡献最大的 {count} 项；比率类指标拆为结构效应与比率效应。",
        "why_top_plain": "列出贡献最大的 {count} 项。",
        "contribution": "贡献",
        "share_gap": "占差额",
        "share_change": "占变化",
        "mix": "结构效应",
        "rate": "比率效应",
        "reason_overlap": "重叠部分（无法归属到单个值）",
        "reason_unallocated_target": "未分配到各值的目标",
        "why_summary": "{against} {total}：{items}",
        "why_figures": "{contribution}（{share}）",
        "why_sep": "；",
        "mostly_rate": "以比率效应为主",
        "mostly_mix": "以结构效应为主",
        # Notes the review attaches as codes.
        "anomaly_vanished": "本期消失：此前各期都有数据，本期没有",
        "anomaly_method_robust_z_weekday": "对比此前几周的同一天",
        "anomaly_method_change": "较上期变化（历史数据不足）",
        "anomaly_previous": "上期",
        # Data health.
        "time_column": "时间列",
        "source_key": "主键",
        "empty_days": "无数据的天",
        "empty_days_text": "{count} 天：{days}",
        "empty_days_more": "等",
        "duplicates": "重复主键的行",
        "null_keys": "缺主键的行",
        "null_keys_text": "{rows}（{share}）",
        "null_time": "缺时间的行",
        "volume": "行数 / 近 {count} 期中位数",
        "volume_text": "{ratio}（中位数 {median}）",
        "sparse": "稀疏数据源：不检查无数据的天和行数",
        "depends": "读取此数据源的指标：",
        "depends_incomplete": "此数据源不完整：以下指标本期不判为未达成或有风险，"
        "未达标的记为「数据不完整」。",
        "list_sep": "、",
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
        "growth_formula": "target = {base} {value} {sign} {rate}",
        "growth_missing": "target = {base} {sign} {rate}: the baseline has no "
        "value, so there is no target this period",
        "base_year_ago": "same {grain} last year ({periods})",
        "base_previous": "previous {grain} ({periods})",
        "base_trailing": "mean of the last {count} {grain}s ({periods})",
        "pace": "pace target {pace} ({method}) · projected {projected} vs "
        "full-period target {full}",
        "pace_linear": "linear, {share} of the period elapsed",
        "pace_last_year": "last year's curve, {share} of the total expected by now",
        "pace_fallback": "last year had no usable curve, so the pace is linear",
        "effective": "target in force since {date}",
        "target_changed": "target changed {before} → {after}",
        "target_changed_word": "target changed",
        "why": "Why",
        "against_previous": "vs previous",
        "against_year_ago": "vs year ago",
        "against_target": "vs target",
        "why_line": "{against}: {base} → {value} ({total}), by {dimension}",
        "why_top": "The {count} largest contributions; for a ratio, split into "
        "mix (weight of each value) and rate (its own ratio).",
        "why_top_plain": "The {count} largest contributions.",
        "contribution": "Contribution",
        "share_gap": "Share",
        "share_change": "Share",
        "mix": "Mix",
        "rate": "Rate",
        "reason_overlap": "overlap (not attributable to one value)",
        "reason_unallocated_target": "target not allocated to any value",
        "why_summary": "{against} {total}: {items}",
        "why_figures": "{contribution} ({share})",
        "why_sep": "; ",
        "mostly_rate": "mostly rate, not mix",
        "mostly_mix": "mostly mix, not rate",
        "anomaly_vanished": "vanished: present in every earlier period, none now",
        "anomaly_method_robust_z_weekday": "against the same weekday of earlier weeks",
        "anomaly_method_change": "change from the previous period (short history)",
        "anomaly_previous": "previous",
        "time_column": "Time column",
        "source_key": "Key",
        "empty_days": "Days without rows",
        "empty_days_text": "{count}: {days}",
        "empty_days_more": "and more",
        "duplicates": "Rows repeating a key",
        "null_keys": "Rows without a key",
        "null_keys_text": "{rows} ({share})",
        "null_time": "Rows without a time",
        "volume": "Rows vs median of last {count}",
        "volume_text": "{ratio} (median {median})",
        "sparse": "Sparse source: empty days and volume are not judged",
        "depends": "KPIs reading this source:",
        "depends_incomplete": "This source is incomplete: these KPIs are not called "
        "off track or at risk this period; those short of target show the status "
        "Incomplete data.",
        "list_sep": ", ",
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
    legend_y: float = 17.0  # legend baseline, in its own band above the plot


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
    targeted: bool = True  # False: no row has a target, so no target columns


@dataclass(frozen=True)
class ContributionView:
    """One row of a "why" table; mix and rate are empty for additive KPIs."""

    key: str
    contribution: str
    share: str
    mix: str
    rate: str
    tone: str
    unattributed: bool


@dataclass(frozen=True)
class WhyView:
    """An off-track KPI's change split across its dimension's values."""

    comparison: str  # against what, base → value (total), by which dimension
    dimension: str
    note: str
    share_label: str
    ratio: bool
    rows: tuple[ContributionView, ...]
    summary: str  # the same in one line, for the attention list
    summary_head: str = ""  # the summary's comparison, then its items
    summary_items: tuple[tuple[str, str], ...] = ()


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
    streak: str = ""
    target_basis: str = ""  # how a growth target was computed
    pace: str = ""  # the pace target of a partial period and the projection
    effective: str = ""
    target_changed: str = ""
    why: WhyView | None = None


@dataclass(frozen=True)
class FileView:
    path: str
    rows: str
    encoding: str
    delimiter: str
    state: str
    state_label: str


@dataclass(frozen=True)
class KpiLink:
    """A KPI named elsewhere in the report, with its status."""

    anchor: str
    name: str
    status: str
    status_label: str
    status_symbol: str


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
    # (label, value, flagged): the health measures a review holds, if any.
    health: tuple[tuple[str, str, bool], ...] = ()
    sparse: str = ""
    depends: tuple[KpiLink, ...] = ()
    depends_note: str = ""


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
        sources=tuple(_source_view(s, fmt, t, review) for s in review.sources),
        warnings=tuple(f.issue_text(w, review.language) for w in review.warnings),
        glossary=tuple(review.definitions.items()),
        footer=t["footer"].format(generated_by=generated_by),
    )


def _kpi_view(
    result: KpiResult, fmt: Formatter, t: dict[str, str], trend_n: int
) -> KpiView:
    kpi = result.kpi
    unit, places = kpi.unit, kpi.decimals
    has_value = f.is_known(result.value)
    detail = result.target_detail
    is_range = detail is not None and detail.kind == "range"
    has_target = f.is_known(result.target) or (
        is_range and (detail.low is not None or detail.high is not None)
    )
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
        target=_target_text(result.target, detail, kpi, fmt.value, t),
        target_compact=_target_text(result.target, detail, kpi, fmt.compact, t),
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
        notes=tuple(_note(note, fmt.lang) for note in result.notes),
        anomaly=_anomaly(result.anomaly, unit, places, fmt, t),
        definition=_definition(result, fmt, t),
        filter_sql=kpi.filter or "",
        measure_sql=kpi.measure,
        streak=f.streak_label(result.streak.status, result.streak.length, fmt.lang)
        if result.streak is not None
        else "",
        target_basis=_target_basis(detail, result, fmt, t),
        pace=_pace(detail, result, fmt, t),
        effective=t["effective"].format(date=fmt.date(detail.effective))
        if detail is not None and detail.effective is not None
        else "",
        target_changed=_target_changed(result, fmt, t),
        why=_why(result, fmt, t),
    )


def _target_text(
    target: Any, detail: TargetDetail | None, kpi: Any, show: Any, t: dict[str, str]
) -> str:
    """A target as shown: a value, a range "low–high" (… for an open end), or —."""
    if detail is not None and detail.kind == "range":
        if detail.low is None and detail.high is None:
            return t["none"]
        return _range(detail.low, detail.high, kpi, show)
    if not f.is_known(target):
        return t["none"]

    return show(target, kpi.unit, kpi.decimals)


def _range(low: Any, high: Any, kpi: Any, show: Any) -> str:
    low_text = show(low, kpi.unit, kpi.decimals) if low is not None else "…"
    high_text = show(high, kpi.unit, kpi.decimals) if high is not None else "…"

    return f"{low_text}–{high_text}"


def _grain_word(grain: str, lang: str, t: dict[str, str]) -> str:
    word = t.get(f"grain_{grain}", "")
    if lang == "zh":
        return word or "期"

    return word.lower() or "period"


def _periods_text(periods: tuple[Period, ...]) -> str:
    if not periods:
        return ""
    if len(periods) == 1:
        return periods[0].label

    return f"{periods[0].label} – {periods[-1].label}"


def _target_basis(
    detail: TargetDetail | None, result: KpiResult, fmt: Formatter, t: dict[str, str]
) -> str:
    """A growth target as a formula: baseline, its period and the growth rate."""
    if detail is None or detail.kind != "growth" or detail.growth is None:
        return ""
    kpi = result.kpi
    kind = detail.baseline_kind or "year_ago"
    base = t.get(f"base_{kind}", kind).format(
        periods=_periods_text(detail.baseline_periods),
        count=len(detail.baseline_periods),
        grain=_grain_word(result.period.grain, fmt.lang, t),
    )
    sign = "+" if detail.growth >= 0 else "−"
    rate = fmt.pct(abs(detail.growth), signed=False)
    if not f.is_known(detail.baseline):
        return t["growth_missing"].format(base=base, sign=sign, rate=rate)
    value = fmt.value(detail.baseline, kpi.unit, kpi.decimals)

    return t["growth_formula"].format(base=base, value=value, sign=sign, rate=rate)


def _pace(
    detail: TargetDetail | None, result: KpiResult, fmt: Formatter, t: dict[str, str]
) -> str:
    """For a paced partial period: the pace target, how it was paced, and the
    projected full-period value against the full target."""
    if detail is None or detail.pacing is None or not f.is_known(result.projected):
        return ""
    kpi = result.kpi
    share = fmt.pct(detail.share, signed=False)
    method = t[f"pace_{detail.pacing}"].format(share=share)
    if detail.kind == "range":
        pace = _range(detail.low, detail.high, kpi, fmt.value)
        whole = [
            None if b is None else b / detail.share for b in (detail.low, detail.high)
        ]
        full = _range(whole[0], whole[1], kpi, fmt.value) if detail.share > 0 else ""
    else:
        pace = fmt.value(detail.value, kpi.unit, kpi.decimals)
        full = fmt.value(detail.full, kpi.unit, kpi.decimals)

    return t["pace"].format(
        pace=pace,
        method=method,
        projected=fmt.value(result.projected, kpi.unit, kpi.decimals),
        full=full,
    )


def _target_changed(result: KpiResult, fmt: Formatter, t: dict[str, str]) -> str:
    change = result.target_changed
    if change is None:
        return ""
    kpi = result.kpi
    # A range or a new warn band changes the target without a number to show.
    if change.before is None and change.after is None:
        return t["target_changed_word"]

    def show(value: Any) -> str:
        if not f.is_known(value):
            return t["none"]
        return fmt.value(value, kpi.unit, kpi.decimals)

    return t["target_changed"].format(
        before=show(change.before), after=show(change.after)
    )


def _paren(text: str, lang: str) -> str:
    return f"（{text}）" if lang == "zh" else f" ({text})"


def _why(result: KpiResult, fmt: Formatter, t: dict[str, str]) -> WhyView | None:
    """The explanation of an off-track KPI: the comparison and top contributors.

    Shares are shown as computed: when the total change is small (one order
    fewer than last week), a channel's share can read 1,600% with another at
    −1,200%; the contributions beside them, in the KPI's unit, keep that in
    proportion, and hiding the shares would hide which way each part pulled.
    """
    found = result.explanation
    if found is None or not found.contributions:
        return None
    kpi = result.kpi
    unit, places = kpi.unit, kpi.decimals
    ratio = found.method == "mix_rate"
    against = t[f"against_{found.against}"]
    if found.comparison is not None:
        against += _paren(found.comparison.label, fmt.lang)
    total = fmt.change(found.total_change, unit, places)
    comparison = t["why_line"].format(
        against=against,
        base=fmt.value(found.base, unit, places),
        value=fmt.value(found.value, unit, places),
        total=total,
        dimension=found.dimension,
    )

    def change(value: Any) -> str:
        return fmt.change(value, unit, places) if f.is_known(value) else t["none"]

    rows = []
    mix_size = rate_size = 0.0
    for part in found.contributions:
        unattributed = part.kind == "unattributed"
        if unattributed:
            key = t.get(f"reason_{part.reason}", part.reason or t["none"])
        else:
            key = t["blank_key"] if part.key in (None, "") else str(part.key)
        if ratio and not unattributed:
            mix_size += abs(float(part.mix_effect or 0))
            rate_size += abs(float(part.rate_effect or 0))
        rows.append(
            ContributionView(
                key=key,
                contribution=change(part.contribution),
                share=fmt.pct(part.share, signed=False)
                if f.is_known(part.share)
                else t["none"],
                mix=change(part.mix_effect) if ratio and not unattributed else "",
                rate=change(part.rate_effect) if ratio and not unattributed else "",
                tone=_tone(part.contribution, kpi.direction),
                unattributed=unattributed,
            )
        )
    # (words, figures): the figures never break across lines, long keys may.
    items = [
        (r.key, t["why_figures"].format(contribution=r.contribution, share=r.share))
        for r in rows
    ]
    if ratio and (mix_size or rate_size):
        mostly = t["mostly_rate"] if rate_size >= mix_size else t["mostly_mix"]
        items.append((mostly, ""))
    head = t["why_summary"].format(
        against=t[f"against_{found.against}"], total=total, items=""
    )
    note = t["why_top"] if ratio else t["why_top_plain"]

    return WhyView(
        comparison=comparison,
        dimension=found.dimension,
        note=note.format(count=len(rows)),
        share_label=t["share_gap"] if found.against == "target" else t["share_change"],
        ratio=ratio,
        rows=tuple(rows),
        summary=head + t["why_sep"].join(" ".join(filter(None, i)) for i in items),
        summary_head=head,
        summary_items=tuple(items),
    )


def _note(note: str, lang: str) -> str:
    """A review note in words: the same wording as the terminal (note_text)."""
    return f.note_text(note, lang)


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
    # From a zero base there is no percentage, but the change itself is known
    # and says what happened ("+R$32,958.19"), as the terminal shows it.
    pct_known = f.is_known(change.change_pct)
    if f.is_known(change.change) and (kpi.unit == "percent" or not pct_known):
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
    vanished = anomaly.reason == "vanished"
    if vanished:
        head = t["anomaly_vanished"]
    else:
        head = t["anomaly_up"] if anomaly.direction == "up" else t["anomaly_down"]
    if anomaly.method == "change":
        # The short-history rule: score is |change| / |previous|, the sign is
        # the direction; a vanished value changed by -100 %.
        change = -1.0 if vanished else float(anomaly.score)
        if anomaly.direction == "down":
            change = -abs(change)
        parts = [head] if vanished else []
        parts.append(f"{t['anomaly_method_change']} {fmt.pct(change)}")
        if f.is_known(anomaly.baseline):
            shown = fmt.value(anomaly.baseline, unit, places)
            parts.append(f"{t['anomaly_previous']} {shown}")
        return " · ".join(parts)
    parts = [head]
    if f.is_known(anomaly.baseline):
        parts.append(f"{t['baseline']} {fmt.value(anomaly.baseline, unit, places)}")
    if f.is_known(anomaly.score):
        parts.append(f"{t['score']} {f.format_number(anomaly.score, 1, fmt.lang)}")
    # The default method goes without saying; a weekday baseline is worth a word,
    # and a project's own method name is shown as it is.
    if anomaly.method and anomaly.method != "robust_z":
        parts.append(t.get(f"anomaly_method_{anomaly.method}", anomaly.method))
    text = " · ".join(parts)

    return f"{text}: {anomaly.reason}" if anomaly.reason and not vanished else text


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
                target=_target_text(row.target, row.target_detail, kpi, fmt.value, t),
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

    # Target, attainment and status columns only when some value has a target:
    # a column of "no target" badges says nothing.
    targeted = any(
        f.is_known(row.target) or row.target_detail is not None
        for row in breakdown.rows
    )

    return BreakdownView(
        title=t["breakdown"].format(dimension=breakdown.dimension),
        dimension=breakdown.dimension,
        rows=tuple(rows),
        targeted=targeted,
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


def _source_view(
    source: SourceHealth, fmt: Formatter, t: dict[str, str], review: Review
) -> SourceView:
    def span(first: Any, last: Any) -> str:
        if first is None and last is None:
            return t["none"]
        # Within one year the year is said once: the period title already has it.
        short = first is not None and last is not None and first.year == last.year
        a = _moment(first, fmt, t, short)
        b = _moment(last, fmt, t, short)
        return f"{a} – {b}"

    depends = tuple(
        KpiLink(
            anchor=f"kpi-{k.id}",
            name=k.kpi.name.get(fmt.lang) or k.id,
            status=k.status,
            status_label=fmt.status(k.status),
            status_symbol=fmt.symbol(k.status),
        )
        for k in review.kpis
        if source.name in k.sources
    )
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
        issues=tuple(
            f.issue_text(issue, fmt.lang)
            for issue in source.coded_issues or source.issues
        ),
        files=files,
        health=_health_facts(source, review.period, fmt, t),
        sparse=t["sparse"] if source.sparse else "",
        depends=depends,
        depends_note=t["depends_incomplete"] if depends and not source.complete else "",
    )


def _health_facts(
    source: SourceHealth, period: Period, fmt: Formatter, t: dict[str, str]
) -> tuple[tuple[str, str, bool], ...]:
    """(label, value, flagged) for each health measure the source carries."""
    facts: list[tuple[str, str, bool]] = []

    def count(value: int) -> str:
        return fmt.value(value, "count")

    if source.time_column:
        facts.append((t["time_column"], source.time_column, False))
    if source.key:
        facts.append((t["source_key"], ", ".join(source.key), False))
    # Days after the data's last row are the freshness issue's news, not gaps.
    last = source.last.date() if source.last is not None else None
    empty = [d for d in source.empty_days if last is not None and d <= last]
    if empty and not source.sparse:
        shown = t["list_sep"].join(
            f.format_date(d, fmt.lang, with_year=False) for d in empty[:_DAYS_SHOWN]
        )
        if len(empty) > _DAYS_SHOWN:
            shown += " " + t["empty_days_more"]
        text = t["empty_days_text"].format(count=len(empty), days=shown)
        facts.append((t["empty_days"], text, True))
    if source.duplicate_keys is not None and source.key:
        facts.append(
            (t["duplicates"], count(source.duplicate_keys), source.duplicate_keys > 0)
        )
    if source.null_key_rows is not None and source.key:
        text = count(source.null_key_rows)
        if f.is_known(source.null_key_share) and source.null_key_rows:
            share = fmt.pct(source.null_key_share, signed=False)
            text = t["null_keys_text"].format(rows=text, share=share)
        facts.append((t["null_keys"], text, source.null_key_rows > 0))
    if source.null_time_rows:
        facts.append((t["null_time"], count(source.null_time_rows), True))
    if f.is_known(source.volume_ratio) and f.is_known(source.trailing_median_rows):
        label = t["volume"].format(count=source.trailing_periods)
        if fmt.lang != "zh":
            label += " " + _grain_word(period.grain, fmt.lang, t) + "s"
        text = t["volume_text"].format(
            ratio=fmt.pct(source.volume_ratio, signed=False),
            # A median of an even count of periods can end in .5.
            median=f.format_number(
                source.trailing_median_rows,
                0 if float(source.trailing_median_rows).is_integer() else 1,
                fmt.lang,
            ),
        )
        facts.append((label, text, source.volume_drop))

    return tuple(facts)


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

# From the top: the legend's band, room for the current value's label above
# the tallest mark, the plot, then the period labels. Sizes are SVG user units
# at the largest font the stylesheet gives (narrow screens), so the layout
# holds at every width.
_W, _H = 480, 214
_LEGEND_BAND = 20.0  # legend text lives in [0, _LEGEND_BAND]
_LEGEND_Y = 17.0  # its baseline (16 px legend on phones, 3 below)
_LABEL_SIZE = 18.0  # .value-label font size on narrow screens
_LABEL_DESCENT = 4.0
_LABEL_GAP = 6.0  # between a label and the mark or target line it avoids
_LEFT, _RIGHT, _TOP, _BOTTOM = 4.0, 476.0, 46.0, 186.0


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
        target = targets[current_index]
        label_y = _label_baseline(
            y(current_value), None if target is None else y(target)
        )
        current_label = Mark(round(x, 2), label_y, 0, 0, True, "")
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
        legend_y=_LEGEND_Y,
    )


def _label_baseline(mark: float, target: float | None) -> float:
    """The baseline of the current value's label, in SVG user units.

    Above the mark by default; above the target line too when that line would
    cross the label; below both (inside the bar, legible on its paper halo)
    when there is no room above. Never higher than the legend band allows.
    """
    top_limit = _LEGEND_BAND + _LABEL_GAP + _LABEL_SIZE  # lowest allowed baseline

    def clear(base: float) -> bool:
        if target is None:
            return True
        return not (base - _LABEL_SIZE - 2 <= target <= base + _LABEL_DESCENT + 2)

    above = mark - _LABEL_GAP
    candidates = [above]
    if target is not None:
        # Just clear of the line by the margin ``clear`` asks for.
        candidates.append(min(mark, target) - _LABEL_DESCENT - 3)
        candidates.append(max(mark, target) + _LABEL_SIZE + 3)
    for base in candidates:
        if top_limit <= base <= _BOTTOM - _LABEL_DESCENT and clear(base):
            return round(base, 2)
    # No clear spot (a target hugging the top of a full-height bar): stay
    # below the legend, where the label's halo keeps it readable.
    return round(max(top_limit, min(above, _BOTTOM - _LABEL_DESCENT)), 2)


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
    # The last tick must reach ``high``: the plot's top is the last tick, and a
    # value above it would be drawn over the caption.
    while len(ticks) < count + 3:
        ticks.append(round(value, 12))
        if value >= high - step * 1e-9:
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
