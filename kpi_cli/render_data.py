"""Machine-readable renderings of a review: JSON, CSV and Markdown.

JSON is the contract scripts rely on (documented in the README): numbers as
JSON numbers, ``null`` where unknown. Money is rounded half-up to the cent on
the exact decimal; ratios keep full precision.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

from kpi_cli.formatting import (
    data_health_lines,
    format_change,
    format_pct,
    format_value,
    round_half_up,
    status_label,
    status_symbol,
)
from kpi_cli.periods import Period
from kpi_cli.review_model import (
    Change,
    FileHealth,
    KpiResult,
    Review,
    SourceHealth,
    TargetDetail,
)

JSON_VERSION = 1


def json_number(value: Any, unit: str | None = None) -> int | float | None:
    """A value as a JSON number: money to the cent (half-up), never NaN or inf."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if unit == "currency":
        return float(round_half_up(value, 2))
    number = float(value) if isinstance(value, Decimal) else value
    if isinstance(number, float) and not math.isfinite(number):
        return None

    return number


def period_json(period: Period) -> dict[str, Any]:
    return {
        "grain": period.grain,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "partial": period.is_partial,
        "full_end": period.complete_end.isoformat(),
    }


def change_json(change: Change | None, unit: str) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "period": change.period.label,
        "start": change.period.start.isoformat(),
        "end": change.period.end.isoformat(),
        "value": json_number(change.value, unit),
        "change": json_number(change.change, unit),
        "change_pct": json_number(change.change_pct),
        "base_negative": change.base_negative,
    }


def _anomaly_json(anomaly: Any, unit: str) -> dict[str, Any] | None:
    if anomaly is None:
        return None
    return {
        "score": json_number(anomaly.score),
        "direction": anomaly.direction,
        "baseline": json_number(anomaly.baseline, unit),
        "method": anomaly.method,
        "reason": anomaly.reason,
    }


def _explanation_json(result: KpiResult) -> dict[str, Any] | None:
    # Imported here: render_insights builds on this module.
    from kpi_cli.render_insights import explanation_json

    return explanation_json(result.explanation, result.kpi)


def kpi_json(result: KpiResult, language: str) -> dict[str, Any]:
    """One KPI of a review as a JSON-ready dict."""
    kpi = result.kpi
    unit = kpi.unit
    breakdown = None
    if result.breakdown is not None:
        breakdown = {
            "dimension": result.breakdown.dimension,
            "rows": [
                {
                    "key": row.key,
                    "value": json_number(row.value, unit),
                    "target": json_number(row.target),
                    "attainment": json_number(row.attainment),
                    "status": row.status,
                    "previous": change_json(row.previous, unit),
                    "anomaly": _anomaly_json(row.anomaly, unit),
                    "projected": json_number(row.projected, unit),
                    "target_detail": target_detail_json(row.target_detail),
                }
                for row in result.breakdown.rows
            ],
        }

    return {
        "id": kpi.id,
        "name": kpi.title(language),
        "names": {"zh": kpi.name.get("zh"), "en": kpi.name.get("en")},
        "unit": unit,
        "direction": kpi.direction,
        "grain": kpi.grain,
        "core": kpi.core,
        "owner": kpi.owner,
        "value": json_number(result.value, unit),
        "target": json_number(result.target),
        "attainment": json_number(result.attainment),
        "status": result.status,
        "previous": change_json(result.previous, unit),
        "year_ago": change_json(result.year_ago, unit),
        "trend": [
            {
                "period": point.period.label,
                "start": point.period.start.isoformat(),
                "end": point.period.end.isoformat(),
                "value": json_number(point.value, unit),
                "target": json_number(point.target),
            }
            for point in result.trend
        ],
        "breakdown": breakdown,
        "anomaly": _anomaly_json(result.anomaly, unit),
        "explanation": _explanation_json(result),
        "projected": json_number(result.projected, unit),
        "target_detail": target_detail_json(result.target_detail),
        "sources": list(result.sources),
        "notes": list(result.notes),
        "streak": None
        if result.streak is None
        else {"status": result.streak.status, "length": result.streak.length},
        "target_changed": None
        if result.target_changed is None
        else {
            "from": json_number(result.target_changed.before),
            "to": json_number(result.target_changed.after),
        },
    }


def target_detail_json(detail: TargetDetail | None) -> dict[str, Any] | None:
    """How a target was set: kind, full-period value, pace, baseline."""
    if detail is None:
        return None
    return {
        "kind": detail.kind,
        "full": json_number(detail.full),
        "value": json_number(detail.value),
        "min": json_number(detail.low),
        "max": json_number(detail.high),
        "warn": detail.warn,
        "share": detail.share,
        "pacing": detail.pacing,
        "growth": detail.growth,
        "baseline": json_number(detail.baseline),
        "baseline_kind": detail.baseline_kind,
        "baseline_periods": [p.label for p in detail.baseline_periods],
        "effective": detail.effective.isoformat() if detail.effective else None,
        "due": detail.due.isoformat() if detail.due else None,
        "notes": list(detail.notes),
    }


def _timestamp(value: dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")

    return value.isoformat()


def source_json(source: SourceHealth) -> dict[str, Any]:
    """One source's health for the review period (see ``kpi_cli.health``)."""
    return {
        "name": source.name,
        "rows": source.rows,
        "first": _timestamp(source.first),
        "last": _timestamp(source.last),
        "period_rows": source.period_rows,
        "period_first": _timestamp(source.period_first),
        "period_last": _timestamp(source.period_last),
        "complete": source.complete,
        "issues": list(source.issues),
        # The same issues, in order, with a stable code and its parameters.
        "issue_details": [
            {"code": i.code, "text": i.text, "params": i.params}
            for i in source.coded_issues
        ],
        "time_column": source.time_column,
        "key": list(source.key),
        "sparse": source.sparse,
        "stale": source.stale,
        "empty_days": [d.isoformat() for d in source.empty_days],
        "duplicate_keys": source.duplicate_keys,
        "null_key_rows": source.null_key_rows,
        "null_key_share": json_number(source.null_key_share),
        "null_time_rows": source.null_time_rows,
        "trailing_periods": source.trailing_periods,
        "trailing_median_rows": json_number(source.trailing_median_rows),
        "volume_ratio": json_number(source.volume_ratio),
        "volume_drop": source.volume_drop,
        "files": [file_json(f) for f in source.files],
    }


def file_json(file: FileHealth) -> dict[str, Any]:
    """One export file a source read: path, rows, encoding, delimiter, state."""
    return {
        "path": file.path,
        "rows": file.rows,
        "encoding": file.encoding,
        "delimiter": file.delimiter,
        "state": file.state,
    }


def review_json(review: Review) -> dict[str, Any]:
    """The whole review as a JSON-ready dict."""
    return {
        "version": JSON_VERSION,
        "project": review.project.name,
        "language": review.language,
        "currency": review.project.currency,
        "timezone": review.project.timezone,
        "generated_at": review.generated_at.isoformat(timespec="seconds"),
        "period": period_json(review.period),
        "kpis": [kpi_json(k, review.language) for k in review.kpis],
        "sources": [source_json(s) for s in review.sources],
        "warnings": list(review.warnings),
    }


def render_json(review: Review) -> str:
    """The review as pretty-printed JSON text."""
    return json.dumps(review_json(review), ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = (
    "period",
    "start",
    "end",
    "id",
    "name",
    "unit",
    "direction",
    "core",
    "value",
    "target",
    "attainment",
    "status",
    "previous_value",
    "change",
    "change_pct",
    "year_ago_value",
    "year_ago_change",
    "year_ago_change_pct",
)


def render_csv(review: Review) -> str:
    """One row per KPI, raw numbers (no formatting), for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in review.kpis:
        data = kpi_json(result, review.language)
        prev = data["previous"] or {}
        ago = data["year_ago"] or {}
        writer.writerow(
            _blank(v)
            for v in (
                review.period.label,
                review.period.start.isoformat(),
                review.period.end.isoformat(),
                data["id"],
                data["name"],
                data["unit"],
                data["direction"],
                data["core"],
                data["value"],
                data["target"],
                data["attainment"],
                data["status"],
                prev.get("value"),
                prev.get("change"),
                prev.get("change_pct"),
                ago.get("value"),
                ago.get("change"),
                ago.get("change_pct"),
            )
        )

    return buffer.getvalue()


def _blank(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def render_markdown(review: Review) -> str:
    """A Markdown table, one row per KPI, formatted for the review's language."""
    from kpi_cli.formatting import format_period

    lang = review.language
    currency = review.project.currency
    zh = lang == "zh"
    head = (
        ("指标", "本期", "目标", "达成率", "环比", "同比", "状态")
        if zh
        else (
            "KPI",
            "Value",
            "Target",
            "Attainment",
            "vs previous",
            "vs year ago",
            "Status",
        )
    )
    lines = [
        f"# {review.project.name} · {format_period(review.period, lang)}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * 5 + ["---"]) + "|",
    ]
    for result in review.kpis:
        kpi = result.kpi

        def fmt(value: Any, kpi: Any = kpi) -> str:
            return format_value(
                value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
            )

        cells = [
            kpi.title(lang) + (" ★" if kpi.core else ""),
            fmt(result.value),
            fmt(result.target) if result.target is not None else "—",
            format_pct(result.attainment, lang=lang, signed=False)
            if result.attainment is not None
            else "—",
            _md_change(result.previous, kpi, lang, currency),
            _md_change(result.year_ago, kpi, lang, currency),
            f"{status_symbol(result.status)} {status_label(result.status, lang)}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += _md_data_health(review)

    return "\n".join(lines) + "\n"


def _md_data_health(review: Review) -> list[str]:
    """A list of data warnings and source health issues, or nothing."""
    items = data_health_lines(review, review.language)
    if not items:
        return []
    head = "数据提示" if review.language == "zh" else "Data health"

    return ["", f"## {head}", "", *(f"- {item}" for item in items)]


def _md_change(change: Change | None, kpi: Any, lang: str, currency: str) -> str:
    if change is None or change.change is None:
        return "—"
    absolute = format_change(
        change.change, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
    )

    return f"{absolute} ({format_pct(change.change_pct, lang=lang)})"
