"""``kpi scorecard`` over a small project: numbers summed from the CSV rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from test_targets import days, make_project, total
from typer.testing import CliRunner

from kpi_cli.cli import app

D = dt.date

KPIS = """
[project]
attainment_cap = 1.1
"""

TWO_OWNERS = """
[[kpis]]
id = "sales_a"
name = "Sales in a"
owner = "Team A"
unit = "currency"
model = "sales"
filter = "channel = 'a'"
measure = "sum(amount)"
weight = 3
[kpis.target]
value = 800

[[kpis]]
id = "sales_b"
name = "Sales in b"
owner = "Team A"
unit = "currency"
model = "sales"
filter = "channel = 'b'"
measure = "sum(amount)"
weight = 1
[kpis.target]
value = 100

[[kpis]]
id = "refunds"
name = "Refunds"
owner = "Team B"
unit = "currency"
direction = "lower"
model = "sales"
filter = "channel = 'r'"
measure = "sum(amount)"
weight = 2
[kpis.target]
value = 50
"""


def _rows() -> list[tuple[dt.date, str, str]]:
    """Week 2026-W46 (9-15 Nov): a 100 a day, b 20 a day, refunds 10 a day."""
    rows = []
    for day in days(D(2026, 11, 9), D(2026, 11, 15)):
        rows += [(day, "a", "100.00"), (day, "b", "20.00"), (day, "r", "10.00")]
    return rows


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p", TWO_OWNERS, _rows())
    text = (root / "kpi.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "."', 'data_dir = "."\nattainment_cap = 1.1')
    (root / "kpi.toml").write_text(text, encoding="utf-8")
    return root


def test_scorecard_json_from_raw_rows(project: Path, runner: CliRunner) -> None:
    rows = _rows()
    a = sum(float(x) for _, c, x in rows if c == "a")  # 700
    b = sum(float(x) for _, c, x in rows if c == "b")  # 140
    r = sum(float(x) for _, c, x in rows if c == "r")  # 70
    assert (a, b, r) == (700, 140, 70)
    assert total(rows, D(2026, 11, 9), D(2026, 11, 15)) == a + b + r

    result = runner.invoke(
        app, ["scorecard", "-p", str(project), "--period", "2026-W46", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    owners = {o["owner"]: o for o in data["owners"]}
    # Team A: a 700 / 800 = 0.875 (weight 3); b 140 / 100 = 1.4, capped 1.1 (1).
    team_a = (3 * (a / 800) + 1 * 1.1) / 4
    assert owners["Team A"]["score"] == pytest.approx(team_a)  # 0.93125
    kpis = {k["id"]: k for k in owners["Team A"]["kpis"]}
    assert kpis["sales_b"]["attainment"] == pytest.approx(b / 100)
    assert kpis["sales_b"]["counted"] == 1.1
    # Team B: refunds are lower-is-better: 50 / 70.
    assert owners["Team B"]["score"] == pytest.approx(50 / r)
    assert data["attainment_cap"] == 1.1


def test_owner_filter_and_formats(project: Path, runner: CliRunner) -> None:
    args = [
        "scorecard",
        "-p",
        str(project),
        "--period",
        "2026-W46",
        "--owner",
        "Team B",
    ]
    result = runner.invoke(app, [*args, "-f", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["owner"], r["id"]) for r in rows] == [("Team B", "refunds")]
    assert float(rows[0]["contribution"]) == pytest.approx(50 / 70)
    table = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert "Team B: 71.4% (weights counted 2, cap 110%, 2026-W46)" in table.stdout
    md = runner.invoke(app, [*args, "-f", "md"])
    assert (
        "| Refunds | ¥70.00 | ¥50.00 | 2 | 71.4% | 71.4% | 71.4% | counted |"
        in md.stdout
    )


def test_unknown_owner_exits_2(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        ["scorecard", "-p", str(project), "--period", "2026-W46", "--owner", "Team C"],
    )
    assert result.exit_code == 2
    assert "no KPI is owned by 'Team C'" in result.stderr
    assert "owners: Team A, Team B" in result.stderr


def _card_lines(project: Path, lang: str) -> list[str]:
    from rich.console import Console

    from kpi_cli import scorecard as cards
    from kpi_cli.periods import parse_period
    from kpi_cli.project import load_project

    loaded = load_project(project)
    card = cards.scorecard(loaded, parse_period("2026-W46"), language=lang)
    console = Console(width=120, color_system=None, record=True)
    with console.capture() as captured:
        console.print(cards.scorecard_renderable(card))
    return [line.rstrip() for line in captured.get().splitlines()]


def test_table_speaks_zh_and_en_json_stays_english(
    project: Path, runner: CliRunner
) -> None:
    # Team A in W46: a 700/800 = 87.5% (weight 3), b 140/100 = 140% capped 110%.
    zh = _card_lines(project, "zh")
    assert zh[0] == "Team A：93.1%（计入权重 4，上限 110%，2026-W46）"
    assert "实际值" in zh[2] and "达成率" in zh[2] and "说明" in zh[2]
    assert any("140.0% 按上限 110% 计入" in line for line in zh)
    en = _card_lines(project, "en")
    assert en[0] == "Team A: 93.1% (weights counted 4, cap 110%, 2026-W46)"
    assert "Attain." in en[2] and "Note" in en[2]
    assert any("140.0% capped at 110%" in line for line in en)

    args = ["scorecard", "-p", str(project), "--period", "2026-W46", "-f", "json"]
    data = json.loads(runner.invoke(app, [*args, "--lang", "zh"]).stdout)
    kpis = {k["id"]: k for k in data["owners"][0]["kpis"]}
    assert kpis["sales_b"]["reason"] == "140.0% capped at 110%"
    assert kpis["sales_b"]["reason_code"] == "capped"
    assert kpis["sales_b"]["reason_text"] == "140.0% 按上限 110% 计入"
    assert kpis["sales_a"]["reason"] == "counted"
