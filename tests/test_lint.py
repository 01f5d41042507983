"""``kpi_cli.lint``: the achievability rule worked by hand, and a project linted.

The percentile is checked twice: by hand, and with DuckDB's quantile_cont over
the same changes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_targets import days, make_project

from kpi_cli.config import KpiSettings
from kpi_cli.lint import (
    achievability,
    judge_achievability,
    lint_project,
    measurable,
    quantile,
    relevant,
    specific,
    timely,
)
from kpi_cli.project import load_project

D = dt.date


def _p90_duckdb(changes: list[float]) -> float:
    rows = ", ".join(f"({c!r})" for c in changes)
    sql = f"SELECT quantile_cont(c::DOUBLE, 0.9) FROM (VALUES {rows}) AS t(c)"
    return duckdb.connect().execute(sql).fetchone()[0]


# Higher is better: 100, 110, 121, 100, 150.
# Changes: +0.10, +0.10, -0.17355 (121 -> 100), +0.50 (100 -> 150).
# Sorted: -0.17355, 0.10, 0.10, 0.50; p90 sits at rank (4 - 1) * 0.9 = 2.7,
# so 0.10 + (0.50 - 0.10) * 0.7 = 0.38.
RISING = [100.0, 110.0, 121.0, 100.0, 150.0]


def test_p90_of_period_over_period_changes_by_hand_and_by_duckdb() -> None:
    facts = achievability(RISING, 220, "higher")
    assert facts.p90_change == pytest.approx(0.38)
    changes = [0.1, 0.1, (100 - 121) / 121, 0.5]
    assert facts.p90_change == pytest.approx(_p90_duckdb(changes))
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


@pytest.mark.parametrize(
    ("target", "state", "needed", "share"),
    [
        # 220 > best 150, and needs (220 - 150) / 150 = +46.7% > p90 38%.
        (220, "fail", 70 / 150, 0.0),
        # 200 > best 150 but needs +33.3% < 38%: a stretch, not impossible.
        (200, "pass", 50 / 150, 0.0),
        # 105: met by 110, 121 and 150, 3 of 5 periods.
        (105, "pass", (105 - 150) / 150, 0.6),
        # 100: met by all 5 periods (>= 90%): too easy.
        (100, "warn", (100 - 150) / 150, 1.0),
    ],
    ids=["beyond", "stretch", "fair", "too-easy"],
)
def test_achievability_higher_is_better(
    target: float, state: str, needed: float, share: float
) -> None:
    facts = achievability(RISING, target, "higher")
    assert facts.best == 150 and facts.last == 150
    assert facts.needed_change == pytest.approx(needed)
    assert facts.share_met == pytest.approx(share)
    check = judge_achievability(facts, "week", str)
    assert check.state == state
    if state == "warn":
        assert check.reason.startswith("too easy")
    assert "p90 change +38.0%" in check.reason


def test_achievability_lower_is_better_inverts() -> None:
    # Costs 10, 9, 8, 10, 7; a fall is an improvement:
    # +0.1 (10->9), +0.1111 (9->8), -0.25 (8->10), +0.3 (10->7).
    # Sorted -0.25, 0.1, 0.1111, 0.3; rank 2.7: 0.1111 + (0.3 - 0.1111) * 0.7.
    history = [10.0, 9.0, 8.0, 10.0, 7.0]
    p90 = 1 / 9 + (0.3 - 1 / 9) * 0.7
    hard = achievability(history, 5, "lower")  # needs (7 - 5) / 7 = 28.6%
    assert hard.best == 7
    assert hard.p90_change == pytest.approx(p90)
    assert hard.p90_change == pytest.approx(_p90_duckdb([0.1, 1 / 9, -0.25, 0.3]))
    assert hard.needed_change == pytest.approx(2 / 7)
    assert judge_achievability(hard, "week", str).state == "fail"
    stretch = achievability(history, 5.5, "lower")  # needs 1.5 / 7 = 21.4% < 24.3%
    assert judge_achievability(stretch, "week", str).state == "pass"
    easy = achievability(history, 11, "lower")  # every period at or below 11
    assert easy.share_met == 1.0
    assert judge_achievability(easy, "week", str).state == "warn"


def test_short_history_is_not_judged() -> None:
    check = judge_achievability(
        achievability([1.0, 2.0, 3.0], 10, "higher"), "week", str
    )
    assert check.state == "warn" and "only 3 week(s)" in check.reason


def _kpi(**fields: Any) -> KpiSettings:
    base = {"id": "k", "name": "K", "model": "m", "measure": "sum(x)"}
    return KpiSettings.model_validate({**base, **fields})


def test_specific_relevant_timely() -> None:
    assert specific(_kpi()).state == "fail"  # no owner
    assert specific(_kpi(owner="Ops")).reason == "no description"
    assert specific(_kpi(owner="Ops", description="d")).state == "pass"
    assert relevant(_kpi(), "growth").state == "fail"
    assert relevant(_kpi(stage="growth"), "growth").state == "pass"
    assert relevant(_kpi(stage="launch"), "growth").state == "warn"
    assert relevant(_kpi(objective="Sell more"), None).state == "pass"
    today = D(2026, 12, 1)
    assert timely(_kpi(), today).reason == "week; no target"
    assert timely(_kpi(target={"value": 1}), today).state == "fail"
    assert timely(_kpi(target={"value": 1, "due": "2026-12-31"}), today).state == "pass"
    assert timely(_kpi(target={"value": 1, "due": "2026-06-30"}), today).state == "warn"
    dated = _kpi(targets=[{"value": 1, "effective": "2026-07-01"}])
    assert timely(dated, today).state == "pass"


def test_measurable_by_unit() -> None:
    percent = _kpi(unit="percent")
    assert measurable(percent, "DOUBLE", [0.1, 0.2]).state == "pass"
    outside = measurable(percent, "DOUBLE", [0.1, 4.2])
    assert outside.state == "warn" and "1 of 2 values outside 0..1" in outside.reason
    count = measurable(_kpi(unit="count"), "DOUBLE", [3.0, 2.5])
    assert count.state == "warn" and "not whole" in count.reason
    assert measurable(_kpi(), "VARCHAR", []).state == "fail"
    assert measurable(_kpi(), None, []).state == "fail"


# ------------------------------------------------------- a project linted

PROJECT_KPIS = """
[[kpis]]
id = "gmv"
name = "GMV"
description = "Sales."
owner = "Ops"
objective = "Sell more"
unit = "currency"
model = "sales"
measure = "sum(amount)"
dimension = "channel"
core = true
[kpis.target]
value = {gmv_target}
due = "2026-12-31"
[kpis.target.by]
a = 500
b = 300

[[kpis]]
id = "bad_dim"
name = "Bad dimension"
owner = "Ops"
stage = "growth"
model = "sales"
measure = "count(*)"
dimension = "chanel"

[[kpis]]
id = "bad_model"
name = "Bad model"
owner = "Ops"
stage = "growth"
model = "sale"
measure = "count(*)"

[[kpis]]
id = "bad_filter"
name = "Bad filter"
owner = "Ops"
stage = "growth"
model = "sales"
filter = "amont > 0"
measure = "count(*)"

[[kpis]]
id = "bad_measure"
name = "Bad measure"
owner = "Ops"
stage = "growth"
model = "sales"
measure = "sum(amount"

[[kpis]]
id = "share"
name = "Share of a"
description = "Share of amount sold in channel a."
owner = "Ops"
stage = "growth"
unit = "percent"
model = "sales"
measure = "100 * sum(amount) FILTER (WHERE channel = 'a') / sum(amount)"
[kpis.target]
min = 40
max = 60
due = "2026-12-31"
"""


def _weekly_rows() -> list[tuple[dt.date, str, Any]]:
    """Ten weeks (Mon 2026-09-07 .. Sun 2026-11-15), a: 100 a day, b: 20."""
    rows: list[tuple[dt.date, str, Any]] = []
    for day in days(D(2026, 9, 7), D(2026, 11, 15)):
        rows += [(day, "a", "100.00"), (day, "b", "20.00")]
    return rows


@pytest.fixture
def linted(tmp_path: Path) -> Any:
    root = make_project(
        tmp_path / "p", PROJECT_KPIS.format(gmv_target=1000), _weekly_rows()
    )
    return lint_project(load_project(root), today=D(2026, 12, 1))


def test_definition_problems_name_file_kpi_and_field(linted: Any) -> None:
    found = {f.where: f for f in linted.findings}
    assert found["kpi.toml: kpis[bad_dim].dimension"].message.startswith(
        "no column 'chanel' in model 'sales'; did you mean 'channel'?"
    )
    model = found["kpi.toml: kpis[bad_model].model"].message
    assert "unknown model 'sale'" in model and "did you mean 'sales'?" in model
    assert found["kpi.toml: kpis[bad_filter].filter"].message.startswith("'amont > 0':")
    assert found["kpi.toml: kpis[bad_measure].measure"].message.startswith(
        "'sum(amount':"
    )
    by = found["kpi.toml: kpis[gmv].target.by"]
    assert by.severity == "warn"
    assert by.message == (
        "per-value targets of 2 value(s) add up to 800, not the total target "
        "1,000 (difference -200)"
    )
    core = found["kpi.toml: kpis.core"]
    assert core.message.startswith("1 core KPI(s) for stage growth; keep 3-5")
    assert linted.exit_code() == 1


def test_history_is_weekly_sums_and_judged(linted: Any) -> None:
    gmv = next(k for k in linted.kpis if k.kpi.id == "gmv")
    # 10 complete weeks, each 7 * (100 + 20) = 840, all below the 1,000 target.
    assert [v for _, v in gmv.history_values] == [840.0] * 10
    assert gmv.history.best == 840 and gmv.history.share_met == 0.0
    # Flat history: every change 0, so p90 = 0 and +19% needed > 0: fail.
    assert gmv.history.p90_change == 0.0
    assert gmv.history.needed_change == pytest.approx(160 / 840)
    assert gmv.checks["A"].state == "fail"
    assert gmv.checks["M"].state == "pass"
    share = next(k for k in linted.kpis if k.kpi.id == "share")
    # 100 * 700 / 840 = 83.3 every week: out of range and outside 0..1.
    assert share.checks["A"].reason == "never reached: in range in 0% of 10 periods"
    assert "values outside 0..1" in share.checks["M"].reason
    bad = next(k for k in linted.kpis if k.kpi.id == "bad_measure")
    assert bad.checks["M"].state == "fail"


def test_target_met_every_week_is_too_easy(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p", PROJECT_KPIS.format(gmv_target=800), _weekly_rows()
    )
    report = lint_project(load_project(root), today=D(2026, 12, 1))
    gmv = next(k for k in report.kpis if k.kpi.id == "gmv")
    assert gmv.history.share_met == 1.0  # 840 >= 800 in all 10 weeks
    assert gmv.checks["A"].state == "warn"
    assert gmv.checks["A"].reason.startswith("too easy: target ¥800.00")
