"""`kpi review`, `kpi sql`, `kpi init` and the CLI's promises: help, exit codes, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app
from kpi_cli.render_data import CSV_COLUMNS

WEEK = "2026-W48"


def copy_project(sample_project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    shutil.copytree(sample_project, target)
    return target


def test_every_command_has_help(runner: CliRunner) -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert {"review", "demo", "init", "sql", "sample"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output
        assert f"kpi {name}" in readme, f"README does not mention kpi {name}"


def test_top_level_help_lists_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for code in ("0 success", "2 bad", "3 data"):
        assert code in " ".join(result.output.split())


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from kpi_cli.cli import app\n"
        "try:\n    app(['--help'], prog_name='kpi')\nexcept SystemExit:\n    pass\n"
        "heavy = {'duckdb', 'pyarrow', 'jinja2', 'babel', 'pydantic'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip().splitlines()[-1] == "[]"


def test_review_json_has_the_documented_shape(
    sample_project: Path, runner: CliRunner
) -> None:
    result = runner.invoke(
        app,
        ["review", "--project", str(sample_project), "--period", WEEK, "-f", "json"],
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"] == "Sample shop"
    assert data["period"] == {
        "grain": "week",
        "label": WEEK,
        "start": "2026-11-23",
        "end": "2026-11-29",
        "partial": False,
        "full_end": "2026-11-29",
    }
    first = data["kpis"][0]
    for key in (
        "id",
        "name",
        "unit",
        "direction",
        "value",
        "target",
        "attainment",
        "status",
        "previous",
        "year_ago",
        "trend",
        "breakdown",
    ):
        assert key in first
    assert set(first["previous"]) >= {"value", "change", "change_pct"}
    assert len(first["trend"]) == 12
    assert first["trend"][-1]["period"] == WEEK
    assert set(first["breakdown"]) == {"dimension", "rows"}
    assert set(first["breakdown"]["rows"][0]) >= {"key", "value", "target"}
    # Core KPIs come first.
    cores = [k["core"] for k in data["kpis"]]
    assert cores == sorted(cores, reverse=True)


def test_csv_and_markdown_give_one_row_per_kpi(
    sample_project: Path, runner: CliRunner
) -> None:
    args = ["review", "-p", str(sample_project), "--period", WEEK]
    as_csv = runner.invoke(app, [*args, "-f", "csv"])
    as_md = runner.invoke(app, [*args, "-f", "md", "--lang", "en"])

    assert as_csv.exit_code == 0 and as_md.exit_code == 0
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert len(lines) == 1 + 12  # the pack's twelve KPIs
    table = [line for line in as_md.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| KPI | Value | Target")
    assert len(table) == 1 + 12


def test_out_writes_a_file_from_a_template(
    sample_project: Path, tmp_path: Path, runner: CliRunner
) -> None:
    out = tmp_path / "reports" / "{project}-{period}.json"
    result = runner.invoke(
        app,
        [
            "review",
            "-p",
            str(sample_project),
            "--period",
            WEEK,
            "-f",
            "json",
            "-o",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    written = list((tmp_path / "reports").iterdir())
    assert len(written) == 1 and WEEK in written[0].name
    assert json.loads(written[0].read_text(encoding="utf-8"))["period"]["label"] == WEEK


def test_the_project_can_come_from_the_environment(
    sample_project: Path, runner: CliRunner
) -> None:
    result = runner.invoke(
        app,
        ["review", "--period", WEEK, "-f", "csv"],
        env={"KPI_PROJECT": str(sample_project)},
    )

    assert result.exit_code == 0, result.output


def test_sql_prints_the_grouped_query(sample_project: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["sql", "aov", "-p", str(sample_project), "--period", WEEK]
    )

    assert result.exit_code == 0, result.output
    assert "GROUPING SETS" in result.stdout
    # AOV shares its model, time column and filter with GMV: one query for both.
    assert '"gmv"' in result.stdout and '"aov"' in result.stdout
    assert "2026-11-23 00:00:00" in result.stdout


def test_init_refuses_a_non_empty_folder(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine", encoding="utf-8")

    result = runner.invoke(app, ["init", str(tmp_path / "busy")])

    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "busy" / "notes.txt").read_text(encoding="utf-8") == "mine"


def _break(project: Path, old: str, new: str, file: str = "kpi.toml") -> None:
    path = project / file
    path.write_text(
        path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("mutate", "code", "needles"),
    [
        (None, 2, ["2026-W99", "ISO weeks 1..53"]),
        (lambda p: (p / "kpi.toml").unlink(), 2, ["no kpi.toml", "kpi init"]),
        (
            lambda p: _break(p, 'measure = "sum(amount)"', 'measure = "sum(amout)"'),
            2,
            ["gmv", "amout"],
        ),
        (
            lambda p: _break(
                p,
                "o.paid_at IS NOT NULL AS is_paid",
                "o.payd_at IS NOT NULL AS is_paid",
                "queries/orders.sql",
            ),
            2,
            ["orders.sql", "payd_at"],
        ),
        (lambda p: (p / "data" / "traffic.csv").unlink(), 3, ["traffic*.csv"]),
        (
            lambda p: _break(p, '"实付金额" = "amount"', '"实付金额x" = "amount"'),
            3,
            ["amount"],
        ),
        (
            lambda p: _break(p, 'unit = "currency"', 'unit = "money"'),
            2,
            ["kpis[gmv].unit"],
        ),
    ],
    ids=[
        "bad-period",
        "no-project",
        "bad-measure",
        "bad-model-sql",
        "missing-file",
        "missing-column",
        "bad-config",
    ],
)
def test_errors_are_one_clear_message_and_an_exit_code(
    sample_project: Path,
    tmp_path: Path,
    runner: CliRunner,
    mutate,
    code: int,
    needles: list[str],
) -> None:
    project = copy_project(sample_project, tmp_path)
    if mutate is not None:
        mutate(project)
    period = "2026-W99" if mutate is None else WEEK

    result = runner.invoke(
        app, ["review", "-p", str(project), "--period", period, "-f", "json"]
    )

    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_debug_shows_the_traceback(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["--debug", "review", "-p", str(tmp_path)])

    assert result.exit_code != 0
    assert result.exception is not None
    assert "no kpi.toml" in str(result.exception)


def test_a_failed_review_leaves_the_previous_report(
    sample_project: Path, tmp_path: Path, runner: CliRunner
) -> None:
    project = copy_project(sample_project, tmp_path)
    out = tmp_path / "report.json"
    out.write_text("previous report", encoding="utf-8")
    _break(project, 'measure = "sum(amount)"', 'measure = "sum(amout)"')

    result = runner.invoke(
        app,
        ["review", "-p", str(project), "--period", WEEK, "-f", "json", "-o", str(out)],
    )

    assert result.exit_code == 2
    assert out.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("report")] == [
        "report.json"
    ]


def test_as_of_alone_reviews_its_period_to_date(
    sample_project: Path, runner: CliRunner
) -> None:
    result = runner.invoke(
        app,
        [
            "review",
            "-p",
            str(sample_project),
            "--as-of",
            "2026-11-10",
            "-f",
            "json",
            "--no-history",
        ],
    )

    assert result.exit_code == 0, result.output
    period = json.loads(result.stdout)["period"]
    assert (period["label"], period["start"], period["end"]) == (
        "2026-W46",
        "2026-11-09",
        "2026-11-10",
    )
    assert period["partial"] is True


@pytest.mark.parametrize(
    ("measure", "needles"),
    [
        ("sum(amountt)", ["KPI 'gmv'", "amountt"]),
        ("string_agg(channel)", ["KPI 'gmv'", "must return a number"]),
    ],
    ids=["unknown-column", "text-measure"],
)
def test_a_broken_measure_is_named_alone(
    sample_project: Path,
    tmp_path: Path,
    runner: CliRunner,
    measure: str,
    needles: list[str],
) -> None:
    project = copy_project(sample_project, tmp_path)
    _break(project, 'measure = "sum(amount)"', f'measure = "{measure}"')

    result = runner.invoke(
        app, ["review", "-p", str(project), "--period", WEEK, "--no-history"]
    )

    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in result.stderr
    # Neither the other KPIs of the model nor internal helper measures are blamed.
    assert "aov" not in result.stderr and "__" not in result.stderr


def test_an_unwritable_out_is_an_output_error(
    sample_project: Path, tmp_path: Path, runner: CliRunner
) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()

    result = runner.invoke(
        app,
        [
            "review",
            "-p",
            str(sample_project),
            "--period",
            WEEK,
            "-f",
            "json",
            "-o",
            str(folder),
            "--no-history",
        ],
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("Output error: cannot write")
    assert list(folder.iterdir()) == []
    assert list(tmp_path.glob(".*.tmp")) == []


def test_ctrl_c_exits_130_without_a_traceback(
    sample_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("kpi_cli.review.run_review", interrupted)

    result = runner.invoke(
        app, ["review", "-p", str(sample_project), "--period", WEEK, "--no-history"]
    )

    assert result.exit_code == 130
    assert result.stderr.startswith("Interrupted:")
    assert "Traceback" not in result.stderr
