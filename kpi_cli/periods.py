"""Calendar periods: parsing, labels, and the periods a review compares with.

A period is a span of whole local days in the project's time zone. Weeks start
on the project's week start (Monday by default) and carry ISO week labels
(the ISO week of the week's Monday), so ``2025-W01`` is the week holding
2024-12-30 and ``2026-W53`` exists. Pure functions only: no I/O, no clock
except through the ``today`` argument.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from kpi_cli.errors import PeriodError

GRAINS = ("day", "week", "month", "quarter", "year")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A span of local calendar days.

    ``end`` is inclusive. ``full_end`` is where the period would end if it were
    complete; a period cut short by ``as_of`` has ``end < full_end``.
    """

    grain: str  # one of GRAINS, or "range" for START..END
    start: dt.date
    end: dt.date
    week_start: int = 0  # Monday = 0
    full_end: dt.date | None = None

    @property
    def label(self) -> str:
        """Stable machine label: 2026-11-30, 2026-W48, 2026-11, 2026-Q4, 2026, A..B."""
        if self.grain == "day":
            return self.start.isoformat()
        if self.grain == "week":
            year, week, _ = _week_monday(self.start, self.week_start).isocalendar()
            return f"{year}-W{week:02d}"
        if self.grain == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.grain == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.grain == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}..{self.complete_end.isoformat()}"

    @property
    def complete_end(self) -> dt.date:
        """The last day of the period when complete."""
        return self.full_end or self.end

    @property
    def is_partial(self) -> bool:
        """Whether the period was cut short by an as-of date."""
        return self.end < self.complete_end

    @property
    def days(self) -> int:
        """Number of days covered (elapsed days for a partial period)."""
        return (self.end - self.start).days + 1

    @property
    def full_days(self) -> int:
        """Number of days of the complete period."""
        return (self.complete_end - self.start).days + 1

    def start_ts(self) -> dt.datetime:
        """Local midnight starting the period."""
        return dt.datetime.combine(self.start, dt.time())

    def end_ts(self) -> dt.datetime:
        """Local midnight after the period's last day (exclusive bound)."""
        return dt.datetime.combine(self.end + _DAY, dt.time())

    def complete(self) -> Period:
        """The same period, uncut."""
        return replace(self, end=self.complete_end, full_end=None)

    def cut(self, days: int) -> Period:
        """The first ``days`` days of the period (all of it if shorter)."""
        full = self.complete_end
        end = min(full, self.start + dt.timedelta(days=days - 1))
        return replace(self, end=end, full_end=full if end < full else None)

    def previous(self) -> Period:
        """The period just before, cut to the same elapsed days when partial."""
        if self.grain == "range":
            length = self.full_days
            start = self.start - dt.timedelta(days=length)
            whole = replace(self, start=start, end=self.start - _DAY, full_end=None)
        else:
            whole = containing(self.grain, self.start - _DAY, self.week_start)
        return whole.cut(self.days) if self.is_partial else whole

    def year_ago(self) -> Period:
        """The same period a year earlier (weeks and days by ISO week number)."""
        if self.grain in ("week", "day"):
            if self.grain == "week":
                monday = _week_monday(self.start, self.week_start)
            else:
                monday = self.start - dt.timedelta(days=self.start.weekday())
            year, week, _ = monday.isocalendar()
            week = min(week, _iso_weeks(year - 1))
            shifted = dt.date.fromisocalendar(year - 1, week, 1) + (self.start - monday)
            whole = containing(self.grain, shifted, self.week_start)
        elif self.grain == "range":
            start = _minus_year(self.start)
            end = _minus_year(self.complete_end)
            whole = replace(self, start=start, end=end, full_end=None)
        else:
            whole = containing(self.grain, _minus_year(self.start), self.week_start)
        return whole.cut(self.days) if self.is_partial else whole

    def trailing(self, count: int) -> list[Period]:
        """The ``count`` periods ending with this one, oldest first.

        Earlier periods are complete; only this one may be partial.
        """
        periods = [self]
        current = self.complete()
        for _ in range(count - 1):
            current = current.previous()
            periods.append(current)

        return periods[::-1]


def containing(grain: str, day: dt.date, week_start: int = 0) -> Period:
    """The period of ``grain`` that contains ``day``."""
    if grain == "day":
        return Period("day", day, day, week_start)
    if grain == "week":
        start = day - dt.timedelta(days=(day.weekday() - week_start) % 7)
        return Period("week", start, start + dt.timedelta(days=6), week_start)
    if grain == "month":
        start = day.replace(day=1)
        return Period("month", start, _add_months(start, 1) - _DAY, week_start)
    if grain == "quarter":
        start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        return Period("quarter", start, _add_months(start, 3) - _DAY, week_start)
    if grain == "year":
        start = day.replace(month=1, day=1)
        return Period("year", start, day.replace(month=12, day=31), week_start)
    raise PeriodError(f"unknown grain {grain!r}; expected one of {', '.join(GRAINS)}")


def last_complete(grain: str, today: dt.date, week_start: int = 0) -> Period:
    """The last complete period of ``grain`` before ``today``."""
    return containing(
        grain, containing(grain, today, week_start).start - _DAY, week_start
    )


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.\.(\d{4})-(\d{2})-(\d{2})$"), "range"),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "day"),
    (re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE), "week"),
    (re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE), "quarter"),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), "month"),
    (re.compile(r"^(\d{4})$"), "year"),
]

PERIOD_FORMS = "2026-11-30, 2026-W48, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15"


def parse_period(text: str, week_start: int = 0) -> Period:
    """Parse a period written as in ``PERIOD_FORMS``.

    Raises:
        PeriodError: naming the text and the accepted forms.
    """
    value = text.strip()
    for pattern, kind in _PATTERNS:
        match = pattern.match(value)
        if match:
            try:
                return _build(kind, [int(g) for g in match.groups()], week_start)
            except ValueError as e:
                raise PeriodError(f"period {text!r}: {e}") from e
    raise PeriodError(f"cannot read period {text!r}; expected one of {PERIOD_FORMS}")


def _build(kind: str, parts: list[int], week_start: int) -> Period:
    if kind == "range":
        start, end = dt.date(*parts[:3]), dt.date(*parts[3:])
        if end < start:
            raise ValueError("the range ends before it starts")
        return Period("range", start, end, week_start)
    if kind == "day":
        return containing("day", dt.date(*parts), week_start)
    if kind == "week":
        year, week = parts
        if not 1 <= week <= _iso_weeks(year):
            raise ValueError(f"{year} has ISO weeks 1..{_iso_weeks(year)}")
        return containing("week", dt.date.fromisocalendar(year, week, 1), week_start)
    if kind == "month":
        return containing("month", dt.date(parts[0], parts[1], 1), week_start)
    if kind == "quarter":
        return containing("quarter", dt.date(parts[0], parts[1] * 3 - 2, 1), week_start)
    return containing("year", dt.date(parts[0], 1, 1), week_start)


def _week_monday(start: dt.date, week_start: int) -> dt.date:
    """The Monday inside the week that starts on ``start``."""
    return start + dt.timedelta(days=(0 - week_start) % 7)


def _iso_weeks(year: int) -> int:
    return dt.date(year, 12, 28).isocalendar()[1]


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def _minus_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
