"""A weekly review against raw DuckDB doing the same work, as ratios from one run.

Generates the sample shop at a chosen scale, then times:

- ``kpi``: ``run_review`` of the built-in pack for one week (loading the
  exports, registering models, one grouped query per model over the period,
  its comparisons and 12-week trend, breakdowns, data health);
- ``raw``: hand-written DuckDB SQL over the same CSV files computing the same
  numbers for the same 14 weeks (GMV, orders, AOV, new-customer orders,
  repurchase rate, conversion, CAC, ROI, refund rate and satisfaction, with
  channel breakdowns), with the same typed reads.

It prints wall time and peak RSS of each, and the ratio kpi / raw. Each side
runs in a fresh process so peak memory is its own.

    python bench/bench_review.py --scale 10
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAW_SQL = """
SET TimeZone = 'Asia/Shanghai';
CREATE TEMP VIEW o AS
SELECT "订单号" AS id, "买家ID" AS cust, "渠道" AS channel,
       strptime(nullif("付款时间", ''), '%Y-%m-%d %H:%M:%S') AS paid,
       CAST("实付金额" AS DECIMAL(18, 2)) AS amount,
       CAST("退款金额" AS DECIMAL(18, 2)) AS refund
FROM read_csv('{data}/orders.csv', all_varchar = true);
CREATE TEMP VIEW t AS
SELECT CAST("日期" AS DATE) AS day, "渠道" AS channel, CAST("访客数" AS BIGINT) AS visitors
FROM read_csv('{data}/traffic.csv', all_varchar = true);
CREATE TEMP VIEW s AS
SELECT CAST("日期" AS DATE) AS day, "渠道" AS channel, CAST("推广费用" AS DECIMAL(18, 2)) AS spend
FROM read_csv('{data}/marketing_spend.csv', all_varchar = true);
CREATE TEMP VIEW r AS
SELECT strptime("评价时间", '%Y-%m-%d %H:%M:%S') AS reviewed, CAST("评分" AS INTEGER) AS score
FROM read_csv('{data}/reviews.csv', all_varchar = true);
CREATE TEMP TABLE weeks AS
SELECT range AS wk_start, range + INTERVAL 7 DAY AS wk_end
FROM range(TIMESTAMP '{first}', TIMESTAMP '{last}', INTERVAL 7 DAY);
"""

RAW_QUERIES = [
    """
    WITH f AS (
        SELECT *, min(paid) OVER (PARTITION BY cust) AS first_paid
        FROM o WHERE paid IS NOT NULL
    )
    SELECT wk_start, channel, sum(amount), count(*),
           sum(amount) / count(*),
           count(*) FILTER (WHERE paid = first_paid),
           count(DISTINCT cust) FILTER (WHERE first_paid < wk_start)
               / count(DISTINCT cust),
           sum(refund) / sum(amount)
    FROM f JOIN weeks ON paid >= wk_start AND paid < wk_end
    GROUP BY GROUPING SETS ((wk_start), (wk_start, channel))
    """,
    """
    WITH f AS (
        SELECT CAST(paid AS DATE) AS day, channel, count(*) AS n,
               count(*) FILTER (WHERE paid = first_paid) AS new, sum(amount) AS amount
        FROM (SELECT *, min(paid) OVER (PARTITION BY cust) AS first_paid
              FROM o WHERE paid IS NOT NULL)
        GROUP BY ALL
    ),
    d AS (
        SELECT * FROM (SELECT day, channel, sum(visitors) AS visitors FROM t GROUP BY ALL)
        FULL JOIN f USING (day, channel)
        FULL JOIN (SELECT day, channel, sum(spend) AS spend FROM s GROUP BY ALL)
        USING (day, channel)
    )
    SELECT wk_start, channel, sum(n) / sum(visitors), sum(spend) / sum(new),
           sum(amount) / sum(spend)
    FROM d JOIN weeks ON day >= wk_start AND day < wk_end
    GROUP BY GROUPING SETS ((wk_start), (wk_start, channel))
    """,
    """
    SELECT wk_start, avg(score) FROM r JOIN weeks ON reviewed >= wk_start AND reviewed < wk_end
    GROUP BY wk_start
    """,
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_kpi(project: str, period: str) -> dict[str, float]:
    from kpi_cli.periods import parse_period
    from kpi_cli.project import load_project
    from kpi_cli.review import run_review

    started = time.perf_counter()
    loaded = load_project(Path(project))
    run_review(loaded, parse_period(period))

    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def run_raw(data: str, first: str, last: str) -> dict[str, float]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(RAW_SQL.format(data=data, first=first, last=last))
    for sql in RAW_QUERIES:
        con.execute(sql).fetchall()

    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def child(args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = run_kpi(*rest) if kind == "kpi" else run_raw(*rest)
        print(json.dumps(result))
        return

    from kpi_cli.scaffold import create_project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "shop"
        create_project(root, name="bench")
        if args.scale != 1.0:
            from kpi_cli.sample import generate

            generate(root / "data", scale=args.scale)
        size = sum(f.stat().st_size for f in (root / "data").iterdir()) / 2**20
        # 2026-W48, its previous week, 2025-W48 and the 12-week trend.
        kpi = child(["kpi", str(root), "2026-W48"])
        raw = child(["raw", str(root / "data"), "2025-11-24", "2026-11-30"])

    print(f"sample scale {args.scale:g}: {size:.1f} MiB of CSV")
    print(f"{'':6} {'seconds':>9} {'peak RSS MiB':>13}")
    for name, result in (("kpi", kpi), ("raw", raw)):
        print(f"{name:6} {result['seconds']:9.2f} {result['peak_rss_mb']:13.0f}")
    print(
        f"ratio  {kpi['seconds'] / raw['seconds']:9.2f} "
        f"{kpi['peak_rss_mb'] / raw['peak_rss_mb']:13.2f}"
    )


if __name__ == "__main__":
    main()
