"""`kpi segments`: JSON against plain SQL over the sample shop, formats, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app

WEEK = "2026-W48"  # as of 2026-11-29


def _segments_by_sql(project: Path) -> dict[str, int]:
    """Members per segment as of 2026-11-29, from the raw export."""
    con = duckdb.connect()
    rows = con.execute(
        """
        WITH o AS (
            SELECT "买家ID" AS c, CAST(CAST("付款时间" AS TIMESTAMP) AS DATE) AS d,
                   CAST("实付金额" AS DECIMAL(18,2)) AS a
            FROM read_csv(?, all_varchar = true)
            WHERE "付款时间" <> '' AND CAST("付款时间" AS TIMESTAMP) < TIMESTAMP '2026-11-30'
        ),
        c AS (
            SELECT c, max(d) AS last,
                   count(*) FILTER (WHERE d > DATE '2026-11-29' - 365) AS n,
                   coalesce(sum(a) FILTER (WHERE d > DATE '2026-11-29' - 365), 0) AS m
            FROM o GROUP BY c
        )
        SELECT CASE WHEN DATE '2026-11-29' - last >= 90 THEN 'dormant'
                    WHEN n >= 3 OR m >= 1000 THEN 'high_value' ELSE 'regular' END,
               count(*)
        FROM c GROUP BY 1
        """,
        [str(project / "data" / "orders.csv")],
    ).fetchall()

    return dict(rows)


def test_json_counts_match_plain_sql(runner: CliRunner, sample_project: Path) -> None:
    result = runner.invoke(
        app, ["segments", "-p", str(sample_project), "--period", WEEK, "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = _segments_by_sql(sample_project)

    assert {s["segment"]: s["members"] for s in data["segments"]} == expected
    assert data["members"] == sum(expected.values())
    assert data["as_of"] == "2026-11-29" and data["before"] == "2026-11-22"
    assert sum(s["share"] for s in data["segments"]) == pytest.approx(1)
    moved = data["transitions"]
    assert (
        data["reactivated"]
        == moved["dormant"]["regular"] + moved["dormant"]["high_value"]
    )
    # Every member now came from somewhere: the matrix adds up to the counts.
    for segment in expected:
        column = sum(moved[origin][segment] for origin in moved)
        assert column == expected[segment]
    assert data["segments"][0]["names"] == {"zh": "高价值会员", "en": "High value"}


def test_reactivations_equal_the_pack_kpi(
    runner: CliRunner, sample_project: Path
) -> None:
    """Both count dormant members who paid in the week, in two different queries.

    They could differ by a member who turned dormant during the week and then
    ordered (dormant the day before the order, not at the week's start); the
    sample shop's week has none, so the counts must agree exactly.
    """
    seg = runner.invoke(
        app, ["segments", "-p", str(sample_project), "--period", WEEK, "-f", "json"]
    )
    review = runner.invoke(
        app,
        [
            "review",
            "-p",
            str(sample_project),
            "--period",
            WEEK,
            "-f",
            "json",
            "--kpi",
            "reactivated_members",
        ],
    )
    assert seg.exit_code == 0 and review.exit_code == 0, seg.output + review.output

    kpi = json.loads(review.stdout)["kpis"][0]
    assert kpi["value"] == json.loads(seg.stdout)["reactivated"]


@pytest.mark.parametrize("fmt", ["table", "md"], ids=str)
def test_text_formats(runner: CliRunner, sample_project: Path, fmt: str) -> None:
    result = runner.invoke(
        app,
        ["segments", "-p", str(sample_project), "--period", WEEK, "-f", fmt],
        env={"COLUMNS": "140", "NO_COLOR": "1"},
    )

    assert result.exit_code == 0, result.output
    for name in ("高价值会员", "普通会员", "沉睡会员", "沉睡会员唤醒"):
        assert name in result.stdout


def test_misconfigured_segments_exit_2(
    runner: CliRunner, sample_project: Path, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    shutil.copytree(sample_project, project)
    config = project / "kpi.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[segments]\ncustomer = "buyer"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["segments", "-p", str(project), "--period", WEEK])

    assert result.exit_code == 2, result.output
    assert "[segments]" in result.stderr and "customer = 'buyer'" in result.stderr


def test_unknown_segments_key_is_named(
    runner: CliRunner, sample_project: Path, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    shutil.copytree(sample_project, project)
    config = project / "kpi.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[segments]\ndormant_day = 60\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["segments", "-p", str(project)])

    assert result.exit_code == 2
    assert "segments.dormant_day: unknown key" in result.stderr
    assert "did you mean 'dormant_days'?" in result.stderr
