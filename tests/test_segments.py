"""Member segments: thresholds at their boundaries, the movement matrix, the
order_segments model, and the pack's segment KPIs against plain SQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpi_cli.config import SegmentSettings
from kpi_cli.periods import parse_period
from kpi_cli.project import load_project
from kpi_cli.review import open_session, run_review
from kpi_cli.segments import segment_report, set_variables

WEEK = parse_period("2026-W48")  # 2026-11-23..29; the day before is 11-22

# customer, day, amount, paid. Worked against WEEK (as of 11-29, before 11-22):
#   d90    last order 2026-08-31, exactly 90 days before 11-29: dormant now;
#          83 days before 11-22: regular then.
#   d89    last order 2026-09-01, 89 days: regular, both times (its unpaid
#          order in the week does not count).
#   three  3 orders of 10 in the 365 days ending 11-29 (2025-11-30 is the
#          window's first day): high value now; dormant at 11-22 (last order
#          06-01): a reactivation.
#   edge   2025-11-29 is one day outside the window: 2 orders, regular.
#   big    one order of exactly 1000 in the week: high value, new.
#   almost one order of 999.99 in the week: regular, new.
ORDERS = [
    ("d90", "2026-08-31", "50.00", True),
    ("d89", "2026-09-01", "20.00", True),
    ("d89", "2026-11-27", "500.00", False),
    ("three", "2025-11-30", "10.00", True),
    ("three", "2026-06-01", "10.00", True),
    ("three", "2026-11-25", "10.00", True),
    ("edge", "2025-11-29", "10.00", True),
    ("edge", "2026-10-01", "10.00", True),
    ("edge", "2026-11-28", "10.00", True),
    ("big", "2026-11-24", "1000.00", True),
    ("almost", "2026-11-24", "999.99", True),
    (None, "2026-11-24", "70.00", True),
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE o (customer_id VARCHAR, paid_at TIMESTAMP, "
        "amount DECIMAL(18,2), is_paid BOOLEAN)"
    )
    connection.executemany(
        "INSERT INTO o VALUES (?, ?::TIMESTAMP + INTERVAL 15 HOUR, ?, ?)",
        [list(row) for row in ORDERS],
    )

    return connection


def test_boundaries_counts_and_shares(con: duckdb.DuckDBPyConnection) -> None:
    report = segment_report(con, WEEK, SegmentSettings(model="o"))
    rows = {r.segment: r for r in report.rows}

    assert (report.as_of, report.before) == (
        dt.date(2026, 11, 29),
        dt.date(2026, 11, 22),
    )
    assert {s: r.members for s, r in rows.items()} == {
        "high_value": 2,  # three, big
        "regular": 3,  # d89, edge, almost
        "dormant": 1,  # d90
    }
    assert report.members == 6
    assert rows["dormant"].share == pytest.approx(1 / 6)
    # Sales in the window 2025-11-30..2026-11-29 by segment now.
    assert rows["dormant"].window_revenue == Decimal("50.00")
    assert rows["high_value"].window_revenue == Decimal("1030.00")
    assert rows["regular"].window_revenue == Decimal("1039.99")
    assert rows["high_value"].revenue_share == pytest.approx(1030 / 2119.99)
    # Paid in the week, by the segment the buyer was in on 11-22.
    assert rows["dormant"].period_revenue == Decimal("10.00")  # three
    assert rows["regular"].period_revenue == Decimal("10.00")  # edge
    assert rows["high_value"].period_revenue == Decimal("0")
    assert report.new_revenue == Decimal("1999.99")
    assert report.new_members == 2


def test_movement_matrix_and_reactivation(con: duckdb.DuckDBPyConnection) -> None:
    report = segment_report(con, WEEK, SegmentSettings(model="o"))

    assert report.transitions == {
        ("regular", "dormant"): 1,  # d90
        ("regular", "regular"): 2,  # d89, edge
        ("dormant", "high_value"): 1,  # three
        ("new", "high_value"): 1,  # big
        ("new", "regular"): 1,  # almost
    }
    assert report.reactivated == 1
    rows = {r.segment: r for r in report.rows}
    assert {s: r.members_before for s, r in rows.items()} == {
        "high_value": 0,
        "regular": 3,
        "dormant": 1,
    }


def test_thresholds_come_from_settings(con: duckdb.DuckDBPyConnection) -> None:
    settings = SegmentSettings(
        model="o", dormant_days=91, high_value_orders=4, high_value_amount=999.99
    )
    report = segment_report(con, WEEK, settings)
    rows = {r.segment: r.members for r in report.rows}

    # d90 is 90 days out: no longer dormant; three has 3 < 4 orders; almost
    # reaches 999.99.
    assert rows == {"high_value": 2, "regular": 4, "dormant": 0}


def test_bad_column_is_a_query_error(con: duckdb.DuckDBPyConnection) -> None:
    from kpi_cli.errors import QueryError

    with pytest.raises(QueryError, match=r"customer = 'buyer'"):
        segment_report(con, WEEK, SegmentSettings(model="o", customer="buyer"))


# ------------------------------------------------------ order_segments model

MODEL_ORDERS = """order_id,customer_id,paid_at,amount,status
1,three,2025-11-30 09:00:00,10.00,ok
2,three,2026-06-01 09:00:00,10.00,ok
3,three,2026-11-25 09:00:00,10.00,ok
4,gap90,2026-01-01 09:00:00,10.00,ok
5,gap90,2026-04-01 09:00:00,10.00,ok
6,gap91,2026-01-01 09:00:00,10.00,ok
7,gap91,2026-04-02 09:00:00,10.00,ok
8,rich,2026-11-02 09:00:00,600.00,ok
9,rich,2026-11-03 09:00:00,400.00,ok
10,rich,2026-11-04 09:00:00,5.00,ok
11,rich,2026-11-04 18:00:00,5.00,ok
12,rich,,5.00,closed
"""

MODEL_PROJECT = """
[project]
name = "segments"
timezone = "Asia/Shanghai"
data_dir = "data"

# The built-in orders model reads orders_export and adds is_paid.
[sources.orders_export]
path = "orders.csv"
time_column = "paid_at"
[sources.orders_export.types]
amount = "decimal(18,2)"
paid_at = "timestamp"

[[kpis]]
id = "reactivated"
name = "Reactivated"
model = "order_segments"
time_column = "paid_at"
measure = "count(DISTINCT customer_id) FILTER (WHERE member_segment = 'dormant')"
"""


@pytest.fixture
def model_project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text(MODEL_ORDERS, encoding="utf-8")
    (tmp_path / "kpi.toml").write_text(MODEL_PROJECT, encoding="utf-8")

    return tmp_path


def test_order_segments_tags_each_order_as_of_the_day_before(
    model_project: Path,
) -> None:
    project = load_project(model_project)
    session = open_session(project)
    try:
        tags = dict(
            session.con.execute(
                "SELECT order_id, member_segment FROM order_segments"
            ).fetchall()
        )
    finally:
        session.close()

    assert tags == {
        1: "new",
        2: "dormant",  # 183 days after the first
        3: "dormant",  # a reactivation
        4: "new",
        5: "regular",  # 90 days later: on 03-31 the last order was 89 days back
        6: "new",
        7: "dormant",  # 91 days later: 90 days back on 04-01
        8: "new",
        9: "regular",  # 600 paid before: not yet 1000
        10: "high_value",  # 1000 paid in the window by 11-03
        11: "high_value",  # same day, same segment: the day before counts
    }  # order 12 is unpaid: not tagged


def test_segment_kpi_is_an_ordinary_measure(model_project: Path) -> None:
    review = run_review(load_project(model_project), parse_period("2026-W48"))

    # Only "three" came back from dormancy in 2026-W48.
    assert review.kpis[0].value == 1


def test_set_variables_feeds_the_model(model_project: Path) -> None:
    con = duckdb.connect()
    set_variables(con, SegmentSettings(dormant_days=30, high_value_amount=50))

    assert con.execute(
        "SELECT getvariable('segments_dormant_days'), "
        "getvariable('segments_high_value_amount')"
    ).fetchone() == (30, 50.0)


@pytest.mark.parametrize("label", ["2026-W44", "2026-W48"], ids=str)
def test_pack_segment_kpis_match_plain_sql(sample_project: Path, label: str) -> None:
    """high_value_share and reactivated_members against an independent query."""
    week = parse_period(label)
    review = run_review(load_project(sample_project), week)
    values = {k.id: k.value for k in review.kpis}
    orders = sorted((sample_project / "data").glob("orders*.csv"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    rows = con.execute(
        """
        WITH o AS (
            SELECT "买家ID" AS c, CAST("付款时间" AS TIMESTAMP) AS t,
                   CAST("实付金额" AS DECIMAL(18,2)) AS a
            FROM read_csv(?, all_varchar = true) WHERE "付款时间" <> ''
        ),
        d AS (SELECT c, CAST(t AS DATE) AS day, t, a FROM o),
        tagged AS (
            SELECT x.c, x.t, x.a,
                   (SELECT max(y.day) FROM d y WHERE y.c = x.c AND y.day < x.day) AS last,
                   (SELECT count(*) FROM d y WHERE y.c = x.c AND y.day < x.day
                       AND y.day >= x.day - 365) AS n,
                   (SELECT coalesce(sum(y.a), 0) FROM d y WHERE y.c = x.c
                       AND y.day < x.day AND y.day >= x.day - 365) AS m,
                   x.day
            FROM d x
            WHERE x.t >= ? AND x.t < ?
        )
        SELECT
            count(DISTINCT c) FILTER (WHERE last IS NOT NULL AND day - 1 - last >= 90),
            coalesce(sum(a) FILTER (WHERE last IS NOT NULL AND day - 1 - last < 90
                                    AND (n >= 3 OR m >= 1000)), 0) / sum(a)
        FROM tagged
        """,
        [[str(p) for p in orders], week.start_ts(), week.end_ts()],
    ).fetchone()

    assert values["reactivated_members"] == rows[0]
    assert values["high_value_share"] == pytest.approx(float(rows[1]))
    if label == "2026-W44":
        assert rows[0] > 0 and rows[1] > 0  # the check compares real numbers
