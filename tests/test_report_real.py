"""HTML reports of real reviews carry the same numbers as the JSON output.

The JSON values are themselves checked against independent SQL over the raw
exports (test_review_sample.py, test_example_olist.py); here the report is
rendered by the CLI, parsed with a real HTML parser, and every card, section
and attention item is matched with the JSON of the same review.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from kpi_cli.cli import app

OLIST = Path(__file__).parent.parent / "examples" / "olist"


def number_in(text: str) -> Decimal:
    """The number a formatted value shows: ¥49,972.51 -> 49972.51, 4.00% -> 0.04."""
    digits = re.sub(r"[^0-9.\-−]", "", text).replace("−", "-")
    value = Decimal(digits)

    return value / 100 if text.strip().endswith("%") else value


def shown(value: float, unit: str) -> Decimal:
    """The JSON value at the precision the report displays for its unit."""
    places = {"count": 0, "currency": 2, "percent": 4, "ratio": 2, "score": 2}[unit]
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def both(runner: CliRunner, tmp_path: Path, args: list[str]) -> tuple[dict, Any]:
    as_json = runner.invoke(app, ["review", *args, "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    out = tmp_path / "report.html"
    as_html = runner.invoke(app, ["review", *args, "-f", "html", "-o", str(out)])
    assert as_html.exit_code == 0, as_html.output

    return json.loads(as_json.stdout), BeautifulSoup(
        out.read_text(encoding="utf-8"), "html.parser"
    )


@pytest.fixture(scope="module", params=["sample-zh", "sample-en", "olist"])
def reviewed(request, sample_project: Path, tmp_path_factory: pytest.TempPathFactory):
    runner = CliRunner()
    tmp_path = tmp_path_factory.mktemp("report")
    if request.param == "olist":
        args = ["-p", str(OLIST), "--period", "2017-W47"]
    else:
        lang = request.param.split("-")[1]
        args = ["-p", str(sample_project), "--period", "2026-W48", "--lang", lang]

    return both(runner, tmp_path, args)


def test_cards_show_the_json_values(reviewed) -> None:
    data, soup = reviewed
    by_name = {k["name"]: k for k in data["kpis"]}
    core = [k for k in data["kpis"] if k["core"]] or data["kpis"]
    cards = soup.select("#summary .card")

    assert [c.select_one(".card-name").get_text(strip=True) for c in cards] == [
        k["name"] for k in core
    ]
    for card in cards:
        kpi = by_name[card.select_one(".card-name").get_text(strip=True)]
        exact = card.select_one(".card-value")["title"]
        assert number_in(exact) == shown(kpi["value"], kpi["unit"]), kpi["id"]
        if kpi["target"] is not None:
            target = card.select_one(".card-target .num")["title"]
            assert number_in(target) == shown(kpi["target"], kpi["unit"]), kpi["id"]


def test_every_kpi_has_a_section_in_json_order(reviewed) -> None:
    data, soup = reviewed
    names = [h.get_text(strip=True) for h in soup.select("article.kpi .kpi-name")]

    assert names == [k["name"] for k in data["kpis"]]


def test_attention_lists_exactly_the_flagged_kpis(reviewed) -> None:
    data, soup = reviewed
    flagged = {
        k["name"] for k in data["kpis"] if k["status"] in ("off_track", "at_risk")
    }
    listed = {
        li.select_one(".attention-name").get_text(strip=True)
        for li in soup.select("#attention .attention-item")
    }

    assert listed == flagged


def test_breakdown_rows_show_the_json_values(reviewed) -> None:
    data, soup = reviewed
    for kpi, article in zip(data["kpis"], soup.select("article.kpi"), strict=True):
        if kpi["breakdown"] is None:
            continue
        # The breakdown's table, not the "why" table an off-track KPI also has.
        table = article.select_one(".breakdown table")
        assert table is not None, kpi["id"]
        # The key cell may also carry an anomaly note after the key itself.
        rows = {next(tr.th.stripped_strings): tr for tr in table.select("tbody tr")}
        assert set(rows) <= {str(r["key"]) for r in kpi["breakdown"]["rows"]}
        for row in kpi["breakdown"]["rows"]:
            if row["value"] is None or str(row["key"]) not in rows:
                continue
            value = rows[str(row["key"])].find("td").get_text(strip=True)
            assert number_in(value) == shown(row["value"], kpi["unit"]), row["key"]
