"""The source loader over small generated exports."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpi_cli.config import SourceSettings
from kpi_cli.errors import ConfigError, DataError
from kpi_cli.sources import SourceInfo, detect_encoding, register_sources

ZONE = "Asia/Shanghai"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = ?", [ZONE])
    return connection


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def register(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, **settings: object
) -> SourceInfo:
    infos = register_sources(
        con,
        {"src": SourceSettings(**settings)},
        base_dir=tmp_path,
        timezone=ZONE,
        cache_dir=tmp_path / ".cache",
    )
    return infos["src"]


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --- files and encodings ------------------------------------------------------


def test_gbk_file_with_chinese_headers_is_detected_and_transcoded(con, tmp_path):
    write(tmp_path / "o.csv", "订单号,实付金额\r\n甲1,￥12.50\r\n乙2,7.50\r\n", "gbk")

    info = register(con, tmp_path, path="o.csv", types={"实付金额": "decimal(18,2)"})

    assert info.files[0].encoding == "gb18030"
    assert [c for c, _ in info.columns] == ["订单号", "实付金额"]
    assert rows(con, "SELECT 订单号, 实付金额 FROM src") == [
        ("甲1", Decimal("12.50")),
        ("乙2", Decimal("7.50")),
    ]
    assert len(list((tmp_path / ".cache").iterdir())) == 1


def test_encoding_override(con, tmp_path):
    write(tmp_path / "o.csv", "门店,人数\n南京店,3\n", "gbk")

    info = register(con, tmp_path, path="o.csv", encoding="gbk")

    assert rows(con, "SELECT 门店, 人数 FROM src") == [("南京店", 3)]
    assert info.files[0].encoding == "gb18030"


def test_transcoded_copy_is_reused_until_the_file_changes(con, tmp_path):
    source = write(tmp_path / "o.csv", "门店,人数\n南京店,3\n", "gbk")
    register(con, tmp_path, path="o.csv")
    (copy,) = (tmp_path / ".cache").iterdir()
    copy.write_text("门店,人数\n缓存,99\n", encoding="utf-8")

    register(con, tmp_path, path="o.csv")
    assert rows(con, "SELECT 门店 FROM src") == [("缓存",)]

    write(source, "门店,人数\n上海店,4\n", "gbk")
    os.utime(source, ns=(1, 1))
    register(con, tmp_path, path="o.csv")
    assert rows(con, "SELECT 门店 FROM src") == [("上海店",)]
    assert len(list((tmp_path / ".cache").iterdir())) == 1


def test_utf16_with_bom(con, tmp_path):
    write(tmp_path / "t.csv", "日期,访客数\r\n2025-03-01,12\r\n", "utf-16")

    info = register(con, tmp_path, path="t.csv", time_column="日期")

    assert info.files[0].encoding == "utf-16"
    assert rows(con, "SELECT 日期, 访客数 FROM src") == [(dt.datetime(2025, 3, 1), 12)]


def test_utf8_bom_and_quoted_header_are_stripped(con, tmp_path):
    write(tmp_path / "t.csv", '\ufeff" 日期 ","n"\r\n"2025-03-01","1"\r\n')

    info = register(con, tmp_path, path="t.csv")

    assert [c for c, _ in info.columns] == ["日期", "n"]
    assert info.files[0].encoding == "utf-8-sig"


@pytest.mark.parametrize(
    ("sample", "complete", "expected"),
    [
        (b"a,b\n1,2\n", True, "utf-8"),
        ("订单,金额\n".encode(), True, "utf-8"),
        ("订单,金额\n".encode("gbk"), True, "gb18030"),
        # A sample cut in the middle of a character is still UTF-8.
        ("订单".encode()[:-1], False, "utf-8"),
        (b"\xef\xbb\xbfa", True, "utf-8-sig"),
        ("a,b\n".encode("utf-16"), True, "utf-16"),
    ],
    ids=["ascii", "utf8", "gbk", "utf8-cut", "bom", "utf16"],
)
def test_detect_encoding(sample, complete, expected):
    assert detect_encoding(sample, complete=complete) == expected


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("a;b\n1;2,5\n", ";"), ("a\tb\n1\t2,5\n", "\t"), ('a,b\n1,"2,5"\n', ",")],
    ids=["semicolon", "tab", "comma"],
)
def test_delimiter_is_sniffed_and_reported(con, tmp_path, text, delimiter):
    write(tmp_path / "d.csv", text)

    info = register(con, tmp_path, path="d.csv")

    assert info.files[0].delimiter == delimiter
    assert rows(con, "SELECT a, b FROM src") == [(1, "2,5")]


def test_delimiter_override(con, tmp_path):
    write(tmp_path / "d.csv", "a|b\n1|x;y\n")

    info = register(con, tmp_path, path="d.csv", delimiter="|")

    assert info.files[0].delimiter == "|"
    assert rows(con, "SELECT b FROM src") == [("x;y",)]


def test_quoted_field_with_crlf_inside(con, tmp_path):
    write(
        tmp_path / "q.csv", 'id,note,amt\r\n1,"line one\r\nline two",1.50\r\n2,x,2\r\n'
    )

    register(con, tmp_path, path="q.csv", types={"amt": "decimal(18,2)"})

    assert rows(con, "SELECT note, amt FROM src ORDER BY id") == [
        ("line one\r\nline two", Decimal("1.50")),
        ("x", Decimal("2.00")),
    ]


def test_crlf_and_lf_files_keep_all_rows(con, tmp_path):
    write(tmp_path / "a.csv", "id,amt\r\n1,1.00\r\n2,2.00\r\n3,3.00\r\n")
    write(tmp_path / "b.csv", "id,amt\n4,4.00\n5,5.00\n")

    info = register(con, tmp_path, path="*.csv", types={"amt": "decimal(18,2)"})

    assert [f.rows for f in info.files] == [3, 2]
    assert info.rows == 5
    assert rows(con, "SELECT count(*), sum(amt) FROM src") == [(5, Decimal("15.00"))]


def test_zero_byte_and_header_only_files(con, tmp_path):
    write(tmp_path / "1.csv", "id,amt\n1,2.50\n")
    write(tmp_path / "2.csv", "id,amt\n")
    write(tmp_path / "3.csv", "")

    info = register(con, tmp_path, path="*.csv", types={"amt": "decimal(18,2)"})

    assert [(f.path, f.state, f.rows) for f in info.files] == [
        ("1.csv", "ok", 1),
        ("2.csv", "header_only", 0),
        ("3.csv", "empty", None),
    ]
    assert len(info.warnings) == 1 and "3.csv" in info.warnings[0]
    assert rows(con, "SELECT sum(amt) FROM src") == [(Decimal("2.50"),)]


def test_only_empty_files_give_an_empty_typed_view(con, tmp_path):
    write(tmp_path / "e.csv", "")

    info = register(
        con, tmp_path, path="e.csv", types={"amt": "decimal(18,2)"}, time_column="ts"
    )

    assert dict(info.columns) == {"amt": "DECIMAL(18,2)", "ts": "TIMESTAMP"}
    assert rows(con, "SELECT sum(amt), count(*) FROM src") == [(None, 0)]


def test_glob_without_match_names_glob_and_folder(con, tmp_path):
    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="exports/*.csv")

    assert "exports/*.csv" in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_absolute_glob(con, tmp_path):
    write(tmp_path / "a.csv", "x\n1\n")

    register(con, Path("/nonexistent"), path=str(tmp_path / "*.csv"))

    assert rows(con, "SELECT x FROM src") == [(1,)]


def test_parquet_source(con, tmp_path):
    con.execute(
        "COPY (SELECT 'A1' AS 订单号, 12.5::DOUBLE AS 金额, "
        "TIMESTAMPTZ '2024-03-05 13:30:00+00' AS 时间) TO ?",
        [str(tmp_path / "o.parquet")],
    )

    info = register(
        con,
        tmp_path,
        path="*.parquet",
        columns={"金额": "amount"},
        types={"amount": "decimal(18,2)"},
        time_column="时间",
    )

    assert dict(info.columns)["amount"] == "DECIMAL(18,2)"
    assert rows(con, "SELECT amount, 时间 FROM src") == [
        (Decimal("12.50"), dt.datetime(2024, 3, 5, 21, 30))
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "A1", "amt": "¥12.50", "ts": "2024-03-05T13:30:00Z"}\n'
        '{"id": "A2", "amt": 7.5, "ts": "2024-03-06T01:00:00Z"}\n',
        json.dumps(
            [
                {"id": "A1", "amt": "¥12.50", "ts": "2024-03-05T13:30:00Z"},
                {"id": "A2", "amt": 7.5, "ts": "2024-03-06T01:00:00Z"},
            ]
        ),
    ],
    ids=["ndjson", "array"],
)
def test_json_source(con, tmp_path, text):
    write(tmp_path / "o.json", text)

    info = register(
        con, tmp_path, path="o.json", types={"amt": "decimal(18,2)"}, time_column="ts"
    )

    assert info.rows == 2
    assert rows(con, "SELECT sum(amt), min(ts), max(ts) FROM src") == [
        (Decimal("20.00"), dt.datetime(2024, 3, 5, 21, 30), dt.datetime(2024, 3, 6, 9))
    ]


def test_format_setting_overrides_extension(con, tmp_path):
    write(tmp_path / "o.export", "a\n1\n")

    with pytest.raises(ConfigError, match="format"):
        register(con, tmp_path, path="o.export")
    register(con, tmp_path, path="o.export", format="csv")

    assert rows(con, "SELECT a FROM src") == [(1,)]


# --- headers ----------------------------------------------------------------


def test_renames_and_aliases_across_exports(con, tmp_path):
    write(tmp_path / "2024.csv", "订单号,支付金额,备注\nA1,10.00,x\n")
    write(tmp_path / "2025.csv", "订单号,实付金额\nB1,5.00\n")

    info = register(
        con,
        tmp_path,
        path="*.csv",
        columns={"订单号": "order_id", "支付金额": "amount", "实付金额": "amount"},
        types={"amount": "decimal(18,2)"},
    )

    assert [c for c, _ in info.columns] == ["order_id", "amount", "备注"]
    assert rows(con, "SELECT order_id, amount, 备注 FROM src ORDER BY 1") == [
        ("A1", Decimal("10.00"), "x"),
        ("B1", Decimal("5.00"), None),
    ]


def test_missing_column_lists_columns_and_closest_name(con, tmp_path):
    write(tmp_path / "o.csv", "订单号,付款时间,实付金额 ,渠道\nA1,2024-03-05,1,x\n")

    with pytest.raises(DataError) as error:
        register(
            con,
            tmp_path,
            path="o.csv",
            types={"实付金额": "decimal(18,2)", "支付时间": "timestamp"},
        )

    assert str(error.value) == (
        "o.csv: column '支付时间' of source 'src' is missing. The file has: "
        "订单号, 付款时间, 实付金额, 渠道. The closest is '付款时间'. Rename the "
        "header or "
        "map it in [sources.src].columns"
    )


def test_two_headers_for_one_column_is_an_error(con, tmp_path):
    write(tmp_path / "o.csv", "支付金额,实付金额\n1,2\n")

    with pytest.raises(DataError, match="both give column 'amount'"):
        register(
            con,
            tmp_path,
            path="o.csv",
            columns={"支付金额": "amount", "实付金额": "amount"},
        )


# --- numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sql_type", "expected"),
    [
        ('"1,234.50"', "decimal(18,2)", Decimal("1234.50")),
        ("¥12.00", "decimal(18,2)", Decimal("12.00")),
        ("￥88.00", "decimal(18,2)", Decimal("88.00")),
        ("¥ 12.35", "decimal(18,2)", Decimal("12.35")),
        ("12.00元", "decimal(18,2)", Decimal("12.00")),
        ("-¥20.00", "decimal(18,2)", Decimal("-20.00")),
        ("(12.00)", "decimal(18,2)", Decimal("-12.00")),
        ("12.5%", "decimal(9,4)", Decimal("0.1250")),
        ("12.5%", "double", 0.125),
        ('"1,234"', "bigint", 1234),
        ("", "decimal(18,2)", None),
    ],
    ids=[
        "thousands",
        "yen",
        "fullwidth-yen",
        "yen-space",
        "yuan-unit",
        "negative-yen",
        "parentheses",
        "percent-decimal",
        "percent-double",
        "bigint-thousands",
        "empty",
    ],
)
def test_number_forms(con, tmp_path, text, sql_type, expected):
    write(tmp_path / "n.csv", f"id,v\n1,{text}\n")

    info = register(con, tmp_path, path="n.csv", types={"v": sql_type})

    value = rows(con, "SELECT v FROM src")[0][0]
    assert value == expected
    assert type(value) is type(expected)
    assert dict(info.columns)["v"] == sql_type.upper().replace("DOUBLE", "DOUBLE")


def test_money_sum_is_exact(con, tmp_path):
    lines = "\n".join(f"{i},¥0.10" for i in range(1000))
    write(tmp_path / "m.csv", f"id,amt\n{lines}\n")

    register(con, tmp_path, path="m.csv", types={"amt": "decimal(18,2)"})

    assert rows(con, "SELECT sum(amt) FROM src") == [(Decimal("100.00"),)]


@pytest.mark.parametrize(
    ("text", "sql_type"),
    [("12.345", "decimal(18,2)"), ("12.5", "bigint"), ("1,5", "decimal(18,2)")],
    ids=["too-many-places", "fraction-in-bigint", "decimal-comma"],
)
def test_number_that_does_not_fit_is_an_error(con, tmp_path, text, sql_type):
    write(tmp_path / "n.csv", f'id,v\n1,"{text}"\n')

    with pytest.raises(
        DataError, match=re.escape(f"cannot read '{text}' as {sql_type}")
    ):
        register(con, tmp_path, path="n.csv", types={"v": sql_type})


def test_unparseable_value_names_file_line_column_value(con, tmp_path):
    write(
        tmp_path / "o.csv",
        'id,note,实付金额\r\n1,"two\r\nlines",1.00\r\n2,x,¥1.2.3\r\n3,y,2.00\r\n',
    )

    with pytest.raises(DataError) as error:
        register(
            con,
            tmp_path,
            path="o.csv",
            columns={"实付金额": "amount"},
            types={"amount": "decimal(18,2)"},
        )

    message = str(error.value)
    # Line 4: the header, then a record spanning lines 2-3.
    assert message.startswith(
        "o.csv, line 4, column '实付金额' (amount): cannot read '¥1.2.3' as "
        "decimal(18,2); expected a number"
    )


# --- dates ------------------------------------------------------------------

LOCAL = dt.datetime(2024, 3, 5, 21, 30)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-03-05 21:30:00"], LOCAL),
        (["2024-03-05T21:30:00"], LOCAL),
        (["2024-03-05"], dt.datetime(2024, 3, 5)),
        (["2024/3/5 21:30", "2024/12/25 8:00"], LOCAL),
        (["2024/3/5 21:30:00"], LOCAL),
        (["3/5/2024 21:30", "3/13/2024 8:00"], LOCAL),
        (["2024年3月5日 21:30"], LOCAL),
        (["2024年3月5日 21:30:00"], LOCAL),
        (["2024年3月5日"], dt.datetime(2024, 3, 5)),
        (["1709645400"], LOCAL),
        (["1709645400000"], LOCAL),
        (["2024-03-05T13:30:00Z"], LOCAL),
        (["2024-03-05T13:30:00+00:00"], LOCAL),
        (["2024-03-05 21:30:00+08:00"], LOCAL),
        (["2024-03-05T08:30:00-05:00"], LOCAL),
        (["2024-03-05 21:30:00.250"], LOCAL.replace(microsecond=250000)),
    ],
    ids=[
        "iso",
        "iso-t",
        "iso-date",
        "ymd-slash",
        "ymd-slash-seconds",
        "us-excel",
        "chinese",
        "chinese-seconds",
        "chinese-date",
        "epoch-s",
        "epoch-ms",
        "zulu",
        "utc-offset",
        "local-offset",
        "new-york-offset",
        "fraction",
    ],
)
def test_date_forms(con, tmp_path, values, expected):
    body = "".join(f"{i},{v}\n" for i, v in enumerate(values))
    write(tmp_path / "d.csv", f"id,ts\n{body}")

    info = register(con, tmp_path, path="d.csv", time_column="ts")

    assert dict(info.columns)["ts"] == "TIMESTAMP"
    assert rows(con, "SELECT ts FROM src ORDER BY id LIMIT 1") == [(expected,)]
    assert info.first == expected


def test_day_first_when_declared(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,5/3/2024\n2,6/3/2024\n")

    register(con, tmp_path, path="d.csv", time_column="ts", time_format="%d/%m/%Y")

    assert rows(con, "SELECT ts FROM src ORDER BY id") == [
        (dt.datetime(2024, 3, 5),),
        (dt.datetime(2024, 3, 6),),
    ]


def test_formats_per_column_and_date_type(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts,day\n1,2024-03-05 21:30:00,05.03.2024\n")

    info = register(
        con,
        tmp_path,
        path="d.csv",
        time_column="ts",
        types={"day": "date"},
        formats={"day": "%d.%m.%Y"},
    )

    assert dict(info.columns)["day"] == "DATE"
    assert rows(con, "SELECT day FROM src") == [(dt.date(2024, 3, 5),)]


def test_ambiguous_dates_are_an_error(con, tmp_path):
    write(tmp_path / "us.csv", "id,ts\n1,3/6/2024\n2,3/12/2024\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="us.csv", time_column="ts")

    message = str(error.value)
    assert message.startswith("us.csv, column 'ts': ambiguous date format")
    assert 'time_format = "%m/%d/%Y"' in message


def test_one_format_per_file(con, tmp_path):
    write(tmp_path / "a.csv", "id,ts\n1,2024-03-05 21:30:00\n")
    write(tmp_path / "b.csv", "id,ts\n2,3/6/2024 8:15\n3,3/13/2024 9:00\n")

    register(con, tmp_path, path="*.csv", time_column="ts")

    assert [r[0].date() for r in rows(con, "SELECT ts FROM src ORDER BY id")] == [
        dt.date(2024, 3, 5),
        dt.date(2024, 3, 6),
        dt.date(2024, 3, 13),
    ]


def test_mixed_forms_in_one_file_name_the_line(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-05 21:30:00\n2,5 March\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    message = str(error.value)
    assert message.startswith("d.csv, line 3, column 'ts': '5 March'")
    assert "2024年3月5日" in message


def test_invalid_date_value_names_the_line(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-05\n2,2024-02-30\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    assert str(error.value).startswith(
        "d.csv, line 3, column 'ts': cannot read '2024-02-30' as TIMESTAMP"
    )


# Excel re-saves and partial edits mix forms of one field order in a column.
MIXED = {
    "iso-with-date-only": (
        ["2024-03-06 09:07:00", "2024-03-07", "2024-03-08 23:59:59"],
        ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
    ),
    "slash-padding-and-seconds": (
        ["2024/03/06 09:07:00", "2024/3/7 10:05", "2024/12/1 7:00"],
        ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"),
    ),
    "dash-and-slash-and-chinese": (
        ["2024-03-06 09:07:00", "2024/3/7 10:05", "2024年3月8日"],
        ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y年%m月%d日"),
    ),
    "month-first-proven": (
        ["3/6/2024 8:15", "3/13/2024", "12/1/2024 7:00:05"],
        ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"),
    ),
}


def _by_hand(text: str) -> dt.datetime:
    """Python's own reading of the test values, field by field."""
    digits = [int(d) for d in re.findall(r"\d+", text)]
    if text.index("/") < 4 if "/" in text else False:
        month, day, year, *time = digits
    else:
        year, month, day, *time = digits
    return dt.datetime(year, month, day, *time)


@pytest.mark.parametrize(("values", "formats"), MIXED.values(), ids=MIXED.keys())
def test_mixed_forms_of_one_field_order(con, tmp_path, values, formats):
    body = "".join(f"{i},{v}\n" for i, v in enumerate(values))
    write(tmp_path / "d.csv", f"id,ts\n{body}")

    info = register(con, tmp_path, path="d.csv", time_column="ts")

    assert rows(con, "SELECT ts FROM src ORDER BY id") == [
        (_by_hand(v),) for v in values
    ]
    assert info.files[0].date_formats == (("ts", formats),)
    assert info.rows == len(values)


def test_by_hand_reader_reads_both_orders():
    # The reference the mixed-form tests compare with must itself be right.
    assert _by_hand("3/13/2024 8:15") == dt.datetime(2024, 3, 13, 8, 15)
    assert _by_hand("2024年3月8日") == dt.datetime(2024, 3, 8)
    assert _by_hand("2024/12/1 7:00:05") == dt.datetime(2024, 12, 1, 7, 0, 5)


def test_single_form_is_reported_too(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024/3/5 21:30\n")

    info = register(con, tmp_path, path="d.csv", time_column="ts")

    assert info.files[0].date_formats == (("ts", ("%Y/%m/%d %H:%M",)),)


def test_mixed_forms_of_two_orders_stay_ambiguous(con, tmp_path):
    # Month-first or day-first fits every value, each with and without time.
    write(tmp_path / "d.csv", "id,ts\n1,3/6/2024 8:15\n2,3/7/2024\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    message = str(error.value)
    assert message.startswith(
        "d.csv, column 'ts': ambiguous date format: every value fits both "
        "%m/%d/%Y %H:%M + %m/%d/%Y and %d/%m/%Y %H:%M + %d/%m/%Y"
    )
    assert 'time_format = ["%m/%d/%Y %H:%M", "%m/%d/%Y"]' in message


def test_iso_next_to_month_first_is_rejected(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-06 09:07:00\n2,3/13/2024 8:15\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    message = str(error.value)
    # Both orders cover one row; the year-first one is tried first.
    assert message.startswith("d.csv, line 3, column 'ts': '3/13/2024 8:15' is not")
    assert 'formats = { ts = ["%Y-%m-%d %H:%M:%S", "..."] }' in message


def test_offset_and_local_forms_are_not_mixed(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-05T13:30:00Z\n2,2024-03-06\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    # One row each: the local year-first order comes first among the orders.
    assert str(error.value).startswith(
        "d.csv, line 2, column 'ts': '2024-03-05T13:30:00Z' is not a date/time form"
    )


def test_value_outside_the_mixed_forms_names_the_line(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-06 09:07:00\n2,2024-03-07\n3,7 March\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    message = str(error.value)
    assert message.startswith("d.csv, line 4, column 'ts': '7 March' is not")
    assert 'formats = { ts = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "..."] }' in message


def test_invalid_value_among_mixed_forms_names_the_line(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-06 09:07:00\n2,2024-02-30\n")

    with pytest.raises(DataError) as error:
        register(con, tmp_path, path="d.csv", time_column="ts")

    assert str(error.value).startswith(
        "d.csv, line 3, column 'ts': cannot read '2024-02-30' as TIMESTAMP"
    )


def test_formats_as_a_list(con, tmp_path):
    # Day-first, declared: detection alone would call 5/3/2024 ambiguous.
    # %y comes first because DuckDB's %Y would also read "24" as year 24.
    write(
        tmp_path / "d.csv", "id,ts,day\n1,5/3/2024 8:15,5.3.2024\n2,6/3/2024,6.3.24\n"
    )

    info = register(
        con,
        tmp_path,
        path="d.csv",
        time_column="ts",
        types={"day": "date"},
        formats={"ts": ["%d/%m/%Y %H:%M", "%d/%m/%Y"], "day": ["%d.%m.%y", "%d.%m.%Y"]},
    )

    assert rows(con, "SELECT ts, day FROM src ORDER BY id") == [
        (dt.datetime(2024, 3, 5, 8, 15), dt.date(2024, 3, 5)),
        (dt.datetime(2024, 3, 6), dt.date(2024, 3, 6)),
    ]
    assert dict(info.files[0].date_formats) == {
        "ts": ("%d/%m/%Y %H:%M", "%d/%m/%Y"),
        "day": ("%d.%m.%y", "%d.%m.%Y"),
    }


def test_time_format_as_a_list_and_a_value_it_misses(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,5/3/2024 8:15\n2,6/3/2024\n3,2024-03-07\n")

    with pytest.raises(DataError) as error:
        register(
            con,
            tmp_path,
            path="d.csv",
            time_column="ts",
            time_format=["%d/%m/%Y %H:%M", "%d/%m/%Y"],
        )

    assert str(error.value).startswith(
        "d.csv, line 4, column 'ts': cannot read '2024-03-07' as TIMESTAMP"
    )


def test_empty_list_of_formats_is_a_config_error(con, tmp_path):
    write(tmp_path / "d.csv", "id,ts\n1,2024-03-07\n")

    with pytest.raises(ConfigError, match="list of date formats for 'ts' is empty"):
        register(con, tmp_path, path="d.csv", time_column="ts", formats={"ts": []})


# --- keys -------------------------------------------------------------------


def test_key_deduplicates_overlapping_exports(con, tmp_path):
    write(tmp_path / "1.csv", "order_id,amt\nA,1.00\nB,2.00\nB,2.00\n")
    write(tmp_path / "2.csv", "order_id,amt\nB,3.00\nC,4.00\n")

    info = register(
        con, tmp_path, path="*.csv", key=["order_id"], types={"amt": "decimal(18,2)"}
    )

    # B comes from the later file; the in-file repeat of B in 1.csv is gone
    # with it, and reported.
    assert rows(con, "SELECT order_id, amt FROM src ORDER BY 1") == [
        ("A", Decimal("1.00")),
        ("B", Decimal("3.00")),
        ("C", Decimal("4.00")),
    ]
    assert info.rows == 3
    assert [f.rows for f in info.files] == [3, 2]
    assert info.warnings == (
        "1.csv: 1 row(s) repeat a key (order_id) already seen in the same file; "
        "they are kept",
    )


def test_duplicates_inside_one_file_are_kept(con, tmp_path):
    write(tmp_path / "1.csv", "order_id,amt\nA,1.00\nA,1.00\n")

    info = register(con, tmp_path, path="1.csv", key=["order_id"])

    assert info.rows == 2
    assert "1 row(s) repeat a key" in info.warnings[0]


# --- settings ---------------------------------------------------------------


def test_unknown_type_is_a_config_error(con, tmp_path):
    write(tmp_path / "a.csv", "a\n1\n")

    with pytest.raises(ConfigError, match="'money' for column 'a'"):
        register(con, tmp_path, path="a.csv", types={"a": "money"})


def test_unknown_encoding_is_a_config_error(con, tmp_path):
    write(tmp_path / "a.csv", "a\n1\n")

    with pytest.raises(ConfigError, match="unknown encoding"):
        register(con, tmp_path, path="a.csv", encoding="klingon")


def test_undeclared_columns_keep_sniffed_types(con, tmp_path):
    write(tmp_path / "a.csv", "n,when,label\n3,2024-03-05,x\n")

    info = register(con, tmp_path, path="a.csv")

    assert dict(info.columns) == {"n": "BIGINT", "when": "DATE", "label": "VARCHAR"}
