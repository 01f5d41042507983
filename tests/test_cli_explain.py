"""`kpi explain`: formats, numbers against plain SQL, and errors with exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app

WEEK = "2026-W48"


def _gmv_by_channel(project: Path) -> dict[tuple[str, str], Decimal]:
    """Paid amount per (week, channel) for W47 and W48, straight from the CSV."""
    con = duckdb.connect()
    rows = con.execute(
        """
        SELECT CASE WHEN CAST("付款时间" AS TIMESTAMP) >= TIMESTAMP '2026-11-23'
                    THEN 'W48' ELSE 'W47' END,
               "渠道", sum(CAST("实付金额" AS DECIMAL(18,2)))
        FROM read_csv(?, all_varchar = true)
        WHERE "付款时间" <> ''
          AND CAST("付款时间" AS TIMESTAMP) >= TIMESTAMP '2026-11-16'
          AND CAST("付款时间" AS TIMESTAMP) < TIMESTAMP '2026-11-30'
        GROUP BY ALL
        """,
        [str(project / "data" / "orders.csv")],
    ).fetchall()

    return {(week, channel): amount for week, channel, amount in rows}


def test_json_contributions_match_plain_sql(
    runner: CliRunner, sample_project: Path
) -> None:
    result = runner.invoke(
        app,
        ["explain", "gmv", "-p", str(sample_project), "--period", WEEK, "-f", "json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sums = _gmv_by_channel(sample_project)

    assert (data["kpi"], data["against"], data["period"]["label"]) == (
        "gmv",
        "previous",
        WEEK,
    )
    before = sum(v for (w, _), v in sums.items() if w == "W47")
    after = sum(v for (w, _), v in sums.items() if w == "W48")
    assert data["total_change"] == float(after - before)
    for row in data["contributions"]:
        key = row["key"]
        expected = sums.get(("W48", key), Decimal(0)) - sums.get(
            ("W47", key), Decimal(0)
        )
        assert row["contribution"] == float(expected), key
    changes = [abs(r["contribution"]) for r in data["contributions"]]
    assert changes == sorted(changes, reverse=True)
    total = sum(Decimal(str(r["contribution"])) for r in data["contributions"])
    assert total == Decimal(str(data["total_change"]))


def test_ratio_json_has_mix_and_rate(runner: CliRunner, sample_project: Path) -> None:
    result = runner.invoke(
        app,
        [
            "explain",
            "conversion_rate",
            "-p",
            str(sample_project),
            "--period",
            WEEK,
            "-f",
            "json",
            "--against",
            "year_ago",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)

    assert data["method"] == "mix_rate"
    assert data["comparison"]["label"] == "2025-W48"
    for row in data["contributions"]:
        assert row["contribution"] == pytest.approx(
            row["mix_effect"] + row["rate_effect"]
        )
    assert sum(r["contribution"] for r in data["contributions"]) == pytest.approx(
        data["total_change"], abs=1e-12
    )
    assert data["total_change"] == pytest.approx(data["value"] - data["base"])


@pytest.mark.parametrize("fmt", ["table", "md"], ids=str)
def test_text_formats(runner: CliRunner, sample_project: Path, fmt: str) -> None:
    result = runner.invoke(
        app,
        ["explain", "aov", "-p", str(sample_project), "--period", WEEK, "-f", fmt],
        env={"COLUMNS": "120", "NO_COLOR": "1"},
    )

    assert result.exit_code == 0, result.output
    assert "结构效应" in result.stdout and "比率效应" in result.stdout
    assert "直播" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["explain", "gmvv"], 2, "unknown KPI 'gmvv'"),
        (
            ["explain", "gmv", "--by", "nope"],
            2,
            "--by 'nope': model 'orders' has no such column",
        ),
        (
            ["explain", "gmv", "--against", "lastyear"],
            2,
            "Invalid value for '--against'",
        ),
        (["explain", "satisfaction"], 2, "has no dimension; pass --by"),
    ],
    ids=["unknown-kpi", "unknown-column", "bad-against", "no-dimension"],
)
def test_errors(
    runner: CliRunner, sample_project: Path, args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, [*args, "-p", str(sample_project), "--period", WEEK])

    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
