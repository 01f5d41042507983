"""The review as Rich renderables for the terminal.

``review_renderables`` builds them (pure); the CLI prints them. Status is
shown by word and symbol as well as colour, so it survives NO_COLOR, cron
mail and colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kpi_cli.formatting import (
    format_change,
    format_pct,
    format_period,
    format_value,
    status_label,
    status_symbol,
)
from kpi_cli.review_model import Change, KpiResult, Review

STATUS_STYLES = {
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "bold red",
    "no_target": "dim",
    "no_data": "dim",
    "incomplete_data": "magenta",
}
_BARS = "▁▂▃▄▅▆▇█"

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


def change_text(change: Change | None, result: KpiResult, lang: str) -> Text:
    """Percent change (or the absolute one when the base is zero), coloured by merit."""
    if change is None or change.change is None:
        return Text("—", style="dim")
    kpi = result.kpi
    if change.change_pct is None or kpi.unit == "percent":
        label = format_change(change.change, kpi.unit, lang=lang, decimals=kpi.decimals)
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

        name = kpi.title(lang) + (" ★" if kpi.core else "")
        table.add_row(
            name,
            fmt(result.value),
            fmt(result.target) if result.target is not None else "—",
            format_pct(result.attainment, lang=lang, signed=False)
            if result.attainment is not None
            else "—",
            change_text(result.previous, result, lang),
            change_text(result.year_ago, result, lang),
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

        table = Table(
            title=f"{kpi.title(lang)} · {result.breakdown.dimension}",
            title_justify="left",
            header_style="bold",
        )
        targeted = any(row.target is not None for row in result.breakdown.rows)
        headers = (
            ("维度值", "本期", "环比", "目标", "达成率", "状态")
            if lang == "zh"
            else ("Value of", "Value", "vs previous", "Target", "Attain.", "Status")
        )
        for i, header in enumerate(headers[: 6 if targeted else 3]):
            table.add_column(header, justify="left" if i in (0, 5) else "right")
        for row in result.breakdown.rows:
            cells: list[Any] = [
                Text(_key_label(row.key, lang)),
                fmt_value(row.value),
                change_text(row.previous, result, lang),
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
        yield table


def _key_label(key: str | None, lang: str) -> str:
    if key is None:
        return "（空）" if lang == "zh" else "(blank)"

    return str(key)


def warnings_text(review: Review) -> Text | None:
    """Data warnings and incomplete sources, if any."""
    lines = list(review.warnings)
    for source in review.sources:
        if not source.complete:
            lines += [f"{source.name}: {issue}" for issue in source.issues]
    if not lines:
        return None
    head = "数据提示" if review.language == "zh" else "Data warnings"

    return Text(
        "\n".join([head + ":", *("  " + line for line in dict.fromkeys(lines))])
    )


def review_renderable(review: Review, *, breakdowns: bool = True) -> RenderableType:
    """Everything the terminal shows for a review."""
    parts: list[RenderableType] = [summary_table(review)]
    if breakdowns:
        parts.extend(breakdown_tables(review))
    notes = warnings_text(review)
    if notes is not None:
        parts.append(notes)

    return Group(*parts)
