"""Cron expressions, next run times, crontab lines and --fail-on."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpi_cli.config import KpiSettings, ProjectSettings
from kpi_cli.errors import EXIT_FAILED, EXIT_USAGE, UsageError
from kpi_cli.periods import parse_period
from kpi_cli.review_model import KpiResult, Review
from kpi_cli.schedule import (
    FailOnMatched,
    check_fail_on,
    crontab_entry,
    fail_on_matches,
    next_runs,
    validate_expression,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def review_with_statuses(statuses: dict[str, str]) -> Review:
    period = parse_period("2026-W48")
    results = tuple(
        KpiResult(
            kpi=KpiSettings(id=kpi_id, name=kpi_id, model="orders", measure="count(*)"),
            period=period,
            value=1,
            target=None,
            attainment=None,
            status=status,  # type: ignore[arg-type]
            previous=None,
            year_ago=None,
            trend=(),
            breakdown=None,
        )
        for kpi_id, status in statuses.items()
    )

    return Review(
        project=ProjectSettings(name="Shop"),
        period=period,
        generated_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        kpis=results,
    )


def test_next_five_mondays_at_eight_in_the_project_zone() -> None:
    # Thursday 2026-12-03 17:00 in Shanghai: the next Mondays are 7, 14, 21
    # and 28 December and 4 January.
    start = dt.datetime(2026, 12, 3, 17, 0, tzinfo=SHANGHAI)

    runs = next_runs("0 8 * * MON", "Asia/Shanghai", start)

    assert runs == tuple(
        dt.datetime(*day, 8, 0, tzinfo=SHANGHAI)
        for day in [(2026, 12, 7), (2026, 12, 14), (2026, 12, 21), (2026, 12, 28)]
        + [(2027, 1, 4)]
    )


def test_next_runs_convert_a_start_from_another_zone() -> None:
    # 2026-11-30 23:30 UTC is 07:30 on 1 December in Shanghai, before 08:00:
    # the first of the month at 08:00 is still ahead that same day.
    start = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)

    runs = next_runs("0 8 1 * *", "Asia/Shanghai", start)

    assert [r.date() for r in runs] == [
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
        dt.date(2027, 2, 1),
        dt.date(2027, 3, 1),
        dt.date(2027, 4, 1),
    ]
    assert all(r.hour == 8 and r.minute == 0 for r in runs)


@pytest.mark.parametrize(
    "expression",
    [
        "0 8 * *",
        "0 8 * * MON 5",
        "61 8 * * *",
        "0 25 * * *",
        "0 8 * * FUNDAY",
        "@reboot",
    ],
    ids=["four-fields", "six-fields", "minute-61", "hour-25", "bad-day", "reboot"],
)
def test_invalid_expressions_are_usage_errors_naming_them(expression: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_expression(expression)

    assert caught.value.exit_code == EXIT_USAGE
    assert repr(expression) in str(caught.value)


def test_macros_and_spacing_are_normalised() -> None:
    assert validate_expression("  0  8 * *   mon ") == "0 8 * * mon"
    assert validate_expression("@Weekly") == "@weekly"


def test_crontab_entry_quotes_paths_and_escapes_percent(tmp_path: Path) -> None:
    project = tmp_path / "my shop"
    out = str(tmp_path / "reports" / "{project} 100%.html")
    entry = crontab_entry(
        "0 8 * * MON",
        executable=Path("/opt/kpi env/bin/kpi"),
        project_dir=project,
        project_name="杭州店",
        timezone="Asia/Shanghai",
        review_args=["--out", out],
        global_args=["--quiet"],
        now=dt.datetime(2026, 12, 3, 17, 0, tzinfo=SHANGHAI),
    )

    assert "CRON_TZ=Asia/Shanghai" in entry.lines
    line = entry.lines[-1]
    assert line.startswith("0 8 * * MON ")
    command = line.removeprefix("0 8 * * MON ")
    # cron turns "\%" back into "%" before the shell sees the command.
    argv = shlex.split(command.replace("\\%", "%"))
    assert argv == [
        "/opt/kpi env/bin/kpi",
        "--quiet",
        "review",
        "--project",
        str(project),
        "--out",
        out,
    ]
    assert "%" not in command.replace("\\%", "")
    assert entry.next_runs[0] == dt.datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI)


def test_fail_on_at_risk_includes_off_track() -> None:
    review = review_with_statuses(
        {"gmv": "off_track", "orders": "at_risk", "aov": "on_track", "cr": "no_data"}
    )

    assert [k.id for k in fail_on_matches(review, "off-track")] == ["gmv"]
    assert [k.id for k in fail_on_matches(review, "at-risk")] == ["gmv", "orders"]
    with pytest.raises(UsageError, match="--fail-on 'late'"):
        fail_on_matches(review, "late")


def test_check_fail_on_names_the_kpis_and_exits_1() -> None:
    review = review_with_statuses({"gmv": "off_track", "aov": "on_track"})

    check_fail_on(review, None)
    with pytest.raises(FailOnMatched) as caught:
        check_fail_on(review, "at-risk")

    assert caught.value.exit_code == EXIT_FAILED
    assert str(caught.value) == (
        "1 KPI(s) matched --fail-on at-risk for 2026-W48: gmv (off track)"
    )
    check_fail_on(review_with_statuses({"aov": "on_track"}), "at-risk")
