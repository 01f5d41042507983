"""Data health: what each source held for a period, and whether to trust it.

Every review measures its sources here, and ``kpi check`` runs only this part.
Per source and period, one set-based DuckDB query counts the rows, their time
range, the days without a row, rows sharing a key, rows without a key or a
time, and the rows of the trailing periods of the same grain; Python only
takes the median of those few counts and writes the sentences.

A source is *complete* for a period when its data reaches the period's end
(or it is ``sparse``), no file of it is zero bytes, and its row count is not
a sudden drop below ``health.volume_drop`` of the trailing median. KPIs over a
source that is not complete are never called off track (see ``review``).

Known limits, each for a reason:

- Duplicate keys are counted among the period's rows of the loaded view: the
  view already keeps one file's rows per key, so what remains are repeats
  inside one file; a repeat whose twin lies in another period is not counted
  (the loader's per-file warning covers the whole file).
- Volume is judged only with at least ``MIN_TRAILING`` trailing periods that
  the source fully covers and a median of at least ``MIN_MEDIAN_ROWS`` rows,
  and never for sparse sources or sources whose data ends before the period
  does (freshness already flags those).
- Row counts cannot tell a broken export from a real collapse in business: a
  strike or an outage that halves orders is flagged too, and its KPIs read
  incomplete data rather than off track; ``[health] volume_drop = 0`` turns
  the check off where that trade is wrong.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from kpi_cli.config import HealthSettings, Settings, SourceSettings
from kpi_cli.errors import EXIT_FAILED, DataError, KpiError
from kpi_cli.parsing import quote_ident
from kpi_cli.periods import Period
from kpi_cli.project import Project
from kpi_cli.review_model import Breakdown, HealthIssue, SourceHealth
from kpi_cli.sources import SourceInfo

log = logging.getLogger(__name__)

# Fewer trailing periods than this make a median too easily moved by one
# promotion week or one quiet holiday to call a drop.
MIN_TRAILING = 3
# Below this median a halving is ordinary noise (with 10 rows a period, 4 or
# fewer turn up by chance about 3% of the time; with 4, 1 or fewer 9%), so
# thin sources are not judged at all.
MIN_MEDIAN_ROWS = 10
# Empty days listed in an issue sentence; the JSON lists all of them.
_DAYS_SHOWN = 10


class UnhealthyData(KpiError):
    """``kpi check`` ran and printed its report, and some source has an issue."""

    exit_code = EXIT_FAILED
    title = "Data health"


@dataclass(frozen=True)
class HealthReport:
    """The health of every source of a project for one period."""

    project: str
    period: Period
    sources: tuple[SourceHealth, ...]

    @property
    def healthy(self) -> bool:
        """Whether no source has an issue."""
        return not any(s.issues for s in self.sources)

    def raise_if_unhealthy(self) -> None:
        """Raise when a source has an issue; nothing when all are healthy.

        Raises:
            UnhealthyData: naming the sources with issues and the period.
        """
        flagged = [s for s in self.sources if s.issues]
        if not flagged:
            return
        names = ", ".join(
            f"{s.name} ({len(s.issues)} issue(s){'' if s.complete else ', incomplete'})"
            for s in flagged
        )

        raise UnhealthyData(
            f"{len(flagged)} of {len(self.sources)} source(s) have issues for "
            f"{self.period.label}: {names}"
        )


@dataclass(frozen=True)
class _Counts:
    """What the health query of one source returned."""

    period_rows: int | None
    period_first: Any
    period_last: Any
    null_time_rows: int | None
    null_key_rows: int | None
    duplicate_keys: int | None
    empty_days: tuple[dt.date, ...]
    trailing_rows: tuple[int, ...]


def source_health(
    con: duckdb.DuckDBPyConnection,
    sources: dict[str, SourceInfo],
    settings: Settings,
    period: Period,
) -> dict[str, SourceHealth]:
    """Measure each registered source for ``period``.

    Returns:
        The health of each source, by name, in the order of ``sources``.

    Raises:
        DataError: a source's view cannot be read.
    """
    health = {}
    for name, info in sources.items():
        source = settings.sources[name]
        trailing = _trailing(period, info, source, settings.health)
        counts = _measure(con, info, source, period, trailing)
        health[name] = _judge(info, source, settings.health, period, trailing, counts)
        log.debug("source %s, %s: %s", name, period.label, health[name].issues or "ok")

    return health


def distrust(
    breakdown: Breakdown | None, incomplete: Sequence[str]
) -> Breakdown | None:
    """The breakdown with off-track and at-risk parts marked ``incomplete_data``
    when the KPI's ``incomplete`` sources are not complete; else unchanged.

    The parts rest on the same rows as the whole: a part short of its target
    on suspect data is no more off track than the KPI is.
    """
    if breakdown is None or not incomplete:
        return breakdown
    rows = tuple(
        replace(row, status="incomplete_data")
        if row.status in ("off_track", "at_risk")
        else row
        for row in breakdown.rows
    )

    return replace(breakdown, rows=rows)


def check_project(project: Project, period: Period) -> HealthReport:
    """Load a project's sources and measure them for ``period``; no KPI runs.

    Raises:
        DataError: an export cannot be read.
        ConfigError: a source's settings cannot be applied.
    """
    # Imported here: review imports this module for every review.
    from kpi_cli.review import open_session

    session = open_session(project, [])
    try:
        health = source_health(session.con, session.sources, project.settings, period)
    finally:
        session.close()

    return HealthReport(project.name, period, tuple(health.values()))


def describe_sources(project: Project) -> list[SourceInfo]:
    """Load a project's sources and return what each one exposes.

    Raises:
        DataError: an export cannot be read.
        ConfigError: a source's settings cannot be applied.
    """
    from kpi_cli.review import open_session

    session = open_session(project, [])
    try:
        return list(session.sources.values())
    finally:
        session.close()


def _trailing(
    period: Period, info: SourceInfo, source: SourceSettings, settings: HealthSettings
) -> list[Period]:
    """The periods before ``period`` whose volume it is compared with.

    Same grain and, for a partial period, the same elapsed days; only periods
    the source fully covers (none that start before its first row).
    """
    if info.time_column is None or info.first is None or source.sparse:
        return []
    if settings.volume_drop == 0:
        return []
    found = []
    current = period
    for _ in range(settings.volume_periods):
        current = current.previous()
        if current.start < info.first.date():
            break
        found.append(current)

    return found


def _measure(
    con: duckdb.DuckDBPyConnection,
    info: SourceInfo,
    source: SourceSettings,
    period: Period,
    trailing: Sequence[Period],
) -> _Counts:
    """Run the one health query of a source."""
    view = quote_ident(info.name)
    keys = [quote_ident(k) for k in source.key]
    params: list[Any] = []
    t = quote_ident(info.time_column) if info.time_column else "NULL"
    if info.time_column:
        within = f"{t} >= $1 AND {t} < $2"
        params = [period.start_ts(), period.end_ts(), period.start, period.end]
        null_time = f"count(*) FILTER (WHERE {t} IS NULL)"
        days = f"list(DISTINCT CAST({t} AS DATE)) FILTER (WHERE {within})"
        bounds = f"min({t}) FILTER (WHERE {within}), max({t}) FILTER (WHERE {within})"
    else:
        within = "true"
        null_time = "NULL"
        days = "NULL"
        bounds = "NULL, NULL"
    if keys:
        missing = " OR ".join(f"{k} IS NULL" for k in keys)
        whole = f"{within} AND NOT ({missing})"
        distinct = keys[0] if len(keys) == 1 else f"row({', '.join(keys)})"
        null_keys = f"count(*) FILTER (WHERE {within} AND ({missing}))"
        repeats = (
            f"count(*) FILTER (WHERE {whole}) - "
            f"count(DISTINCT {distinct}) FILTER (WHERE {whole})"
        )
    else:
        null_keys = repeats = "NULL"
    volumes = []
    for p in trailing:
        first = len(params) + 1
        params += [p.start_ts(), p.end_ts()]
        volumes.append(
            f"count(*) FILTER (WHERE {t} >= ${first} AND {t} < ${first + 1})"
        )
    inner = ", ".join(
        [
            f"count(*) FILTER (WHERE {within}) AS period_rows",
            bounds,
            f"{null_time} AS null_time",
            f"{null_keys} AS null_keys",
            f"{repeats} AS repeats",
            f"{days} AS days",
            f"[{', '.join(volumes)}] AS volumes",
        ]
    )
    # The days without a row are the period's days minus the days seen, in the
    # same query: a list comprehension over the period, not a loop in Python.
    empty = (
        "[CAST(d AS DATE) FOR d IN generate_series(CAST($3 AS DATE), "
        "CAST($4 AS DATE), INTERVAL 1 DAY) "
        "IF NOT list_contains(coalesce(s.days, []), CAST(d AS DATE))]"
        if info.time_column
        else "[]"
    )
    sql = f"WITH s AS (SELECT {inner} FROM {view}) SELECT s.* EXCLUDE (days), {empty} FROM s"
    try:
        row = con.execute(sql, params).fetchone()
    except duckdb.Error as e:
        message = str(e).strip().splitlines()[0]
        raise DataError(f"source {info.name!r}: cannot measure: {message}") from e
    assert row is not None  # an aggregate without GROUP BY returns one row
    rows, first, last, null_time_rows, null_key_rows, repeats_, volumes_, gaps = row

    return _Counts(
        period_rows=rows if info.time_column else None,
        period_first=first,
        period_last=last,
        null_time_rows=null_time_rows,
        null_key_rows=null_key_rows,
        duplicate_keys=repeats_,
        empty_days=tuple(gaps),
        trailing_rows=tuple(volumes_),
    )


def _judge(
    info: SourceInfo,
    source: SourceSettings,
    settings: HealthSettings,
    period: Period,
    trailing: Sequence[Period],
    counts: _Counts,
) -> SourceHealth:
    """Turn a source's counts into its health: flags, shares and sentences."""
    issues = [HealthIssue("loader", w) for w in info.warnings]
    stale = bool(
        info.time_column
        and not source.sparse
        and (info.last is None or info.last.date() < period.end)
    )
    if stale:
        reach = info.last.date().isoformat() if info.last else None
        issues.append(
            HealthIssue(
                "stale",
                f"data ends {reach or 'nothing'}, before the period ends {period.end}",
                {"last": reach, "period_end": period.end.isoformat()},
            )
        )
    # Exports that begin inside the period (a first export, a shop that went
    # live mid-week) cover only part of it: judged like data that ends early.
    late = bool(
        info.time_column
        and not source.sparse
        and info.first is not None
        and period.start < info.first.date() <= period.end
    )
    if late:
        begins = info.first.date().isoformat()
        issues.append(
            HealthIssue(
                "late_start",
                f"data begins {begins}, after the period begins {period.start}",
                {"first": begins, "period_start": period.start.isoformat()},
            )
        )
    # A zero-byte file is a failed export: which days it should have held is
    # unknown, so no period of the source can be trusted as complete.
    failed = any(f.state == "empty" for f in info.files)

    if counts.empty_days and not source.sparse:
        # Days after the data's last row are the freshness sentence's news.
        last = info.last.date() if info.last else None
        known = [d for d in counts.empty_days if last is not None and d <= last]
        if known:
            issues.append(
                HealthIssue(
                    "empty_days",
                    _empty_days_sentence(known, period),
                    {
                        "days": [d.isoformat() for d in known],
                        "period_days": period.days,
                    },
                )
            )

    key_label = ", ".join(source.key)
    scoped = "in the period" if info.time_column else "in the source"
    scope_rows = counts.period_rows if info.time_column else info.rows
    scope = "period" if info.time_column else "source"
    if counts.duplicate_keys:
        issues.append(
            HealthIssue(
                "duplicate_keys",
                f"{counts.duplicate_keys} row(s) {scoped} repeat a key ({key_label}) "
                "of another row; counts over them may be inflated",
                {"rows": counts.duplicate_keys, "key": key_label, "scope": scope},
            )
        )
    null_key_share = None
    if counts.null_key_rows is not None and scope_rows:
        null_key_share = counts.null_key_rows / scope_rows
    if counts.null_key_rows:
        issues.append(
            HealthIssue(
                "null_keys",
                f"{counts.null_key_rows} of {scope_rows} row(s) {scoped} "
                f"({null_key_share:.1%}) have no key ({key_label})",
                {
                    "rows": counts.null_key_rows,
                    "of": scope_rows,
                    "share": null_key_share,
                    "key": key_label,
                    "scope": scope,
                },
            )
        )
    if counts.null_time_rows:
        issues.append(
            HealthIssue(
                "null_time",
                f"{counts.null_time_rows} row(s) have no value in the time column "
                f"{info.time_column} and count in no period",
                {"rows": counts.null_time_rows, "column": info.time_column},
            )
        )

    median, ratio, drop = _volume(settings, stale or late, counts)
    if drop:
        assert median is not None and ratio is not None
        issues.append(
            HealthIssue(
                "volume_drop",
                f"{counts.period_rows} row(s) in the period, {ratio:.0%} of the "
                f"median {median:g} of the last {len(counts.trailing_rows)} "
                f"{_plural(period)}; a sudden drop usually means a broken export, "
                "not a bad week",
                {
                    "rows": counts.period_rows,
                    "ratio": ratio,
                    "median": median,
                    "periods": len(counts.trailing_rows),
                    "grain": period.grain,
                },
            )
        )

    # A loader warning repeated for two files reads once, as before.
    unique: dict[str, HealthIssue] = {}
    for issue in issues:
        unique.setdefault(issue.text, issue)

    return SourceHealth(
        name=info.name,
        files=info.files,
        rows=info.rows,
        first=info.first,
        last=info.last,
        period_rows=counts.period_rows,
        period_first=counts.period_first,
        period_last=counts.period_last,
        complete=not stale and not late and not failed and not drop,
        issues=tuple(unique),
        time_column=info.time_column,
        key=tuple(source.key),
        sparse=source.sparse,
        stale=stale,
        empty_days=counts.empty_days,
        duplicate_keys=counts.duplicate_keys,
        null_key_rows=counts.null_key_rows,
        null_key_share=null_key_share,
        null_time_rows=counts.null_time_rows,
        trailing_periods=len(trailing),
        trailing_median_rows=median,
        volume_ratio=ratio,
        volume_drop=drop,
        coded_issues=tuple(unique.values()),
    )


def _volume(
    settings: HealthSettings, stale: bool, counts: _Counts
) -> tuple[float | None, float | None, bool]:
    """(trailing median, period rows / median, whether that is a drop)."""
    if len(counts.trailing_rows) < MIN_TRAILING or counts.period_rows is None:
        return None, None, False
    median = float(statistics.median(counts.trailing_rows))
    if median == 0:
        return median, None, False
    ratio = counts.period_rows / median
    # A stale source has few rows because the data stops early; the freshness
    # sentence already says so, and a second one would blame the export.
    drop = not stale and median >= MIN_MEDIAN_ROWS and ratio < settings.volume_drop

    return median, ratio, drop


def _empty_days_sentence(days: Sequence[dt.date], period: Period) -> str:
    shown = ", ".join(d.isoformat() for d in days[:_DAYS_SHOWN])
    more = f" and {len(days) - _DAYS_SHOWN} more" if len(days) > _DAYS_SHOWN else ""
    if len(days) == period.days:
        return f"no rows on any of the period's {period.days} days"

    return f"no rows on {len(days)} of {period.days} days: {shown}{more}"


def _plural(period: Period) -> str:
    return "periods" if period.grain == "range" else f"{period.grain}s"
