"""A realistic review built by hand, for the HTML renderer's tests and bench.

Not a conftest plugin: imported by name (``from conftest_html import ...``) so
the benchmark can build the same objects without pytest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from kpi_cli.config import KpiSettings, Label, ProjectSettings, TargetSettings
from kpi_cli.periods import Period, parse_period
from kpi_cli.review_model import (
    Anomaly,
    Breakdown,
    BreakdownRow,
    Change,
    Contribution,
    Explanation,
    FileHealth,
    KpiResult,
    Review,
    SourceHealth,
    Streak,
    TargetChange,
    TargetDetail,
    TrendPoint,
)

SCRIPT_KEY = "<script>alert(1)</script>"
PERIOD = parse_period("2026-W48")


def kpi_settings(
    kpi_id: str,
    zh: str,
    en: str,
    *,
    unit: str = "count",
    direction: str = "higher",
    target: float | None = None,
    core: bool = False,
    dimension: str | None = None,
) -> KpiSettings:
    return KpiSettings(
        id=kpi_id,
        name=Label(zh=zh, en=en),
        description=f"{zh}（{en}），按支付时间计入当周。",
        owner="运营部 · 王芳",
        objective="提升复购与客单价",
        unit=unit,
        direction=direction,
        grain="week",
        model="orders",
        measure="sum(amount) FILTER (WHERE status = 'paid' AND amount < 1e6)",
        filter="channel <> 'test' AND note NOT LIKE '%<b>%'",
        dimension=dimension,
        target=TargetSettings(value=target, warn=0.1, due=dt.date(2026, 12, 31))
        if target is not None
        else None,
        core=core,
    )


def trend(
    values: list[float | Decimal | None], target: float | None, period: Period = PERIOD
) -> tuple[TrendPoint, ...]:
    periods = period.trailing(len(values))
    return tuple(TrendPoint(p, v, target) for p, v in zip(periods, values, strict=True))


def change(base: float | Decimal | None, value: float | Decimal | None, back: int = 1):
    """A Change computed the way the engine defines it."""
    period = PERIOD
    for _ in range(back):
        period = period.previous()
    if base is None or value is None:
        return Change(period, base, None, None)
    delta = value - base
    pct = None if base == 0 else float(delta) / abs(float(base))
    return Change(period, base, delta, pct, base_negative=base < 0)


def make_results(period: Period = PERIOD) -> tuple[KpiResult, ...]:
    gmv = kpi_settings(
        "gmv",
        "销售额",
        "Sales (GMV)",
        unit="currency",
        target=1_400_000,
        core=True,
        dimension="channel",
    )
    orders = kpi_settings("orders", "订单数", "Orders", target=9000, core=True)
    conversion = kpi_settings(
        "conversion",
        "转化率",
        "Conversion rate",
        unit="percent",
        target=0.045,
        core=True,
    )
    cac = kpi_settings(
        "cac",
        "新客获客成本",
        "New-customer CAC",
        unit="currency",
        direction="lower",
        target=80,
        core=True,
        dimension="campaign",
    )
    repurchase = kpi_settings("repurchase", "复购率", "Repurchase rate", unit="percent")
    csat = kpi_settings(
        "csat", "客户满意度", "Customer satisfaction", unit="score", target=4.6
    )
    gmv_value = Decimal("1285634.50")
    gmv_rows = (
        BreakdownRow(
            "小程序",
            Decimal("702345.10"),
            750000,
            0.9365,
            "at_risk",
            change(Decimal("650000"), Decimal("702345.10")),
        ),
        BreakdownRow(
            "门店",
            Decimal("412889.40"),
            400000,
            1.0322,
            "on_track",
            change(Decimal("420000"), Decimal("412889.40")),
        ),
        BreakdownRow(
            "直播",
            Decimal("160000.00"),
            250000,
            0.64,
            "off_track",
            change(Decimal("0"), Decimal("160000.00")),
            Anomaly(3.4, "down", Decimal("238000"), "robust z", "主播临时停播两场"),
        ),
        BreakdownRow(SCRIPT_KEY, Decimal("10400.00"), None, None, "no_target", None),
        BreakdownRow(None, Decimal("0"), None, None, "no_target", None),
    )
    return (
        KpiResult(
            gmv,
            period,
            gmv_value,
            1_400_000.0,
            0.9183,
            "at_risk",
            change(Decimal("1222100.00"), gmv_value),
            change(Decimal("1089500.00"), gmv_value, back=52),
            trend(
                [
                    Decimal(x)
                    for x in ("1010000", "1105000.5", "998000", "1150000", "1202000")
                ]
                + [None]
                + [
                    Decimal(x)
                    for x in ("1188000", "1240500", "1199000", "1301000", "1222100")
                ]
                + [gmv_value],
                1_400_000.0,
            ),
            Breakdown("channel", gmv_rows),
            sources=("orders",),
            notes=("直播渠道本周停播两场，拉低整体销售额。",),
        ),
        KpiResult(
            orders,
            period,
            9876,
            9000.0,
            1.0973,
            "on_track",
            change(9500, 9876),
            change(0, 9876, back=52),
            trend(
                [
                    8100,
                    8400,
                    8800,
                    8650,
                    9020,
                    9100,
                    9300,
                    9000,
                    9420,
                    9380,
                    9500,
                    9876,
                ],
                9000.0,
            ),
            None,
        ),
        KpiResult(
            conversion,
            period,
            0.0396,
            0.045,
            0.88,
            "off_track",
            change(0.0436, 0.0396),
            change(0.0381, 0.0396, back=52),
            trend(
                [
                    0.041,
                    0.043,
                    0.0425,
                    0.044,
                    0.046,
                    0.0452,
                    0.0447,
                    0.043,
                    0.0441,
                    0.0428,
                    0.0436,
                    0.0396,
                ],
                0.045,
            ),
            None,
            anomaly=Anomaly(2.8, "down", 0.0435, "robust z"),
        ),
        KpiResult(
            cac,
            period,
            Decimal("98.40"),
            80.0,
            0.813,
            "off_track",
            change(Decimal("86.00"), Decimal("98.40")),
            change(Decimal("103.60"), Decimal("98.40"), back=52),
            trend(
                [
                    Decimal(x)
                    for x in (
                        "76.5",
                        "78.0",
                        "80.2",
                        "79.9",
                        "82.4",
                        "81.0",
                        "84.3",
                        "83.1",
                        "85.0",
                        "88.2",
                        "86.0",
                        "98.40",
                    )
                ],
                80.0,
            ),
            Breakdown(
                "campaign",
                (
                    BreakdownRow(
                        "双十一返场",
                        Decimal("120.50"),
                        85,
                        0.705,
                        "off_track",
                        change(Decimal("90.10"), Decimal("120.50")),
                    ),
                    BreakdownRow(
                        "老带新",
                        Decimal("42.00"),
                        60,
                        1.43,
                        "on_track",
                        change(Decimal("45.00"), Decimal("42.00")),
                    ),
                ),
            ),
            notes=("投放预算集中在返场活动，新客成本上升。",),
        ),
        KpiResult(
            repurchase,
            period,
            0.2315,
            None,
            None,
            "no_target",
            change(0.2298, 0.2315),
            change(None, 0.2315, back=52),
            trend(
                [
                    0.21,
                    0.215,
                    0.22,
                    0.218,
                    0.225,
                    0.223,
                    0.226,
                    0.229,
                    0.231,
                    0.227,
                    0.2298,
                    0.2315,
                ],
                None,
            ),
            None,
        ),
        KpiResult(
            csat,
            period,
            None,
            4.6,
            None,
            "no_data",
            None,
            None,
            trend([None] * 12, None),
            None,
            notes=("评价导出本周为空文件。",),
        ),
    )


def make_sources() -> tuple[SourceHealth, ...]:
    return (
        SourceHealth(
            name="orders",
            files=(
                FileHealth(
                    "exports/orders/2026-11-23_有赞订单.csv", 6120, "utf-8", ","
                ),
                FileHealth(
                    "exports/orders/2026-11-27_有赞订单.csv", 5871, "gb18030", ","
                ),
                FileHealth(
                    "exports/orders/2026-11-30_empty.csv", 0, None, None, "empty"
                ),
            ),
            rows=182_340,
            first=dt.datetime(2025, 1, 1, 0, 3),
            last=dt.datetime(2026, 11, 29, 23, 58),
            period_rows=11_991,
            period_first=dt.datetime(2026, 11, 23, 0, 1),
            period_last=dt.datetime(2026, 11, 29, 23, 58),
        ),
        SourceHealth(
            name="reviews",
            files=(
                FileHealth(
                    "exports/reviews/评价_W48.csv", 0, "utf-8", "\t", "header_only"
                ),
            ),
            rows=4_210,
            first=dt.datetime(2025, 3, 1, 9, 0),
            last=dt.datetime(2026, 11, 22, 21, 40),
            period_rows=0,
            complete=False,
            issues=("本周评价导出只有表头，满意度无法计算。",),
        ),
    )


def make_review(
    lang: str = "zh", *, results: tuple[KpiResult, ...] | None = None, **changes
) -> Review:
    return Review(
        project=ProjectSettings(
            name="杭州旗舰店 & <Co>", language=lang, timezone="Asia/Shanghai"
        ),
        period=PERIOD,
        generated_at=dt.datetime(2026, 11, 30, 8, 0),
        kpis=make_results() if results is None else results,
        sources=make_sources(),
        language=lang,
        **changes,
    )


# GMV against its target by channel (hand-worked): the review is 44,234.18
# against 52,000, so the gap is -7,765.82; each channel's contribution is its
# value minus its own target.
GMV_PARTS = {
    "直播": (Decimal("922.23"), Decimal("10000")),
    "小程序": (Decimal("19088.03"), Decimal("15000")),
    "社群团购": (Decimal("2947.14"), Decimal("5000")),
}
GMV_VALUE, GMV_TARGET = Decimal("44234.18"), Decimal("52000")


def gmv_explanation(period: Period = PERIOD) -> Explanation:
    total = GMV_VALUE - GMV_TARGET
    parts = tuple(
        Contribution(
            key, value - target, value, target, share=float((value - target) / total)
        )
        for key, (value, target) in GMV_PARTS.items()
    )
    return Explanation(
        "gmv",
        period,
        "target",
        None,
        "channel",
        "difference",
        GMV_VALUE,
        GMV_TARGET,
        total,
        parts,
    )


def conversion_explanation(period: Period = PERIOD) -> Explanation:
    """A ratio against the previous period: mix + rate per channel, and an
    overlap row (a visitor counted in two channels)."""
    total = -0.004
    parts = (
        Contribution("小程序", -0.003, 0.031, 0.036, -0.0005, -0.0025, 0.75),
        Contribution("直播", -0.0015, 0.02, 0.05, -0.0012, -0.0003, 0.375),
        Contribution(None, 0.0005, share=-0.125, kind="unattributed", reason="overlap"),
    )
    return Explanation(
        "conversion",
        period,
        "previous",
        period.previous(),
        "channel",
        "mix_rate",
        0.0396,
        0.0436,
        total,
        parts,
    )


def make_insight_results(period: Period = PERIOD) -> tuple[KpiResult, ...]:
    """KPIs carrying what the review knows besides the numbers: growth and
    range targets, streaks, a target change, explanations and anomalies."""
    gmv, orders, conversion, cac = make_results(period)[:4]
    year_ago = period.complete().year_ago()
    gmv = replace(
        gmv,
        value=GMV_VALUE,
        target=float(GMV_TARGET),
        status="off_track",
        streak=Streak("off_track", 3),
        target_changed=TargetChange(52000.0, 60000.0),
        explanation=gmv_explanation(period),
        target_detail=TargetDetail(
            kind="value",
            full=52000.0,
            value=52000.0,
            warn=0.05,
            effective=dt.date(2026, 11, 16),
        ),
        breakdown=Breakdown(
            "channel",
            (
                BreakdownRow("小程序", Decimal("19088.03"), 15000.0, 1.27, "on_track"),
                BreakdownRow(
                    "直播",
                    Decimal("0"),
                    10000.0,
                    0.0,
                    "off_track",
                    anomaly=Anomaly(
                        3.5, "down", Decimal("8205.48"), "robust_z", "vanished"
                    ),
                ),
            ),
        ),
    )
    orders = replace(
        orders,
        target=9000.0 * 1.15,
        attainment=9876 / (9000 * 1.15),
        status="at_risk",
        target_detail=TargetDetail(
            kind="growth",
            full=9000.0 * 1.15,
            value=9000.0 * 1.15,
            warn=0.1,
            growth=0.15,
            baseline=9000.0,
            baseline_kind="year_ago",
            baseline_periods=(year_ago,),
        ),
        breakdown=Breakdown(
            "channel",
            (
                BreakdownRow("门店", 5000, previous=change(4800, 5000)),
                BreakdownRow(
                    "拼团",
                    900,
                    previous=change(300, 900),
                    anomaly=Anomaly(4.2, "up", 310, "robust_z_weekday"),
                ),
            ),
        ),
    )
    conversion = replace(
        conversion,
        target=None,
        attainment=0.8,
        status="off_track",
        streak=Streak("off_track", 2),
        explanation=conversion_explanation(period),
        target_detail=TargetDetail(
            kind="range", full=None, value=None, warn=0.1, low=0.045, high=0.06
        ),
        notes=("incomplete:orders,traffic",),
    )
    trailing = period.complete().trailing(5)[:-1]
    cac = replace(
        cac,
        target=95.0 * 0.9,
        target_detail=TargetDetail(
            kind="growth",
            full=95.0 * 0.9,
            value=95.0 * 0.9,
            warn=0.1,
            growth=-0.1,
            baseline=95.0,
            baseline_kind="trailing",
            baseline_periods=tuple(trailing),
        ),
    )
    return (gmv, orders, conversion, cac)


def make_health_sources() -> tuple[SourceHealth, ...]:
    """Sources with the health measures of ``kpi_cli.health`` filled in."""
    orders, reviews = make_sources()
    orders = replace(
        orders,
        complete=False,
        time_column="paid_at",
        key=("order_id",),
        empty_days=(dt.date(2026, 11, 24), dt.date(2026, 11, 25)),
        duplicate_keys=4,
        null_key_rows=12,
        null_key_share=12 / 600,
        null_time_rows=0,
        period_rows=600,
        trailing_periods=8,
        trailing_median_rows=1714.5,
        volume_ratio=600 / 1714.5,
        volume_drop=True,
        issues=(
            "600 row(s) in the period, 35% of the median 1714.5 of the last 8 weeks",
        ),
    )
    reviews = replace(
        reviews, sparse=True, key=("review_id",), duplicate_keys=0, null_key_rows=0
    )
    return (orders, reviews)


def make_big_review(count: int = 30, lang: str = "zh") -> Review:
    """``count`` KPIs with breakdowns, for the benchmark."""
    base = make_results()
    results = []
    for i in range(count):
        template = base[i % 4]
        kpi = template.kpi.model_copy(update={"id": f"{template.kpi.id}_{i}"})
        rows = tuple(
            BreakdownRow(
                f"门店 {j:02d}",
                Decimal(1000 + 37 * j),
                1200.0,
                0.9,
                "at_risk",
                change(Decimal(900 + j), Decimal(1000 + 37 * j)),
            )
            for j in range(12)
        )
        results.append(
            KpiResult(
                kpi,
                template.period,
                template.value,
                template.target,
                template.attainment,
                template.status,
                template.previous,
                template.year_ago,
                template.trend,
                Breakdown("store", rows),
                notes=template.notes,
                anomaly=template.anomaly,
                # Every KPI explained and on a streak: the most the report draws.
                streak=Streak(template.status, 3),
                explanation=gmv_explanation(template.period),
            )
        )
    return make_review(lang, results=tuple(results))
