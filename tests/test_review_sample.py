"""The built-in KPI pack over the sample shop, checked against independent SQL.

The expected values are computed here from the raw export files with plain
DuckDB SQL written for this test (Chinese headers, text parsed by hand), not
with the tool's models, loader or compiler.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpi_cli.periods import parse_period
from kpi_cli.project import load_project
from kpi_cli.render_data import review_json
from kpi_cli.review import run_review

PERIODS = ["2026-W48", "2025-W46", "2026-01-01..2026-01-10", "2026-10"]


def raw(data: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE VIEW o AS
        SELECT "订单号" AS id, "买家ID" AS cust, "渠道" AS channel,
               strptime(nullif("付款时间", ''), '%Y-%m-%d %H:%M:%S') AS paid,
               CAST("实付金额" AS DECIMAL(18, 2)) AS amount,
               CAST("退款金额" AS DECIMAL(18, 2)) AS refund
        FROM read_csv('{data / "orders.csv"}', all_varchar = true);
        CREATE VIEW first_paid AS
        SELECT cust, min(paid) AS first FROM o WHERE paid IS NOT NULL GROUP BY cust;
        CREATE VIEW t AS
        SELECT CAST("日期" AS DATE) AS day, "渠道" AS channel,
               CAST("访客数" AS BIGINT) AS visitors
        FROM read_csv('{data / "traffic.csv"}', all_varchar = true);
        CREATE VIEW s AS
        SELECT CAST("日期" AS DATE) AS day, "渠道" AS channel,
               CAST("推广费用" AS DECIMAL(18, 2)) AS spend
        FROM read_csv('{data / "marketing_spend.csv"}', all_varchar = true);
        CREATE VIEW r AS
        SELECT strptime("评价时间", '%Y-%m-%d %H:%M:%S') AS reviewed,
               CAST("评分" AS INTEGER) AS score
        FROM read_csv('{data / "reviews.csv"}', all_varchar = true);
        """
    )

    return con


def independent(
    con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Every pack KPI for [start, end] (inclusive days), from the raw files."""
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    one = lambda sql, *p: con.execute(sql, list(p)).fetchone()[0]  # noqa: E731

    gmv = one("SELECT sum(amount) FROM o WHERE paid >= ? AND paid < ?", lo, hi)
    orders = one("SELECT count(*) FROM o WHERE paid >= ? AND paid < ?", lo, hi)
    refunds = one("SELECT sum(refund) FROM o WHERE paid >= ? AND paid < ?", lo, hi)
    visitors = one("SELECT sum(visitors) FROM t WHERE day >= ? AND day < ?", lo, hi)
    spend = one("SELECT sum(spend) FROM s WHERE day >= ? AND day < ?", lo, hi)
    new = one(
        "SELECT count(*) FROM o JOIN first_paid f USING (cust) "
        "WHERE o.paid = f.first AND paid >= ? AND paid < ?",
        lo,
        hi,
    )
    customers = one(
        "SELECT count(DISTINCT cust) FROM o WHERE paid >= ? AND paid < ?", lo, hi
    )
    returning = one(
        "SELECT count(DISTINCT cust) FROM o JOIN first_paid f USING (cust) "
        "WHERE paid >= ? AND paid < ? AND f.first < ?",
        lo,
        hi,
        lo,
    )
    score = one("SELECT avg(score) FROM r WHERE reviewed >= ? AND reviewed < ?", lo, hi)
    by_channel = dict(
        con.execute(
            "SELECT channel, sum(amount) FROM o WHERE paid >= ? AND paid < ? "
            "GROUP BY channel",
            [lo, hi],
        ).fetchall()
    )

    return {
        "gmv": gmv,
        "orders": orders,
        "aov": Decimal(gmv) / orders,
        "conversion_rate": orders / visitors,
        "new_customers": new,
        "repurchase_rate": returning / customers,
        "cac": Decimal(spend) / new,
        "roi": Decimal(gmv) / Decimal(spend),
        "refund_rate": Decimal(refunds) / Decimal(gmv),
        "satisfaction": score,
        "gmv_by_channel": by_channel,
    }


def cents(value: Any) -> float:
    return float(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def raw_con(sample_project: Path) -> duckdb.DuckDBPyConnection:
    return raw(sample_project / "data")


@pytest.mark.parametrize("text", PERIODS)
def test_every_pack_kpi_matches_independent_sql(
    sample_project: Path, raw_con: duckdb.DuckDBPyConnection, text: str
) -> None:
    project = load_project(sample_project)
    period = parse_period(text)
    result = review_json(run_review(project, period))
    values = {k["id"]: k for k in result["kpis"]}
    exp = independent(raw_con, period.start, period.end)

    assert values["gmv"]["value"] == cents(exp["gmv"])
    assert values["orders"]["value"] == exp["orders"]
    assert values["aov"]["value"] == cents(exp["aov"])
    assert values["new_customers"]["value"] == exp["new_customers"]
    assert values["cac"]["value"] == cents(exp["cac"])
    for ratio in (
        "conversion_rate",
        "repurchase_rate",
        "roi",
        "refund_rate",
        "satisfaction",
    ):
        assert values[ratio]["value"] == pytest.approx(float(exp[ratio]), abs=1e-9), (
            ratio
        )

    by_channel = {r["key"]: r["value"] for r in values["gmv"]["breakdown"]["rows"]}
    assert by_channel == {k: cents(v) for k, v in exp["gmv_by_channel"].items()}

    # The comparisons are the same computation over other periods.
    previous = period.previous()
    exp_prev = independent(raw_con, previous.start, previous.end)
    assert values["gmv"]["previous"]["value"] == cents(exp_prev["gmv"])
    assert values["repurchase_rate"]["previous"]["value"] == pytest.approx(
        exp_prev["repurchase_rate"], abs=1e-9
    )
    year_ago = period.year_ago()
    if year_ago.start >= dt.date(2024, 11, 30):
        exp_ago = independent(raw_con, year_ago.start, year_ago.end)
        assert values["orders"]["year_ago"]["value"] == exp_ago["orders"]


def test_trend_points_match_weekly_sums(
    sample_project: Path, raw_con: duckdb.DuckDBPyConnection
) -> None:
    project = load_project(sample_project)
    result = review_json(run_review(project, parse_period("2026-W48")))
    gmv = next(k for k in result["kpis"] if k["id"] == "gmv")

    for point in gmv["trend"]:
        start = dt.date.fromisoformat(point["start"])
        end = dt.date.fromisoformat(point["end"])
        assert point["value"] == cents(independent(raw_con, start, end)["gmv"])
