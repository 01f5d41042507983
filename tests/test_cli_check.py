"""`kpi check`: source health without KPI queries, exit codes, JSON shape."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app

CASES = Path(__file__).parent / "cases"
W10 = "2026-W10"
MONDAY = dt.date(2026, 3, 2)

PROJECT = """
[project]
name = "check"
timezone = "Asia/Shanghai"
language = "en"
data_dir = "data"

[sources.orders]
path = "orders*.csv"
time_column = "at"
key = ["order_id"]
types = { amount = "decimal(18,2)" }

[sources.spend]
path = "spend.csv"
time_column = "day"
sparse = true
types = { day = "date", spend = "decimal(18,2)" }

[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
model = "orders"
measure = "sum(amount)"
"""


def write(root: Path, orders: list[tuple[str, int, str]]) -> Path:
    """A project whose orders are (id, day offset from 2026-03-02, amount)."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "kpi.toml").write_text(PROJECT, encoding="utf-8")
    lines = ["order_id,at,amount"]
    for key, offset, amount in orders:
        at = (MONDAY + dt.timedelta(days=offset)).isoformat() + " 12:00"
        lines.append(f"{key},{at},{amount}")
    (root / "data" / "orders.csv").write_text("\n".join(lines) + "\n", "utf-8")
    (root / "data" / "spend.csv").write_text(
        "day,spend\n2026-03-01,100.00\n2026-03-04,50.00\n", "utf-8"
    )

    return root


def every_day(tmp_path: Path) -> Path:
    return write(tmp_path / "p", [(f"A{d}", d, "10.00") for d in range(7)])


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")


def test_healthy_sources_exit_0_with_the_table(
    tmp_path: Path, runner: CliRunner
) -> None:
    root = every_day(tmp_path)

    result = runner.invoke(app, ["check", "-p", str(root), "--period", W10])

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # The summary table comes first; the files table repeats the source names.
    orders = next(line for line in lines if line.startswith("│ orders "))
    cells = [c.strip() for c in orders.strip("│").split("│")]
    # rows, range, empty days, duplicates, null keys, no time, volume, state
    assert cells[1:] == [
        "7",
        "03-02 12:00 … 03-08 12:00",
        "0",
        "0",
        "0.0%",
        "0",
        "—",
        "✓ complete",
    ]
    spend = next(line for line in lines if line.startswith("│ spend "))
    # Sparse: one row on Wednesday, six empty days, and that is no issue.
    assert [c.strip() for c in spend.strip("│").split("│")][1:4] == [
        "1",
        "03-04 … 03-04",
        "6",
    ]
    assert "✓ All sources healthy" in result.stdout


def test_an_issue_exits_1_and_names_the_source_on_stderr(
    tmp_path: Path, runner: CliRunner
) -> None:
    # Tuesday and Friday empty; A3 exported twice in the file.
    orders = [(f"A{d}", d, "10.00") for d in (0, 2, 3, 5, 6)] + [("A3", 3, "10.00")]
    root = write(tmp_path / "p", orders)

    result = runner.invoke(app, ["check", "-p", str(root), "--period", W10])

    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Data health: 1 of 2 source(s) have issues for 2026-W10: orders (3 issue(s))\n"
    )
    assert "orders: no rows on 2 of 7 days: 2026-03-03, 2026-03-06" in result.stdout
    assert "orders: 1 row(s) in the period repeat a key (order_id)" in result.stdout
    assert "Traceback" not in result.output


def test_json_has_the_documented_shape(tmp_path: Path, runner: CliRunner) -> None:
    root = write(
        tmp_path / "p", [("A1", 0, "10.00"), ("", 1, "5.00"), ("A3", 2, "1.00")]
    )

    result = runner.invoke(
        app, ["check", "-p", str(root), "--period", W10, "--format", "json"]
    )

    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"version", "project", "period", "healthy", "sources"}
    assert data["healthy"] is False
    assert data["period"]["label"] == W10
    orders, spend = data["sources"]
    assert set(orders) >= {
        "name",
        "rows",
        "period_rows",
        "first",
        "last",
        "complete",
        "stale",
        "empty_days",
        "duplicate_keys",
        "null_key_rows",
        "null_key_share",
        "null_time_rows",
        "trailing_periods",
        "trailing_median_rows",
        "volume_ratio",
        "volume_drop",
        "issues",
        "files",
    }
    # Rows Mon..Wed, data ends Wednesday 03-04: stale, Thu..Sun empty.
    assert orders["period_rows"] == 3
    assert orders["null_key_rows"] == 1
    assert orders["null_key_share"] == pytest.approx(1 / 3)
    assert orders["empty_days"] == [
        "2026-03-05",
        "2026-03-06",
        "2026-03-07",
        "2026-03-08",
    ]
    assert orders["complete"] is False
    assert orders["stale"] is True
    assert orders["last"] == "2026-03-04 12:00:00"
    assert orders["files"] == [
        {
            "path": "orders.csv",
            "rows": 3,
            "encoding": "utf-8",
            "delimiter": ",",
            "state": "ok",
        }
    ]
    assert spend["sparse"] is True and spend["issues"] == []


def test_an_unreadable_export_exits_3_without_traceback(
    tmp_path: Path, runner: CliRunner
) -> None:
    root = write(tmp_path / "p", [("A1", 0, "10.00"), ("A2", 1, "ten")])

    result = runner.invoke(app, ["check", "-p", str(root), "--period", W10])

    assert result.exit_code == 3
    assert result.stderr.startswith("Data error: orders.csv, line 3, column 'amount'")
    assert "'ten'" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_a_bad_period_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    root = every_day(tmp_path)

    result = runner.invoke(app, ["check", "-p", str(root), "--period", "2026-W60"])

    assert result.exit_code == 2
    assert result.stderr.startswith("Period error: period '2026-W60'")


def test_a_missing_project_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "-p", str(tmp_path)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Project error: no kpi.toml in {tmp_path}")


def test_case_19_names_the_zero_byte_export(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "data"
    shutil.copytree(CASES / "19-empty-and-header-only-files", data)
    (tmp_path / "kpi.toml").write_text(
        """
[project]
name = "case 19"
timezone = "Asia/Shanghai"
language = "en"
data_dir = "data"

[sources.visits]
path = "store_visits_*.csv"
time_column = "day"
columns = { "日期" = "day", "门店" = "store", "进店人数" = "visits" }
types = { day = "date", visits = "bigint" }
""",
        encoding="utf-8",
    )

    result = runner.invoke(
        app, ["check", "-p", str(tmp_path), "--period", "2025-04", "-f", "json"]
    )

    assert result.exit_code == 1, result.output
    (visits,) = json.loads(result.stdout)["sources"]
    states = {f["path"]: (f["state"], f["rows"]) for f in visits["files"]}
    assert states == {
        "store_visits_2025-01.csv": ("ok", 3),
        "store_visits_2025-02.csv": ("header_only", 0),
        "store_visits_2025-03.csv": ("empty", None),
        "store_visits_2025-04.csv": ("ok", 2),
    }
    assert visits["complete"] is False
    assert visits["issues"][0].startswith("store_visits_2025-03.csv is empty")
    assert visits["period_rows"] == 2
    assert "visits (" in result.stderr and "incomplete" in result.stderr

    table = runner.invoke(app, ["check", "-p", str(tmp_path), "--period", "2025-04"])
    (row,) = [
        line
        for line in table.stdout.splitlines()
        if line.startswith("│") and "store_visits_2025-03.csv" in line
    ]
    assert [c.strip() for c in row.strip("│").split("│")][2:4] == ["empty", "—"]
