"""The shared fault cases, run end to end as kpi projects.

Each test writes a project file over a case's inputs (tests/cases/<case>/),
runs a review through the library, and checks the JSON output against the
values worked out by hand in the case's case.md / expected.json.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_cli.project import load_project
from kpi_cli.render_data import review_json
from kpi_cli.review import choose_period, run_review

CASES = Path(__file__).parent / "cases"


def expected(case: str) -> dict[str, Any]:
    return json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))


def make_project(
    tmp_path: Path, case: str, body: str, models: dict[str, str] | None = None
) -> Path:
    """A project over a case's inputs; ``body`` holds sources and KPIs."""
    root = tmp_path / "project"
    (root / "queries").mkdir(parents=True)
    for name, sql in (models or {}).items():
        (root / "queries" / f"{name}.sql").write_text(sql, encoding="utf-8")
    data = (CASES / case).as_posix()
    head = (
        "[project]\n"
        'name = "case"\n'
        'timezone = "Asia/Shanghai"\n'
        'language = "en"\n'
        f'data_dir = "{data}"\n'
    )
    (root / "kpi.toml").write_text(head + body, encoding="utf-8")

    return root


def review(root: Path, period: str, as_of: dt.date | None = None) -> dict[str, Any]:
    project = load_project(root)
    chosen = choose_period(project, period, today=dt.date(2030, 1, 1), as_of=as_of)

    return review_json(run_review(project, chosen))


def kpi(result: dict[str, Any], kpi_id: str) -> dict[str, Any]:
    (found,) = [k for k in result["kpis"] if k["id"] == kpi_id]
    return found


def rows(result: dict[str, Any], kpi_id: str) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in kpi(result, kpi_id)["breakdown"]["rows"]}


# ------------------------------------------------------------ 08 ISO weeks

SALES_08 = """
[sources.sales]
path = "daily_sales.csv"
time_column = "day"
columns = { "日期" = "day", "门店" = "store", "销售额" = "sales" }
types = { day = "date", sales = "decimal(18,2)" }

[[kpis]]
id = "sales"
name = "Sales"
unit = "currency"
model = "sales"
measure = "sum(sales)"
"""


def test_08_monday_weeks_use_iso_week_years(tmp_path: Path) -> None:
    root = make_project(tmp_path, "08-iso-week-year-boundary", SALES_08)

    first = review(root, "2025-W01")
    assert first["period"]["start"] == "2024-12-30"
    assert first["period"]["end"] == "2025-01-05"
    sales = kpi(first, "sales")
    assert sales["value"] == 1800.00
    assert sales["previous"]["period"] == "2024-W52"
    assert sales["previous"]["value"] == 300.00
    assert sales["previous"]["change"] == 1500.00
    assert sales["previous"]["change_pct"] == pytest.approx(5.0)

    second = kpi(review(root, "2025-W02"), "sales")
    assert second["value"] == 700.00
    assert second["previous"]["change_pct"] == pytest.approx(-1100 / 1800)

    week53 = review(root, "2026-W53")
    assert week53["period"]["start"] == "2026-12-28"
    assert kpi(week53, "sales")["value"] == 1700.00
    # The week before 2026-W53 is 2026-W52 (no rows: 0), never 2025-W02.
    assert kpi(week53, "sales")["previous"]["period"] == "2026-W52"
    assert kpi(week53, "sales")["previous"]["value"] == 0

    assert kpi(review(root, "2027-W01"), "sales")["value"] == 1000.00


@pytest.mark.parametrize(
    ("day", "start", "sales"),
    [
        ("2024-12-22", "2024-12-22", 100.00),
        ("2024-12-29", "2024-12-29", 1400.00),
        ("2025-01-05", "2025-01-05", 1300.00),
        ("2026-12-27", "2026-12-27", 1700.00),
        ("2027-01-03", "2027-01-03", 1000.00),
    ],
    ids=[
        "w-2024-12-22",
        "w-2024-12-29",
        "w-2025-01-05",
        "w-2026-12-27",
        "w-2027-01-03",
    ],
)
def test_08_sunday_weeks(tmp_path: Path, day: str, start: str, sales: float) -> None:
    root = make_project(tmp_path, "08-iso-week-year-boundary", SALES_08)
    text = (root / "kpi.toml").read_text(encoding="utf-8")
    text = text.replace('language = "en"', 'language = "en"\nweek_start = "sunday"')
    (root / "kpi.toml").write_text(text, encoding="utf-8")
    project = load_project(root)
    # A Sunday-start week is named by the ISO week of its Monday.
    from kpi_cli.periods import containing

    period = containing("week", dt.date.fromisoformat(day), 6)
    result = review_json(run_review(project, period))

    assert result["period"]["start"] == start
    assert kpi(result, "sales")["value"] == sales


# ------------------------------------------- 09 change from zero, negative base

MODELS_09 = {
    "store_days": """
        WITH sales AS (
            SELECT CAST(paid_at AS DATE) AS day, store, sum(amount) AS gmv
            FROM orders GROUP BY ALL
        ),
        spend AS (
            SELECT day, store, sum(spend) AS spend FROM marketing GROUP BY ALL
        )
        SELECT day, store, coalesce(gmv, 0) AS gmv, coalesce(spend, 0) AS spend
        FROM sales FULL JOIN spend USING (day, store)
    """
}
BODY_09 = """
[sources.orders]
path = "orders.csv"
time_column = "paid_at"
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "门店" = "store", "渠道" = "channel", "实付金额" = "amount" }
types = { amount = "decimal(18,2)", paid_at = "timestamp" }

[sources.marketing]
path = "marketing_spend.csv"
time_column = "day"
columns = { "日期" = "day", "门店" = "store", "花费" = "spend" }
types = { day = "date", spend = "decimal(18,2)" }

[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
model = "orders"
measure = "sum(amount)"
dimension = "channel"

[[kpis]]
id = "gmv_by_store"
name = "GMV by store"
unit = "currency"
model = "orders"
measure = "sum(amount)"
dimension = "store"

[[kpis]]
id = "net"
name = "Net contribution"
unit = "currency"
model = "store_days"
time_column = "day"
measure = "sum(gmv) - sum(spend)"
dimension = "store"
additive = true
"""


def test_09_percent_change_from_zero_is_unknown(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, "09-pct-change-from-zero-and-negative", BODY_09, MODELS_09
    )
    result = review(root, "2025-W11")

    gmv = kpi(result, "gmv")
    assert (gmv["value"], gmv["previous"]["value"]) == (7500.00, 4500.00)
    assert gmv["previous"]["change_pct"] == pytest.approx(3000 / 4500)
    channels = rows(result, "gmv")
    expected_rows = {
        "小程序": (1500.00, 1000.00, 500.00, 0.5),
        "门店": (5500.00, 3500.00, 2000.00, 2000 / 3500),
        "直播": (500.00, 0.0, 500.00, None),
        "社群": (0.0, 0.0, 0.0, None),
    }
    assert set(channels) == set(expected_rows)
    for key, (cur, prev, change, pct) in expected_rows.items():
        row = channels[key]
        assert row["value"] == cur, key
        assert row["previous"]["value"] == prev, key
        assert row["previous"]["change"] == change, key
        if pct is None:
            assert row["previous"]["change_pct"] is None, key
        else:
            assert row["previous"]["change_pct"] == pytest.approx(pct), key

    stores = rows(result, "gmv_by_store")
    assert stores["东门店"]["previous"]["change_pct"] == pytest.approx(1000 / 3000)
    assert stores["西门店"]["previous"]["change_pct"] == pytest.approx(2000 / 1500)

    # No inf or NaN anywhere: JSON would not even serialise them strictly.
    json.dumps(result, allow_nan=False)
    # The orders begin on Tuesday 2025-03-04, inside the previous week: its
    # value stands, with a note that it may be partial.
    assert "partial_base:2025-W10" in gmv["notes"]


def test_09_negative_base_divides_by_its_absolute_value(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, "09-pct-change-from-zero-and-negative", BODY_09, MODELS_09
    )
    result = review(root, "2025-W11")

    net = kpi(result, "net")
    assert (net["value"], net["previous"]["value"]) == (500.00, -2500.00)
    assert net["previous"]["change_pct"] == pytest.approx(1.20)
    assert net["previous"]["base_negative"] is True
    stores = rows(result, "net")
    assert stores["东门店"]["previous"]["change_pct"] == pytest.approx(0.50)
    assert stores["西门店"]["previous"]["change_pct"] == pytest.approx(4.00)
    assert stores["西门店"]["value"] == 1500.00


# ------------------------------------------------------ 10 ratio of sums

MODELS_10 = {
    "store_days": """
        WITH o AS (
            SELECT CAST(paid_at AS DATE) AS day, store,
                   count(*) AS orders, sum(amount) AS gmv
            FROM orders GROUP BY ALL
        ),
        t AS (SELECT day, store, sum(visitors) AS visitors FROM traffic GROUP BY ALL)
        SELECT day, store, coalesce(orders, 0) AS orders, coalesce(gmv, 0) AS gmv,
               coalesce(visitors, 0) AS visitors
        FROM o FULL JOIN t USING (day, store)
    """
}
BODY_10 = """
[sources.orders]
path = "orders.csv"
time_column = "paid_at"
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "门店" = "store", "买家ID" = "buyer", "实付金额" = "amount" }
types = { amount = "decimal(18,2)", paid_at = "timestamp" }

[sources.traffic]
path = "traffic.csv"
time_column = "day"
columns = { "日期" = "day", "门店" = "store", "访客数" = "visitors" }
types = { day = "date", visitors = "bigint" }

[[kpis]]
id = "conversion"
name = "Conversion"
unit = "percent"
model = "store_days"
time_column = "day"
measure = "sum(orders) / nullif(sum(visitors), 0)"
dimension = "store"

[[kpis]]
id = "aov"
name = "AOV"
unit = "currency"
model = "orders"
measure = "sum(amount) / nullif(count(*), 0)"
dimension = "store"
"""


def test_10_conversion_and_aov_are_ratios_of_sums(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, "10-ratio-of-sums-conversion-and-aov", BODY_10, MODELS_10
    )
    result = review(root, "2025-03-01..2025-03-02")

    assert kpi(result, "conversion")["value"] == pytest.approx(19 / 406, abs=1e-12)
    assert kpi(result, "aov")["value"] == 163.16  # 3100.00 / 19, half-up to the cent
    stores = rows(result, "conversion")
    assert stores["旗舰店"]["value"] == pytest.approx(16 / 400, abs=1e-12)
    assert stores["社区店"]["value"] == pytest.approx(3 / 6, abs=1e-12)
    assert rows(result, "aov")["旗舰店"]["value"] == 100.00
    assert rows(result, "aov")["社区店"]["value"] == 500.00

    assert kpi(review(root, "2025-03-01"), "conversion")["value"] == pytest.approx(
        12 / 204, abs=1e-12
    )
    assert kpi(review(root, "2025-03-02"), "conversion")["value"] == pytest.approx(
        7 / 202, abs=1e-12
    )


# ------------------------------------------------ 11 distinct per period

BODY_11 = """
[sources.orders]
path = "orders.csv"
time_column = "paid_at"
sparse = true  # a handful of orders: days without any are real zeros
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "客户ID" = "customer", "实付金额" = "amount" }
types = { amount = "decimal(18,2)", paid_at = "timestamp" }

[[kpis]]
id = "customers"
name = "Customers"
model = "orders"
measure = "count(DISTINCT customer)"

[[kpis]]
id = "orders"
name = "Orders"
model = "orders"
measure = "count(*)"

[[kpis]]
id = "returning"
name = "Returning customers"
model = "orders_first"
time_column = "paid_at"
measure = "count(DISTINCT customer) FILTER (WHERE first_paid < period_start)"
"""
MODELS_11 = {
    "orders_first": """
        SELECT *, min(paid_at) OVER (PARTITION BY customer) AS first_paid FROM orders
    """
}


def test_11_distinct_customers_per_period_never_summed(tmp_path: Path) -> None:
    root = make_project(tmp_path, "11-weekly-distinct-customers", BODY_11, MODELS_11)
    exp = expected("11-weekly-distinct-customers")["expected"]

    week2 = review(root, "2025-W11")
    assert kpi(week2, "customers")["value"] == 4
    assert kpi(week2, "customers")["previous"]["value"] == 5
    assert kpi(week2, "customers")["previous"]["change_pct"] == pytest.approx(-0.20)
    assert kpi(week2, "orders")["value"] == 5
    assert kpi(week2, "orders")["previous"]["value"] == 11
    assert kpi(week2, "returning")["value"] == 2
    assert kpi(review(root, "2025-03-01..2025-03-16"), "customers")["value"] == 7

    for day, count in exp["daily_customers"].items():
        assert kpi(review(root, day), "customers")["value"] == count, day


# ------------------------------------------------ 12 partial week to date

BODY_12 = """
[sources.orders]
path = "orders.csv"
time_column = "paid_at"
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "实付金额" = "amount" }
types = { amount = "decimal(18,2)", paid_at = "timestamp" }

[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
model = "orders"
measure = "sum(amount)"
[kpis.target]
value = 7000
"""


def test_12_partial_week_compares_same_elapsed_days(tmp_path: Path) -> None:
    root = make_project(tmp_path, "12-partial-week-to-date-comparison", BODY_12)
    result = review(root, "2025-W11", as_of=dt.date(2025, 3, 12))

    assert result["period"]["partial"] is True
    assert result["period"]["end"] == "2025-03-12"
    gmv = kpi(result, "gmv")
    assert gmv["value"] == 3300.00
    assert (gmv["previous"]["start"], gmv["previous"]["end"]) == (
        "2025-03-03",
        "2025-03-05",
    )
    assert gmv["previous"]["value"] == 3000.00
    assert gmv["previous"]["change_pct"] == pytest.approx(0.10)
    assert (gmv["year_ago"]["start"], gmv["year_ago"]["end"]) == (
        "2024-03-11",
        "2024-03-13",
    )
    assert gmv["year_ago"]["value"] == 3000.00
    assert gmv["year_ago"]["change_pct"] == pytest.approx(0.10)
    # The weekly target is prorated to 3 of 7 days: 7000 * 3 / 7 = 3000.
    assert gmv["target"] == pytest.approx(3000.0)
    assert gmv["status"] == "on_track"
    # The trend's earlier weeks are complete weeks.
    assert gmv["trend"][-2]["value"] == 9500.00


# --------------------------------------------- 13 lower is better (CAC)

MODELS_13 = {
    "acquisition": """
        WITH spend AS (
            SELECT day, channel, sum(spend) AS spend FROM marketing GROUP BY ALL
        ),
        new AS (
            SELECT CAST(first_at AS DATE) AS day, channel, count(*) AS new_customers
            FROM customers GROUP BY ALL
        )
        SELECT day, channel, coalesce(spend, 0) AS spend,
               coalesce(new_customers, 0) AS new_customers
        FROM spend FULL JOIN new USING (day, channel)
    """
}
BODY_13 = """
[sources.marketing]
path = "marketing_spend.csv"
time_column = "day"
sparse = true  # spend is entered on a few days of the month
columns = { "日期" = "day", "渠道" = "channel", "花费" = "spend" }
types = { day = "date", spend = "decimal(18,2)" }

[sources.customers]
path = "new_customers.csv"
time_column = "first_at"
sparse = true
columns = { "客户ID" = "customer", "首单时间" = "first_at", "来源渠道" = "channel" }
types = { first_at = "timestamp" }

[[kpis]]
id = "cac"
name = { zh = "获客成本", en = "CAC" }
unit = "currency"
direction = "lower"
grain = "month"
model = "acquisition"
time_column = "day"
filter = "channel <> '自然流量'"
measure = "sum(spend) / nullif(sum(new_customers), 0)"
dimension = "channel"
[kpis.target]
value = 50
warn = 0
by = { "抖音" = 50, "小红书" = 50, "微信广告" = 50 }

[[kpis]]
id = "new_customers"
name = "New customers"
grain = "month"
model = "customers"
measure = "count(*)"
dimension = "channel"
[kpis.target]
value = 18
warn = 0
by = { "抖音" = 8, "小红书" = 8, "微信广告" = 2 }
"""


def test_13_lower_is_better_attainment_is_target_over_actual(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, "13-lower-is-better-cac-vs-target", BODY_13, MODELS_13
    )
    result = review(root, "2025-03")

    cac = kpi(result, "cac")
    assert cac["value"] == 53.33  # 800.00 / 15, paid channels only
    assert cac["attainment"] == pytest.approx(50 / (800 / 15))  # 93.75%
    assert cac["status"] == "off_track"
    assert cac["previous"]["value"] == 50.00
    assert cac["previous"]["change_pct"] == pytest.approx((800 / 15 - 50) / 50)

    channels = rows(result, "cac")
    assert channels["抖音"]["value"] == 40.00
    assert channels["抖音"]["attainment"] == pytest.approx(1.25)
    assert channels["抖音"]["status"] == "on_track"
    assert channels["抖音"]["previous"]["change_pct"] == pytest.approx(-0.20)
    assert channels["小红书"]["value"] == 60.00
    assert channels["小红书"]["attainment"] == pytest.approx(50 / 60)
    assert channels["小红书"]["status"] == "off_track"
    # Spend and no new customers: no CAC, the worst attainment, never inf.
    assert channels["微信广告"]["value"] is None
    assert channels["微信广告"]["attainment"] == 0
    assert channels["微信广告"]["status"] == "off_track"

    # 自然流量 is excluded by the CAC's filter, so it is no part of its breakdown.
    assert set(channels) == {"抖音", "小红书", "微信广告"}

    new = rows(result, "new_customers")
    assert (new["抖音"]["value"], new["抖音"]["attainment"]) == (10, 1.25)
    assert new["抖音"]["status"] == "on_track"
    assert (new["小红书"]["value"], new["小红书"]["attainment"]) == (5, 0.625)
    assert new["微信广告"]["value"] == 0
    assert new["微信广告"]["attainment"] == 0
    assert new["微信广告"]["status"] == "off_track"


# ------------------------------------------- 15 channel missing in a period

BODY_15 = """
[sources.orders]
path = "orders.csv"
time_column = "paid_at"
columns = { "订单号" = "order_id", "付款时间" = "paid_at", "渠道" = "channel", "实付金额" = "amount" }
types = { amount = "decimal(18,2)", paid_at = "timestamp" }

[[kpis]]
id = "gmv"
name = "GMV"
unit = "currency"
model = "orders"
measure = "sum(amount)"
dimension = "channel"
"""


def test_15_channels_missing_in_one_period_still_compare(tmp_path: Path) -> None:
    root = make_project(tmp_path, "15-missing-channel-in-one-period", BODY_15)
    result = review(root, "2025-W11")

    gmv = kpi(result, "gmv")
    assert (gmv["value"], gmv["previous"]["value"]) == (4800.00, 6200.00)
    assert gmv["previous"]["change"] == -1400.00
    channels = rows(result, "gmv")
    assert set(channels) == {"小程序", "门店", "社群", "直播"}
    assert channels["社群"]["value"] == 0
    assert channels["社群"]["previous"]["value"] == 2000.00
    assert channels["社群"]["previous"]["change_pct"] == pytest.approx(-1.0)
    assert channels["直播"]["previous"]["value"] == 0
    assert channels["直播"]["previous"]["change_pct"] is None
    # The channel changes reconcile with the total change.
    total = sum(Decimal(str(r["previous"]["change"])) for r in channels.values())
    assert total == Decimal("-1400.00")


# ------------------------------------------ 19 empty and header-only files

BODY_19 = """
[sources.visits]
path = "store_visits_*.csv"
time_column = "day"
columns = { "日期" = "day", "门店" = "store", "进店人数" = "visits" }
types = { day = "date", visits = "bigint" }

[[kpis]]
id = "visits"
name = "Store visits"
grain = "month"
model = "visits"
measure = "sum(visits)"
dimension = "store"
[kpis.target]
value = 300
"""


def test_19_header_only_month_is_zero_and_empty_file_is_flagged(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, "19-empty-and-header-only-files", BODY_19)

    january = review(root, "2025-01")
    visits = kpi(january, "visits")
    assert visits["value"] == 350
    assert {k: r["value"] for k, r in rows(january, "visits").items()} == {
        "A店": 200,
        "B店": 150,
    }
    february = kpi(review(root, "2025-02"), "visits")
    assert february["value"] == 0
    assert february["previous"]["change_pct"] == pytest.approx(-1.0)
    assert kpi(review(root, "2025-04"), "visits")["value"] == 150

    # The zero-byte March export is named, and no month is trusted as complete:
    # a shortfall shows as incomplete data, never as off track.
    march = review(root, "2025-03")
    (source,) = march["sources"]
    assert source["complete"] is False
    assert any("store_visits_2025-03.csv" in issue for issue in source["issues"])
    assert kpi(march, "visits")["status"] == "incomplete_data"
    assert any("store_visits_2025-03.csv" in w for w in march["warnings"])
