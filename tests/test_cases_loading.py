"""The loading cases of tests/cases, checked with plain SQL over the views.

Each case's inputs are registered through ``register_sources`` and the
expected values of its ``expected.json`` are recomputed with SQL written here,
independently of the KPI layer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpi_cli.config import SourceSettings
from kpi_cli.errors import DataError
from kpi_cli.sources import SourceInfo, register_sources

CASES = Path(__file__).parent / "cases"
ZONE = "Asia/Shanghai"


def load(
    case: str, settings: SourceSettings, tmp_path: Path, base: Path | None = None
) -> tuple[duckdb.DuckDBPyConnection, SourceInfo, dict]:
    con = duckdb.connect()
    con.execute("SET TimeZone = ?", [ZONE])
    infos = register_sources(
        con,
        {"src": settings},
        base_dir=base or CASES / case,
        timezone=ZONE,
        cache_dir=tmp_path / "cache",
    )
    expected = json.loads((CASES / case / "expected.json").read_text("utf-8"))

    return con, infos["src"], expected["expected"]


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_01_gbk_chinese_headers(tmp_path: Path) -> None:
    settings = SourceSettings(
        path="orders_gbk.csv",
        types={"实付金额": "decimal(18,2)", "付款时间": "timestamp"},
        time_column="下单时间",
    )
    con, info, expected = load("01-gbk-chinese-headers", settings, tmp_path)

    assert [c for c, _ in info.columns] == expected["columns"]
    assert info.files[0].encoding == "gb18030"
    assert info.rows == expected["row_count"]
    by_day = con.execute(
        "SELECT CAST(付款时间 AS DATE), sum(实付金额), count(*) FROM src "
        "WHERE 付款时间 IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert {str(d): (g, n) for d, g, n in by_day} == {
        d: (money(v["gmv"]), v["paid_orders"]) for d, v in expected["by_day"].items()
    }
    by_channel = con.execute(
        "SELECT 渠道, sum(实付金额), count(*) FROM src "
        "WHERE 付款时间 IS NOT NULL GROUP BY 1"
    ).fetchall()
    assert {c: (g, n) for c, g, n in by_channel} == {
        c: (money(v["gmv"]), v["paid_orders"])
        for c, v in expected["by_channel"].items()
    }
    unpaid = con.execute(
        "SELECT 付款时间 FROM src WHERE 订单号 = 'YZ2503040001'"
    ).fetchone()
    assert unpaid == (None,)
    name = con.execute("SELECT 商品名称 FROM src WHERE 订单号 = 'YZ2503030002'")
    assert name.fetchone() == (expected["product_name_with_comma"],)


def test_03_utf8_bom_quoted_header(tmp_path: Path) -> None:
    settings = SourceSettings(path="traffic_bom.csv", time_column="日期")
    con, info, expected = load("03-utf8-bom-quoted-header", settings, tmp_path)

    names = [c for c, _ in info.columns]
    assert names == expected["columns"]
    assert [ord(ch) for ch in names[0]] == expected["first_column_codepoints"]
    assert dict(info.columns)["访客数"] == "BIGINT"
    rows = con.execute(
        "SELECT CAST(日期 AS DATE), sum(访客数), sum(支付买家数), "
        "sum(支付买家数) / sum(访客数) FROM src GROUP BY ROLLUP (1) ORDER BY 1"
    ).fetchall()
    for day, visitors, buyers, rate in rows:
        want = expected["total"] if day is None else expected["by_day"][str(day)]
        assert (visitors, buyers) == (want["visitors"], want["buyers"])
        assert rate == pytest.approx(want["conversion_rate"], abs=1e-6)


def test_04_currency_strings_exact_money(tmp_path: Path) -> None:
    settings = SourceSettings(
        path="orders_amount_strings.csv",
        types={"实付金额": "decimal(18,2)"},
        time_column="付款时间",
    )
    con, info, expected = load("04-currency-strings-exact-money", settings, tmp_path)

    assert dict(info.columns)["实付金额"] == "DECIMAL(18,2)"
    parsed = dict(con.execute("SELECT 订单号, 实付金额 FROM src").fetchall())
    assert parsed == {k: Decimal(v) for k, v in expected["parsed_amounts"].items()}
    gross, refunds, net, orders, aov = con.execute(
        "SELECT sum(实付金额) FILTER (WHERE 实付金额 > 0), "
        "-sum(实付金额) FILTER (WHERE 实付金额 < 0), sum(实付金额), "
        "count(*) FILTER (WHERE 实付金额 > 0), "
        "sum(实付金额) FILTER (WHERE 实付金额 > 0) "
        "/ CAST(count(*) FILTER (WHERE 实付金额 > 0) AS DECIMAL(18,0)) FROM src"
    ).fetchone()
    assert (gross, refunds, net, orders) == (
        Decimal(expected["gross_sales"]),
        Decimal(expected["refunds"]),
        Decimal(expected["net_sales"]),
        expected["paid_orders"],
    )
    assert isinstance(gross, Decimal)
    assert gross / orders == Decimal(expected["aov_exact"])


def test_05_mixed_date_formats_across_exports(tmp_path: Path) -> None:
    settings = SourceSettings(
        path="orders_*.csv",
        types={"实付金额": "decimal(18,2)"},
        time_column="下单时间",
    )
    con, info, expected = load(
        "05-mixed-date-formats-across-exports", settings, tmp_path
    )

    by_day = con.execute(
        "SELECT CAST(下单时间 AS DATE), count(*), sum(实付金额) FROM src "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert {str(d): (n, g) for d, n, g in by_day} == {
        d: (v["orders"], money(v["gmv"])) for d, v in expected["by_day"].items()
    }
    parsed = dict(
        con.execute("SELECT 订单号, CAST(下单时间 AS VARCHAR) FROM src").fetchall()
    )
    for order, when in expected["parsed"].items():
        assert parsed[order] == when
    assert (info.rows, str(info.first.date()), str(info.last.date())) == (
        expected["total"]["orders"],
        "2024-03-05",
        "2024-03-13",
    )


def test_05_ambiguous_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "orders_ambiguous.csv").write_text(
        "订单号,下单时间,实付金额\r\n"
        "D1,3/6/2024 8:15,20.00\r\n"
        "D2,3/12/2024 12:00,10.00\r\n",
        encoding="utf-8",
    )
    settings = SourceSettings(path="orders_ambiguous.csv", time_column="下单时间")

    with pytest.raises(DataError) as error:
        load("05-mixed-date-formats-across-exports", settings, tmp_path, tmp_path)

    message = str(error.value)
    assert "ambiguous date format" in message
    assert "orders_ambiguous.csv" in message
    assert "下单时间" in message
    assert "time_format" in message


def test_19_empty_and_header_only_files(tmp_path: Path) -> None:
    settings = SourceSettings(
        path="store_visits_*.csv", types={"进店人数": "bigint"}, time_column="日期"
    )
    con, info, expected = load("19-empty-and-header-only-files", settings, tmp_path)

    states = {Path(f.path).stem[-7:]: (f.state, f.rows) for f in info.files}
    assert states == {
        "2025-01": ("ok", 3),
        "2025-02": ("header_only", 0),
        "2025-03": ("empty", None),
        "2025-04": ("ok", 2),
    }
    assert any("store_visits_2025-03.csv" in w for w in info.warnings)

    # A month whose file is a valid empty export counts 0; a month whose file
    # is empty (a failed export) is missing, as the review layer will show it.
    sums = dict(
        con.execute(
            "SELECT strftime(日期, '%Y-%m'), sum(进店人数) FROM src GROUP BY 1"
        ).fetchall()
    )
    by_month = {
        month: None if state == "empty" else sums.get(month, 0)
        for month, (state, _) in states.items()
    }
    assert by_month == expected["by_month"]
    by_store = con.execute(
        "SELECT 门店, strftime(日期, '%Y-%m'), sum(进店人数) FROM src GROUP BY ALL"
    ).fetchall()
    for store, month, visits in by_store:
        assert expected["by_store_month"][store][month] == visits


def test_19_only_empty_files_still_typed(tmp_path: Path) -> None:
    settings = SourceSettings(
        path="store_visits_2025-0[23].csv",
        types={"进店人数": "bigint"},
        time_column="日期",
    )
    con, info, _ = load("19-empty-and-header-only-files", settings, tmp_path)

    assert info.rows == 0
    assert dict(info.columns) == {
        "日期": "TIMESTAMP",
        "门店": "VARCHAR",
        "进店人数": "BIGINT",
    }
    assert con.execute("SELECT sum(进店人数) FROM src").fetchone() == (None,)
