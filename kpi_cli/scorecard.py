"""Scorecards: the weighted attainment of the KPIs each owner answers for.

For an owner, every KPI they own is listed. A KPI counts when it has a value,
a target for the period and an attainment; its attainment is capped at the
project's ``attainment_cap`` (lower-is-better KPIs are already inverted, so
120% always means "20% better than target"). The owner's score is

    score = sum(weight * min(attainment, cap)) / sum(weight)

over the KPIs that count, and each KPI's contribution is its term of that
sum. KPIs without a target or data, with incomplete data, or with weight 0
are listed with the reason and left out of both sums. A lower-is-better KPI
at zero meets any positive target (its attainment is unbounded) and counts at
the cap.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kpi_cli.errors import UsageError
from kpi_cli.periods import Period
from kpi_cli.review_model import KpiResult, Number, Review

NO_OWNER = "(no owner)"


@dataclass(frozen=True)
class Line:
    """One KPI on an owner's scorecard."""

    kpi_id: str
    name: str
    unit: str
    direction: str
    value: Number | None
    target: float | None
    status: str
    weight: float
    attainment: float | None  # as reviewed, uncapped; None when unknown
    counted: float | None  # min(attainment, cap); None when left out
    weight_share: float | None  # weight / weights that count
    contribution: float | None  # weight_share * counted
    reason: str
    # The reason as a code and its figures, worded per language by reason_text.
    reason_code: str = ""
    reason_params: tuple[float, ...] = ()


@dataclass(frozen=True)
class OwnerCard:
    owner: str
    score: float | None
    weight: float  # sum of the weights that count
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Scorecard:
    project: str
    period: Period
    cap: float
    language: str
    cards: tuple[OwnerCard, ...]


_REASONS = {
    "weight_0": ("权重为 0", "weight 0"),
    "no_data": ("本期无数据", "no data for the period"),
    "no_target": ("本期无目标", "no target for the period"),
    "incomplete_data": ("本期数据不完整", "data incomplete for the period"),
    "met_at_zero": (
        "为零即达标，按上限 {cap} 计入",
        "met at zero, counted at the cap {cap}",
    ),
    "undefined": ("达成率无法计算", "attainment undefined"),
    "capped": ("{attainment} 按上限 {cap} 计入", "{attainment} capped at {cap}"),
    "counted": ("计入", "counted"),
}


def reason_text(code: str, params: Sequence[float], lang: str) -> str:
    """Why a KPI counts or not, in ``lang``: "计入" / "counted",
    "130.0% 按上限 110% 计入" / "130.0% capped at 110%"."""
    zh, en = _REASONS[code]
    cap = f"{params[0]:.0%}" if params else ""
    attainment = f"{params[1]:.1%}" if len(params) > 1 else ""

    return (zh if lang == "zh" else en).format(cap=cap, attainment=attainment)


def _counted(
    result: KpiResult, cap: float
) -> tuple[float | None, str, tuple[float, ...]]:
    """The attainment that counts (capped) and why (a code and its figures),
    or None and why not."""
    if result.kpi.weight == 0:
        return None, "weight_0", ()
    if result.status in ("no_data", "no_target", "incomplete_data"):
        return None, result.status, ()
    if result.attainment is None:
        if result.status == "on_track":
            return cap, "met_at_zero", (cap,)
        return None, "undefined", ()
    if result.attainment > cap:
        return cap, "capped", (cap, result.attainment)

    return result.attainment, "counted", ()


def owner_card(
    owner: str, results: Sequence[KpiResult], cap: float, lang: str
) -> OwnerCard:
    """The scorecard of one owner from their KPIs' review results."""
    counted = [(r, *_counted(r, cap)) for r in results]
    total = sum(r.kpi.weight for r, value, *_ in counted if value is not None)
    lines = []
    for result, value, code, params in counted:
        share = result.kpi.weight / total if value is not None and total else None
        lines.append(
            Line(
                kpi_id=result.kpi.id,
                name=result.kpi.title(lang),
                unit=result.kpi.unit,
                direction=result.kpi.direction,
                value=result.value,
                target=result.target,
                status=result.status,
                weight=result.kpi.weight,
                attainment=result.attainment,
                counted=value,
                weight_share=share,
                contribution=None if share is None else share * value,
                # JSON and CSV keep the English reason, whatever the language.
                reason=reason_text(code, params, "en"),
                reason_code=code,
                reason_params=params,
            )
        )
    score = sum(line.contribution or 0.0 for line in lines) if total else None

    return OwnerCard(owner, score, total, tuple(lines))


def build_scorecard(review: Review, cap: float, owner: str | None = None) -> Scorecard:
    """One card per owner (or only ``owner``), owners in name order.

    Raises:
        UsageError: ``owner`` owns no KPI (the message lists the owners).
    """
    groups: dict[str, list[KpiResult]] = {}
    for result in review.kpis:
        groups.setdefault(result.kpi.owner or NO_OWNER, []).append(result)
    if owner is not None:
        if owner not in groups:
            close = difflib.get_close_matches(owner, list(groups), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"--owner: no KPI is owned by {owner!r}{hint} "
                f"(owners: {', '.join(sorted(groups))})"
            )
        groups = {owner: groups[owner]}
    cards = tuple(
        owner_card(name, groups[name], cap, review.language) for name in sorted(groups)
    )

    return Scorecard(review.project.name, review.period, cap, review.language, cards)


def scorecard(
    project: Any,
    period: Period,
    *,
    owner: str | None = None,
    language: str | None = None,
) -> Scorecard:
    """Review ``project`` for ``period`` and build its scorecards.

    Raises:
        UsageError: see ``build_scorecard``; and what ``run_review`` raises.
    """
    from kpi_cli.review import run_review

    review = run_review(project, period, language=language)
    cap = project.settings.project.attainment_cap

    return build_scorecard(review, cap, owner)


# ------------------------------------------------------------- rendering


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    """The scorecards as a JSON-ready dict (ratios unrounded)."""
    from kpi_cli.render_data import json_number, period_json

    return {
        "project": card.project,
        "period": period_json(card.period),
        "attainment_cap": card.cap,
        "owners": [
            {
                "owner": c.owner,
                "score": c.score,
                "weight": c.weight,
                "kpis": [
                    {
                        "id": line.kpi_id,
                        "name": line.name,
                        "direction": line.direction,
                        "value": json_number(line.value, line.unit),
                        "target": json_number(line.target),
                        "status": line.status,
                        "weight": line.weight,
                        "attainment": json_number(line.attainment),
                        "counted": line.counted,
                        "weight_share": line.weight_share,
                        "contribution": line.contribution,
                        "reason": line.reason,
                        "reason_code": line.reason_code,
                        "reason_text": reason_text(
                            line.reason_code, line.reason_params, card.language
                        ),
                    }
                    for line in c.lines
                ],
            }
            for c in card.cards
        ],
    }


def render_json(card: Scorecard) -> str:
    return json.dumps(scorecard_json(card), ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = (
    "period",
    "owner",
    "owner_score",
    "id",
    "name",
    "value",
    "target",
    "status",
    "weight",
    "attainment",
    "counted",
    "weight_share",
    "contribution",
    "reason",
)


def render_csv(card: Scorecard) -> str:
    """One row per owner and KPI, raw numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    data = scorecard_json(card)
    for owner in data["owners"]:
        for k in owner["kpis"]:
            row = [
                card.period.label,
                owner["owner"],
                owner["score"],
                k["id"],
                k["name"],
                k["value"],
                k["target"],
                k["status"],
                k["weight"],
                k["attainment"],
                k["counted"],
                k["weight_share"],
                k["contribution"],
                k["reason"],
            ]
            writer.writerow("" if v is None else v for v in row)

    return buffer.getvalue()


def _rows(card: Scorecard, c: OwnerCard, currency: str) -> list[list[str]]:
    from kpi_cli.formatting import format_pct, format_value

    lang = card.language

    def pct(value: float | None) -> str:
        return "—" if value is None else format_pct(value, lang=lang, signed=False)

    rows = []
    for line in c.lines:
        rows.append(
            [
                line.name,
                format_value(line.value, line.unit, lang=lang, currency=currency),
                "—"
                if line.target is None
                else format_value(line.target, line.unit, lang=lang, currency=currency),
                f"{line.weight:g}",
                pct(line.attainment),
                pct(line.counted),
                pct(line.contribution),
                reason_text(line.reason_code, line.reason_params, lang),
            ]
        )

    return rows


_HEADS = {
    "en": (
        "KPI",
        "Value",
        "Target",
        "Weight",
        "Attain.",
        "Counted",
        "Contrib.",
        "Note",
    ),
    "zh": ("KPI", "实际值", "目标", "权重", "达成率", "计入值", "贡献", "说明"),
}


def _head(lang: str) -> tuple[str, ...]:
    return _HEADS["zh" if lang == "zh" else "en"]


def _title(card: Scorecard, c: OwnerCard) -> str:
    from kpi_cli.formatting import not_available

    lang = card.language
    score = not_available(lang) if c.score is None else f"{c.score:.1%}"
    owner = "（无负责人）" if lang == "zh" and c.owner == NO_OWNER else c.owner
    if lang == "zh":
        return (
            f"{owner}：{score}（计入权重 {c.weight:g}，上限 {card.cap:.0%}，"
            f"{card.period.label}）"
        )
    return (
        f"{owner}: {score} (weights counted {c.weight:g}, "
        f"cap {card.cap:.0%}, {card.period.label})"
    )


def render_markdown(card: Scorecard, currency: str = "CNY") -> str:
    word = "记分卡" if card.language == "zh" else "scorecard"
    lines = [f"# {card.project} · {word} {card.period.label}", ""]
    for c in card.cards:
        lines += [f"## {_title(card, c)}", ""]
        lines.append("| " + " | ".join(_head(card.language)) + " |")
        lines.append("|---|" + "---:|" * 6 + "---|")
        for row in _rows(card, c, currency):
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
        lines.append("")

    return "\n".join(lines)


def scorecard_renderable(card: Scorecard, currency: str = "CNY") -> Any:
    """Rich tables, one per owner."""
    from rich.console import Group
    from rich.table import Table

    tables = []
    for c in card.cards:
        table = Table(title=_title(card, c), title_justify="left", header_style="bold")
        for i, head in enumerate(_head(card.language)):
            table.add_column(head, justify="left" if i in (0, 7) else "right")
        for row in _rows(card, c, currency):
            table.add_row(*row)
        tables.append(table)

    return Group(*tables)
