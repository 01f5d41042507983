"""The project's history of reviews: a DuckDB file of what each review found.

Every review records, per KPI and period, the value, target, status,
attainment and a hash of the KPI's definition, plus the health of each source
and a line in the run log. Running a period again replaces that period's
records for the KPIs reviewed (other KPIs' records stay) and adds a run.

Two runs at once must not corrupt the file, and DuckDB lets only one process
open a database file for writing, so every access (reads included) happens
while holding an exclusive ``flock`` on a ``.lock`` file beside the database;
a run waits up to ``LOCK_TIMEOUT`` seconds and then gives up with
``LockedError``. Writes happen in one transaction.

Streaks and target changes are computed from the recorded complete periods
of the same grain; partial (to-date) reviews are recorded but never counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from kpi_cli import __version__
from kpi_cli.errors import KpiError, LockedError
from kpi_cli.periods import Period
from kpi_cli.review_model import KpiResult, Number, Review, Streak, TargetChange

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 30.0
SCHEMA_VERSION = 1
# Statuses a streak is reported for; "no data" three weeks running is a data
# problem the data-health section already shows.
STREAK_STATUSES = ("on_track", "at_risk", "off_track")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY,
    run_at TIMESTAMPTZ NOT NULL,
    project VARCHAR NOT NULL,
    period_label VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    grain VARCHAR NOT NULL,
    partial BOOLEAN NOT NULL,
    kpis INTEGER NOT NULL,
    off_track INTEGER NOT NULL,
    at_risk INTEGER NOT NULL,
    version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS kpi_results (
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    period_label VARCHAR NOT NULL,
    partial BOOLEAN NOT NULL,
    kpi_id VARCHAR NOT NULL,
    name VARCHAR,
    unit VARCHAR NOT NULL,
    direction VARCHAR NOT NULL,
    value DOUBLE,
    value_exact VARCHAR,
    target DOUBLE,
    target_setting DOUBLE,
    target_spec VARCHAR,
    status VARCHAR NOT NULL,
    attainment DOUBLE,
    definition_hash VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (grain, period_start, period_end, kpi_id)
);
CREATE TABLE IF NOT EXISTS source_health (
    run_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    period_rows BIGINT,
    first_at TIMESTAMP,
    last_at TIMESTAMP,
    complete BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, source)
);
"""


class HistoryError(KpiError):
    """The history database cannot be opened or written."""

    title = "History error"


@dataclass(frozen=True)
class HistoryPoint:
    """One recorded period of one KPI."""

    period_label: str
    start: dt.date
    end: dt.date
    grain: str
    value: Number | None
    target: float | None
    target_setting: float | None
    target_spec: str | None
    status: str
    attainment: float | None
    definition_hash: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class KpiHistory:
    """A KPI's recorded periods, oldest first."""

    kpi_id: str
    name: str | None
    unit: str
    direction: str
    points: tuple[HistoryPoint, ...]

    @property
    def streak(self) -> Streak | None:
        """The streak the latest point ends, if any."""
        if not self.points:
            return None
        past = self.points[:-1]
        last = self.points[-1]

        return streak_of(last.status, _period_of(last), _statuses(past))

    @property
    def target_changes(self) -> tuple[tuple[HistoryPoint, TargetChange], ...]:
        """Each point whose configured target differs from the point before."""
        changes = []
        for before, after in zip(self.points, self.points[1:], strict=False):
            if before.target_spec != after.target_spec:
                changes.append(
                    (after, TargetChange(before.target_setting, after.target_setting))
                )

        return tuple(changes)


# ---------------------------------------------------------------------------
# Locking and connections.


def lock_path(path: Path) -> Path:
    """The lock file guarding the history database at ``path``."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock on the history at ``path``.

    The lock is released by the kernel if the process dies, so a killed run
    never leaves the history locked.

    Raises:
        LockedError: another run held the lock for ``timeout`` seconds.
    """
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    target = lock_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise HistoryError(
            f"cannot write the history beside {path}: {e.strerror}; make the "
            "folder writable, set [project] history elsewhere, or pass --no-history"
        ) from e
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"history {path} is locked by another run (waited "
                        f"{timeout:g} s on {target}); try again when it has "
                        "finished, or pass --no-history"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as e:
        raise HistoryError(
            f"cannot open history {path}: {str(e).splitlines()[0]}"
        ) from e
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_SCHEMA)
        con.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
            [str(SCHEMA_VERSION)],
        )
    except duckdb.Error as e:
        con.close()
        raise HistoryError(
            f"history {path} is not a kpi history database: {str(e).splitlines()[0]}"
        ) from e

    return con


# ---------------------------------------------------------------------------
# Definitions.


def definition_hash(result: KpiResult, model_sql: str) -> str:
    """A short hash of what defines a KPI's number and judgement.

    Covers the measure, filter, model SQL text, target, grain, unit, direction,
    time column and dimension: a change to any of them changes the hash. Models
    the KPI's model reads in turn are not included.
    """
    kpi = result.kpi
    payload = {
        "measure": kpi.measure,
        "filter": kpi.filter,
        "model": kpi.model,
        "model_sql": model_sql,
        "time_column": kpi.time_column,
        "dimension": kpi.dimension,
        "grain": kpi.grain,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "target": kpi.target.model_dump(mode="json") if kpi.target else None,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def target_setting(result: KpiResult) -> tuple[float | None, str | None]:
    """The target as set for a whole period, and a text that changes with it.

    The number is the full-period target (before any proration for a partial
    period); the text describes the target's kind, amount, growth rate,
    baseline, bounds and warn band, so that a new growth rate or warn band
    counts as a target change even when the number happens to match.
    """
    detail = result.target_detail
    if detail is None:
        return None, None
    share = detail.share or 1.0
    low = None if detail.low is None else detail.low / share
    high = None if detail.high is None else detail.high / share
    spec = {
        "kind": detail.kind,
        "full": detail.full if detail.kind == "value" else None,
        "growth": detail.growth,
        "baseline": detail.baseline_kind,
        "low": low,
        "high": high,
        "warn": detail.warn,
    }

    return detail.full, json.dumps(spec, sort_keys=True)


def _model_sql(review: Review, model: str) -> str:
    path = review.definitions.get(model)
    if path is None:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# Writing.


def record_review(
    path: Path,
    review: Review,
    *,
    now: dt.datetime | None = None,
    timeout: float | None = None,
) -> int:
    """Record ``review`` in the history at ``path``; returns the new run id.

    Raises:
        LockedError: another run holds the history.
        HistoryError: the file cannot be opened or written.
    """
    started = time.perf_counter()
    run_at = now or dt.datetime.now(dt.UTC)
    period = review.period
    key = [period.grain, period.start, period.end]
    rows = [_result_row(review, result, period) for result in review.kpis]
    with locked(path, timeout=timeout):
        con = _connect(path)
        try:
            con.execute("BEGIN TRANSACTION")
            (run_id,) = con.execute(
                "SELECT coalesce(max(run_id), 0) + 1 FROM runs"
            ).fetchone()
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    run_at,
                    review.project.name,
                    period.label,
                    period.start,
                    period.end,
                    period.grain,
                    period.is_partial,
                    len(review.kpis),
                    sum(k.status == "off_track" for k in review.kpis),
                    sum(k.status == "at_risk" for k in review.kpis),
                    __version__,
                ],
            )
            if rows:
                con.execute(
                    "DELETE FROM kpi_results WHERE grain = ? AND period_start = ? "
                    "AND period_end = ? AND list_contains(?, kpi_id)",
                    [*key, [r[5] for r in rows]],
                )
                con.executemany(
                    "INSERT INTO kpi_results VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[*row, run_id] for row in rows],
                )
            for source in review.sources:
                con.execute(
                    "INSERT INTO source_health VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        source.name,
                        source.rows,
                        source.period_rows,
                        _naive(source.first),
                        _naive(source.last),
                        source.complete,
                    ],
                )
            con.execute("COMMIT")
        except duckdb.Error as e:
            con.execute("ROLLBACK")
            raise HistoryError(
                f"cannot write history {path}: {str(e).splitlines()[0]}"
            ) from e
        finally:
            con.close()
    log.info(
        "recorded run %d (%s, %d KPIs) in %s in %.3fs",
        run_id,
        period.label,
        len(rows),
        path,
        time.perf_counter() - started,
    )

    return int(run_id)


def _result_row(review: Review, result: KpiResult, period: Period) -> list[Any]:
    kpi = result.kpi
    value = result.value

    return [
        period.grain,
        period.start,
        period.end,
        period.label,
        period.is_partial,
        kpi.id,
        kpi.title(review.language),
        kpi.unit,
        kpi.direction,
        None if value is None else float(value),
        None if value is None else str(value),
        result.target,
        *target_setting(result),
        result.status,
        result.attainment,
        definition_hash(result, _model_sql(review, kpi.model)),
    ]


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    """Source times are local wall-clock times; store them without a zone."""
    if value is None or value.tzinfo is None:
        return value

    return value.replace(tzinfo=None)


# ---------------------------------------------------------------------------
# Reading.


def load_history(
    path: Path,
    *,
    grain: str,
    kpi_ids: Sequence[str] | None = None,
    last: int | None = None,
    before: dt.date | None = None,
    timeout: float | None = None,
) -> dict[str, KpiHistory]:
    """Recorded complete periods of ``grain`` per KPI, oldest first.

    ``last`` keeps the latest N periods of each KPI; ``before`` keeps periods
    starting before that day. A missing database is an empty history.

    Raises:
        LockedError: another run held the history for ``timeout`` seconds.
        HistoryError: the file is not a history database.
    """
    if not path.exists():
        return {}
    sql = (
        "SELECT r.kpi_id, r.name, r.unit, r.direction, r.period_label, "
        "r.period_start, r.period_end, r.grain, r.value, r.value_exact, r.target, "
        "r.target_setting, r.target_spec, r.status, r.attainment, "
        "r.definition_hash, u.run_at "
        "FROM kpi_results r JOIN runs u USING (run_id) "
        "WHERE r.grain = ? AND NOT r.partial"
    )
    params: list[Any] = [grain]
    if kpi_ids is not None:
        sql += " AND list_contains(?, r.kpi_id)"
        params.append(list(kpi_ids))
    if before is not None:
        sql += " AND r.period_start < ?"
        params.append(before)
    sql += " ORDER BY r.kpi_id, r.period_start, r.period_end"
    with locked(path, timeout=timeout):
        con = _connect(path)
        try:
            rows = con.execute(sql, params).fetchall()
        finally:
            con.close()

    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row)
    histories = {}
    for kpi_id, kpi_rows in found.items():
        kept = kpi_rows[-last:] if last else kpi_rows
        latest = kept[-1]
        histories[kpi_id] = KpiHistory(
            kpi_id=kpi_id,
            name=latest[1],
            unit=latest[2],
            direction=latest[3],
            points=tuple(_point(row) for row in kept),
        )

    return histories


def _point(row: tuple[Any, ...]) -> HistoryPoint:
    (_, _, unit, _, label, start, end, grain, value, exact) = row[:10]
    target, setting, spec, status, attainment, digest, run_at = row[10:]

    return HistoryPoint(
        period_label=label,
        start=start,
        end=end,
        grain=grain,
        value=_exact(value, exact, unit),
        target=target,
        target_setting=setting,
        target_spec=spec,
        status=status,
        attainment=attainment,
        definition_hash=digest,
        recorded_at=run_at,
    )


def _exact(value: float | None, exact: str | None, unit: str) -> Number | None:
    """Money comes back as the exact Decimal it was; counts as integers."""
    if value is None or exact is None:
        return value
    if unit == "currency":
        return Decimal(exact)
    if exact.lstrip("-").isdigit():
        return int(exact)

    return value


# ---------------------------------------------------------------------------
# Streaks and target changes.


def _period_of(point: HistoryPoint) -> Period:
    return Period(point.grain, point.start, point.end)


def _statuses(points: Sequence[HistoryPoint]) -> dict[tuple[dt.date, dt.date], str]:
    return {(p.start, p.end): p.status for p in points}


def streak_of(
    status: str, period: Period, past: dict[tuple[dt.date, dt.date], str]
) -> Streak | None:
    """How many periods in a row, ending with ``period``, had ``status``.

    ``past`` maps recorded (start, end) spans to their status. The count walks
    back one period at a time and stops at a gap or a different status, so a
    week missing from history ends the streak. None below two periods or for
    statuses other than on/at-risk/off track.
    """
    if status not in STREAK_STATUSES:
        return None
    length = 1
    current = period.complete()
    while True:
        current = current.previous()
        if past.get((current.start, current.end)) != status:
            break
        length += 1

    return Streak(status, length) if length >= 2 else None


def annotate(path: Path, review: Review, *, timeout: float | None = None) -> Review:
    """``review`` with each KPI's streak and target change from history.

    The review's own period counts as the last period of a streak; only
    earlier complete periods of the same grain are read from history.

    Raises:
        LockedError, HistoryError: see ``load_history``.
    """
    period = review.period
    histories = load_history(
        path,
        grain=period.grain,
        kpi_ids=[k.id for k in review.kpis],
        before=period.start,
        timeout=timeout,
    )
    results = []
    for result in review.kpis:
        history = histories.get(result.id)
        if history is None or not history.points:
            results.append(result)
            continue
        setting, spec = target_setting(result)
        before = history.points[-1]
        changed = None
        if before.target_spec != spec:
            changed = TargetChange(before.target_setting, setting)
        streak = streak_of(result.status, period, _statuses(history.points))
        results.append(
            dataclasses.replace(result, streak=streak, target_changed=changed)
        )

    return dataclasses.replace(review, kpis=tuple(results))


def history_json(histories: Sequence[KpiHistory]) -> list[dict[str, Any]]:
    """Histories as JSON-ready dicts: numbers as numbers, dates as ISO text."""

    def number(value: Any) -> Any:
        return float(value) if isinstance(value, Decimal) else value

    items = []
    for item in histories:
        streak = item.streak
        items.append(
            {
                "id": item.kpi_id,
                "name": item.name,
                "unit": item.unit,
                "direction": item.direction,
                "streak": None
                if streak is None
                else {"status": streak.status, "length": streak.length},
                "target_changes": [
                    {
                        "period": point.period_label,
                        "from": change.before,
                        "to": change.after,
                    }
                    for point, change in item.target_changes
                ],
                "points": [
                    {
                        "period": p.period_label,
                        "grain": p.grain,
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "value": number(p.value),
                        "target": p.target,
                        "status": p.status,
                        "attainment": p.attainment,
                        "definition_hash": p.definition_hash,
                        "recorded_at": p.recorded_at.isoformat(timespec="seconds"),
                    }
                    for p in item.points
                ],
            }
        )

    return items


__all__ = [
    "HistoryError",
    "HistoryPoint",
    "KpiHistory",
    "LOCK_TIMEOUT",
    "annotate",
    "definition_hash",
    "history_json",
    "load_history",
    "lock_path",
    "locked",
    "record_review",
    "streak_of",
]
