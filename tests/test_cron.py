"""The installed ``kpi`` under cron's conditions: ``env -i``, no TTY, no LANG,
another working folder; two runs at once; a run killed with SIGKILL."""

from __future__ import annotations

import datetime as dt
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from kpi_cli.cli import app
from kpi_cli.errors import EXIT_LOCKED

KPI = Path(sys.executable).parent / "kpi"
W48 = "2026-W48"
ESC = b"\x1b"


def cron_env(home: Path, **extra: str) -> dict[str, str]:
    """What cron gives a job: a bare PATH and HOME, nothing else."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), **extra}


def run_kpi(
    args: list[str], home: Path, **extra: str
) -> subprocess.CompletedProcess[bytes]:
    # `env -i` clears the environment exactly as the brief's cron line does.
    env_args = [f"{k}={v}" for k, v in cron_env(home, **extra).items()]
    return subprocess.run(
        ["env", "-i", *env_args, str(KPI), *args],
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture
def shop(sample_project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    # Without .kpi: other tests' reviews of the shared project record history.
    shutil.copytree(sample_project, target, ignore=shutil.ignore_patterns(".kpi"))
    return target


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def history(shop: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(shop / ".kpi" / "history.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_installed_kpi_runs_under_a_bare_cron_environment(
    shop: Path, home: Path
) -> None:
    assert KPI.is_file(), f"the package is not installed as {KPI}"
    table = run_kpi(["review", "--project", str(shop), "--period", W48], home)

    assert table.returncode == 0, table.stderr.decode()
    assert ESC not in table.stdout
    assert table.stderr == b""
    text = table.stdout.decode("utf-8")
    assert "销售额" in text
    # A fixed width without a terminal (no COLUMNS under cron): Rich's 80
    # columns or the CLI's own pipe width, never a guess wider than 120 cells.
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= 120

    # KPI_PROJECT instead of --project; verbose logs are plain lines too.
    out = shop / "reports" / "{period}.html"
    logged = run_kpi(
        ["--verbose", "review", "--period", W48, "-f", "html", "-o", str(out)],
        home,
        KPI_PROJECT=str(shop),
    )
    assert logged.returncode == 0, logged.stderr.decode()
    assert ESC not in logged.stderr
    assert b"INFO: loading sources took" in logged.stderr
    report = shop / "reports" / f"{W48}.html"
    assert report.read_bytes().lstrip().lower().startswith(b"<!doctype html>")
    assert history(shop, "SELECT count(*) FROM runs") == [(2,)]


def test_errors_under_cron_are_one_plain_line(home: Path) -> None:
    result = run_kpi(["review", "--project", str(home / "missing")], home)

    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Project error: no kpi.toml in ")
    assert "Traceback" not in result.stderr.decode()


def test_no_color_on_a_terminal_means_no_escape_codes(shop: Path, home: Path) -> None:
    # stderr is a real terminal here; stdout is a pipe (the report).
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            ["env", "-i", *[f"{k}={v}" for k, v in cron_env(home).items()]]
            + ["NO_COLOR=1", "TERM=xterm-256color", str(KPI), "--verbose", "review"]
            + ["--project", str(shop), "--period", W48],
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
        stdout, _ = process.communicate(timeout=300)
        os.close(terminal)
        terminal = -1
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)

    assert process.returncode == 0
    assert ESC not in stdout
    assert b"loading sources took" in seen
    assert ESC not in seen


def test_two_runs_at_once_both_finish_and_history_stays_consistent(
    shop: Path, home: Path
) -> None:
    args = ["review", "--project", str(shop), "--period", W48, "-f", "json"]
    env_args = [f"{k}={v}" for k, v in cron_env(home).items()]
    processes = [
        subprocess.Popen(
            ["env", "-i", *env_args, str(KPI), *args, "-o", str(home / f"{i}.json")],
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=300) for p in processes]

    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()
    kpis = history(shop, "SELECT count(*) FROM kpi_results")[0][0]
    assert history(shop, "SELECT run_id FROM runs ORDER BY run_id") == [(1,), (2,)]
    # One record per KPI of the period: the second run replaced the first's.
    assert history(
        shop,
        "SELECT count(DISTINCT kpi_id), count(*), min(period_label) FROM kpi_results",
    ) == [(kpis, kpis, W48)]
    assert history(
        shop, "SELECT count(*) FROM source_health GROUP BY run_id ORDER BY run_id"
    ) == [(4,), (4,)]


def test_a_busy_history_is_exit_5(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kpi_cli import history as history_module

    monkeypatch.setattr(history_module, "LOCK_TIMEOUT", 0.3)
    path = shop / ".kpi" / "history.duckdb"
    with history_module.locked(path):
        result = CliRunner().invoke(
            app, ["review", "--project", str(shop), "--period", W48, "-f", "json"]
        )

    assert result.exit_code == EXIT_LOCKED
    assert result.stderr == (
        f"Busy: history {path} is locked by another run (waited 0.3 s on "
        f"{path}.lock); try again when it has finished, or pass --no-history\n"
    )


@pytest.fixture(scope="module")
def big_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project over a generated sample five times the size (slow to review)."""
    from kpi_cli.sample import generate
    from kpi_cli.scaffold import create_project

    root = tmp_path_factory.mktemp("big") / "shop"
    create_project(root, name="Big shop", language="zh")
    generate(root / "data", end=dt.date(2026, 11, 29), scale=5)
    return root


def test_a_run_killed_midway_leaves_the_report_and_history_as_they_were(
    big_shop: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    report = big_shop / "reports" / "week.html"
    args = ["review", "--project", str(big_shop), "--period", "2026-W47"]
    args += ["-f", "html", "-o", str(report)]
    first = run_kpi(args, home)
    assert first.returncode == 0, first.stderr.decode()
    before = report.read_bytes()
    rows_sql = "SELECT * FROM kpi_results ORDER BY kpi_id"
    runs_before = history(big_shop, "SELECT * FROM runs")
    rows_before = history(big_shop, rows_sql)

    env_args = [f"{k}={v}" for k, v in cron_env(home).items()]
    process = subprocess.Popen(
        ["env", "-i", *env_args, str(KPI), *args],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)
    assert process.poll() is None, "the review finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert report.read_bytes() == before
    assert history(big_shop, "SELECT * FROM runs") == runs_before
    assert history(big_shop, rows_sql) == rows_before
    leftovers = [p.name for p in report.parent.iterdir() if p.name != report.name]
    assert leftovers == []
