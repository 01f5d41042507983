"""`kpi sources`: files, detected encoding and delimiter, typed columns, ranges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app

PROJECT = """
[project]
name = "sources"
timezone = "Asia/Shanghai"
language = "en"
data_dir = "data"

[sources.orders]
path = "orders_*.csv"
time_column = "paid_at"
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "实付金额" = "amount" }
types = { amount = "decimal(18,2)" }

[sources.stores]
path = "stores.tsv"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "kpi.toml").write_text(PROJECT, encoding="utf-8")
    # A GBK export with ';' between fields, and a UTF-8 one with ','.
    (data / "orders_1.csv").write_bytes(
        "订单号;付款时间;实付金额\nA1;2026-03-02 09:15;12.50\nA2;2026-03-03 18:40;7.00\n".encode(
            "gbk"
        )
    )
    (data / "orders_2.csv").write_text(
        "订单号,付款时间,实付金额\nA3,2026-03-05 08:00,1.25\n", encoding="utf-8"
    )
    (data / "stores.tsv").write_text("store\tcity\nS1\t杭州\n", encoding="utf-8")

    return tmp_path


def test_json_lists_files_columns_and_range(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["sources", "-p", str(project), "--format", "json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"version", "project", "sources"}
    orders, stores = data["sources"]
    assert orders == {
        "name": "orders",
        "rows": 3,
        "time_column": "paid_at",
        "first": "2026-03-02 09:15:00",
        "last": "2026-03-05 08:00:00",
        "columns": [
            {"name": "order_id", "type": "VARCHAR"},
            {"name": "paid_at", "type": "TIMESTAMP"},
            {"name": "amount", "type": "DECIMAL(18,2)"},
        ],
        "files": [
            {
                "path": "orders_1.csv",
                "rows": 2,
                "encoding": "gb18030",
                "delimiter": ";",
                "state": "ok",
            },
            {
                "path": "orders_2.csv",
                "rows": 1,
                "encoding": "utf-8",
                "delimiter": ",",
                "state": "ok",
            },
        ],
        "warnings": [],
    }
    assert stores["time_column"] is None and stores["first"] is None
    assert stores["files"][0]["delimiter"] == "\t"
    assert stores["columns"] == [
        {"name": "store", "type": "VARCHAR"},
        {"name": "city", "type": "VARCHAR"},
    ]


def test_table_shows_each_source_and_file(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")

    result = runner.invoke(app, ["sources", "-p", str(project)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()

    def cells(start: str) -> list[list[str]]:
        return [
            [c.strip() for c in line.strip("│").split("│")]
            for line in lines
            if line.startswith(start)
        ]

    summary, *files = cells("│ orders ")
    assert summary == [
        "orders",
        "2",
        "3",
        "paid_at",
        "2026-03-02 09:15",
        "2026-03-05 08:00",
    ]
    assert files == [
        ["orders", "orders_1.csv", "ok", "2", "gb18030", ";"],
        ["orders", "orders_2.csv", "ok", "1", "utf-8", ","],
    ]
    assert cells("│ stores ")[1] == ["stores", "stores.tsv", "ok", "1", "utf-8", "tab"]
    assert (
        "  orders: order_id VARCHAR, paid_at TIMESTAMP, amount DECIMAL(18,2)" in lines
    )


def test_a_glob_matching_nothing_exits_3(project: Path, runner: CliRunner) -> None:
    (project / "data" / "stores.tsv").unlink()

    result = runner.invoke(app, ["sources", "-p", str(project)])

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Data error: source 'stores': no file matches 'stores.tsv' in "
    )
    assert result.stdout == ""


def test_an_unknown_project_key_exits_2(project: Path, runner: CliRunner) -> None:
    text = (project / "kpi.toml").read_text(encoding="utf-8")
    (project / "kpi.toml").write_text(text + "[health]\nvolume_drp = 0.4\n", "utf-8")

    result = runner.invoke(app, ["sources", "-p", str(project)])

    assert result.exit_code == 2
    assert (
        "health.volume_drp: unknown key 'volume_drp'; did you mean 'volume_drop'?"
        in (result.stderr)
    )
