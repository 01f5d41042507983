"""The review as Rich renderables for the terminal.

``review_renderables`` builds them (pure); the CLI prints them. Status is
shown by word and symbol as well as colour, so it survives NO_COLOR, cron
mail and colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kpi_cli.formatting import (
    data_health_lines,
    format_change,
    format_pct,
    format_period,
    format_value,
    note_text,
    status_label,
    status_symbol,
    streak_label,
)
from kpi_cli.review_model import BreakdownRow, Change, KpiResult, Review

STATUS_STYLES = {
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "bold red",
    "no_target": "dim",
    "no_data": "dim",
    "incomplete_data": "magenta",
}
_BARS = "▁▂▃▄▅▆▇█"
# The terminal lists the largest parts; the JSON and HTML outputs keep all.
BREAKDOWN_ROWS = 12

_HEADERS = {
    "zh": ("指标", "本期", "目标", "达成率", "环比", "同比", "趋势", "状态"),
    "en": (
        "KPI",
        "Value",
        "Target",
        "Attain.",
        "vs previous",
        "vs year ago",
        "Trend",
        "Status",
    ),
}


def sparkline(values: Sequence[Any]) -> str:
    """A one-line chart; gaps for unknown values."""
    numbers = [float(v) for v in values if v is not None]
    if not numbers:
        return ""
    low, high = min(numbers), max(numbers)
    span = high - low
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif span == 0:
            chars.append(_BARS[3])
        else:
            chars.append(_BARS[round((float(value) - low) / span * (len(_BARS) - 1))])

    return "".join(chars)


def _good(change: Change, direction: str) -> bool | None:
    if change.change is None or change.change == 0:
        return None
    rising = change.change > 0

    return rising if direction == "higher" else not rising


def change_text(
    change: Change | None, result: KpiResult, lang: str, currency: str
) -> Text:
    """Percent change (or the absolute one when the base is zero), coloured by merit."""
    if change is None or change.change is None:
        return Text("—", style="dim")
    kpi = result.kpi
    if change.change_pct is None or kpi.unit == "percent":
        label = format_change(
            change.change,
            kpi.unit,
            lang=lang,
            currency=currency,
            decimals=kpi.decimals,
        )
    else:
        label = format_pct(change.change_pct, lang=lang)
    good = _good(change, kpi.direction)
    style = "" if good is None else ("green" if good else "red")

    return Text(label, style=style)


def _status(status: str, lang: str) -> Text:
    return Text(
        f"{status_symbol(status)} {status_label(status, lang)}",
        style=STATUS_STYLES.get(status, ""),
    )


def summary_table(review: Review) -> Table:
    """One row per KPI, core KPIs first."""
    lang = review.language
    currency = review.project.currency
    title = f"{review.project.name} · {format_period(review.period, lang)}"
    period = review.period
    if period.is_partial:
        note = (
            f"（截至 {period.end}，{period.days}/{period.full_days} 天）"
            if lang == "zh"
            else f" (to {period.end}, {period.days} of {period.full_days} days)"
        )
        title += note
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, header in enumerate(_HEADERS.get(lang, _HEADERS["en"])):
        table.add_column(header, justify="left" if i in (0, 6, 7) else "right")

    for result in review.kpis:
        kpi = result.kpi

        def fmt(value: Any, kpi: Any = kpi) -> str:
            return format_value(
                value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
            )

        name = kpi.title(lang) + (" ★" if kpi.core else "") + anomaly_mark(result)
        table.add_row(
            name,
            fmt(result.value),
            target_cell(result, fmt),
            format_pct(result.attainment, lang=lang, signed=False)
            if result.attainment is not None
            else "—",
            change_text(result.previous, result, lang, currency),
            change_text(result.year_ago, result, lang, currency),
            sparkline([p.value for p in result.trend]),
            _status(result.status, lang),
        )

    return table


def breakdown_tables(review: Review) -> Iterator[Table]:
    """A table per KPI with a breakdown."""
    lang = review.language
    currency = review.project.currency
    for result in review.kpis:
        if result.breakdown is None or not result.breakdown.rows:
            continue
        kpi = result.kpi

        def fmt_value(value: Any, kpi: Any = kpi) -> str:
            return format_value(
                value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
            )

        dimension = result.breakdown.dimension
        table = Table(
            title=f"{kpi.title(lang)} · {dimension}",
            title_justify="left",
            header_style="bold",
        )
        shown = [row for row in result.breakdown.rows if _worth_showing(row)]
        if not shown:
            continue
        targeted = any(row.target is not None for row in shown)
        headers = (
            (dimension, "本期", "环比", "目标", "达成率", "状态")
            if lang == "zh"
            else (dimension, "Value", "vs previous", "Target", "Attain.", "Status")
        )
        for i, header in enumerate(headers[: 6 if targeted else 3]):
            table.add_column(header, justify="left" if i in (0, 5) else "right")
        for row in shown[:BREAKDOWN_ROWS]:
            cells: list[Any] = [
                Text(_key_label(row.key, lang) + anomaly_mark(row)),
                fmt_value(row.value),
                change_text(row.previous, result, lang, currency),
            ]
            if targeted:
                cells += [
                    fmt_value(row.target) if row.target is not None else "—",
                    format_pct(row.attainment, lang=lang, signed=False)
                    if row.attainment is not None
                    else "—",
                    _status(row.status, lang) if row.target is not None else Text(""),
                ]
            table.add_row(*cells)
        hidden = len(result.breakdown.rows) - min(len(shown), BREAKDOWN_ROWS)
        if hidden:
            table.caption = (
                f"另有 {hidden} 项未列出（全部见 --format json）"
                if lang == "zh"
                else f"{hidden} more not listed (all in --format json)"
            )
            table.caption_justify = "left"
        yield table


def _worth_showing(row: BreakdownRow) -> bool:
    """Rows with nothing now, nothing before, no target and no anomaly are noise."""
    before = row.previous.value if row.previous else None
    quiet = not row.value and not before
    return not quiet or row.target is not None or row.anomaly is not None


def _key_label(key: str | None, lang: str) -> str:
    if key is None:
        return "（空）" if lang == "zh" else "(blank)"

    return str(key)


def warnings_text(review: Review) -> Text | None:
    """Data warnings and each source's health issues, if any, in the review's
    language."""
    lines = data_health_lines(review, review.language)
    if not lines:
        return None
    head = "数据提示：" if review.language == "zh" else "Data warnings:"

    return Text("\n".join([head, *("  " + line for line in lines)]))


def review_renderable(review: Review, *, breakdowns: bool = True) -> RenderableType:
    """Everything the terminal shows for a review."""
    parts: list[RenderableType] = [summary_table(review)]
    pace = pacing_text(review)
    if pace is not None:
        parts.append(pace)
    recorded = history_text(review)
    if recorded is not None:
        parts.append(recorded)
    if breakdowns:
        parts.extend(breakdown_tables(review))
    unusual = anomalies_text(review)
    if unusual is not None:
        parts.append(unusual)
    explained = notes_text(review)
    if explained is not None:
        parts.append(explained)
    notes = warnings_text(review)
    if notes is not None:
        parts.append(notes)

    return Group(*parts)


def notes_text(review: Review) -> Text | None:
    """Each KPI's notes in words; incomplete data is told by the data warnings."""
    lang = review.language
    lines = [
        f"  {result.kpi.title(lang)}: {note_text(note, lang)}"
        for result in review.kpis
        for note in dict.fromkeys(result.notes)
        if not note.startswith("incomplete:")
    ]
    if not lines:
        return None
    head = "说明" if lang == "zh" else "Notes"

    return Text("\n".join([head + ":", *lines]))


def anomaly_mark(item: Any) -> str:
    """Mark " ⚠↑" or " ⚠↓" for a KPI or breakdown value judged unusual."""
    found = getattr(item, "anomaly", None)
    if found is None:
        return ""

    return " ⚠↑" if found.direction == "up" else " ⚠↓"


# Stands for the KPI's total among breakdown keys, where None is a blank value.
_TOTAL = object()


def anomalies_text(review: Review) -> Text | None:
    """One line per anomaly: what, which way, the score and the usual value."""
    lang = review.language
    zh = lang == "zh"
    lines = []
    for result in review.kpis:
        kpi = result.kpi
        found: list[tuple[Any, Any]] = (
            [(_TOTAL, result.anomaly)] if result.anomaly else []
        )
        if result.breakdown is not None:
            found += [(r.key, r.anomaly) for r in result.breakdown.rows if r.anomaly]
        for key, anomaly in found:
            usual = format_value(
                anomaly.baseline,
                kpi.unit,
                lang=lang,
                currency=review.project.currency,
                decimals=kpi.decimals,
            )
            label = "" if key is _TOTAL else f" · {_key_label(key, lang)}"
            where = kpi.title(lang) + label
            if anomaly.reason == "vanished":
                how = "无数据（此前有）" if zh else "vanished (had rows before)"
            elif anomaly.direction == "up":
                how = "异常偏高" if zh else "unusually high"
            else:
                how = "异常偏低" if zh else "unusually low"
            usual_label = "通常" if zh else "usually"
            score = f"z {anomaly.score:.1f}"
            # The short-history rule scores the change against the last period.
            if anomaly.method == "change":
                usual_label = "上期" if zh else "previously"
                sign = "+" if anomaly.direction == "up" else "−"
                score = f"{sign}{anomaly.score:.0%}"
            lines.append(f"  ⚠ {where}: {how}, {usual_label} {usual} ({score})")
    if not lines:
        return None
    head = "异常" if zh else "Anomalies"

    return Text("\n".join([head + ":", *lines]))


def history_text(review: Review) -> Text | None:
    """Streaks and target changes found in the project's history, if any."""
    lang = review.language
    currency = review.project.currency
    lines = []
    for result in review.kpis:
        kpi = result.kpi
        name = kpi.title(lang)
        if result.streak is not None:
            streak = result.streak
            lines.append(
                Text.assemble(
                    f"  {name}: ",
                    (
                        streak_label(streak.status, streak.length, lang),
                        STATUS_STYLES.get(streak.status, ""),
                    ),
                )
            )
        if result.target_changed is not None:
            change = result.target_changed

            def fmt(value: Any, kpi: Any = kpi) -> str:
                if value is None:
                    return "—"
                return format_value(
                    value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
                )

            word = "目标调整" if lang == "zh" else "target changed"
            lines.append(
                Text(f"  {name}: {word} {fmt(change.before)} → {fmt(change.after)}")
            )
    if not lines:
        return None
    head = "历史" if lang == "zh" else "From history"

    return Text("\n").join([Text(head + ":"), *lines])


def history_table(
    histories: Sequence[Any],
    *,
    lang: str,
    currency: str,
    titles: dict[str, str] | None = None,
    decimals: dict[str, int | None] | None = None,
) -> Table:
    """One row per KPI: recorded values as a sparkline, the latest value, target
    and status, the streak's length, and how often the target and the KPI's
    definition changed."""
    titles = titles or {}
    decimals = decimals or {}
    zh = lang == "zh"
    table = Table(
        title="历史记录" if zh else "Recorded reviews",
        title_justify="left",
        header_style="bold",
    )
    headers = (
        ("指标", "期数", "趋势", "最新", "目标", "状态", "连续", "目标变", "定义变")
        if zh
        else (
            "KPI",
            "N",
            "Trend",
            "Latest",
            "Target",
            "Status",
            "Streak",
            "Target Δ",
            "Def. Δ",
        )
    )
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i in (1, 3, 4, 6, 7, 8) else "left")
    for item in histories:
        points = item.points
        last = points[-1]
        places = decimals.get(item.kpi_id)

        def fmt(value: Any, unit: str = item.unit, places: Any = places) -> str:
            if value is None:
                return "—"
            return format_value(
                value, unit, lang=lang, currency=currency, decimals=places
            )

        streak = item.streak
        definitions = sum(
            a.definition_hash != b.definition_hash
            for a, b in zip(points, points[1:], strict=False)
        )
        table.add_row(
            titles.get(item.kpi_id) or item.name or item.kpi_id,
            str(len(points)),
            sparkline([p.value for p in points]),
            fmt(last.value),
            fmt(last.target),
            _status(last.status, lang),
            str(streak.length) if streak else "—",
            str(len(item.target_changes)),
            str(definitions),
        )

    return table


def history_periods_table(
    item: Any,
    *,
    lang: str,
    currency: str,
    title: str,
    places: int | None = None,
    timezone: str = "UTC",
) -> Table:
    """One row per recorded period of one KPI, oldest first."""
    zh = lang == "zh"
    table = Table(title=title, title_justify="left", header_style="bold")
    headers = (
        ("周期", "本期", "目标", "达成率", "状态", "定义", "记录于")
        if zh
        else ("Period", "Value", "Target", "Attain.", "Status", "Definition", "Run")
    )
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i in (1, 2, 3) else "left")

    def fmt(value: Any) -> str:
        if value is None:
            return "—"
        return format_value(
            value, item.unit, lang=lang, currency=currency, decimals=places
        )

    previous = None
    for point in item.points:
        changed = previous is not None and previous.definition_hash != (
            point.definition_hash
        )
        marker = (" (变更)" if zh else " (changed)") if changed else ""
        table.add_row(
            point.period_label,
            fmt(point.value),
            fmt(point.target),
            format_pct(point.attainment, lang=lang, signed=False)
            if point.attainment is not None
            else "—",
            _status(point.status, lang),
            point.definition_hash[:8] + marker,
            point.recorded_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M"),
        )
        previous = point

    return table


def target_cell(result: KpiResult, fmt: Any) -> str:
    """The target as shown: a value, a range "low–high", or a dash."""
    detail = result.target_detail
    if detail is not None and detail.kind == "range":
        low = fmt(detail.low) if detail.low is not None else "…"
        high = fmt(detail.high) if detail.high is not None else "…"
        return f"{low}–{high}"

    return fmt(result.target) if result.target is not None else "—"


def pacing_text(review: Review) -> Text | None:
    """For a partial period: each prorated target's pace and the projection."""
    lang = review.language
    currency = review.project.currency
    lines = []
    for result in review.kpis:
        detail, kpi = result.target_detail, result.kpi
        if result.projected is None:
            continue

        def fmt(value: Any, kpi: Any = kpi) -> str:
            return format_value(
                value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
            )

        name = kpi.title(lang)
        projected = fmt(result.projected)
        if detail is None or detail.pacing is None or detail.full is None:
            word = "按当前进度预计全期" if lang == "zh" else "projected for the period"
            lines.append(f"  {name}: {word} {projected}")
            continue
        share = format_pct(detail.share, lang=lang, signed=False)
        if lang == "zh":
            method = "去年同期曲线" if detail.pacing == "last_year" else "按天线性"
            lines.append(
                f"  {name}: 进度目标 {fmt(detail.value)}（{method}，{share}），"
                f"预计全期 {projected}，全期目标 {fmt(detail.full)}"
            )
        else:
            method = "last year's curve" if detail.pacing == "last_year" else "linear"
            lines.append(
                f"  {name}: pace target {fmt(detail.value)} ({method}, {share} "
                f"of the period), projected {projected} vs full target "
                f"{fmt(detail.full)}"
            )
    if not lines:
        return None
    head = "进度" if lang == "zh" else "Pacing"

    return Text("\n".join([head + ":", *lines]))
