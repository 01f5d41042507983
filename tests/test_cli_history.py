"""`kpi review` recording history, --fail-on, --email-to, --log-file, --quiet;
`kpi history` and `kpi schedule`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from test_deliver import free_port, parsed, smtp_server  # noqa: F401  (fixture)
from typer.testing import CliRunner

from kpi_cli.cli import app

W47, W48 = "2026-W47", "2026-W48"


@pytest.fixture
def shop(sample_project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    # Without .kpi: other tests' reviews of the shared project record history.
    shutil.copytree(sample_project, target, ignore=shutil.ignore_patterns(".kpi"))
    # Pin the targets these tests reason about, whatever the pack's tuning.
    toml = target / "kpi.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(
        r'(id = "gmv"[^\[]*?\[kpis\.target\]\nvalue = )\d+', r"\g<1>52000", text
    )
    text = re.sub(
        r'(id = "orders"[^\[]*?\[kpis\.target\]\nvalue = )\d+', r"\g<1>330", text
    )
    toml.write_text(text, encoding="utf-8")
    return target


def paid_sales(shop: Path, start: str, end: str) -> tuple[float, int]:
    """GMV and paid orders of [start, end) straight from the raw export."""
    con = duckdb.connect()
    try:
        return con.execute(
            "SELECT sum(CAST(实付金额 AS DECIMAL(18,2))), count(*) FROM read_csv(?, "
            "all_varchar = true) WHERE 付款时间 <> '' AND "
            "CAST(付款时间 AS TIMESTAMP) >= CAST(? AS TIMESTAMP) AND "
            "CAST(付款时间 AS TIMESTAMP) < CAST(? AS TIMESTAMP)",
            [str(shop / "data" / "orders.csv"), start, end],
        ).fetchone()
    finally:
        con.close()


def history_rows(shop: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(shop / ".kpi" / "history.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def review(runner: CliRunner, shop: Path, *args: str):
    return runner.invoke(app, ["review", "--project", str(shop), *args])


def test_review_records_history_and_kpi_history_shows_it(
    shop: Path, runner: CliRunner
) -> None:
    for week in (W47, W48):
        result = review(runner, shop, "--period", week, "-f", "json")
        assert result.exit_code == 0, result.output

    gmv47, orders47 = paid_sales(shop, "2026-11-16", "2026-11-23")
    gmv48, orders48 = paid_sales(shop, "2026-11-23", "2026-11-30")
    recorded = history_rows(
        shop,
        "SELECT period_label, value_exact, target FROM kpi_results "
        "WHERE kpi_id IN ('gmv', 'orders') ORDER BY kpi_id, period_start",
    )
    assert recorded == [
        (W47, str(gmv47), 52000.0),
        (W48, str(gmv48), 52000.0),
        (W47, str(orders47), 330.0),
        (W48, str(orders48), 330.0),
    ]
    assert history_rows(shop, "SELECT count(*) FROM runs") == [(2,)]
    assert history_rows(
        shop, "SELECT DISTINCT source FROM source_health ORDER BY 1"
    ) == [("marketing_spend",), ("orders_export",), ("reviews",), ("traffic",)]

    shown = runner.invoke(app, ["history", "gmv", "--project", str(shop), "-f", "json"])
    assert shown.exit_code == 0, shown.output
    (gmv,) = json.loads(shown.stdout)
    assert [(p["period"], p["value"]) for p in gmv["points"]] == [
        (W47, float(gmv47)),
        (W48, float(gmv48)),
    ]

    table = runner.invoke(app, ["history", "--project", str(shop)])
    assert table.exit_code == 0, table.output
    assert "销售额" in table.stdout


def test_a_streak_and_a_target_change_reach_the_review(
    shop: Path, runner: CliRunner
) -> None:
    # The sample's gmv: W47 51,310 and W48 49,972 against 52,000 with a 5%
    # band are both at risk (98.7%, 96.1%), so W48 is the second in a row.
    assert review(runner, shop, "--period", W47, "-f", "json").exit_code == 0
    toml = shop / "kpi.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("value = 52000", "value = 60000", 1), "utf-8")

    result = review(runner, shop, "--period", W48, "-f", "json", "--lang", "en")

    assert result.exit_code == 0, result.output
    gmv = next(k for k in json.loads(result.stdout)["kpis"] if k["id"] == "gmv")
    # 49,972.5 / 60,000 = 83%: off track now, so no streak with W47's at risk.
    assert gmv["status"] == "off_track"
    assert gmv["streak"] is None
    assert gmv["target_changed"] == {"from": 52000.0, "to": 60000.0}
    orders = next(k for k in json.loads(result.stdout)["kpis"] if k["id"] == "orders")
    assert orders["target_changed"] is None

    table = review(runner, shop, "--period", W48, "--lang", "en")
    assert "target changed ¥52,000.00 → ¥60,000.00" in table.stdout


def test_streak_in_the_terminal_and_json(shop: Path, runner: CliRunner) -> None:
    assert review(runner, shop, "--period", W47, "-f", "json").exit_code == 0
    result = review(runner, shop, "--period", W48, "-f", "json")

    gmv = next(k for k in json.loads(result.stdout)["kpis"] if k["id"] == "gmv")
    assert gmv["status"] == "at_risk"
    assert gmv["streak"] == {"status": "at_risk", "length": 2}
    table = review(runner, shop, "--period", W48, "--lang", "en")
    assert "Sales (GMV): At risk 2 periods in a row" in table.stdout


def test_no_history_leaves_no_database(shop: Path, runner: CliRunner) -> None:
    result = review(runner, shop, "--period", W48, "-f", "json", "--no-history")

    assert result.exit_code == 0, result.output
    assert not (shop / ".kpi" / "history.duckdb").exists()
    empty = runner.invoke(app, ["history", "--project", str(shop)])
    assert empty.exit_code == 0
    assert "No week reviews recorded" in empty.stderr


@pytest.mark.parametrize(
    ("level", "statuses"),
    [("off-track", ("off_track",)), ("at-risk", ("off_track", "at_risk"))],
    ids=["off-track", "at-risk"],
)
def test_fail_on_exits_1_after_writing_the_report(
    shop: Path,
    runner: CliRunner,
    tmp_path: Path,
    level: str,
    statuses: tuple[str, ...],
) -> None:
    out = tmp_path / "out" / "{period}.json"
    result = review(
        runner, shop, "--period", W48, "-f", "json", "-o", str(out), "--fail-on", level
    )

    written = json.loads((tmp_path / "out" / f"{W48}.json").read_text("utf-8"))
    assert written["period"]["label"] == W48
    assert history_rows(shop, "SELECT count(*) FROM runs") == [(1,)]
    matched = [k for k in written["kpis"] if k["status"] in statuses]
    if not matched:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    named = ", ".join(f"{k['id']} ({k['status'].replace('_', ' ')})" for k in matched)
    assert result.stderr == (
        f"Failed: {len(matched)} KPI(s) matched --fail-on {level} for {W48}: {named}\n"
    )


def test_fail_on_at_risk_matches_the_sample_gmv(shop: Path, runner: CliRunner) -> None:
    # gmv 49,972.5 against 52,000 (warn 5%) is 96.1%: at risk, not off track.
    result = review(runner, shop, "--period", W48, "-f", "json", "--fail-on", "at-risk")

    assert result.exit_code == 1
    assert "gmv (at risk)" in result.stderr


def test_log_file_appends_timestamped_records(
    shop: Path, runner: CliRunner, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "kpi.log"
    for _ in range(2):
        result = runner.invoke(
            app,
            ["--quiet", "--log-file", str(log), "review", "--project", str(shop)]
            + ["--period", W48, "-f", "json", "-o", str(tmp_path / "r.json")],
        )
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
    failed = runner.invoke(
        app, ["--log-file", str(log), "review", "--project", str(shop), "--period", "x"]
    )
    assert failed.exit_code == 2

    lines = log.read_text(encoding="utf-8").splitlines()
    stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (INFO|ERROR) "
    assert all(re.match(stamp, line) for line in lines), lines
    assert sum("recorded run" in line for line in lines) == 2
    assert sum(f"wrote {tmp_path / 'r.json'}" in line for line in lines) == 2
    assert any("loading sources took" in line for line in lines)
    assert "ERROR kpi_cli: Period error: cannot read period 'x'" in lines[-1]


def test_verbose_logs_steps_with_timings(shop: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        ["--verbose", "review", "--project", str(shop), "--period", W48, "-f", "json"],
    )

    assert result.exit_code == 0, result.output
    assert re.search(r"INFO: loading sources took \d+\.\d{3}s", result.stderr)
    assert re.search(r"INFO: query over orders took \d+\.\d{3}s", result.stderr)
    assert "INFO: recorded run 1" in result.stderr
    json.loads(result.stdout)  # the report alone on stdout


def test_email_to_sends_and_a_failed_send_exits_4_keeping_the_report(
    shop: Path,
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch,
    smtp_server,  # noqa: F811  (the fixture imported from test_deliver)
) -> None:
    port, recorder = smtp_server()
    monkeypatch.setenv("KPI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KPI_SMTP_PORT", str(port))
    monkeypatch.setenv("KPI_SMTP_TLS", "none")
    monkeypatch.setenv("KPI_SMTP_FROM", "kpi@shop.example.com")
    out = tmp_path / "report.html"
    args = ["--period", W48, "-f", "html", "-o", str(out)]

    sent = review(runner, shop, *args, "--email-to", "boss@shop.example.com")

    assert sent.exit_code == 0, sent.output
    (envelope,) = recorder.envelopes
    assert envelope.rcpt_tos == ["boss@shop.example.com"]
    # The sample project's language is zh, so is its default subject.
    assert parsed(envelope)["Subject"] == "Sample shop KPI 周报 · 2026年第48周"

    out.unlink()
    closed = free_port()
    monkeypatch.setenv("KPI_SMTP_PORT", str(closed))
    failed = review(runner, shop, *args, "--email-to", "boss@shop.example.com")

    assert failed.exit_code == 4
    assert failed.stderr == (
        f"Delivery error: cannot send the review via 127.0.0.1:{closed} (none): "
        "connection refused\n"
    )
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype")
    # Recorded before the delivery was tried.
    assert history_rows(shop, "SELECT count(*) FROM runs") == [(2,)]


def test_email_settings_are_checked_before_the_review_runs(
    shop: Path, runner: CliRunner, tmp_path: Path, monkeypatch
) -> None:
    for name in ("HOST", "PORT", "TLS", "USER", "FROM", "PASSWORD"):
        monkeypatch.delenv(f"KPI_SMTP_{name}", raising=False)
    out = tmp_path / "r.json"

    result = review(
        runner,
        shop,
        "--period",
        W48,
        "-f",
        "json",
        "-o",
        str(out),
        "--email-to",
        "boss@shop.example.com",
    )

    assert result.exit_code == 2
    assert "no SMTP server; set [email] host in kpi.toml or KPI_SMTP_HOST" in (
        result.stderr
    )
    assert not out.exists()
    bad = review(runner, shop, "--email-to", "boss")
    assert bad.exit_code == 2
    assert "--email-to: 'boss' is not an email address" in bad.stderr


def test_schedule_prints_the_crontab_line_and_next_runs(
    shop: Path, runner: CliRunner, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        ["schedule", "0 8 * * MON", "--project", str(shop), "--fail-on", "off-track"]
        + ["--email-to", "boss@shop.example.com"],
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "CRON_TZ=Asia/Shanghai" in lines
    (cron,) = [line for line in lines if line.startswith("0 8 * * MON ")]
    assert f" --log-file {shop / '.kpi' / 'kpi.log'} review --project {shop} " in cron
    assert f"--out '{tmp_path}/reports/{{project}}-{{period}}.html'" in cron
    assert cron.endswith("--fail-on off-track --email-to boss@shop.example.com")
    assert cron.split()[5].endswith("kpi") and cron.split()[5].startswith("/")
    runs = [
        line for line in lines if re.match(r"^#   \d{4}-\d\d-\d\d 08:00 Mon$", line)
    ]
    assert len(runs) == 5


def test_schedule_rejects_a_bad_expression(shop: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["schedule", "0 8 * * XYZ", "--project", str(shop)])

    assert result.exit_code == 2
    assert result.stderr.startswith("Usage error: cron expression '0 8 * * XYZ'")
