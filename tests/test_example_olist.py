"""The Olist example project, checked number by number against the raw files.

Every KPI value the tool reports for a period, for the period before it, a
year before it and along its trend, and the GMV of every state, is compared
with a computation written here: plain DuckDB SQL over the CSV files read as
text, with its own casts and joins, sharing nothing with the project's models
or the tool's loader. Money must match to the cent; ratios to 1e-9.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import shutil
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from kpi_cli.cli import app
from kpi_cli.project import load_project
from kpi_cli.render_data import review_json
from kpi_cli.render_terminal import review_renderable
from kpi_cli.review import choose_period, run_review

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "olist"
DATA = EXAMPLE / "data"
FILES = {
    "orders": "olist_orders_dataset.csv",
    "payments": "olist_order_payments_dataset.csv",
    "reviews": "olist_order_reviews_dataset.csv",
    "customers": "olist_customers_dataset.csv",
}
# Data rows per file, as documented with the sample: a check on the reader
# below (review comments hold line breaks inside quoted fields).
ROWS = {"orders": 8135, "payments": 8924, "reviews": 8225, "customers": 8135}

KPI_IDS = (
    "gmv",
    "orders",
    "aov",
    "customers",
    "new_customers",
    "repeat_rate",
    "review_score",
    "late_delivery_rate",
    "cancel_rate",
)
CENT = Decimal("0.01")
Day = dt.date


@dataclass(frozen=True)
class Case:
    """A period and, worked out by hand, the periods it is compared with."""

    label: str
    start: Day
    end: Day  # inclusive
    previous: tuple[Day, Day]
    year_ago: tuple[Day, Day]


def d(text: str) -> Day:
    return Day.fromisoformat(text)


def case_of(label: str) -> Case:
    return next(c for c in CASES if c.label == label)


CASES = [
    # Black Friday 2017 (24 Nov). The same ISO week of 2016 has no orders.
    Case(
        "2017-W47",
        d("2017-11-20"),
        d("2017-11-26"),
        (d("2017-11-13"), d("2017-11-19")),
        (d("2016-11-21"), d("2016-11-27")),
    ),
    # Crosses from November into December.
    Case(
        "2017-W48",
        d("2017-11-27"),
        d("2017-12-03"),
        (d("2017-11-20"), d("2017-11-26")),
        (d("2016-11-28"), d("2016-12-04")),
    ),
    # Ends on 2017-10-15, when Sao Paulo skipped from 00:00 to 01:00; its
    # year-ago week is one of the few of 2016 with orders.
    Case(
        "2017-W41",
        d("2017-10-09"),
        d("2017-10-15"),
        (d("2017-10-02"), d("2017-10-08")),
        (d("2016-10-10"), d("2016-10-16")),
    ),
    # Ends on 2018-02-18: the hour 23:00 of 17 February happened twice.
    Case(
        "2018-W07",
        d("2018-02-12"),
        d("2018-02-18"),
        (d("2018-02-05"), d("2018-02-11")),
        (d("2017-02-13"), d("2017-02-19")),
    ),
    # A 2018 week crossing from February into March.
    Case(
        "2018-W09",
        d("2018-02-26"),
        d("2018-03-04"),
        (d("2018-02-19"), d("2018-02-25")),
        (d("2017-02-27"), d("2017-03-05")),
    ),
    Case(
        "2018-03",
        d("2018-03-01"),
        d("2018-03-31"),
        (d("2018-02-01"), d("2018-02-28")),
        (d("2017-03-01"), d("2017-03-31")),
    ),
]
# A review takes a few seconds, most of it reading and checking the exports,
# so each period goes through one path: the library (Review objects and
# review_json) or the command line (JSON on stdout, one of them with --data).
LIBRARY_LABELS = ("2017-W47", "2017-W41", "2018-03")
CLI_LABELS = ("2018-W07", "2018-W09")
DATA_OPTION_LABEL = "2017-W48"


# ------------------------------------------------- independent computation


def _raw_connection(data: Path) -> duckdb.DuckDBPyConnection:
    """The four exports as typed tables, read as text and cast here."""
    con = duckdb.connect()
    for table, name in FILES.items():
        con.execute(
            f"CREATE TABLE raw_{table} AS SELECT * FROM read_csv($path, "
            "header = true, all_varchar = true)",
            {"path": str(data / name)},
        )
        (rows,) = con.execute(f"SELECT count(*) FROM raw_{table}").fetchone()
        assert rows == ROWS[table], name

    ts = "strptime({}, '%Y-%m-%d %H:%M:%S')"
    con.execute(
        f"""
        CREATE TABLE orders AS
        SELECT
            order_id,
            customer_id,
            order_status,
            {ts.format("order_purchase_timestamp")} AS purchased_at,
            CAST({ts.format("order_delivered_customer_date")} AS DATE)
                AS delivered_on,
            CAST({ts.format("order_estimated_delivery_date")} AS DATE)
                AS estimated_on
        FROM raw_orders
        """
    )
    # Amounts are written with at most two decimals ("99.9"); a third one
    # would be rounded away silently by the cast, so check first.
    (odd,) = con.execute(
        "SELECT count(*) FROM raw_payments "
        "WHERE NOT regexp_full_match(payment_value, '\\d+(\\.\\d{1,2})?')"
    ).fetchone()
    assert odd == 0
    con.execute(
        "CREATE TABLE payments AS SELECT order_id, "
        "CAST(payment_value AS DECIMAL(18, 2)) AS amount FROM raw_payments"
    )
    con.execute(
        "CREATE TABLE reviews AS SELECT order_id, "
        "CAST(review_score AS INTEGER) AS score FROM raw_reviews"
    )
    # One row per order with its person and state; the inner join must not
    # lose an order (the sample is referentially consistent).
    con.execute(
        """
        CREATE TABLE order_people AS
        SELECT o.*, c.customer_unique_id AS person, c.customer_state AS state
        FROM orders AS o
        JOIN raw_customers AS c ON c.customer_id = o.customer_id
        """
    )
    (joined,) = con.execute("SELECT count(*) FROM order_people").fetchone()
    assert joined == ROWS["orders"]
    con.execute(
        "CREATE TABLE first_orders AS SELECT person, min(purchased_at) AS first_at "
        "FROM order_people GROUP BY person"
    )

    return con


@cache
def raw() -> duckdb.DuckDBPyConnection:
    return _raw_connection(DATA)


@dataclass(frozen=True)
class Expected:
    values: dict[str, Any]
    gmv_by_state: dict[str, Decimal]
    all_orders: int
    canceled: int


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@cache
def expected(start: Day, end: Day) -> Expected:
    """Every KPI over the orders placed from ``start`` to ``end`` inclusive."""
    con = raw()
    begin = dt.datetime.combine(start, dt.time())
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE period_orders AS SELECT *, "
        "order_status NOT IN ('canceled', 'unavailable') AS valid "
        "FROM order_people WHERE purchased_at >= ? AND purchased_at < ?",
        [begin, after],
    )
    everything, valid, canceled, persons, delivered, late = con.execute(
        """
        SELECT
            count(*),
            count(*) FILTER (WHERE valid),
            count(*) FILTER (WHERE order_status = 'canceled'),
            count(DISTINCT person),
            count(*) FILTER (WHERE order_status = 'delivered'
                               AND delivered_on IS NOT NULL),
            count(*) FILTER (WHERE order_status = 'delivered'
                               AND delivered_on > estimated_on)
        FROM period_orders
        """
    ).fetchone()
    # New persons straight from their first order; returning ones are the
    # period's persons whose first order came earlier.
    (new,) = con.execute(
        "SELECT count(*) FROM first_orders WHERE first_at >= ? AND first_at < ?",
        [begin, after],
    ).fetchone()
    (returning,) = con.execute(
        "SELECT count(*) FROM first_orders WHERE first_at < ? "
        "AND person IN (SELECT person FROM period_orders)",
        [begin],
    ).fetchone()
    # Payments and reviews are picked by order id (a semi-join), so an order
    # with several rows of each can never multiply the other.
    (gmv,) = con.execute(
        "SELECT sum(amount) FROM payments WHERE order_id IN "
        "(SELECT order_id FROM period_orders WHERE valid)"
    ).fetchone()
    score_sum, score_rows = con.execute(
        "SELECT sum(score), count(*) FROM reviews WHERE order_id IN "
        "(SELECT order_id FROM period_orders)"
    ).fetchone()
    by_state = dict(
        con.execute(
            "SELECT p.state, sum(m.amount) FROM payments AS m "
            "JOIN period_orders AS p ON p.order_id = m.order_id "
            "WHERE p.valid GROUP BY p.state"
        ).fetchall()
    )
    # A period without orders (inside the data's range) has counts and GMV of
    # zero and unknown ratios: what the measures give over no rows, except
    # that a sum of nothing is zero money, not NULL.
    gmv = gmv if gmv is not None else Decimal("0.00")
    values = {
        "gmv": gmv,
        "orders": valid,
        "aov": None if valid == 0 else gmv / Decimal(valid),
        "customers": persons,
        "new_customers": new,
        "repeat_rate": _ratio(returning, persons),
        "review_score": _ratio(score_sum or 0, score_rows),
        "late_delivery_rate": _ratio(late, delivered),
        "cancel_rate": _ratio(canceled, everything),
    }

    return Expected(values, by_state, everything, canceled)


@pytest.mark.parametrize(
    ("start", "end", "orders"),
    [
        ("2016-09-01", "2016-09-30", 3),
        ("2016-10-01", "2016-10-31", 69),
        ("2016-11-01", "2016-12-31", 0),
        ("2017-01-01", "2017-01-31", 90),
        ("2017-11-01", "2017-11-30", 674),
        ("2018-09-01", "2018-09-30", 16),
        ("2018-10-01", "2018-10-31", 4),
    ],
)
def test_independent_computation_counts_documented_orders(
    start: str, end: str, orders: int
) -> None:
    """The helper itself, against the order counts documented with the sample."""
    assert expected(d(start), d(end)).all_orders == orders


def test_independent_computation_counts_documented_people() -> None:
    everything = expected(d("2016-01-01"), d("2018-12-31"))

    assert everything.all_orders == 8135
    assert everything.canceled == 625
    assert everything.values["customers"] == 8016
    assert everything.values["new_customers"] == 8016


# ------------------------------------------------------------- comparison


def assert_value(
    kpi_id: str, actual: Any, wanted: Any, where: str, *, as_json: bool
) -> None:
    """One KPI value: money to the cent, counts exactly, ratios to 1e-9.

    ``as_json`` values are JSON numbers (money already rounded half-up to the
    cent); the others are the library's own Decimal / int / float.
    """
    message = f"{kpi_id} {where}: got {actual!r}, expected {wanted!r}"
    if wanted is None:
        assert actual is None, message
    elif kpi_id in ("gmv", "aov"):
        cents = wanted.quantize(CENT, rounding=ROUND_HALF_UP)
        if as_json:
            assert Decimal(str(actual)) == cents, message
        elif kpi_id == "gmv":
            assert isinstance(actual, Decimal), message
            assert actual == wanted, message
        else:
            assert math.isclose(actual, wanted, rel_tol=1e-12, abs_tol=1e-9), message
    elif isinstance(wanted, int):
        assert type(actual) is int, message
        assert actual == wanted, message
    else:
        assert actual is not None, message
        assert math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-9), message


def assert_review_matches(data: dict[str, Any], case: Case) -> None:
    """Check a review's JSON against the independent values, field by field."""
    assert data["period"]["label"] == case.label
    assert (data["period"]["start"], data["period"]["end"]) == (
        case.start.isoformat(),
        case.end.isoformat(),
    )
    kpis = {k["id"]: k for k in data["kpis"]}
    assert set(kpis) == set(KPI_IDS)
    now = expected(case.start, case.end)
    before = expected(*case.previous)
    ago = expected(*case.year_ago)
    for kpi_id, kpi in kpis.items():
        assert_value(kpi_id, kpi["value"], now.values[kpi_id], "value", as_json=True)
        for key, bounds, exp in (
            ("previous", case.previous, before),
            ("year_ago", case.year_ago, ago),
        ):
            other = kpi[key]
            assert (other["start"], other["end"]) == tuple(
                b.isoformat() for b in bounds
            ), f"{kpi_id} {key} period"
            assert_value(kpi_id, other["value"], exp.values[kpi_id], key, as_json=True)
        for point in kpi["trend"]:
            exp = expected(d(point["start"]), d(point["end"]))
            assert_value(
                kpi_id,
                point["value"],
                exp.values[kpi_id],
                f"trend {point['period']}",
                as_json=True,
            )
        assert kpi["trend"][-1]["period"] == case.label

    rows = {row["key"]: row for row in kpis["gmv"]["breakdown"]["rows"]}
    assert kpis["gmv"]["breakdown"]["dimension"] == "customer_state"
    assert set(now.gmv_by_state) <= set(rows)
    for state, row in rows.items():
        wanted = now.gmv_by_state.get(state, Decimal("0.00"))
        assert_value("gmv", row["value"], wanted, f"state {state}", as_json=True)
        earlier = before.gmv_by_state.get(state, Decimal("0.00"))
        assert_value(
            "gmv",
            row["previous"]["value"],
            earlier,
            f"state {state} previous",
            as_json=True,
        )
    states_total = sum(Decimal(str(r["value"])) for r in rows.values())
    assert states_total == now.values["gmv"]


# -------------------------------------------------------- through the library


@cache
def library_review(label: str) -> Any:
    assert label in LIBRARY_LABELS
    project = load_project(EXAMPLE)
    period = choose_period(project, label)

    return run_review(project, period)


@pytest.mark.parametrize("label", LIBRARY_LABELS)
def test_library_review_matches_independent_values(label: str) -> None:
    review = library_review(label)

    assert_review_matches(review_json(review), case_of(label))


@pytest.mark.parametrize("label", LIBRARY_LABELS)
def test_library_values_are_exact_before_rendering(label: str) -> None:
    """The Review itself holds Decimal money and unrounded ratios."""
    case = case_of(label)
    review = library_review(label)
    results = {r.kpi.id: r for r in review.kpis}
    now = expected(case.start, case.end)
    before = expected(*case.previous)
    ago = expected(*case.year_ago)

    for kpi_id, result in results.items():
        assert_value(kpi_id, result.value, now.values[kpi_id], "value", as_json=False)
        assert_value(
            kpi_id,
            result.previous.value,
            before.values[kpi_id],
            "previous",
            as_json=False,
        )
        assert_value(
            kpi_id,
            result.year_ago.value,
            ago.values[kpi_id],
            "year_ago",
            as_json=False,
        )
    for row in results["gmv"].breakdown.rows:
        wanted = now.gmv_by_state.get(row.key, Decimal("0.00"))
        assert_value("gmv", row.value, wanted, f"state {row.key}", as_json=False)


def test_weekly_targets_apply_to_weeks_only() -> None:
    week = {r.kpi.id: r for r in library_review("2017-W47").kpis}
    month = {r.kpi.id: r for r in library_review("2018-03").kpis}

    assert week["gmv"].target == 18000
    assert week["gmv"].status == "on_track"
    assert week["cancel_rate"].status == "on_track"
    assert week["late_delivery_rate"].status == "off_track"
    assert all(r.target is None for r in month.values())


# ------------------------------------------------------------ through the CLI


def run_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["review", *args], env=env)


@pytest.mark.parametrize("label", CLI_LABELS)
def test_cli_json_matches_independent_values(label: str) -> None:
    case = case_of(label)

    result = run_cli("--project", str(EXAMPLE), "--period", label, "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["currency"] == "BRL"
    assert data["timezone"] == "America/Sao_Paulo"
    assert_review_matches(data, case)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """The exports copied elsewhere, as another download would be."""
    copy = tmp_path / "exports"
    copy.mkdir()
    for name in FILES.values():
        shutil.copyfile(DATA / name, copy / name)

    return copy


def test_cli_data_option_reads_another_copy(data_copy: Path) -> None:
    """Same numbers from the copy (the next test shows it is the copy that is read)."""
    case = case_of(DATA_OPTION_LABEL)

    result = run_cli(
        "--project",
        str(EXAMPLE),
        "--data",
        str(data_copy),
        "--period",
        case.label,
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert_review_matches(data, case)
    paths = [f["path"] for s in data["sources"] for f in s["files"]]
    assert sorted(paths) == sorted(FILES.values())


def test_cli_missing_export_is_a_data_error(data_copy: Path) -> None:
    (data_copy / FILES["orders"]).unlink()

    result = run_cli(
        "--project",
        str(EXAMPLE),
        "--data",
        str(data_copy),
        "--period",
        "2017-W47",
        "--format",
        "json",
    )

    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Data error: ")
    assert FILES["orders"] in result.stderr
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_terminal_table_shows_reais_throughout() -> None:
    """A BRL project shows R$ everywhere, including changes from a zero base
    (GMV against the empty year-ago week of Black Friday 2017)."""
    console = Console(file=io.StringIO(), width=120, color_system=None)

    console.print(review_renderable(library_review("2017-W47")))

    text = console.file.getvalue()
    assert "Olist sample" in text
    assert "R$32,958.19" in text
    assert "¥" not in text
