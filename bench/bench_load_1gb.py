"""Load a large GBK export through the source loader and compare with raw DuckDB.

Generates a CSV of about ``--size-mb`` megabytes (GBK, Chinese headers, money
as text such as ``"¥1,234.50"``), registers it with ``register_sources`` and
sums the amount per day; then does the same sum with plain DuckDB over a UTF-8
copy. Each side runs in its own child process so its peak RSS is its own.

    python bench/bench_load_1gb.py --size-mb 1024 [--dir PATH] [--keep]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "订单号,下单时间,付款时间,订单状态,商品名称,实付金额,渠道,买家留言\r\n"
STATUSES = ("交易成功", "已发货", "待发货", "交易关闭")
PRODUCTS = ("保温杯 500ml", "手账本,A5 款", "茶叶礼盒", "帆布包", "陶瓷杯")
CHANNELS = ("微商城", "小程序", "门店")


def generate(path: Path, size_mb: int) -> int:
    """Write the GBK export; return its row count."""
    rng = random.Random(7)
    target = size_mb * 1024 * 1024
    rows = 0
    written = 0
    with path.open("wb") as out:
        out.write(HEADER.encode("gbk"))
        while written < target:
            lines = []
            for _ in range(10_000):
                rows += 1
                day = 1 + rows % 28
                cents = rng.randrange(100, 500_000)
                amount = f"{cents // 100:,}.{cents % 100:02d}"
                product = PRODUCTS[rows % len(PRODUCTS)]
                lines.append(
                    f"YZ{rows:012d},2025-03-{day:02d} 10:{rows % 60:02d}:00,"
                    f"2025-03-{day:02d} 10:{rows % 60:02d}:30,"
                    f'{STATUSES[rows % 4]},"{product}","￥{amount}",'
                    f"{CHANNELS[rows % 3]},\r\n"
                )
            chunk = "".join(lines).encode("gbk")
            out.write(chunk)
            written += len(chunk)

    return rows


def run_kpi(path: Path, cache: Path) -> dict:
    import duckdb

    from kpi_cli.config import SourceSettings
    from kpi_cli.sources import register_sources

    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    start = time.perf_counter()
    settings = SourceSettings(
        path=str(path),
        columns={"实付金额": "amount", "付款时间": "paid_at"},
        types={"amount": "decimal(18,2)"},
        time_column="paid_at",
    )
    info = register_sources(
        con,
        {"orders": settings},
        base_dir=path.parent,
        timezone="Asia/Shanghai",
        cache_dir=cache,
    )["orders"]
    loaded = time.perf_counter()
    total = con.execute("SELECT sum(amount) FROM orders").fetchone()[0]
    done = time.perf_counter()

    return {
        "rows": info.rows,
        "sum": str(total),
        "register_s": loaded - start,
        "sum_s": done - loaded,
        "total_s": done - start,
    }


def run_raw(path: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    start = time.perf_counter()
    total = con.execute(
        "SELECT sum(CAST(replace(replace(实付金额, '￥', ''), ',', '') "
        "AS DECIMAL(18,2))) FROM read_csv(?, all_varchar = true)",
        [str(path)],
    ).fetchone()[0]
    done = time.perf_counter()

    return {"sum": str(total), "total_s": done - start}


def child(args: argparse.Namespace) -> None:
    path = Path(args.file)
    result = run_kpi(path, Path(args.cache)) if args.child == "kpi" else run_raw(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps(result))


def measure(kind: str, file: Path, cache: Path) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--file", str(file)]
    command += ["--cache", str(cache)]
    output = subprocess.run(command, check=True, capture_output=True, text=True)

    return json.loads(output.stdout)


def transcode_copy(source: Path, target: Path) -> float:
    start = time.perf_counter()
    with (
        source.open(encoding="gb18030", newline="") as inp,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        shutil.copyfileobj(inp, out, 1 << 20)

    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--dir", type=Path, help="folder for the files (temp)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    folder = args.dir or Path(tempfile.mkdtemp(prefix="kpi-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    gbk = folder / "orders_gbk.csv"
    utf8 = folder / "orders_utf8.csv"
    try:
        start = time.perf_counter()
        rows = generate(gbk, args.size_mb)
        size = gbk.stat().st_size / 1024 / 1024
        took = time.perf_counter() - start
        print(f"generated {rows:,} rows, {size:,.0f} MB in {took:.1f}s")
        print(f"plain Python transcode to UTF-8: {transcode_copy(gbk, utf8):.1f}s")

        cold = measure("kpi", gbk, folder / "cache")
        warm = measure("kpi", gbk, folder / "cache")
        raw = measure("raw", utf8, folder / "cache")
        assert cold["sum"] == raw["sum"], (cold["sum"], raw["sum"])
        for label, result in (("kpi (cold cache)", cold), ("kpi (warm cache)", warm)):
            print(
                f"{label}: register {result['register_s']:.1f}s, sum "
                f"{result['sum_s']:.1f}s, total {result['total_s']:.1f}s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB"
            )
        print(
            f"raw DuckDB (UTF-8 copy): total {raw['total_s']:.1f}s, "
            f"peak RSS {raw['peak_rss_mb']:.0f} MB"
        )
        print(
            f"ratio kpi/raw: time {cold['total_s'] / raw['total_s']:.1f}x cold, "
            f"{warm['total_s'] / raw['total_s']:.1f}x warm; peak RSS "
            f"{cold['peak_rss_mb'] / raw['peak_rss_mb']:.2f}x"
        )
        print(f"sum {raw['sum']} over {cold['rows']:,} rows")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
