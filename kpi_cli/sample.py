"""A deterministic synthetic shop: the exports behind ``kpi demo`` and tests.

:func:`generate` writes four Youzan-style CSV exports (orders, traffic,
marketing spend, reviews) for one made-up shop selling through five channels.
The numbers are shaped like a real merchant's: year-over-year growth, weekly
seasonality, Double 11 and 618 spikes, returning customers, unpaid and
refunded orders, and payments that cross midnight. Everything is drawn from
one ``random.Random(seed)``, so the same arguments give byte-identical files.

Run ``python -m kpi_cli.sample OUT_DIR`` to write the default set.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import itertools
import math
import os
import random
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from kpi_cli.errors import KpiError, UsageError

__all__ = ["ANOMALIES", "HEADERS", "SAMPLE_END", "generate"]

SAMPLE_END = datetime.date(2026, 11, 29)  # a Sunday, so the last week is complete

ANOMALIES = ("live_collapse",)

HEADERS: dict[str, tuple[str, ...]] = {
    "orders": (
        "订单号",
        "买家ID",
        "渠道",
        "门店",
        "下单时间",
        "付款时间",
        "订单状态",
        "实付金额",
        "退款金额",
    ),
    "traffic": ("日期", "渠道", "访客数", "浏览量"),
    "marketing_spend": ("日期", "渠道", "推广费用"),
    "reviews": ("订单号", "评价时间", "评分"),
}

STATUS_SUCCESS = "交易成功"
STATUS_REFUNDED = "已退款"
STATUS_CLOSED = "交易关闭"
ONLINE_STORE = "线上"
STORES = ("旗舰店", "东门店", "西门店")

_MEAN_ORDERS_PER_DAY = 45.0
_YEARLY_GROWTH = 1.20
# Monday..Sunday; Saturday is the busiest day for this shop.
_WEEKDAY_FACTOR = (0.90, 0.88, 0.90, 0.95, 1.05, 1.40, 1.20)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


@dataclass(frozen=True)
class _Channel:
    name: str
    share: float  # of all orders
    mean_amount: float  # average order value in yuan
    conversion: float  # orders per visitor
    views_per_visitor: tuple[float, float]
    unpaid_rate: float
    refund_rate: float  # of paid orders
    daily_spend: float  # yuan, before growth and campaigns
    hour_weights: tuple[int, ...]  # 24 relative weights, local time


# Online shoppers browse at lunch and late evening; live streams run at night;
# the stores are open 9:00-21:00.
# fmt: off
_WEB_HOURS = (2, 1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8,
                 9, 7, 6, 6, 6, 6, 7, 9, 11, 12, 10, 5)
_LIVE_HOURS = (3, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3,
               3, 3, 3, 3, 3, 4, 6, 12, 18, 20, 16, 8)
_STORE_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 7,
                7, 6, 6, 6, 7, 8, 9, 9, 7, 0, 0, 0)

_CHANNELS = (
    # name, share, AOV, conversion, views/visitor, unpaid, refund, spend, hours
    _Channel("小程序", 0.35, 150.0, 0.040, (2.5, 4.0), 0.07, 0.040, 600.0, _WEB_HOURS),
    _Channel("直播", 0.20, 130.0, 0.025, (1.6, 2.6), 0.05, 0.080, 1500.0, _LIVE_HOURS),
    _Channel("门店", 0.25, 260.0, 0.080, (1.0, 1.3), 0.01, 0.020, 80.0, _STORE_HOURS),
    _Channel("社群团购", 0.12, 95.0, 0.060, (2.0, 3.2), 0.07, 0.045, 300.0, _WEB_HOURS),
    _Channel("拼团", 0.08, 60.0, 0.050, (2.8, 4.5), 0.18, 0.035, 250.0, _WEB_HOURS),
)
# fmt: on
_CHANNEL_CUM_WEIGHTS = tuple(itertools.accumulate(c.share for c in _CHANNELS))
_HOUR_CUM_WEIGHTS = {
    c.name: tuple(itertools.accumulate(c.hour_weights)) for c in _CHANNELS
}
_CHANNEL_INDEXES = range(len(_CHANNELS))
_HOURS = range(24)
_AMOUNT_SIGMA = 0.55
# Stars 1..5 for a kept order and for a refunded one (refunds come with grievances).
_RATING_WEIGHTS = (0.02, 0.02, 0.05, 0.20, 0.71)
_REFUNDED_RATING_WEIGHTS = (0.30, 0.20, 0.20, 0.15, 0.15)
_REVIEW_RATE = 0.30
_RETURNING_RATE = 0.37
# Below this many known customers the pool is too small to draw repeat buyers from.
_POOL_WARMUP = 300
_LIVE_COLLAPSE_KEEP = 0.03


def generate(
    out_dir: Path,
    *,
    end: datetime.date = SAMPLE_END,
    days: int = 730,
    scale: float = 1.0,
    seed: int = 7,
    anomaly: str | None = None,
) -> dict[str, Path]:
    """Write a synthetic shop's exports for the ``days`` days ending on ``end``.

    Files written to ``out_dir`` (created if missing), each replaced
    atomically: ``orders.csv``, ``traffic.csv``, ``marketing_spend.csv`` and
    ``reviews.csv``. About 45 orders a day at ``scale=1`` averaged over the
    span; ``scale`` multiplies the order volume and the traffic that follows
    it (not the marketing spend). Rows are streamed, so large scales need
    little memory. An order placed just before midnight on ``end`` may be
    paid after it; reviews dated after ``end`` are left out, as they would be
    from an export taken that day.

    ``anomaly`` plants one defect for tests and demos:

    - ``"live_collapse"``: the 直播 (live stream) channel keeps only about 3% of
      its orders, and its traffic with them, in the final week (``end - 6`` to
      ``end``); marketing spend is unchanged.

    Returns:
        ``{source name: path}`` for ``orders``, ``traffic``,
        ``marketing_spend`` and ``reviews``.

    Raises:
        UsageError: ``days`` < 1, ``scale`` <= 0 or an unknown ``anomaly``.
        KpiError: a file could not be written; each file is then either the
            previous one or absent, never half-written.
    """
    if days < 1:
        raise UsageError(f"days must be at least 1, got {days}.")
    if not (scale > 0 and math.isfinite(scale)):
        raise UsageError(f"scale must be a positive number, got {scale}.")
    if anomaly is not None and anomaly not in ANOMALIES:
        known = ", ".join(ANOMALIES)
        raise UsageError(f"Unknown anomaly {anomaly!r}; choose one of: {known}.")

    out_dir = Path(out_dir)
    paths = {name: out_dir / f"{name}.csv" for name in HEADERS}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with _atomic_writers(paths) as writers:
            _Shop(random.Random(seed), end, days, scale, anomaly).write(writers)
    except OSError as e:
        raise KpiError(
            f"Could not write the sample data to {out_dir}: {e.strerror or e}. "
            "Check the folder is writable and the disk is not full."
        ) from e

    return paths


@contextlib.contextmanager
def _atomic_writers(paths: dict[str, Path]) -> Iterator[dict[str, _RowWriter]]:
    """Yield a CSV writer per file; move all files into place only on success."""
    temps: dict[str, Path] = {}
    handles: list[IO[str]] = []
    try:
        writers = {}
        for name, path in paths.items():
            fd, temp = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
            temps[name] = Path(temp)
            handle = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115
            handles.append(handle)
            # mkstemp creates owner-only files; these are shareable exports.
            os.chmod(temp, 0o644)
            writers[name] = csv.writer(handle, lineterminator="\n")
            writers[name].writerow(HEADERS[name])
        yield writers
        for handle in handles:
            # On disk before the rename, so a crash cannot leave an empty file.
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for name, path in paths.items():
            os.replace(temps[name], path)
    finally:
        for handle in handles:
            handle.close()
        for temp in temps.values():
            temp.unlink(missing_ok=True)


class _Shop:
    """The generator's state: one random stream, walked day by day."""

    def __init__(
        self,
        rng: random.Random,
        end: datetime.date,
        days: int,
        scale: float,
        anomaly: str | None,
    ) -> None:
        self.rng = rng
        self.end = end
        self.start = end - datetime.timedelta(days=days - 1)
        self.scale = scale
        self.anomaly = anomaly
        self.customers = 0
        self.review_cutoff = datetime.datetime.combine(
            end + datetime.timedelta(days=1), datetime.time()
        )
        # Normalise so the whole span averages the target volume whatever its length.
        total = sum(
            self._demand(self.start + datetime.timedelta(d)) for d in range(days)
        )
        self.base = _MEAN_ORDERS_PER_DAY * days / total

    def write(self, writers: dict[str, _RowWriter]) -> None:
        day = self.start
        while day <= self.end:
            counts = self._write_orders(day, writers["orders"], writers["reviews"])
            self._write_traffic(day, counts, writers["traffic"])
            self._write_spend(day, writers["marketing_spend"])
            day += datetime.timedelta(days=1)

    def _demand(self, day: datetime.date) -> float:
        years = (day - self.start).days / 365.0
        return _YEARLY_GROWTH**years * _WEEKDAY_FACTOR[day.weekday()] * _campaign(day)

    def _write_orders(
        self, day: datetime.date, orders: _RowWriter, reviews: _RowWriter
    ) -> list[int]:
        rng = self.rng
        expected = self.base * self._demand(day) * self.scale
        count = max(0, round(rng.gauss(expected, math.sqrt(expected))))
        collapse = self.anomaly == "live_collapse" and (self.end - day).days < 7
        midnight = datetime.datetime.combine(day, datetime.time())

        # Draw the day's orders first so order numbers follow the order time.
        drawn: list[tuple[int, int]] = []
        for _ in range(count):
            index = rng.choices(_CHANNEL_INDEXES, cum_weights=_CHANNEL_CUM_WEIGHTS)[0]
            channel = _CHANNELS[index]
            if (
                collapse
                and channel.name == "直播"
                and rng.random() > _LIVE_COLLAPSE_KEEP
            ):
                continue
            hour = rng.choices(_HOURS, cum_weights=_HOUR_CUM_WEIGHTS[channel.name])[0]
            drawn.append((hour * 3600 + rng.randrange(3600), index))
        drawn.sort()

        counts = [0] * len(_CHANNELS)
        for seq, (second, index) in enumerate(drawn, start=1):
            counts[index] += 1
            order_id = f"E{day:%Y%m%d}{seq:06d}"
            ordered = midnight + datetime.timedelta(seconds=second)
            self._write_order(order_id, ordered, _CHANNELS[index], orders, reviews)

        return counts

    def _write_order(
        self,
        order_id: str,
        ordered: datetime.datetime,
        channel: _Channel,
        orders: _RowWriter,
        reviews: _RowWriter,
    ) -> None:
        rng = self.rng
        store = rng.choice(STORES) if channel.name == "门店" else ONLINE_STORE
        customer = self._customer()
        if rng.random() < channel.unpaid_rate:
            orders.writerow(
                (
                    order_id,
                    customer,
                    channel.name,
                    store,
                    ordered.strftime(_TIME_FORMAT),
                    "",
                    STATUS_CLOSED,
                    "0.00",
                    "0.00",
                )
            )
            return

        # Lognormal with the channel's mean; Double 11 baskets run a little larger.
        mean = channel.mean_amount * (1.15 if _campaign(ordered.date()) > 2 else 1.0)
        mu = math.log(mean) - _AMOUNT_SIGMA**2 / 2
        cents = max(990, round(rng.lognormvariate(mu, _AMOUNT_SIGMA) * 100))
        paid = f"{cents // 100}.{cents % 100:02d}"
        # Tills are paid on the spot; online orders within 30 minutes, most quickly.
        limit = 90 if channel.name == "门店" else 1800
        delay = min(limit, 5 + int(rng.expovariate(1 / (20 if limit == 90 else 240))))
        paid_at = ordered + datetime.timedelta(seconds=delay)
        refunded = rng.random() < channel.refund_rate
        orders.writerow(
            (
                order_id,
                customer,
                channel.name,
                store,
                ordered.strftime(_TIME_FORMAT),
                paid_at.strftime(_TIME_FORMAT),
                STATUS_REFUNDED if refunded else STATUS_SUCCESS,
                paid,
                paid if refunded else "0.00",
            )
        )

        if rng.random() < _REVIEW_RATE:
            weights = _REFUNDED_RATING_WEIGHTS if refunded else _RATING_WEIGHTS
            stars = rng.choices(range(1, 6), weights)[0]
            reviewed = paid_at + datetime.timedelta(
                seconds=rng.randrange(86400, 864001)
            )
            if reviewed < self.review_cutoff:
                reviews.writerow((order_id, reviewed.strftime(_TIME_FORMAT), stars))

    def _customer(self) -> str:
        rng = self.rng
        if self.customers >= _POOL_WARMUP and rng.random() < _RETURNING_RATE:
            # Skew towards recent customers: repeat buying fades with time.
            number = self.customers - int(self.customers * rng.random() ** 2)
        else:
            self.customers += 1
            number = self.customers

        return f"C{number:06d}"

    def _write_traffic(
        self, day: datetime.date, counts: list[int], out: _RowWriter
    ) -> None:
        rng = self.rng
        for channel, orders in zip(_CHANNELS, counts, strict=True):
            conversion = channel.conversion * rng.uniform(0.8, 1.2)
            visitors = max(orders, round(orders / conversion) + rng.randrange(1, 20))
            views = round(visitors * rng.uniform(*channel.views_per_visitor))
            out.writerow((f"{day:%Y-%m-%d}", channel.name, visitors, views))

    def _write_spend(self, day: datetime.date, out: _RowWriter) -> None:
        rng = self.rng
        years = (day - self.start).days / 365.0
        # Budgets grow with the business and are front-loaded before campaign peaks.
        boost = (
            _YEARLY_GROWTH**years * _campaign(day + datetime.timedelta(days=2)) ** 0.8
        )
        for channel in _CHANNELS:
            cents = round(channel.daily_spend * boost * rng.uniform(0.7, 1.3) * 100)
            out.writerow(
                (f"{day:%Y-%m-%d}", channel.name, f"{cents // 100}.{cents % 100:02d}")
            )


def _campaign(day: datetime.date) -> float:
    """Demand multiplier of the Double 11 and 618 shopping festivals."""
    if day.month == 11 and day.day <= 11:
        # Pre-sales ramp through early November to the peak on the 11th.
        return 5.0 if day.day == 11 else 1.2 + 0.13 * day.day
    if day.month == 11 and day.day == 12:
        return 1.4
    if day.month == 6 and 10 <= day.day <= 18:
        return 2.5 if day.day == 18 else 1.1 + 0.05 * (day.day - 10)

    return 1.0


def main(argv: list[str] | None = None) -> int:
    """Write the default sample set into the folder given on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kpi_cli.sample OUT_DIR", file=sys.stderr)
        return 2

    paths = generate(Path(args[0]))
    print(f"Wrote {', '.join(p.name for p in paths.values())} to {args[0]}")

    return 0


if __name__ == "__main__":
    sys.exit(main())
