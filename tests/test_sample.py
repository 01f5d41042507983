"""The synthetic sample shop: determinism, schema, and the shapes tests rely on."""

from __future__ import annotations

import csv
import datetime
import os
from functools import partial
from pathlib import Path

import duckdb
import pytest

from kpi_cli import sample
from kpi_cli.errors import KpiError, UsageError
from kpi_cli.resources import builtin_dir
from kpi_cli.sample import SAMPLE_END, generate

CHANNELS = {"小程序", "直播", "门店", "社群团购", "拼团"}
EXPECTED_HEADERS = {
    "orders": "订单号,买家ID,渠道,门店,下单时间,付款时间,订单状态,实付金额,退款金额",
    "traffic": "日期,渠道,访客数,浏览量",
    "marketing_spend": "日期,渠道,推广费用",
    "reviews": "订单号,评价时间,评分",
}


@pytest.fixture(scope="module")
def short_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sixty days ending on SAMPLE_END: covers Double 11 and stays fast."""
    return generate(tmp_path_factory.mktemp("short"), days=60)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _orders_table(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # A table, not a view over read_csv: DDL cannot take a bound file name.
    con.execute(
        "CREATE TABLE orders AS SELECT * FROM read_csv($path, header = true, "
        "all_varchar = true)",
        {"path": str(path)},
    )
    return con


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", days=60, anomaly="live_collapse")
    second = generate(tmp_path / "b", days=60, anomaly="live_collapse")

    assert first.keys() == second.keys() == EXPECTED_HEADERS.keys()
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_seed_changes_the_data(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", days=20, seed=1)
    second = generate(tmp_path / "b", days=20, seed=2)

    assert first["orders"].read_bytes() != second["orders"].read_bytes()


def test_committed_sample_data_matches_a_fresh_default_run(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    committed = builtin_dir("sample_data")

    for path in fresh.values():
        stale = (
            f"sample_data/{path.name} is stale: python -m kpi_cli.sample sample_data"
        )
        assert (committed / path.name).read_bytes() == path.read_bytes(), stale


@pytest.mark.parametrize("name", sorted(EXPECTED_HEADERS), ids=str)
def test_headers_and_encoding(short_set: dict[str, Path], name: str) -> None:
    data = short_set[name].read_bytes()

    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    assert data.endswith(b"\n")
    assert data.decode("utf-8").split("\n", 1)[0] == EXPECTED_HEADERS[name]


def test_no_temp_files_left_behind(short_set: dict[str, Path]) -> None:
    folder = short_set["orders"].parent

    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.csv" for name in EXPECTED_HEADERS
    )


def test_double_11_is_several_times_a_normal_day(short_set: dict[str, Path]) -> None:
    con = _orders_table(short_set["orders"])
    peak, median = con.execute(
        """
        WITH daily AS (
            SELECT CAST(下单时间 AS DATE) AS day, count(*) AS n
            FROM orders GROUP BY 1
        )
        SELECT max(n) FILTER (WHERE day = DATE '2026-11-11'), median(n) FROM daily
        """
    ).fetchone()

    assert peak >= 3 * median


def test_order_rows_are_consistent(short_set: dict[str, Path]) -> None:
    rows = _rows(short_set["orders"])
    ids = [row["订单号"] for row in rows]

    assert len(ids) == len(set(ids))
    for row in rows:
        assert row["渠道"] in CHANNELS
        if row["渠道"] == "门店":
            assert row["门店"] in {"旗舰店", "东门店", "西门店"}
        else:
            assert row["门店"] == "线上"
        for amount in (row["实付金额"], row["退款金额"]):
            assert amount.split(".")[1].isdigit() and len(amount.split(".")[1]) == 2
        status = row["订单状态"]
        if status == "交易关闭":
            assert (row["付款时间"], row["实付金额"], row["退款金额"]) == (
                "",
                "0.00",
                "0.00",
            )
        elif status == "已退款":
            assert row["付款时间"] and row["退款金额"] == row["实付金额"] != "0.00"
        else:
            assert status == "交易成功"
            assert row["付款时间"] and row["退款金额"] == "0.00"
        if row["付款时间"]:
            ordered = datetime.datetime.fromisoformat(row["下单时间"])
            paid = datetime.datetime.fromisoformat(row["付款时间"])
            assert (
                datetime.timedelta(0)
                <= paid - ordered
                <= datetime.timedelta(minutes=30)
            )


def test_reviews_belong_to_paid_orders(short_set: dict[str, Path]) -> None:
    paid = {
        row["订单号"]: datetime.datetime.fromisoformat(row["付款时间"])
        for row in _rows(short_set["orders"])
        if row["付款时间"]
    }
    reviews = _rows(short_set["reviews"])

    assert 0.2 * len(paid) < len(reviews) < 0.4 * len(paid)
    for review in reviews:
        delay = (
            datetime.datetime.fromisoformat(review["评价时间"]) - paid[review["订单号"]]
        )
        assert datetime.timedelta(days=1) <= delay <= datetime.timedelta(days=10)
        assert review["评分"] in {"1", "2", "3", "4", "5"}


def test_traffic_and_spend_cover_every_channel_every_day(
    short_set: dict[str, Path],
) -> None:
    for name in ("traffic", "marketing_spend"):
        rows = _rows(short_set[name])
        assert {(r["日期"], r["渠道"]) for r in rows} == {
            ((SAMPLE_END - datetime.timedelta(days=d)).isoformat(), channel)
            for d in range(60)
            for channel in CHANNELS
        }, name


def _final_week_vs_previous_weeks(orders: Path) -> dict[str, tuple[int, float]]:
    """Per channel: orders in the final 7 days, and the mean of the 4 weeks before."""
    con = _orders_table(orders)
    rows = con.execute(
        """
        WITH o AS (
            SELECT 渠道 AS channel,
                   (? - CAST(下单时间 AS DATE)) // 7 AS weeks_back
            FROM orders
        )
        SELECT channel,
               count(*) FILTER (WHERE weeks_back = 0),
               count(*) FILTER (WHERE weeks_back BETWEEN 1 AND 4) / 4
        FROM o GROUP BY channel
        """,
        [SAMPLE_END],
    ).fetchall()

    return {channel: (last, before) for channel, last, before in rows}


def test_every_channel_sells_in_the_final_week(short_set: dict[str, Path]) -> None:
    weeks = _final_week_vs_previous_weeks(short_set["orders"])

    assert weeks.keys() == CHANNELS
    assert all(last > 0 for last, _ in weeks.values()), weeks


def test_live_collapse_anomaly(tmp_path: Path) -> None:
    paths = generate(tmp_path, days=60, anomaly="live_collapse")
    weeks = _final_week_vs_previous_weeks(paths["orders"])

    last, before = weeks["直播"]
    assert last < 0.2 * before
    for channel in CHANNELS - {"直播"}:
        assert weeks[channel][0] > 0.5 * weeks[channel][1], channel


def test_scale_multiplies_volume(tmp_path: Path) -> None:
    small = generate(tmp_path / "a", days=30)
    large = generate(tmp_path / "b", days=30, scale=3)

    ratio = len(_rows(large["orders"])) / len(_rows(small["orders"]))
    assert 2.7 < ratio < 3.3


@pytest.mark.parametrize(
    "kwargs",
    [{"days": 0}, {"scale": 0}, {"scale": float("nan")}, {"anomaly": "nope"}],
    ids=["days", "scale", "nan", "anomaly"],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        generate(tmp_path, **kwargs)  # type: ignore[arg-type]

    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = generate(tmp_path, days=5)
    before = paths["orders"].read_bytes()

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(KpiError, match="No space left on device"):
        generate(tmp_path, days=6)

    assert paths["orders"].read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        path.name for path in paths.values()
    )


def test_main_writes_into_the_given_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The default two-year set is covered above; a short one keeps this test quick.
    monkeypatch.setattr(sample, "generate", partial(generate, days=3))

    assert sample.main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "orders.csv").is_file()
    assert "orders.csv" in capsys.readouterr().out
    assert sample.main([]) == 2
    assert "usage:" in capsys.readouterr().err
