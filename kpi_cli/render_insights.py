"""Renderings of ``kpi explain`` and ``kpi segments``: JSON, Markdown, terminal.

Pure functions: each returns a dict, text or a Rich renderable; the CLI
prints. Numbers in JSON follow the review's contract (money to the cent,
ratios at full precision, ``null`` where unknown).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from kpi_cli.config import KpiSettings
from kpi_cli.formatting import format_change, format_pct, format_period, format_value
from kpi_cli.render_data import json_number, period_json
from kpi_cli.review_model import Contribution, Explanation
from kpi_cli.segments import NAMES, SEGMENTS, SegmentReport

_AGAINST = {
    "zh": {"previous": "环比上期", "year_ago": "同比去年", "target": "对比目标"},
    "en": {"previous": "vs previous", "year_ago": "vs year ago", "target": "vs target"},
}
_REASONS = {
    "zh": {"overlap": "（重叠，无法归属）", "unallocated_target": "（目标未分配）"},
    "en": {
        "overlap": "(overlap, not attributable)",
        "unallocated_target": "(target not allocated)",
    },
}


def contribution_json(row: Contribution, kpi: KpiSettings) -> dict[str, Any]:
    """One contribution; ratio rows carry mix_effect and rate_effect."""
    data: dict[str, Any] = {
        "key": row.key,
        "kind": row.kind,
        "contribution": json_number(row.contribution, kpi.unit),
        "share": json_number(row.share),
    }
    if row.kind == "unattributed":
        data["reason"] = row.reason
    if row.mix_effect is not None or row.rate_effect is not None:
        data["mix_effect"] = json_number(row.mix_effect)
        data["rate_effect"] = json_number(row.rate_effect)
        data["rate"] = json_number(row.value)
        data["base_rate"] = json_number(row.base)
    else:
        data["value"] = json_number(row.value, kpi.unit)
        data["base"] = json_number(row.base, kpi.unit)

    return data


def explanation_json(
    explanation: Explanation | None, kpi: KpiSettings
) -> dict[str, Any] | None:
    """The JSON form of an explanation (also used inside the review JSON)."""
    if explanation is None:
        return None
    comparison = explanation.comparison

    return {
        "kpi": explanation.kpi_id,
        "period": period_json(explanation.period),
        "against": explanation.against,
        "comparison": period_json(comparison) if comparison else None,
        "dimension": explanation.dimension,
        "method": explanation.method,
        "value": json_number(explanation.value, kpi.unit),
        "base": json_number(explanation.base, kpi.unit),
        "total_change": json_number(explanation.total_change, kpi.unit),
        "contributions": [
            contribution_json(row, kpi) for row in explanation.contributions
        ],
    }


def _key(row: Contribution, lang: str) -> str:
    if row.kind == "unattributed":
        return _REASONS[lang].get(row.reason, row.reason)
    if row.key is None:
        return "（空）" if lang == "zh" else "(blank)"

    return str(row.key)


def _cells(
    explanation: Explanation, kpi: KpiSettings, lang: str, currency: str
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows shared by the terminal and Markdown tables."""

    def change(value: Any) -> str:
        if value is None:
            return "—"
        return format_change(
            value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
        )

    ratio = explanation.method == "mix_rate"
    zh = lang == "zh"
    header = [
        explanation.dimension,
        "贡献" if zh else "Contribution",
        "占变化" if zh else "Share",
    ]
    if ratio:
        header += ["结构效应" if zh else "Mix", "比率效应" if zh else "Rate"]
    rows = []
    for row in explanation.contributions:
        cells = [
            _key(row, lang),
            change(row.contribution),
            format_pct(row.share, lang=lang, signed=False)
            if row.share is not None
            else "—",
        ]
        if ratio:
            cells += [change(row.mix_effect), change(row.rate_effect)]
        rows.append(cells)

    return header, rows


def _title(explanation: Explanation, kpi: KpiSettings, lang: str, currency: str) -> str:
    def value(v: Any) -> str:
        return format_value(
            v, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
        )

    against = _AGAINST[lang][explanation.against]
    total = format_change(
        explanation.total_change,
        kpi.unit,
        lang=lang,
        currency=currency,
        decimals=kpi.decimals,
    )

    return (
        f"{kpi.title(lang)} · {format_period(explanation.period, lang)} · {against}: "
        f"{value(explanation.base)} → {value(explanation.value)} ({total})"
    )


def explanation_table(
    explanation: Explanation, kpi: KpiSettings, lang: str, currency: str
) -> Table:
    """The ranked contributions as a Rich table."""
    header, rows = _cells(explanation, kpi, lang, currency)
    table = Table(
        title=_title(explanation, kpi, lang, currency),
        title_justify="left",
        header_style="bold",
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for cells in rows:
        table.add_row(*cells)

    return table


def explanation_markdown(
    explanation: Explanation, kpi: KpiSettings, lang: str, currency: str
) -> str:
    """The ranked contributions as a Markdown table under a heading."""
    header, rows = _cells(explanation, kpi, lang, currency)
    lines = [
        f"## {_title(explanation, kpi, lang, currency)}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for cells in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")

    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- segments


def segments_json(report: SegmentReport) -> dict[str, Any]:
    """The segment report as a JSON-ready dict."""
    matrix = {
        origin: {
            target: report.transitions.get((origin, target), 0) for target in SEGMENTS
        }
        for origin in ("new", *SEGMENTS)
    }
    settings = report.settings

    return {
        "period": period_json(report.period),
        "as_of": report.as_of.isoformat(),
        "before": report.before.isoformat(),
        "members": report.members,
        "thresholds": {
            "dormant_days": settings.dormant_days,
            "window_days": settings.window_days,
            "high_value_orders": settings.high_value_orders,
            "high_value_amount": settings.high_value_amount,
        },
        "segments": [
            {
                "segment": row.segment,
                "names": NAMES[row.segment],
                "members": row.members,
                "share": json_number(row.share),
                "members_before": row.members_before,
                "window_revenue": json_number(row.window_revenue, "currency"),
                "revenue_share": json_number(row.revenue_share),
                "period_revenue": json_number(row.period_revenue, "currency"),
            }
            for row in report.rows
        ],
        "new_members": report.new_members,
        "new_revenue": json_number(report.new_revenue, "currency"),
        "reactivated": report.reactivated,
        "transitions": matrix,
    }


def _segment_cells(
    report: SegmentReport, lang: str, currency: str
) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    zh = lang == "zh"
    days = report.settings.window_days

    def money(value: Any) -> str:
        return format_value(value, "currency", lang=lang, currency=currency)

    head = (
        [
            "分群",
            "会员数",
            "占比",
            "上期末",
            f"近{days}天销售额",
            "销售占比",
            "本期贡献",
        ]
        if zh
        else [
            "Segment",
            "Members",
            "Share",
            "Before",
            f"Sales, last {days} days",
            "Sales share",
            "Paid this period",
        ]
    )
    rows = [
        [
            NAMES[r.segment][lang],
            str(r.members),
            format_pct(r.share, lang=lang, signed=False)
            if r.share is not None
            else "—",
            str(r.members_before),
            money(r.window_revenue),
            format_pct(r.revenue_share, lang=lang, signed=False)
            if r.revenue_share is not None
            else "—",
            money(r.period_revenue),
        ]
        for r in report.rows
    ]
    rows.append(
        [
            NAMES["new"][lang],
            str(report.new_members),
            "",
            "",
            "",
            "",
            money(report.new_revenue),
        ]
    )
    move_head = ["上期末 \\ 本期末" if zh else "Before \\ now"] + [
        NAMES[s][lang] for s in SEGMENTS
    ]
    moves = [
        [NAMES[origin][lang]]
        + [str(report.transitions.get((origin, target), 0)) for target in SEGMENTS]
        for origin in ("new", *SEGMENTS)
    ]

    return head, rows, move_head, moves


def _segments_title(report: SegmentReport, lang: str) -> str:
    period = format_period(report.period, lang)
    if lang == "zh":
        return f"会员分群 · {period}（截至 {report.as_of}）"
    return f"Member segments · {period} (as of {report.as_of})"


def _reactivated_line(report: SegmentReport, lang: str) -> str:
    if lang == "zh":
        return f"沉睡会员唤醒：{report.reactivated} 人"
    return f"Dormant members reactivated: {report.reactivated}"


def segments_renderable(
    report: SegmentReport, lang: str, currency: str
) -> RenderableType:
    """Segment table, movement matrix and the reactivation count."""
    head, rows, move_head, moves = _segment_cells(report, lang, currency)
    table = Table(
        title=_segments_title(report, lang), title_justify="left", header_style="bold"
    )
    for i, name in enumerate(head):
        table.add_column(name, justify="left" if i == 0 else "right")
    for cells in rows:
        table.add_row(*cells)
    matrix = Table(
        title="会员流转" if lang == "zh" else "Movement since the period began",
        title_justify="left",
        header_style="bold",
    )
    for i, name in enumerate(move_head):
        matrix.add_column(name, justify="left" if i == 0 else "right")
    for cells in moves:
        matrix.add_row(*cells)

    return Group(table, matrix, _reactivated_line(report, lang))


def segments_markdown(report: SegmentReport, lang: str, currency: str) -> str:
    """The segment report as Markdown tables."""
    head, rows, move_head, moves = _segment_cells(report, lang, currency)
    lines = [f"## {_segments_title(report, lang)}", ""]
    for header, body in ((head, rows), (move_head, moves)):
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines.append("")
    lines.append(_reactivated_line(report, lang))

    return "\n".join(lines) + "\n"
