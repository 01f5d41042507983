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


def _counted(result: KpiResult, cap: float) -> tuple[float | None, str]:
    """The attainment that counts (capped) and why, or None and why not."""
    if result.kpi.weight == 0:
        return None, "weight 0"
    if result.status == "no_data":
        return None, "no data for the period"
    if result.status == "no_target":
        return None, "no target for the period"
    if result.status == "incomplete_data":
        return None, "data incomplete for the period"
    if result.attainment is None:
        if result.status == "on_track":
            return cap, f"met at zero, counted at the cap {cap:.0%}"
        return None, "attainment undefined"
    if result.attainment > cap:
        return cap, f"{result.attainment:.1%} capped at {cap:.0%}"

    return result.attainment, "counted"


def owner_card(
    owner: str, results: Sequence[KpiResult], cap: float, lang: str
) -> OwnerCard:
    """The scorecard of one owner from their KPIs' review results."""
    counted = [(r, *_counted(r, cap)) for r in results]
    total = sum(r.kpi.weight for r, value, _ in counted if value is not None)
    lines = []
    for result, value, reason in counted:
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
                reason=reason,
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
                line.reason,
            ]
        )

    return rows


_HEAD = ("KPI", "Value", "Target", "Weight", "Attain.", "Counted", "Contrib.", "Note")


def _title(card: Scorecard, c: OwnerCard) -> str:
    score = "n/a" if c.score is None else f"{c.score:.1%}"
    return (
        f"{c.owner}: {score} (weights counted {c.weight:g}, "
        f"cap {card.cap:.0%}, {card.period.label})"
    )


def render_markdown(card: Scorecard, currency: str = "CNY") -> str:
    lines = [f"# {card.project} · scorecard {card.period.label}", ""]
    for c in card.cards:
        lines += [f"## {_title(card, c)}", ""]
        lines.append("| " + " | ".join(_HEAD) + " |")
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
        for i, head in enumerate(_HEAD):
            table.add_column(head, justify="left" if i in (0, 7) else "right")
        for row in _rows(card, c, currency):
            table.add_row(*row)
        tables.append(table)

    return Group(*tables)
