"""Explaining a change: exact splits, a hand-worked mix/rate example, values
present in one period only, targets, and a small project end to end."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction as F
from pathlib import Path

import pytest

from kpi_cli import explain
from kpi_cli.config import KpiSettings
from kpi_cli.errors import ConfigError, UsageError
from kpi_cli.periods import parse_period
from kpi_cli.project import load_project

# Two channels, hand-worked: A converts 30/100 then 36/120 (rate 0.30 both
# times), B 10/100 then 8/40 (0.10 -> 0.20). R0 = 40/200 = 0.2,
# R1 = 44/160 = 0.275, mean 0.2375. Shares: A 0.5 -> 0.75, B 0.5 -> 0.25.
BEFORE = {"A": (F(30), F(100)), "B": (F(10), F(100))}
NOW = {"A": (F(36), F(120)), "B": (F(8), F(40))}


def test_two_channel_mix_and_rate_by_hand() -> None:
    effects = explain.split_ratio(NOW, BEFORE)

    # A: rate (0.5+0.75)/2 * 0 = 0; mix 0.25 * (0.30 - 0.2375) = 0.015625
    assert effects["A"] == (F("0.015625"), F(0))
    # B: rate (0.5+0.25)/2 * 0.10 = 0.0375; mix -0.25 * (0.15 - 0.2375) = 0.021875
    assert effects["B"] == (F("0.021875"), F("0.0375"))
    total = sum(mix + rate for mix, rate in effects.values())
    assert total == F(44, 160) - F(40, 200)  # 0.075, exactly


def test_channel_present_in_one_period_only() -> None:
    # C appears in the second period with 4/40. R1 = 48/200 = 0.24, mean 0.22;
    # shares now A 0.6, B 0.2, C 0.2.
    now = {**NOW, "C": (F(4), F(40))}
    effects = explain.split_ratio(now, BEFORE)

    assert effects["A"] == (F("0.008"), F(0))  # 0.1 * (0.30 - 0.22)
    assert effects["B"] == (F("0.021"), F("0.035"))  # -0.3 * -0.07; 0.35 * 0.1
    assert effects["C"] == (F("-0.024"), F(0))  # 0.2 * (0.10 - 0.22), no rate
    assert sum(m + r for m, r in effects.values()) == F(48, 200) - F(40, 200)
    # And the other way round: a channel that vanished.
    back = explain.split_ratio(BEFORE, now)
    # -0.2 * (0.10 - 0.22): losing a below-average channel lifts the rate.
    assert back["C"] == (F("0.024"), F(0))
    assert sum(m + r for m, r in back.values()) == F(40, 200) - F(48, 200)


def test_ratio_against_target_by_hand() -> None:
    # R = 0.275 against T = 0.25; A's own target 0.32, B held to T.
    effects = explain.split_ratio_target(NOW, {"A": F("0.32")}, F("0.25"))

    assert effects["A"] == (F("0.0525"), F("-0.015"))  # 0.75*0.07, 0.75*-0.02
    assert effects["B"] == (F(0), F("-0.0125"))  # 0.25 * (0.20 - 0.25)
    assert sum(m + r for m, r in effects.values()) == F("0.275") - F("0.25")


def test_differences_add_up_with_missing_keys() -> None:
    split = explain.split_difference({"A": F(5), "C": F(2)}, {"A": F(3), "B": F(4)})

    assert split == {"A": F(2), "B": F(-4), "C": F(2)}


@pytest.mark.parametrize(
    ("measure", "parts"),
    [
        ("sum(amount) / nullif(count(*), 0)", ("sum(amount)", "count(*)")),
        (
            "sum(paid_orders) / nullif(sum(visitors), 0)",
            ("sum(paid_orders)", "sum(visitors)"),
        ),
        ("avg(score)", ("sum(score)", "count(score)")),
        ("sum(a) / sum(b)", ("sum(a)", "sum(b)")),
        ("sum(a)", None),
        ("sum(a) / sum(b) / 2", None),
        ("(sum(a) / sum(b))", None),
    ],
    ids=["nullif", "sums", "avg", "bare", "sum", "two-slashes", "wrapped"],
)
def test_ratio_parts_from_measure(measure: str, parts: tuple | None) -> None:
    kpi = KpiSettings(id="k", name="k", model="m", measure=measure, unit="ratio")

    assert explain.ratio_parts(kpi) == parts


def test_declared_parts_win_and_must_come_in_pairs() -> None:
    kpi = KpiSettings(
        id="k",
        name="k",
        model="m",
        measure="x",
        unit="ratio",
        numerator="sum(n)",
        denominator="sum(d)",
    )
    assert explain.ratio_parts(kpi) == ("sum(n)", "sum(d)")
    half = KpiSettings(id="k", name="k", model="m", measure="x", numerator="sum(n)")
    with pytest.raises(ConfigError, match=r"kpis\[k\]: set both numerator"):
        explain.ratio_parts(half)


def test_unsplittable_measure_names_the_kpi() -> None:
    kpi = KpiSettings(
        id="median_basket", name="m", model="m", measure="median(x)", unit="ratio"
    )
    with pytest.raises(ConfigError, match=r"kpis\[median_basket\].*numerator"):
        explain.method_of(kpi)


# ------------------------------------------------------------ end to end

ORDERS = """order_id,customer_id,channel,paid_at,amount
1,c1,A,2026-11-16 10:00:00,100.00
2,c2,A,2026-11-17 10:00:00,200.00
3,c1,B,2026-11-18 10:00:00,50.00
4,c1,A,2026-11-23 10:00:00,300.00
5,c2,B,2026-11-24 10:00:00,60.00
6,c3,B,2026-11-25 10:00:00,60.00
7,c3,B,2026-11-26 10:00:00,30.00
8,c4,C,2026-11-27 10:00:00,10.00
"""

PROJECT = """
[project]
name = "tiny"
timezone = "Asia/Shanghai"
data_dir = "data"

[sources.sales]
path = "orders.csv"
time_column = "paid_at"
[sources.sales.types]
amount = "decimal(18,2)"
paid_at = "timestamp"

[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
model = "sales"
measure = "sum(amount)"
dimension = "channel"
[kpis.target]
value = 500
[kpis.target.by]
A = 250
B = 200

[[kpis]]
id = "aov"
name = "AOV"
unit = "currency"
model = "sales"
measure = "sum(amount) / nullif(count(*), 0)"
dimension = "channel"

[[kpis]]
id = "buyers"
name = "Buyers"
model = "sales"
measure = "count(DISTINCT customer_id)"
dimension = "channel"
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "kpi.toml").write_text(PROJECT, encoding="utf-8")

    return tmp_path


def _by_key(explanation: explain.Explanation) -> dict:
    return {
        (c.key if c.kind == "value" else c.reason): c for c in explanation.contributions
    }


def test_additive_against_previous(tiny: Path) -> None:
    result = explain.run_explain(load_project(tiny), parse_period("2026-W48"), "gmv")
    rows = _by_key(result)

    # W47: A 300, B 50; W48: A 300, B 150, C 10. Change 460 - 350 = 110.
    assert result.total_change == Decimal("110")
    assert rows["B"].contribution == Decimal("100")
    assert rows["C"].contribution == Decimal("10")
    assert rows["A"].contribution == Decimal("0")
    assert [c.key for c in result.contributions] == ["B", "C", "A"]  # ranked
    assert sum(c.contribution for c in result.contributions) == Decimal("110")


def test_additive_against_target_names_the_misses(tiny: Path) -> None:
    result = explain.run_explain(
        load_project(tiny), parse_period("2026-W48"), "gmv", against="target"
    )
    rows = _by_key(result)

    # 460 against 500: A 300 - 250 = +50, B 150 - 200 = -50, C 10 - 0 = +10,
    # and 500 - (250 + 200) = 50 of the target is not allocated to a channel.
    assert result.total_change == Decimal("-40")
    assert rows["A"].contribution == Decimal("50")
    assert rows["B"].contribution == Decimal("-50")
    assert rows["B"].share == pytest.approx(1.25)  # of the total miss of 40
    assert rows["unallocated_target"].contribution == Decimal("-50")
    assert sum(c.contribution for c in result.contributions) == Decimal("-40")


def test_ratio_against_previous_by_hand(tiny: Path) -> None:
    result = explain.run_explain(load_project(tiny), parse_period("2026-W48"), "aov")
    rows = _by_key(result)

    # AOV 350/3 -> 460/5 = 92; mean 313/3. A: 2 orders at 150 -> 1 at 300;
    # B: 1 at 50 -> 3 at 50; C: new, 1 at 10 (worked in the module's terms).
    assert result.total_change == pytest.approx(92 - 350 / 3)
    assert rows["A"].rate_effect == pytest.approx(65)
    assert rows["A"].mix_effect == pytest.approx(-2534 / 45)
    assert rows["B"].rate_effect == pytest.approx(0)
    assert rows["B"].mix_effect == pytest.approx(-652 / 45)
    assert rows["C"].mix_effect == pytest.approx(-283 / 15)
    assert rows["C"].rate_effect == pytest.approx(0)
    assert "overlap" not in rows  # sums and counts add up: nothing unattributed
    assert sum(c.contribution for c in result.contributions) == pytest.approx(
        result.total_change, abs=1e-12
    )


def test_distinct_counts_show_their_overlap(tiny: Path) -> None:
    result = explain.run_explain(load_project(tiny), parse_period("2026-W48"), "buyers")
    rows = _by_key(result)

    # Buyers 2 -> 4 (c1..c4). By channel W47: A {c1, c2}, B {c1}; W48: A {c1},
    # B {c2, c3}, C {c4}: -1, +1, +1. c1 bought in A and B in W47, so the
    # channels over-count the base by 1: that +1 is unattributed overlap.
    assert result.total_change == 2
    assert (rows["A"].contribution, rows["B"].contribution) == (-1, 1)
    assert rows["C"].contribution == 1
    assert rows["overlap"].contribution == 1


def test_unknown_column_and_missing_dimension(tiny: Path) -> None:
    project = load_project(tiny)
    week = parse_period("2026-W48")

    with pytest.raises(UsageError, match=r"--by 'shop': model 'sales' has no"):
        explain.run_explain(project, week, "gmv", dimension="shop")
    with pytest.raises(UsageError, match="KPI aov has no target for 2026-W48"):
        explain.run_explain(project, week, "aov", against="target")


def test_split_by_another_column(tiny: Path) -> None:
    result = explain.run_explain(
        load_project(tiny), parse_period("2026-W48"), "gmv", dimension="customer_id"
    )
    rows = _by_key(result)

    # c1: 150 -> 300, c2: 200 -> 60, c3: 0 -> 90, c4: 0 -> 10.
    assert rows["c1"].contribution == Decimal("150")
    assert rows["c2"].contribution == Decimal("-140")
    assert rows["c3"].contribution == Decimal("90")
    assert result.dimension == "customer_id"
