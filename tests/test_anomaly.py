"""Anomalies: the robust rule on hand-worked series, promotions, weekday
baselines, vanished channels, and false alarms on the sample shop."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_cli import anomaly
from kpi_cli.config import AnomalySettings, KpiSettings, load_settings
from kpi_cli.errors import ConfigError
from kpi_cli.periods import parse_period
from kpi_cli.project import load_project
from kpi_cli.render_data import review_json
from kpi_cli.review import run_review
from kpi_cli.sample import generate
from kpi_cli.scaffold import create_project

COUNT = KpiSettings(id="orders", name="Orders", model="m", measure="count(*)")
MONEY = KpiSettings(
    id="gmv", name="GMV", model="m", measure="sum(amount)", unit="currency"
)
RATE = KpiSettings(
    id="cr",
    name="CR",
    model="m",
    measure="sum(o) / nullif(sum(v), 0)",
    unit="percent",
)
SETTINGS = AnomalySettings()


def test_quiet_series_hand_worked() -> None:
    # history 100, 102, 98, 101, 99, 100, 103, 97: median 100; absolute
    # deviations 0, 2, 2, 1, 1, 0, 3, 3 -> sorted 0 0 1 1 2 2 3 3, MAD 1.5.
    # Floor: 5% of 100 = 5 > 1.5, so the spread is 5.
    history = [100, 102, 98, 101, 99, 100, 103, 97]
    z, median, spread = anomaly.robust_z(108, history, mad_floor=0.05, count=False)

    assert median == 100
    assert spread == 5
    assert z == pytest.approx(0.6745 * 8 / 5)  # 1.079: noise, not an alarm
    assert anomaly.judge(Decimal(108), history, MONEY, SETTINGS) is None


def test_planted_spike_hand_worked() -> None:
    # Same quiet series; 140 gives z = 0.6745 * 40 / 5 = 5.396 >= 3.5.
    history = [Decimal(v) for v in (100, 102, 98, 101, 99, 100, 103, 97)]
    found = anomaly.judge(Decimal(140), history, MONEY, SETTINGS)

    assert found is not None
    assert found.direction == "up"
    assert found.score == pytest.approx(0.6745 * 40 / 5)
    assert found.baseline == Decimal(100)
    assert found.reason == ""


def test_mad_above_floor_is_used() -> None:
    # 10, 30, 10, 30, 10, 30: median 20, MAD 10 (floor 1); 60 -> z 2.698.
    history = [10.0, 30.0, 10.0, 30.0, 10.0, 30.0]
    z, median, spread = anomaly.robust_z(60.0, history, mad_floor=0.05, count=False)

    assert (median, spread) == (20.0, 10.0)
    assert z == pytest.approx(0.6745 * 4)
    assert anomaly.judge(60.0, history, RATE, SETTINGS) is None
    found = anomaly.judge(75.0, history, RATE, SETTINGS)  # z = 3.710
    assert found is not None and found.score == pytest.approx(0.6745 * 5.5)


def test_threshold_boundary() -> None:
    # Spread 5 (the floor): z = 3.5 exactly needs 0.6745 * d / 5 = 3.5.
    history = [100.0] * 8
    exactly = 100 + 3.5 * 5 / 0.6745
    settings = AnomalySettings(threshold=3.5)

    assert anomaly.judge(exactly + 1e-6, history, RATE, settings) is not None
    assert anomaly.judge(exactly - 1e-3, history, RATE, settings) is None


def test_counts_floor_at_poisson_noise() -> None:
    # A channel with 4 orders a week every week: MAD 0, 5% floor 0.2, Poisson
    # floor 0.6745 * sqrt(4) = 1.349. 9 orders: z = 0.6745 * 5 / 1.349 = 2.5.
    history = [4] * 10
    z, _, spread = anomaly.robust_z(9, history, mad_floor=0.05, count=True)

    assert spread == pytest.approx(0.6745 * 2)
    assert z == pytest.approx(2.5)
    assert anomaly.judge(9, history, COUNT, SETTINGS) is None
    assert anomaly.judge(12, history, COUNT, SETTINGS) is not None  # z = 4.0


def test_short_history_falls_back_to_the_change_rule() -> None:
    # 3 known values < min_history 6: no z-score; the latest covered value,
    # 101, is the comparison. 500: change 399 = 3.9505 of 101, and 399 is
    # above 5% of the total's 101 (5.05) -> up.
    history = [None, None, 100.0, 100.0, 101.0]
    found = anomaly.judge(500.0, history, RATE, SETTINGS)

    assert found is not None
    assert (found.direction, found.method, found.reason) == ("up", "change", "")
    assert found.baseline == 101.0
    assert found.score == pytest.approx(399 / 101)
    # 120: 19 / 101 = 18.8% < 30%.
    assert anomaly.judge(120.0, history, RATE, SETTINGS) is None
    # No covered period at all: nothing to compare with.
    assert anomaly.judge(500.0, [None] * 5, RATE, SETTINGS) is None


# One channel of an additive KPI over two covered weeks; the KPI's total was
# 5000 both weeks, so change_share 5% needs |change| >= 250.
TOTALS = [None, None, Decimal(5000), Decimal(5000)]


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        (1000, 650, ("down", 0.35)),  # -350: 35% and 350 >= 250
        (1000, 700, ("down", 0.30)),  # -300: exactly 30%, flagged
        (1000, 710, None),  # -290: 29%
        (1000, 1300, ("up", 0.30)),  # +300
        (200, 100, None),  # -50%, but 100 < 250: a small channel
        (0, 400, None),  # new: no percentage change
    ],
    ids=["down-35%", "down-30%-boundary", "down-29%", "up-30%", "small", "new"],
)
def test_change_rule_hand_worked(
    before: int, now: int, expected: tuple[str, float] | None
) -> None:
    history = [None, None, Decimal(900), Decimal(before)]
    found = anomaly.judge(Decimal(now), history, MONEY, SETTINGS, totals=TOTALS)

    if expected is None:
        assert found is None
    else:
        assert found is not None and found.method == "change"
        assert (found.direction, found.score) == (
            expected[0],
            pytest.approx(expected[1]),
        )
        assert found.baseline == Decimal(before)


def test_short_history_vanished_needs_a_material_previous_value() -> None:
    # Previous 300 >= 5% of 5000 (250): vanished, scored as -100%.
    gone = anomaly.judge(
        Decimal(0),
        [None, None, Decimal(150), Decimal(300)],
        MONEY,
        SETTINGS,
        totals=TOTALS,
    )
    assert gone is not None
    assert (gone.direction, gone.method, gone.reason) == ("down", "change", "vanished")
    assert (gone.score, gone.baseline) == (1.0, Decimal(300))
    # Previous 200 < 250: a channel with a handful of sales vanishing is quiet.
    small = [None, None, Decimal(150), Decimal(200)]
    assert anomaly.judge(Decimal(0), small, MONEY, SETTINGS, totals=TOTALS) is None
    assert (
        anomaly.judge(
            Decimal(0), small, MONEY, AnomalySettings(min_share=0.04), totals=TOTALS
        )
        is not None
    )  # 200 >= 4% of 5000
    # Absent in one covered week: not vanished, but -300 is a material change.
    sparse = [None, None, Decimal(0), Decimal(300)]
    found = anomaly.judge(Decimal(0), sparse, MONEY, SETTINGS, totals=TOTALS)
    assert found is not None and found.reason == ""
    assert found.score == 1.0


def test_short_history_leaves_ratio_breakdowns_alone() -> None:
    # A channel's rate has no share of the total: not judged on short history.
    history = [None, None, 0.04, 0.05]
    totals = [None, None, 0.045, 0.045]

    assert anomaly.judge(0.10, history, RATE, SETTINGS, totals=totals) is None
    assert anomaly.judge(None, history, RATE, SETTINGS, totals=totals) is None


def test_flat_zero_series_is_not_judged_for_rates() -> None:
    assert anomaly.judge(0.1, [0.0] * 8, RATE, SETTINGS) is None


def test_vanished_channel() -> None:
    # Rows in every baseline period, none now: an additive KPI reads 0.
    history = [Decimal(v) for v in (900, 1100, 1000, 950, 1050, 1000)]
    found = anomaly.judge(Decimal(0), history, MONEY, SETTINGS)

    assert found is not None
    assert (found.direction, found.reason) == ("down", "vanished")
    # median 1000, MAD 50 (= the 5% floor): z = 0.6745 * 1000 / 50 = 13.49
    assert found.score == pytest.approx(13.49)
    # A ratio with no rows has no value at all; still flagged, at the threshold.
    rates = [0.04, 0.05, 0.045, 0.04, 0.05, 0.045]
    gone = anomaly.judge(None, rates, RATE, SETTINGS)
    assert gone is not None and gone.reason == "vanished"
    assert gone.score == SETTINGS.threshold


def test_channel_absent_before_is_not_vanished() -> None:
    assert anomaly.judge(Decimal(0), [Decimal(0)] * 8, MONEY, SETTINGS) is None


@pytest.mark.parametrize(
    ("spec", "label", "touches"),
    [
        ("11-11", "2026-W46", True),  # 2026-11-09..15
        ("11-11", "2026-W47", False),
        ("11-01..11-12", "2026-W44", True),  # 2026-10-26..11-01
        ("2025-11-11", "2026-W46", False),  # a one-off date in another year
        ("06-18", "2026-06", True),
    ],
    ids=["day", "other-week", "range-edge", "one-off", "month"],
)
def test_promotion_days(spec: str, label: str, touches: bool) -> None:
    period = parse_period(label)

    assert anomaly.touches_promotion(period, [spec]) is touches


def test_promotion_across_new_year() -> None:
    spec = ["12-28..01-03"]

    assert anomaly.touches_promotion(parse_period("2026-W53"), spec)
    assert anomaly.touches_promotion(parse_period("2027-01-02"), spec)
    assert not anomaly.touches_promotion(parse_period("2027-W01"), spec)


def test_day_grain_compares_the_same_weekday() -> None:
    monday = parse_period("2026-11-23")
    baseline = anomaly.baseline_periods(monday, AnomalySettings(history=4))

    assert [p.start for p in baseline] == [
        dt.date(2026, 10, 26),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 16),
    ]
    assert all(p.start.weekday() == 0 and p.grain == "day" for p in baseline)


def test_baseline_skips_promotion_weeks_and_cuts_partial_periods() -> None:
    week = parse_period("2026-W48")
    settings = AnomalySettings(history=6, promotions=["11-11"])
    labels = [p.label for p in anomaly.baseline_periods(week, settings)]

    assert labels == ["2026-W42", "2026-W43", "2026-W44", "2026-W45", "2026-W47"]
    partial = week.cut(3)
    cut = anomaly.baseline_periods(partial, settings)
    assert all(p.days == 3 for p in cut)


def _flags(project_dir: Path) -> tuple[int, list[tuple[str, str | None, str]]]:
    """(values judged, anomalies found) in the review of 2026-W48."""
    review = run_review(load_project(project_dir), parse_period("2026-W48"))
    judged, found = 0, []
    for result in review.kpis:
        items = [(None, result.anomaly)]
        items += [(r.key, r.anomaly) for r in (result.breakdown or _NONE).rows]
        for key, found_one in items:
            judged += 1
            if found_one:
                found.append((result.id, key, found_one.direction))

    return judged, found


class _NONE:
    rows: tuple = ()


def test_normal_week_of_the_sample_shop_raises_no_alarm(sample_project: Path) -> None:
    judged, found = _flags(sample_project)

    assert judged >= 50  # every KPI and every channel of each breakdown
    assert found == []


def test_live_collapse_is_flagged_down_on_gmv_and_orders(tmp_path: Path) -> None:
    project = create_project(tmp_path / "shop")
    generate(project.data_dir, anomaly="live_collapse")
    _, found = _flags(project.root)

    assert ("gmv", "直播", "down") in found
    assert ("orders", "直播", "down") in found
    # Only the collapsed channel is flagged; the other four stay quiet.
    assert {key for _, key, _ in found} == {"直播"}


# ------------------------------------- case 15: a channel gone after one week

CASE_15 = Path(__file__).parent / "cases" / "15-missing-channel-in-one-period"


def _case_15(tmp_path: Path, anomaly_table: str = "") -> dict[str, Any]:
    """The JSON review of 2025-W11 over case 15's orders (one earlier week)."""
    root = tmp_path / "project"
    root.mkdir(parents=True)
    (root / "kpi.toml").write_text(
        "[project]\n"
        'name = "case"\n'
        'timezone = "Asia/Shanghai"\n'
        'language = "en"\n'
        f'data_dir = "{CASE_15.as_posix()}"\n'
        "[sources.orders]\n"
        'path = "orders.csv"\n'
        'time_column = "paid_at"\n'
        'columns = { "订单号" = "order_id", "付款时间" = "paid_at", '
        '"渠道" = "channel", "实付金额" = "amount" }\n'
        'types = { amount = "decimal(18,2)", paid_at = "timestamp" }\n'
        "[[kpis]]\n"
        'id = "gmv"\n'
        'name = "GMV"\n'
        'unit = "currency"\n'
        'model = "orders"\n'
        'measure = "sum(amount)"\n'
        'dimension = "channel"\n' + anomaly_table,
        encoding="utf-8",
    )
    review = run_review(load_project(root), parse_period("2025-W11"))

    return review_json(review)["kpis"][0]


def _weekly_by_channel() -> dict[tuple[str, str], Decimal]:
    """GMV per (week start, channel) from the raw CSV, in plain DuckDB."""
    rows = duckdb.connect().execute(
        "SELECT strftime(date_trunc('week', CAST(付款时间 AS TIMESTAMP)), '%Y-%m-%d'),"
        " 渠道, sum(CAST(实付金额 AS DECIMAL(18,2))) FROM read_csv(?, all_varchar=true)"
        " GROUP BY ALL",
        [str(CASE_15 / "orders.csv")],
    )

    return {(week, channel): amount for week, channel, amount in rows.fetchall()}


def test_case_15_vanished_channel_is_flagged_with_one_week_of_history(
    tmp_path: Path,
) -> None:
    raw = _weekly_by_channel()
    assert raw[("2025-03-03", "社群")] == Decimal("2000.00")
    assert ("2025-03-10", "社群") not in raw
    previous_total = sum(v for (w, _), v in raw.items() if w == "2025-03-03")
    assert previous_total == Decimal("6200.00")
    # 2000 / 6200 = 32% of the previous total >= min_share 5%: material.

    gmv = _case_15(tmp_path)
    flags = {row["key"]: row["anomaly"] for row in gmv["breakdown"]["rows"]}

    assert flags["社群"] == {
        "score": 1.0,
        "direction": "down",
        "baseline": 2000.00,
        "method": "change",
        "reason": "vanished",
    }
    # 小程序 +100 / 1200 = 8.3%, 门店 +100 / 3000 = 3.3%, 直播 new (no %).
    assert (flags["小程序"], flags["门店"], flags["直播"]) == (None, None, None)
    # The total: -1400 / 6200 = -22.6%, under change_pct 30%.
    assert gmv["anomaly"] is None


def test_case_15_settings_move_the_rule(tmp_path: Path) -> None:
    # change_pct 20%: the total's -22.58% (and 1400 >= 5% of 6200 = 310) flags.
    gmv = _case_15(tmp_path / "a", "[anomaly]\nchange_pct = 0.2\n")
    assert gmv["anomaly"]["direction"] == "down"
    assert gmv["anomaly"]["score"] == pytest.approx(1400 / 6200)
    assert gmv["anomaly"]["baseline"] == 6200.00
    # min_share 33% > 2000 / 6200: 社群 is no longer material.
    gmv = _case_15(tmp_path / "b", "[anomaly]\nmin_share = 0.33\n")
    assert all(row["anomaly"] is None for row in gmv["breakdown"]["rows"])


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("min_history = 2", "anomaly.min_history"),
        ("history = 2", "anomaly.history"),
        ("min_share = 1.5", "anomaly.min_share"),
        ("change_pct = 0", "anomaly.change_pct"),
        ("change_share = -0.1", "anomaly.change_share"),
    ],
)
def test_anomaly_settings_below_their_minimum_are_rejected(
    tmp_path: Path, line: str, field: str
) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(f'[project]\nname = "t"\n[anomaly]\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)

    assert field in str(error.value)
    assert f"got {line.split(' = ')[1]}" in str(error.value)
