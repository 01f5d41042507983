"""History: replace semantics, exact values, streaks, target changes, the lock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from kpi_cli.config import KpiSettings, Label, ProjectSettings, TargetSettings
from kpi_cli.errors import EXIT_LOCKED, LockedError
from kpi_cli.history import (
    annotate,
    definition_hash,
    load_history,
    locked,
    record_review,
    streak_of,
)
from kpi_cli.periods import Period, parse_period
from kpi_cli.review_model import (
    KpiResult,
    Review,
    SourceHealth,
    Streak,
    TargetChange,
    TargetDetail,
)

PROJECT = ProjectSettings(name="Shop", timezone="Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def kpi(
    kpi_id: str = "gmv", *, target: float | None = 100.0, measure: str = "sum(amount)"
) -> KpiSettings:
    return KpiSettings(
        id=kpi_id,
        name=Label(zh=kpi_id, en=kpi_id),
        unit="currency",
        model="orders",
        measure=measure,
        target=TargetSettings(value=target) if target is not None else None,
    )


def result(
    settings: KpiSettings, period: Period, value: object, status: str
) -> KpiResult:
    full = settings.target.value if settings.target else None
    detail = (
        TargetDetail(kind="value", full=full, value=full, warn=0.05)
        if full is not None
        else None
    )
    return KpiResult(
        kpi=settings,
        period=period,
        value=value,
        target=full,
        attainment=None,
        status=status,  # type: ignore[arg-type]
        previous=None,
        year_ago=None,
        trend=(),
        breakdown=None,
        target_detail=detail,
    )


def review(period: Period, *results: KpiResult) -> Review:
    return Review(
        project=PROJECT,
        period=period,
        generated_at=NOW,
        kpis=results,
        sources=(
            SourceHealth(
                name="orders_export",
                files=(),
                rows=10,
                first=dt.datetime(2026, 1, 1),
                last=dt.datetime(2026, 11, 29, 23, 0),
                period_rows=4,
            ),
        ),
    )


def week(label: str) -> Period:
    return parse_period(label)


def rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_rerunning_a_period_replaces_its_records_and_logs_both_runs(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.duckdb"
    gmv, orders = kpi("gmv"), kpi("orders", target=None)
    w47, w48 = week("2026-W47"), week("2026-W48")
    record_review(
        db, review(w47, result(gmv, w47, Decimal("90.10"), "off_track")), now=NOW
    )
    record_review(
        db,
        review(
            w48,
            result(gmv, w48, Decimal("95.00"), "at_risk"),
            result(orders, w48, 7, "no_target"),
        ),
        now=NOW,
    )
    # Rerun W48 for gmv only: its record is replaced, orders' stays.
    run = record_review(
        db, review(w48, result(gmv, w48, Decimal("101.25"), "on_track")), now=NOW
    )

    assert run == 3
    assert rows(db, "SELECT run_id, period_label FROM runs ORDER BY run_id") == [
        (1, "2026-W47"),
        (2, "2026-W48"),
        (3, "2026-W48"),
    ]
    assert rows(
        db,
        "SELECT period_label, kpi_id, value_exact, status, run_id FROM kpi_results "
        "ORDER BY period_start, kpi_id",
    ) == [
        ("2026-W47", "gmv", "90.10", "off_track", 1),
        ("2026-W48", "gmv", "101.25", "on_track", 3),
        ("2026-W48", "orders", "7", "no_target", 2),
    ]
    assert rows(db, "SELECT run_id, source, rows, period_rows FROM source_health") == [
        (1, "orders_export", 10, 4),
        (2, "orders_export", 10, 4),
        (3, "orders_export", 10, 4),
    ]


def test_values_come_back_exact(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    w48 = week("2026-W48")
    record_review(
        db,
        review(
            w48,
            result(kpi("gmv"), w48, Decimal("49972.51"), "at_risk"),
            result(kpi("orders", target=None), w48, 316, "no_target"),
        ),
    )

    history = load_history(db, grain="week")

    assert history["gmv"].points[0].value == Decimal("49972.51")
    assert history["orders"].points[0].value == 316
    assert history["gmv"].points[0].target == 100.0


def test_streak_walks_back_until_a_different_status_or_a_gap() -> None:
    # W44 off, W45 at risk, W46 off, W47 off; reviewing W48 off: W46-W48 = 3.
    past = {
        (week(w).start, week(w).end): s
        for w, s in [
            ("2026-W44", "off_track"),
            ("2026-W45", "at_risk"),
            ("2026-W46", "off_track"),
            ("2026-W47", "off_track"),
        ]
    }

    assert streak_of("off_track", week("2026-W48"), past) == Streak("off_track", 3)
    assert streak_of("at_risk", week("2026-W48"), past) is None
    # W46 missing from history: only W47 and W48 count.
    del past[(week("2026-W46").start, week("2026-W46").end)]
    assert streak_of("off_track", week("2026-W48"), past) == Streak("off_track", 2)
    # No streak for statuses that are not judgements.
    assert streak_of("no_data", week("2026-W48"), {}) is None


def test_streak_of_a_partial_period_counts_the_complete_ones_before() -> None:
    past = {(week("2026-W47").start, week("2026-W47").end): "on_track"}
    to_date = week("2026-W48").cut(3)

    assert streak_of("on_track", to_date, past) == Streak("on_track", 2)


def test_annotate_adds_streaks_and_target_changes_from_earlier_periods(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.duckdb"
    old_target, new_target = kpi("gmv", target=100.0), kpi("gmv", target=120.0)
    for label, status in [("2026-W45", "off_track"), ("2026-W46", "off_track")]:
        p = week(label)
        record_review(db, review(p, result(old_target, p, 80, status)))
    # A partial W47 to date is recorded but never part of a streak.
    partial = week("2026-W47").cut(2)
    record_review(db, review(partial, result(old_target, partial, 20, "on_track")))
    w47 = week("2026-W47")
    current = review(w47, result(new_target, w47, 90, "off_track"))

    annotated = annotate(db, current).kpis[0]

    assert annotated.streak == Streak("off_track", 3)
    assert annotated.target_changed == TargetChange(100.0, 120.0)
    same = annotate(db, review(w47, result(old_target, w47, 90, "at_risk"))).kpis[0]
    assert same.streak is None
    assert same.target_changed is None


def test_annotate_without_history_changes_nothing(tmp_path: Path) -> None:
    w48 = week("2026-W48")
    current = review(w48, result(kpi(), w48, 90, "off_track"))

    assert annotate(tmp_path / "none.duckdb", current) == current
    assert not (tmp_path / "none.duckdb").exists()


def test_definition_hash_follows_the_definition_not_the_name() -> None:
    w48 = week("2026-W48")
    base = result(kpi(), w48, 1, "on_track")
    renamed = result(
        kpi().model_copy(update={"name": Label(zh="销售额", en="Sales")}),
        w48,
        1,
        "on_track",
    )
    other_measure = result(kpi(measure="sum(amount) - sum(refund)"), w48, 1, "on_track")
    other_target = result(kpi(target=90), w48, 1, "on_track")

    assert definition_hash(base, "SELECT 1") == definition_hash(renamed, "SELECT 1")
    assert definition_hash(base, "SELECT 1") != definition_hash(base, "SELECT 2")
    assert definition_hash(base, "SELECT 1") != definition_hash(
        other_measure, "SELECT 1"
    )
    assert definition_hash(base, "SELECT 1") != definition_hash(
        other_target, "SELECT 1"
    )


def test_a_held_lock_makes_a_writer_give_up_with_exit_5(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    w48 = week("2026-W48")
    with locked(db), pytest.raises(LockedError) as caught:
        record_review(db, review(w48, result(kpi(), w48, 1, "on_track")), timeout=0.3)

    assert caught.value.exit_code == EXIT_LOCKED
    assert str(db) in str(caught.value)
    assert not db.exists()
    # Released: the next writer gets through.
    assert record_review(db, review(w48, result(kpi(), w48, 1, "on_track"))) == 1


def test_a_file_that_is_not_a_database_is_a_history_error(tmp_path: Path) -> None:
    from kpi_cli.history import HistoryError

    db = tmp_path / "h.duckdb"
    db.write_text("not a database", encoding="utf-8")
    w48 = week("2026-W48")

    with pytest.raises(HistoryError, match="cannot open history"):
        record_review(db, review(w48, result(kpi(), w48, 1, "on_track")))
