"""Scorecards: weights, the attainment cap and exclusions, worked by hand."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from kpi_cli.config import KpiSettings, ProjectSettings
from kpi_cli.errors import UsageError
from kpi_cli.periods import parse_period
from kpi_cli.review_model import KpiResult, Review
from kpi_cli.scorecard import build_scorecard, render_csv, render_json, render_markdown

PERIOD = parse_period("2026-W48")


def result(
    kpi_id: str,
    owner: str | None,
    weight: float,
    attainment: float | None,
    status: str,
    direction: str = "higher",
) -> KpiResult:
    kpi = KpiSettings.model_validate(
        {
            "id": kpi_id,
            "name": kpi_id.upper(),
            "owner": owner,
            "weight": weight,
            "direction": direction,
            "model": "m",
            "measure": "count(*)",
        }
    )
    value = None if status == "no_data" else 10
    target = None if status in ("no_target", "no_data") else 10.0
    return KpiResult(
        kpi=kpi,
        period=PERIOD,
        value=value,
        target=target,
        attainment=attainment,
        status=status,  # type: ignore[arg-type]
        previous=None,
        year_ago=None,
        trend=(),
        breakdown=None,
    )


def review(*results: KpiResult) -> Review:
    return Review(
        project=ProjectSettings(name="shop", language="en"),
        period=PERIOD,
        generated_at=dt.datetime(2026, 12, 1),
        kpis=results,
        language="en",
    )


def test_weighted_capped_attainment_with_exclusions() -> None:
    card = build_scorecard(
        review(
            result("gmv", "Ops", 3, 0.9, "off_track"),
            result("orders", "Ops", 1, 1.5, "on_track"),  # capped at 1.2
            result("aov", "Ops", 2, None, "no_target"),  # listed, not weighted
            result("nps", "Ops", 1, None, "no_data"),
            result("cac", "Marketing", 1, None, "on_track", "lower"),  # met at zero
            result("roi", "Marketing", 0, 0.5, "off_track"),  # weight 0
            result("refunds", "Marketing", 2, 0.8, "incomplete_data"),
        ),
        cap=1.2,
    )
    ops = {c.owner: c for c in card.cards}["Ops"]
    # (3 * 0.9 + 1 * 1.2) / (3 + 1) = 3.9 / 4
    assert ops.score == pytest.approx(0.975)
    assert ops.weight == 4
    lines = {line.kpi_id: line for line in ops.lines}
    assert lines["gmv"].contribution == pytest.approx(3 / 4 * 0.9)  # 0.675
    assert lines["orders"].counted == 1.2
    assert lines["orders"].contribution == pytest.approx(1 / 4 * 1.2)  # 0.3
    assert lines["orders"].reason == "150.0% capped at 120%"
    assert lines["aov"].counted is None and lines["aov"].reason == (
        "no target for the period"
    )
    assert lines["nps"].reason == "no data for the period"
    assert sum(line.contribution or 0 for line in ops.lines) == pytest.approx(ops.score)

    marketing = {c.owner: c for c in card.cards}["Marketing"]
    m = {line.kpi_id: line for line in marketing.lines}
    assert m["cac"].counted == 1.2 and "met at zero" in m["cac"].reason
    assert m["roi"].reason == "weight 0"
    assert m["refunds"].reason == "data incomplete for the period"
    assert marketing.score == pytest.approx(1.2)  # only cac counts
    assert [c.owner for c in card.cards] == ["Marketing", "Ops"]


def test_owner_without_countable_kpis_has_no_score() -> None:
    card = build_scorecard(review(result("aov", None, 1, None, "no_target")), cap=1.2)
    (only,) = card.cards
    assert only.owner == "(no owner)" and only.score is None


def test_unknown_owner_is_a_usage_error() -> None:
    with pytest.raises(
        UsageError, match=r"no KPI is owned by 'Opps'; did you mean 'Ops'"
    ):
        build_scorecard(review(result("gmv", "Ops", 1, 1.0, "on_track")), 1.2, "Opps")


def test_formats_carry_the_same_numbers() -> None:
    card = build_scorecard(
        review(
            result("gmv", "Ops", 3, 0.9, "off_track"),
            result("orders", "Ops", 1, 1.5, "on_track"),
        ),
        cap=1.2,
    )
    data: dict[str, Any] = json.loads(render_json(card))
    assert data["attainment_cap"] == 1.2
    assert data["owners"][0]["score"] == pytest.approx(0.975)
    rows = list(csv.DictReader(io.StringIO(render_csv(card))))
    assert [r["id"] for r in rows] == ["gmv", "orders"]
    assert float(rows[1]["contribution"]) == pytest.approx(0.3)
    assert float(rows[0]["owner_score"]) == pytest.approx(0.975)
    md = render_markdown(card)
    assert "## Ops: 97.5% (weights counted 4, cap 120%, 2026-W48)" in md
    assert (
        "| ORDERS | 10 | 10 | 1 | 150.0% | 120.0% | 30.0% | 150.0% capped at 120% |"
        in md
    )
