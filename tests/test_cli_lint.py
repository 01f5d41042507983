"""``kpi lint``: exit codes, formats, and the sample project's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

from test_lint import PROJECT_KPIS, _weekly_rows
from test_targets import make_project
from typer.testing import CliRunner

from kpi_cli.cli import app

GOOD = """
[[kpis]]
id = "gmv"
name = "GMV"
description = "Sales."
owner = "Ops"
objective = "Sell more"
unit = "currency"
model = "sales"
measure = "sum(amount)"
[kpis.target]
value = {target}
due = "2099-12-31"
"""


def _run(runner: CliRunner, *args: str) -> object:
    return runner.invoke(app, ["lint", *args])


def test_clean_project_exits_0_and_warnings_exit_1_with_strict(
    tmp_path: Path, runner: CliRunner
) -> None:
    # Weekly sums are 840 (see test_lint); 850 is met by none but needs only
    # +1.2% -- yet the history is flat (p90 0%), so aim at 840 to pass A.
    root = make_project(tmp_path / "p", GOOD.format(target=840.01), _weekly_rows())
    result = _run(runner, "-p", str(root), "--format", "json")
    data = json.loads(result.stdout)
    gmv = data["kpis"][0]
    assert gmv["checks"]["A"]["state"] == "fail"  # beyond 840, p90 change 0
    assert result.exit_code == 1

    easy = make_project(tmp_path / "q", GOOD.format(target=500), _weekly_rows())
    result = _run(runner, "-p", str(easy))
    # One core-count warning and a too-easy target: warnings only.
    assert result.exit_code == 0, result.output
    assert "too easy" in result.stdout
    assert "0 core KPI(s)" in result.stdout
    assert _run(runner, "-p", str(easy), "--strict").exit_code == 1


def test_definition_errors_exit_1_and_name_the_field(
    tmp_path: Path, runner: CliRunner
) -> None:
    root = make_project(
        tmp_path / "p", PROJECT_KPIS.format(gmv_target=1000), _weekly_rows()
    )
    result = _run(runner, "-p", str(root), "-f", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    wheres = {f["where"] for f in data["findings"] if f["severity"] == "fail"}
    assert wheres == {
        "kpi.toml: kpis[bad_dim].dimension",
        "kpi.toml: kpis[bad_model].model",
        "kpi.toml: kpis[bad_filter].filter",
        "kpi.toml: kpis[bad_measure].measure",
    }
    assert data["ok"] is False


def test_invalid_project_file_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    root = make_project(
        tmp_path / "p",
        GOOD.format(target=1).replace("[kpis.target]", "wieght = 2\n[kpis.target]"),
        [],
    )
    result = _run(runner, "-p", str(root))
    assert result.exit_code == 2
    assert "kpis[gmv].wieght: unknown key 'wieght'; did you mean 'weight'?" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_sample_project_verdicts(sample_project: Path, runner: CliRunner) -> None:
    """Every built-in KPI with a target passes all five letters; one without a
    target fails A and T, and then (only then) the run exits 1."""
    result = _run(runner, "-p", str(sample_project), "-f", "json")
    data = json.loads(result.stdout)
    assert data["findings"] == []
    targeted = [k for k in data["kpis"] if k["history"] is not None]
    assert {"gmv", "orders", "aov", "conversion_rate", "cac"} <= {
        k["id"] for k in targeted
    }
    for k in targeted:
        assert k["state"] == "pass", k
    untargeted = [k for k in data["kpis"] if k["history"] is None]
    for k in untargeted:
        assert k["checks"]["A"] == {
            "state": "fail",
            "reason": "no target value, growth or range",
        }
        assert k["checks"]["T"]["reason"].endswith("; no target")
    assert result.exit_code == (1 if untargeted else 0), result.output


def _lint_lines(root: Path, lang: str) -> list[str]:
    from rich.console import Console

    from kpi_cli.lint import lint_project, lint_renderable
    from kpi_cli.project import load_project

    report = lint_project(load_project(root))
    console = Console(width=120, color_system=None)
    with console.capture() as captured:
        console.print(lint_renderable(report, lang))
    return [line.rstrip() for line in captured.get().splitlines()]


def test_lint_speaks_zh_and_en_and_json_stays_english(
    tmp_path: Path, runner: CliRunner
) -> None:
    # Every weekly sum is 840 (test_lint._weekly_rows): a target of 500 is met
    # in all of them, so A warns "too easy"; 500 vs last 840 needs -40.5%.
    rows = _weekly_rows()
    weekly = {}
    for day, _, amount in rows:
        key = day.isocalendar()[:2]
        weekly[key] = weekly.get(key, 0.0) + float(amount)
    assert set(weekly.values()) == {840.0}
    needed = f"{(500 - 840) / 840 * 100:+.1f}%"
    assert needed == "-40.5%"
    root = make_project(tmp_path / "p", GOOD.format(target=500), rows)
    data = json.loads(
        _run(runner, "-p", str(root), "-f", "json", "--lang", "zh").stdout
    )
    a = data["kpis"][0]["checks"]["A"]
    periods = data["kpis"][0]["history"]["periods"]
    assert a["state"] == "warn" and a["code"] == "too_easy"
    assert a["reason"].startswith("too easy: target ¥500.00; best ¥840.00; ")
    assert a["text"] == (
        f"目标过易：目标 ¥500.00；历史最佳 ¥840.00；{periods} 个周中 100% 达标；"
        f"较上一周需 {needed}，p90 变化 +0.0%"
    )
    assert data["kpis"][0]["checks"]["S"]["reason"] == "owner Ops"

    zh = _lint_lines(root, "zh")
    assert "│ gmv │ ✓ 通过 │ ✓ 通过 │ ! 警告 │ ✓ 通过 │ ✓ 通过 │" in zh
    assert f"gmv A（目标与历史） ! {a['text']}" in zh
    assert zh[-1] == "1 个 KPI：0 个通过，1 个警告，0 个未通过；0 个定义错误，1 个警告"
    en = _lint_lines(root, "en")
    assert "│ gmv │ ✓ pass │ ✓ pass │ ! warn │ ✓ pass │ ✓ pass │" in en
    assert f"gmv A ! {a['reason']}" in en
    assert (
        en[-1]
        == "1 KPI(s): 0 pass, 1 warn, 0 fail; 0 definition error(s), 1 warning(s)"
    )
