"""Target resolution: schedules, growth baselines, ranges, pacing, parts.

Every expected number is worked by hand in the comment next to it, or summed
in plain Python from the rows the test writes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpi_cli.config import KpiSettings, TargetSettings
from kpi_cli.errors import ConfigError
from kpi_cli.periods import parse_period
from kpi_cli.project import load_project
from kpi_cli.review import choose_period, run_review
from kpi_cli.targets import (
    entry_for,
    judge,
    pace,
    projected,
    range_attainment,
    resolve,
)

D = dt.date

# ---------------------------------------------------------------- helpers

HEADER = """
[project]
name = "t"
timezone = "UTC"
language = "en"
stage = "growth"
data_dir = "."

[sources.sales]
path = "sales.csv"
time_column = "date"
[sources.sales.types]
date = "date"
amount = "decimal(18,2)"
"""


def make_project(root: Path, kpis: str, rows: list[tuple[dt.date, str, Any]]) -> Path:
    """A project over one source ``sales(date, channel, amount)``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "kpi.toml").write_text(HEADER + kpis, encoding="utf-8")
    lines = ["date,channel,amount"] + [f"{d},{c},{a}" for d, c, a in rows]
    (root / "sales.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    return root


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def total(rows: list[tuple[dt.date, str, Any]], start: dt.date, end: dt.date) -> float:
    """The independent sum of amounts dated start..end."""
    return sum(float(a) for d, _, a in rows if start <= d <= end)


def kpi(**target: Any) -> KpiSettings:
    return KpiSettings.model_validate(
        {
            "id": "k",
            "name": "K",
            "model": "m",
            "measure": "sum(x)",
            "grain": "month",
            "unit": "count",
            **target,
        }
    )


# ------------------------------------------------------------- schedules


def test_target_that_changed_mid_year_old_period_uses_old_target() -> None:
    k = kpi(
        targets=[
            {"effective": "2026-07-01", "value": 3000},
            {"value": 2000},  # undated: from the start
        ]
    )
    assert resolve(k, parse_period("2026-06"), lambda p: None).value == 2000
    assert resolve(k, parse_period("2026-07"), lambda p: None).value == 3000
    assert resolve(k, parse_period("2026-11"), lambda p: None).value == 3000
    # A week is judged by the target in force on its first day (Mon 29 June).
    week = kpi(
        grain="week", targets=[{"value": 1}, {"effective": "2026-07-01", "value": 2}]
    )
    assert entry_for(week, parse_period("2026-W27")).value == 1
    assert entry_for(week, parse_period("2026-W28")).value == 2


def test_no_target_before_the_first_effective_date() -> None:
    k = kpi(targets=[{"effective": "2026-07-01", "value": 3000}])
    assert resolve(k, parse_period("2026-06"), lambda p: None) is None


def test_target_of_another_grain_does_not_apply() -> None:
    k = kpi(target={"value": 3000})
    assert resolve(k, parse_period("2026-W45"), lambda p: None) is None


@pytest.mark.parametrize(
    ("kpi_fields", "message"),
    [
        ({"target": {"value": 1, "growth": 0.1}}, "not value and growth"),
        ({"target": {"growth": 0.1, "baseline": "trailing"}}, "needs trailing = N"),
        ({"target": {"growth": 0.1, "trailing": 3}}, "only with baseline = 'trailing'"),
        ({"target": {"min": 0.5, "max": 0.2}}, "min 0.5 is above max 0.2"),
        ({"target": {"min": 0.1, "by": {"a": 1}}}, "not supported with min/max"),
        ({"target": {"value": 1}, "targets": [{"value": 2}]}, "not both"),
        ({"targets": [{"value": 1}, {"value": 2}]}, "only one entry may omit"),
        ({"target": {"value": 1, "effective": "2026-01-01"}}, "only entries of"),
    ],
    ids=[
        "two-kinds",
        "trailing-n",
        "trailing-alone",
        "min-max",
        "range-by",
        "both",
        "undated",
        "effective",
    ],
)
def test_invalid_targets_are_named(
    tmp_path: Path, kpi_fields: dict[str, Any], message: str
) -> None:
    import tomllib  # noqa: F401  (the file below is TOML)

    lines = [
        "[[kpis]]",
        'id = "gmv"',
        'name = "GMV"',
        'model = "sales"',
        'measure = "sum(amount)"',
    ]
    for key, value in kpi_fields.items():
        if key == "target":
            lines.append("target = " + _inline(value))
        else:
            lines.append("targets = [" + ", ".join(_inline(v) for v in value) + "]")
    root = make_project(tmp_path, "\n".join(lines) + "\n", [])
    with pytest.raises(ConfigError) as caught:
        load_project(root)
    text = str(caught.value)
    assert "kpi.toml" in text and "kpis[gmv]" in text and message in text


def _inline(table: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, dict):
            return _inline(v)
        return str(v)

    return "{" + ", ".join(f'"{k}" = {value(v)}' for k, v in table.items()) + "}"


# ------------------------------------------------------------- growth


def test_growth_over_year_ago_previous_and_trailing() -> None:
    values = {"2025-11": 1000, "2026-10": 1200, "2026-08": 900, "2026-09": 1500}

    def value_of(p: Any) -> Any:
        return values.get(p.label)

    nov = parse_period("2026-11")
    ago = resolve(kpi(target={"growth": 0.15}), nov, value_of)
    assert ago.full == pytest.approx(1150)  # 1000 * 1.15
    assert [p.label for p in ago.baseline_periods] == ["2025-11"]
    prev = resolve(kpi(target={"growth": 0.15, "baseline": "previous"}), nov, value_of)
    assert prev.full == pytest.approx(1380)  # 1200 * 1.15
    trail = kpi(target={"growth": 0.1, "baseline": "trailing", "trailing": 3})
    detail = resolve(trail, nov, value_of)
    assert detail.baseline == pytest.approx(1200)  # (900 + 1500 + 1200) / 3
    assert detail.full == pytest.approx(1320)  # 1200 * 1.1
    # A lower-is-better KPI is cut with a negative growth: 1000 * 0.9.
    cut = kpi(direction="lower", target={"growth": -0.1})
    assert resolve(cut, nov, value_of).full == pytest.approx(900)


def test_growth_without_a_baseline_has_no_target_and_says_why() -> None:
    detail = resolve(
        kpi(target={"growth": 0.15}), parse_period("2026-11"), lambda p: None
    )
    assert detail.value is None
    assert detail.notes == ("baseline_missing:2025-11",)


# ------------------------------------------------------ attainment, ranges


@pytest.mark.parametrize(
    ("value", "attainment", "status"),
    [
        (100, 1.25, "on_track"),  # 125 / 100
        (125, 1.0, "on_track"),
        (130, 125 / 130, "at_risk"),  # 0.9615 >= 1 - 0.05
        (140, 125 / 140, "off_track"),  # 0.8929 < 0.95
    ],
    ids=["under", "equal", "slightly-over", "over"],
)
def test_lower_is_better_over_and_under_target(
    value: int, attainment: float, status: str
) -> None:
    k = kpi(direction="lower", unit="currency", target={"value": 125, "warn": 0.05})
    detail = resolve(k, parse_period("2026-11"), lambda p: None)
    achieved, state = judge(value, detail, "lower")
    assert achieved == pytest.approx(attainment)
    assert state == status


@pytest.mark.parametrize(
    ("value", "attainment", "status"),
    [
        (0.03, 1.0, "on_track"),
        (0.02, 1.0, "on_track"),  # on the bound
        (0.019, 0.95, "at_risk"),  # 1 - (0.02 - 0.019) / 0.02
        (0.015, 0.75, "off_track"),  # 1 - 0.005 / 0.02
        (0.054, 0.92, "at_risk"),  # 1 - (0.054 - 0.05) / 0.05
        (0.06, 0.8, "off_track"),  # 1 - 0.01 / 0.05
    ],
    ids=["inside", "bound", "just-below", "below", "just-above", "above"],
)
def test_range_target(value: float, attainment: float, status: str) -> None:
    k = kpi(unit="percent", target={"min": 0.02, "max": 0.05, "warn": 0.1})
    detail = resolve(k, parse_period("2026-11"), lambda p: None)
    assert detail.kind == "range" and detail.value is None
    achieved, state = judge(value, detail, "higher")
    assert achieved == pytest.approx(attainment)
    assert state == status


def test_range_attainment_never_below_zero() -> None:
    assert range_attainment(0.2, None, 0.05) == 0.0  # 1 - 3 is clamped


# ------------------------------------------------------------- pacing


def test_linear_pace_on_day_10_of_a_30_day_month() -> None:
    period = parse_period("2026-11").cut(10)
    k = kpi(target={"value": 3000})
    detail = resolve(k, period, lambda p: None)
    assert detail.share == pytest.approx(10 / 30)
    assert detail.value == pytest.approx(1000)  # 3000 * 10 / 30
    assert detail.full == 3000
    assert projected(900, detail, k, period) == pytest.approx(2700)  # 900 * 30 / 10


def test_last_year_pace_follows_last_years_curve() -> None:
    # Last November: 400 by the 10th of a 1,600 month, so 25% is due by day 10.
    values = {("2025-11-01", "2025-11-10"): 400, ("2025-11-01", "2025-11-30"): 1600}

    def value_of(p: Any) -> Any:
        return values.get((p.start.isoformat(), p.end.isoformat()))

    period = parse_period("2026-11").cut(10)
    k = kpi(target={"value": 3000, "pacing": "last_year"})
    detail = resolve(k, period, value_of)
    assert (detail.share, detail.pacing) == (0.25, "last_year")
    assert detail.value == pytest.approx(750)  # 3000 * 0.25
    assert projected(900, detail, k, period) == pytest.approx(3600)  # 900 / 0.25
    assert judge(900, detail, "higher") == (pytest.approx(1.2), "on_track")


def test_last_year_pace_falls_back_to_linear_without_last_year() -> None:
    period = parse_period("2026-11").cut(10)
    entry = TargetSettings(value=3000, pacing="last_year")
    assert pace(entry, period, lambda p: None) == (
        pytest.approx(1 / 3),
        "linear",
        "pacing_fallback:linear",
    )


def test_ratios_are_not_prorated() -> None:
    period = parse_period("2026-11").cut(10)
    k = kpi(unit="percent", measure="sum(a) / sum(b)", target={"value": 0.04})
    detail = resolve(k, period, lambda p: None)
    assert (detail.value, detail.share, detail.pacing) == (0.04, 1.0, None)
    assert projected(0.05, detail, k, period) is None


# ------------------------------------------- through the review, from CSV

MONTHLY = """
[[kpis]]
id = "gmv"
name = "GMV"
owner = "Ops"
unit = "currency"
grain = "month"
model = "sales"
measure = "sum(amount)"
dimension = "channel"
[kpis.target]
value = 3000
warn = 0.1
pacing = "{pacing}"
due = "2026-12-31"
[kpis.target.by]
a = 2000
b = 500
"""


def _shop_rows() -> list[tuple[dt.date, str, Any]]:
    """Channel a sells 40 a day on 1-10 Nov 2025 and 60 later that month, 90
    a day on 1-10 Nov 2026; channel b sells 15 a day on 1-10 Nov 2026."""
    rows: list[tuple[dt.date, str, Any]] = []
    for day in days(D(2025, 10, 1), D(2026, 11, 10)):
        if day.year == 2025 and day.month == 11:
            rows.append((day, "a", "40.00" if day.day <= 10 else "60.00"))
        elif day.year == 2026 and day.month == 11:
            rows += [(day, "a", "90.00"), (day, "b", "15.00")]
        else:
            rows.append((day, "a", "50.00"))

    return rows


@pytest.mark.parametrize(
    ("pacing", "share", "status"),
    [
        ("linear", 10 / 30, "on_track"),  # 1050 vs 1000
        ("last_year", 400 / 1600, "on_track"),  # 1050 vs 750
    ],
    ids=["linear", "last_year"],
)
def test_review_paces_a_month_to_date(
    tmp_path: Path, pacing: str, share: float, status: str
) -> None:
    rows = _shop_rows()
    project = load_project(make_project(tmp_path, MONTHLY.format(pacing=pacing), rows))
    period = choose_period(project, "2026-11", as_of=D(2026, 11, 10))
    result = run_review(project, period).kpis[0]

    to_date = total(rows, D(2026, 11, 1), D(2026, 11, 10))
    assert to_date == 1050  # (90 + 15) * 10
    last_year_share = total(rows, D(2025, 11, 1), D(2025, 11, 10)) / total(
        rows, D(2025, 11, 1), D(2025, 11, 30)
    )
    assert last_year_share == 0.25  # 400 / 1600
    assert float(result.value) == to_date
    assert result.target == pytest.approx(3000 * share)
    assert result.status == status
    assert float(result.projected) == pytest.approx(to_date / share)
    assert result.target_detail.pacing == pacing
    # Each part follows its own curve: a sold all of last November, so it
    # paces like the total (2000 * share); b sold nothing last year, so its
    # last-year curve is unknown and it falls back to linear (500 * 10 / 30).
    rows_by_key = {r.key: r for r in result.breakdown.rows}
    assert rows_by_key["a"].target == pytest.approx(2000 * share)
    assert rows_by_key["b"].target == pytest.approx(500 * 10 / 30)
    assert float(rows_by_key["b"].value) == 150  # 15 * 10
    assert rows_by_key["b"].attainment == pytest.approx(150 / (500 * 10 / 30))
    fallback = ("pacing_fallback:linear",) if pacing == "last_year" else ()
    assert rows_by_key["b"].target_detail.notes == fallback


def test_review_growth_target_over_last_year_and_schedule(tmp_path: Path) -> None:
    kpis = """
[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
grain = "month"
model = "sales"
measure = "sum(amount)"
dimension = "channel"
[[kpis.targets]]
value = 2000
[[kpis.targets]]
effective = "2026-07-01"
growth = 0.5
[kpis.targets.by]
a = 0.25
"""
    rows = _shop_rows()
    project = load_project(make_project(tmp_path, kpis, rows))
    june = run_review(project, parse_period("2026-06")).kpis[0]
    assert june.target == 2000  # the old absolute target
    assert float(june.value) == total(rows, D(2026, 6, 1), D(2026, 6, 30))  # 1500

    period = choose_period(project, "2026-11", as_of=D(2026, 11, 10))
    nov = run_review(project, period).kpis[0]
    baseline = total(rows, D(2025, 11, 1), D(2025, 11, 30))  # 1600
    assert nov.target_detail.baseline == baseline
    assert nov.target_detail.full == pytest.approx(baseline * 1.5)  # 2400
    assert nov.target == pytest.approx(2400 * 10 / 30)  # 800
    # Channel a grows 25% over its own last November (all 1600 were a's).
    part = {r.key: r for r in nov.breakdown.rows}["a"]
    assert part.target == pytest.approx(1600 * 1.25 * 10 / 30)
    assert part.target_detail.growth == 0.25
    assert {r.key: r for r in nov.breakdown.rows}["b"].target is None
