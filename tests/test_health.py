"""Data health of sources per period, on tiny hand-built exports.

Every count below is worked out by hand from the rows the test writes, and
the volume medians are also recomputed with plain DuckDB SQL over the raw CSV.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from kpi_cli.errors import ConfigError
from kpi_cli.formatting import issue_text
from kpi_cli.health import HealthReport, UnhealthyData, check_project
from kpi_cli.project import load_project
from kpi_cli.render_data import render_markdown, review_json
from kpi_cli.render_terminal import review_renderable, warnings_text
from kpi_cli.review import choose_period, run_review

# 2026-W10 is Monday 2026-03-02 .. Sunday 2026-03-08.
W10 = "2026-W10"
MONDAY = dt.date(2026, 3, 2)

HEAD = """
[project]
name = "health"
timezone = "Asia/Shanghai"
language = "en"
data_dir = "data"
"""

ORDERS = """
[sources.orders]
path = "orders*.csv"
time_column = "at"
key = ["order_id"]
types = { amount = "decimal(18,2)" }
{extra}

[[kpis]]
id = "orders"
name = "Orders"
model = "orders"
measure = "count(*)"
[kpis.target]
value = 10
"""


def make_project(
    tmp_path: Path, files: dict[str, str], *, extra: str = "", tail: str = ""
) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    for name, text in files.items():
        (root / "data" / name).write_text(text, encoding="utf-8")
    body = HEAD + ORDERS.replace("{extra}", extra) + tail
    (root / "kpi.toml").write_text(body, encoding="utf-8")

    return root


def csv_of(rows: list[tuple[str, str, str]]) -> str:
    return "order_id,at,amount\n" + "".join(f"{k},{t},{a}\n" for k, t, a in rows)


def check(root: Path, period: str = W10, as_of: dt.date | None = None) -> HealthReport:
    project = load_project(root)
    chosen = choose_period(project, period, today=dt.date(2030, 1, 1), as_of=as_of)

    return check_project(project, chosen)


def day(offset: int, hour: int = 10) -> str:
    """A time ``offset`` days after Monday 2026-03-02."""
    moment = dt.datetime.combine(MONDAY, dt.time(hour)) + dt.timedelta(days=offset)
    return moment.strftime("%Y-%m-%d %H:%M")


def weekly_rows(counts: list[int], period_days: list[int]) -> str:
    """Rows for the weeks before W10 (``counts``, oldest first) and for W10.

    A week with n rows has row i on weekday i % 7, so every day has a row;
    W10 has one row on each of ``period_days`` (0 = Monday).
    """
    rows = []
    weeks = len(counts)
    for w, count in enumerate(counts):
        start = (w - weeks) * 7
        rows += [
            (f"W{w}-{i}", day(start + i % 7, 8 + i // 7), "1.00") for i in range(count)
        ]
    rows += [(f"P-{d}", day(d), "1.00") for d in period_days]

    return csv_of(rows)


# ------------------------------------------------------------ empty days


def test_a_week_with_two_empty_days_lists_them(tmp_path: Path) -> None:
    # Rows on Mon, Tue, Thu, Fri, Sun: Wednesday 03-04 and Saturday 03-07 empty.
    rows = [(f"A{d}", day(d), "1.00") for d in (0, 1, 3, 4, 6)]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources

    assert source.period_rows == 5
    assert source.empty_days == (dt.date(2026, 3, 4), dt.date(2026, 3, 7))
    assert source.complete is True
    assert "no rows on 2 of 7 days: 2026-03-04, 2026-03-07" in source.issues
    assert source.period_first == dt.datetime(2026, 3, 2, 10)
    assert source.period_last == dt.datetime(2026, 3, 8, 10)


def test_days_after_the_data_ends_are_left_to_the_freshness_sentence(
    tmp_path: Path,
) -> None:
    # Data stops on Thursday 03-05; Tuesday 03-03 is a real gap inside it.
    rows = [(f"A{d}", day(d), "1.00") for d in (0, 2, 3)]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources

    assert source.empty_days == tuple(
        MONDAY + dt.timedelta(days=d) for d in (1, 4, 5, 6)
    )
    assert source.stale is True
    assert source.complete is False
    assert source.issues == (
        "data ends 2026-03-05, before the period ends 2026-03-08",
        "no rows on 1 of 7 days: 2026-03-03",
    )


def test_a_sparse_source_lists_empty_days_without_an_issue(tmp_path: Path) -> None:
    rows = [("A1", day(0), "1.00"), ("A2", day(2), "1.00")]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)}, extra="sparse = true")

    (source,) = check(root).sources

    assert len(source.empty_days) == 5
    assert source.issues == ()
    assert source.complete is True
    assert source.trailing_periods == 0


# ------------------------------------------------------------ keys and times


def test_a_key_repeated_inside_one_file_is_counted_across_files_is_not(
    tmp_path: Path,
) -> None:
    # A2 is in both exports (overlap: the later file's row is kept, once);
    # A3 appears twice inside the second export: one duplicate.
    first = csv_of([("A1", day(0), "1.00"), ("A2", day(1), "2.00")])
    second = csv_of(
        [("A2", day(1), "2.00"), ("A3", day(2), "3.00"), ("A3", day(6), "3.00")]
    )
    root = make_project(tmp_path, {"orders_1.csv": first, "orders_2.csv": second})

    (source,) = check(root).sources

    assert source.period_rows == 4  # A1, A2, A3, A3
    assert source.duplicate_keys == 1
    assert (
        "1 row(s) in the period repeat a key (order_id) of another row; counts "
        "over them may be inflated"
    ) in source.issues
    # The loader's own warning names the file holding the repeat.
    assert any(
        i.startswith("orders_2.csv: 1 row(s) repeat a key") for i in source.issues
    )


def test_null_keys_and_null_times_are_counted(tmp_path: Path) -> None:
    rows = [
        ("A1", day(0), "1.00"),
        ("", day(1), "1.00"),
        ("A3", day(2), "1.00"),
        ("", day(3), "1.00"),
        ("A5", day(4), "1.00"),
        ("A6", day(5), "1.00"),
        ("A7", day(5, 11), "1.00"),
        ("A8", day(6), "1.00"),
        ("A9", "", "1.00"),  # no time: in no period
    ]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources

    assert source.rows == 9
    assert source.period_rows == 8
    assert source.null_key_rows == 2
    assert source.null_key_share == pytest.approx(2 / 8)
    assert source.null_time_rows == 1
    assert source.duplicate_keys == 0  # rows without a key are not duplicates
    assert source.empty_days == ()
    assert "2 of 8 row(s) in the period (25.0%) have no key (order_id)" in source.issues
    assert (
        "1 row(s) have no value in the time column at and count in no period"
        in source.issues
    )


def test_a_source_without_time_column_is_measured_whole(tmp_path: Path) -> None:
    tail = """
[sources.stores]
path = "stores.csv"
key = ["store"]
"""
    root = make_project(
        tmp_path,
        {
            "orders.csv": csv_of([("A1", day(6), "1.00")]),
            "stores.csv": "store,city\nS1,Hangzhou\nS2,Ningbo\nS2,Ningbo\n,Wenzhou\n",
        },
        tail=tail,
    )

    stores = check(root).sources[1]

    assert stores.name == "stores"
    assert stores.period_rows is None
    assert stores.empty_days == ()
    assert stores.duplicate_keys == 1
    assert stores.null_key_rows == 1
    assert stores.null_key_share == pytest.approx(1 / 4)
    assert stores.null_time_rows is None
    assert stores.complete is True
    assert "1 of 4 row(s) in the source (25.0%) have no key (store)" in stores.issues


# ------------------------------------------------------------ volume

TRAILING = [8, 9, 10, 10, 11, 12, 10, 20]  # W02..W09; sorted median (10 + 10) / 2


def independent_weekly_counts(root: Path) -> list[int]:
    """Rows per week W02..W09 from the raw CSV, in plain DuckDB SQL."""
    path = str(root / "data" / "orders.csv")
    found = duckdb.sql(
        "SELECT date_trunc('week', CAST(\"at\" AS TIMESTAMP)) AS w, count(*) "
        f"FROM read_csv('{path}', all_varchar = true) "
        "WHERE \"at\" < '2026-03-02' GROUP BY w ORDER BY w"
    ).fetchall()
    return [n for _, n in found]


@pytest.mark.parametrize(
    ("period_days", "dropped", "status"),
    [
        ([0, 3, 6], True, "incomplete_data"),  # 3 rows: 30% of the median 10
        ([0, 1, 3, 5, 6], False, "off_track"),  # 5 rows: 50%, not below it
    ],
    ids=["30-percent-flagged", "50-percent-not-flagged"],
)
def test_a_drop_below_half_the_trailing_median_is_flagged(
    tmp_path: Path, period_days: list[int], dropped: bool, status: str
) -> None:
    root = make_project(tmp_path, {"orders.csv": weekly_rows(TRAILING, period_days)})
    assert independent_weekly_counts(root) == TRAILING

    (source,) = check(root).sources

    assert source.trailing_periods == 8
    assert source.trailing_median_rows == 10
    assert source.volume_ratio == pytest.approx(len(period_days) / 10)
    assert source.volume_drop is dropped
    assert source.complete is not dropped
    sentence = (
        "3 row(s) in the period, 30% of the median 10 of the last 8 weeks; a "
        "sudden drop usually means a broken export, not a bad week"
    )
    assert (sentence in source.issues) is dropped

    # The KPI over it: 3 or 5 orders against 10 would be off track; a drop makes
    # the data suspect, so the 30% week says incomplete data instead.
    result = review_json(run_review(load_project(root), check(root).period))
    (kpi,) = result["kpis"]
    assert kpi["value"] == len(period_days)
    assert kpi["status"] == status
    assert result["sources"][0]["volume_drop"] is dropped
    assert result["sources"][0]["trailing_median_rows"] == 10


def test_a_partial_week_is_compared_with_the_same_days_of_earlier_weeks(
    tmp_path: Path,
) -> None:
    # Three times the weekly volume; this week has Mon, Tue, Wed and Sun rows.
    weeks = [3 * n for n in TRAILING]
    root = make_project(tmp_path, {"orders.csv": weekly_rows(weeks, [0, 1, 2, 6])})
    # Monday..Wednesday of each earlier week, counted independently.
    path = str(root / "data" / "orders.csv")
    firsts = duckdb.sql(
        "SELECT count(*) FROM read_csv(?, all_varchar = true) "
        'WHERE "at" < \'2026-03-02\' AND isodow(CAST("at" AS TIMESTAMP)) <= 3 '
        "GROUP BY date_trunc('week', CAST(\"at\" AS TIMESTAMP)) ORDER BY 1",
        params=[path],
    ).fetchall()
    # Row i of a week lands on weekday i % 7: of 24 rows, 12 fall Mon..Wed.
    assert sorted(n for (n,) in firsts) == [12, 12, 14, 14, 14, 15, 16, 27]

    (source,) = check(root, as_of=dt.date(2026, 3, 4)).sources

    assert source.period_rows == 3  # Sunday's row is after the cut
    assert source.trailing_median_rows == 14
    assert source.volume_ratio == pytest.approx(3 / 14)
    assert source.volume_drop is True
    # Uncut, the whole week is compared with whole weeks: 4 rows against 30.
    (whole,) = check(root).sources
    assert (whole.period_rows, whole.trailing_median_rows) == (4, 30)
    assert whole.volume_drop is True


def test_volume_needs_three_covered_trailing_weeks(tmp_path: Path) -> None:
    # The source starts in W08: only W08 and W09 are fully covered.
    root = make_project(tmp_path, {"orders.csv": weekly_rows([10, 10], [0, 6])})

    (source,) = check(root).sources

    assert source.trailing_periods == 2
    assert source.trailing_median_rows is None
    assert source.volume_drop is False
    assert source.complete is True


def test_a_thin_source_is_not_judged_on_volume(tmp_path: Path) -> None:
    # Four rows a week, one this week: 25%, but with a median under 10 rows
    # such a week happens by chance.
    root = make_project(tmp_path, {"orders.csv": weekly_rows([4, 4, 4, 4], [6])})

    (source,) = check(root).sources

    assert source.trailing_median_rows == 4
    assert source.volume_ratio == pytest.approx(0.25)
    assert source.volume_drop is False
    assert source.complete is True


def test_volume_drop_can_be_tuned_or_turned_off(tmp_path: Path) -> None:
    files = {"orders.csv": weekly_rows(TRAILING, [0, 3, 6])}
    stricter = make_project(
        tmp_path / "a", files, tail="[health]\nvolume_drop = 0.25\n"
    )
    off = make_project(tmp_path / "b", files, tail="[health]\nvolume_drop = 0\n")
    short = make_project(tmp_path / "c", files, tail="[health]\nvolume_periods = 3\n")

    assert check(stricter).sources[0].volume_drop is False  # 30% is not below 25%
    assert check(off).sources[0].trailing_periods == 0
    # W07..W09 hold 12, 10, 20 rows: median 12, and 3 rows are 25% of it.
    (source,) = check(short).sources
    assert source.trailing_median_rows == 12
    assert source.volume_ratio == pytest.approx(0.25)
    assert source.volume_drop is True


def test_an_unknown_health_key_is_named(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, {"orders.csv": csv_of([])}, tail="[health]\nvolume_dorp = 0.3\n"
    )

    with pytest.raises(ConfigError, match="health.volume_dorp: unknown key"):
        load_project(root)


# ------------------------------------------------------------ stale source


def test_a_stale_source_makes_its_kpi_incomplete_in_every_output(
    tmp_path: Path,
) -> None:
    # Three orders through Thursday: 3 of 10 would be off track, but the data
    # stops three days before the week ends.
    rows = [("A1", day(0), "1.00"), ("A2", day(1), "1.00"), ("A3", day(3), "1.00")]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})
    project = load_project(root)
    review = run_review(project, choose_period(project, W10))
    freshness = "orders: data ends 2026-03-05, before the period ends 2026-03-08"

    data = json.loads(json.dumps(review_json(review)))
    (kpi,) = data["kpis"]
    assert kpi["value"] == 3
    assert kpi["status"] == "incomplete_data"
    assert "incomplete:orders" in kpi["notes"]
    (source,) = data["sources"]
    assert source["complete"] is False
    assert source["stale"] is True
    assert source["empty_days"] == [
        "2026-03-04",
        "2026-03-06",
        "2026-03-07",
        "2026-03-08",
    ]

    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(review_renderable(review))
    terminal = buffer.getvalue()
    (row,) = [line for line in terminal.splitlines() if "Orders" in line]
    assert "Incomplete data" in row
    assert "Off track" not in terminal
    assert freshness in terminal

    markdown = render_markdown(review)
    (row,) = [line for line in markdown.splitlines() if line.startswith("| Orders")]
    assert row.endswith("| ? Incomplete data |")
    assert "## Data health" in markdown
    assert f"- {freshness}" in markdown


def test_unhealthy_report_raises_with_the_sources_named(tmp_path: Path) -> None:
    rows = [("A1", day(0), "1.00"), ("A2", day(3), "1.00")]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    report = check(root)

    assert report.healthy is False
    with pytest.raises(UnhealthyData) as raised:
        report.raise_if_unhealthy()
    assert str(raised.value) == (
        "1 of 1 source(s) have issues for 2026-W10: orders (2 issue(s), incomplete)"
    )
    assert raised.value.exit_code == 1


def test_a_healthy_report_does_not_raise(tmp_path: Path) -> None:
    rows = [(f"A{d}", day(d), "1.00") for d in range(7)]
    report = check(make_project(tmp_path, {"orders.csv": csv_of(rows)}))

    assert report.healthy is True
    report.raise_if_unhealthy()
    assert report.sources[0].issues == ()


BY_CHANNEL = """
[[kpis]]
id = "by_channel"
name = "Orders by channel"
model = "orders"
measure = "count(*)"
dimension = "channel"
[kpis.target]
value = 10
by = { app = 6, web = 4 }
"""


@pytest.mark.parametrize(
    ("days", "status"),
    [((0, 1, 3), "incomplete_data"), ((0, 1, 6), "off_track")],
    ids=["stale-thursday", "complete-sunday"],
)
def test_breakdown_parts_of_an_incomplete_kpi_are_not_off_track(
    tmp_path: Path, days: tuple[int, int, int], status: str
) -> None:
    # app: 2 orders against 6, web: 1 against 4; both short of target.
    channels = ("app", "web", "app")
    text = "order_id,at,amount,channel\n" + "".join(
        f"A{i},{day(d)},1.00,{c}\n"
        for i, (d, c) in enumerate(zip(days, channels, strict=True))
    )
    root = make_project(tmp_path, {"orders.csv": text}, tail=BY_CHANNEL)
    project = load_project(root)

    result = review_json(run_review(project, choose_period(project, W10)))

    (kpi,) = [k for k in result["kpis"] if k["id"] == "by_channel"]
    assert kpi["status"] == status
    rows = {
        r["key"]: (r["value"], r["target"], r["status"])
        for r in kpi["breakdown"]["rows"]
    }
    assert rows == {"app": (2, 6, status), "web": (1, 4, status)}


# ------------------------------------------------------------ issues in Chinese


def test_issues_carry_codes_and_params_in_order(tmp_path: Path) -> None:
    # Data stops on Thursday 03-05; Tuesday 03-03 is a real gap inside it.
    rows = [(f"A{d}", day(d), "1.00") for d in (0, 2, 3)]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources

    assert [i.text for i in source.coded_issues] == list(source.issues)
    assert [(i.code, i.params) for i in source.coded_issues] == [
        ("stale", {"last": "2026-03-05", "period_end": "2026-03-08"}),
        ("empty_days", {"days": ["2026-03-03"], "period_days": 7}),
    ]
    assert [issue_text(i, "zh") for i in source.coded_issues] == [
        "数据截至 2026-03-05，早于本期结束日 2026-03-08",
        "7 天中有 1 天无数据行：2026-03-03",
    ]


def test_key_and_time_issues_in_chinese(tmp_path: Path) -> None:
    rows = [
        ("A1", day(0), "1.00"),
        ("", day(1), "1.00"),
        ("A3", day(2), "1.00"),
        ("", day(3), "1.00"),
        ("A3", day(4), "1.00"),  # repeats A3 inside the one file
        ("A6", day(5), "1.00"),
        ("A7", day(5, 11), "1.00"),
        ("A8", day(6), "1.00"),
        ("A9", "", "1.00"),  # no time: in no period
    ]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources
    zh = [issue_text(i, "zh") for i in source.coded_issues]

    # The loader counts the second A3 and the second blank key inside the file
    # (2); the period check leaves rows without a key out (1).
    assert zh == [
        "orders.csv：2 行的键（order_id）与同一文件中已有的行重复；这些行已保留",
        "本期有 1 行与另一行的键（order_id）重复，基于这些行的计数可能偏高",
        "本期 8 行中有 2 行（25.0%）缺少键（order_id）",
        "1 行的时间列 at 为空，不计入任何周期",
    ]
    assert [issue_text(i, "en") for i in source.coded_issues] == list(source.issues)


def test_a_volume_drop_in_chinese_and_in_the_json(tmp_path: Path) -> None:
    # 3 rows against a median of 10 over the 8 trailing weeks: 30%.
    root = make_project(tmp_path, {"orders.csv": weekly_rows(TRAILING, [0, 3, 6])})
    (source,) = check(root).sources
    (drop,) = [i for i in source.coded_issues if i.code == "volume_drop"]

    assert issue_text(drop, "zh") == (
        "本期 3 行，仅为前 8 周中位数 10 行的 30%；行数骤降通常意味着导出有问题，"
        "而不是业务变差"
    )
    result = review_json(run_review(load_project(root), check(root).period))
    (details,) = [
        d for d in result["sources"][0]["issue_details"] if d["code"] == "volume_drop"
    ]
    assert details["text"] == drop.text
    assert details["params"] == {
        "rows": 3,
        "ratio": 0.3,
        "median": 10.0,
        "periods": 8,
        "grain": "week",
    }


def test_terminal_and_markdown_warnings_speak_the_review_language(
    tmp_path: Path,
) -> None:
    rows = [(f"A{d}", day(d), "1.00") for d in (0, 2, 3)]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})
    (root / "data" / "orders_empty.csv").write_bytes(b"")
    project = load_project(root)
    review = replace(run_review(project, check(root).period), language="zh")
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(warnings_text(review))

    assert out.getvalue() == (
        "数据提示：\n"
        "  orders_empty.csv 是空文件（无表头、无数据行）：数据源 orders "
        "缺少其中的行；如应有数据，请重新导出该文件\n"
        "  orders: 数据截至 2026-03-05，早于本期结束日 2026-03-08\n"
        "  orders: 7 天中有 1 天无数据行：2026-03-03\n"
    )
    markdown = render_markdown(review)
    assert "- orders: 数据截至 2026-03-05，早于本期结束日 2026-03-08" in markdown


def test_data_that_begins_inside_the_period_is_incomplete(tmp_path: Path) -> None:
    # The first export starts on Wednesday: 3 orders from Wed to Sun would be
    # off track against 10, but Monday and Tuesday were never exported.
    rows = [("A1", day(2), "1.00"), ("A2", day(4), "1.00"), ("A3", day(6), "1.00")]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})
    project = load_project(root)
    review = run_review(project, choose_period(project, W10))

    (source,) = review.sources
    assert source.complete is False
    assert "data begins 2026-03-04, after the period begins 2026-03-02" in source.issues
    (kpi,) = review.kpis
    assert kpi.value == 3
    assert kpi.status == "incomplete_data"
    # Not also called a volume drop: the late start explains the few rows.
    assert source.volume_drop is False


def test_data_that_begins_on_the_period_start_is_complete(tmp_path: Path) -> None:
    rows = [(f"A{d}", day(d), "1.00") for d in range(7)]
    root = make_project(tmp_path, {"orders.csv": csv_of(rows)})

    (source,) = check(root).sources

    assert source.complete is True
    assert not [i for i in source.issues if "begins" in i]
