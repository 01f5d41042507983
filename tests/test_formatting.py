"""Formatting of values, changes and periods: expected strings worked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpi_cli.formatting import (
    currency_symbol,
    format_change,
    format_compact,
    format_datetime,
    format_pct,
    format_period,
    format_period_short,
    format_value,
)
from kpi_cli.periods import parse_period


@pytest.mark.parametrize(
    ("value", "unit", "lang", "expected"),
    [
        # Half-up on the exact decimal, never banker's rounding or float error.
        (Decimal("585.125"), "currency", "zh", "¥585.13"),
        (585.125, "currency", "zh", "¥585.13"),
        (2.675, "ratio", "en", "2.68"),  # round(2.675, 2) == 2.67 in floats
        (Decimal("-0.005"), "currency", "zh", "-¥0.01"),
        (Decimal("1234567.5"), "currency", "zh", "¥1,234,567.50"),
        # Renminbi is ¥ in English too (documented in kpi_cli.formatting).
        (Decimal("1234567.5"), "currency", "en", "¥1,234,567.50"),
        (1234, "count", "zh", "1,234"),
        (0.039555, "percent", "zh", "3.96%"),
        (0.5, "percent", "en", "50.00%"),
        (4.5, "days", "zh", "4.5 天"),
        (4.5, "days", "en", "4.5 d"),
        (None, "currency", "zh", "不适用"),
        (None, "count", "en", "n/a"),
        (float("nan"), "ratio", "en", "n/a"),
        (float("inf"), "currency", "zh", "不适用"),
    ],
    ids=lambda v: str(v),
)
def test_format_value(value, unit: str, lang: str, expected: str) -> None:
    assert format_value(value, unit, lang=lang) == expected


def test_currency_decimals_follow_the_kpi() -> None:
    assert (
        format_value(Decimal("1234.5"), "currency", lang="zh", decimals=0) == "¥1,235"
    )
    assert format_value(1234.5, "currency", lang="en", currency="USD") == "$1,234.50"


def test_currency_symbols() -> None:
    assert currency_symbol("CNY", "zh") == "¥"
    assert currency_symbol("CNY", "en") == "¥"
    assert currency_symbol("USD", "en") == "$"


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (9999.99, "currency", "¥9,999.99"),  # below 1万: exact
        (10000, "currency", "¥1.0万"),
        (Decimal("1285000"), "currency", "¥128.5万"),
        (Decimal("1284950"), "currency", "¥128.5万"),  # 128.495 → 128.5 half-up
        (Decimal("99994999"), "currency", "¥1.00亿"),  # 9999.4999万 rounds past 1亿
        (99_999_999, "count", "1.00亿"),
        (123_456_789, "currency", "¥1.23亿"),
        (-1_285_000, "currency", "-¥128.5万"),
        (12_345, "count", "1.2万"),
        (0.5, "percent", "50.00%"),  # not a count or amount: unchanged
        (None, "currency", "不适用"),
    ],
    ids=lambda v: str(v),
)
def test_format_compact_zh(value, unit: str, expected: str) -> None:
    assert format_compact(value, unit, lang="zh") == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (999_999, "currency", "¥999,999.00"),  # English keeps full numbers below 1M
        (1_285_000, "currency", "¥1.29M"),
        (2_500_000_000, "count", "2.50B"),
        (128_000, "count", "128,000"),
    ],
    ids=lambda v: str(v),
)
def test_format_compact_en(value, unit: str, expected: str) -> None:
    assert format_compact(value, unit, lang="en") == expected


def test_format_compact_trim_for_axes() -> None:
    assert format_compact(1_500_000, "currency", lang="zh", trim=True) == "¥150万"
    assert format_compact(1_000_000, "count", lang="en", trim=True) == "1M"


@pytest.mark.parametrize(
    ("pct", "lang", "expected"),
    [
        (0.12345, "en", "+12.3%"),
        (0.12351, "en", "+12.4%"),
        (-0.5, "zh", "−50.0%"),
        (0.0, "en", "±0.0%"),
        (None, "en", "n/a"),  # change from a zero base
        (None, "zh", "不适用"),
        (float("inf"), "en", "n/a"),
        # A negative base: (-50 - -100) / |-100| is a rise of 50 %.
        ((-50 - -100) / abs(-100), "en", "+50.0%"),
    ],
    ids=lambda v: str(v),
)
def test_format_pct(pct, lang: str, expected: str) -> None:
    assert format_pct(pct, lang=lang) == expected


def test_attainment_is_unsigned() -> None:
    assert format_pct(0.9183, lang="zh", signed=False) == "91.8%"


@pytest.mark.parametrize(
    ("change", "unit", "lang", "expected"),
    [
        (-0.004, "percent", "zh", "−0.40 pp"),
        (0.0015, "percent", "en", "+0.15 pp"),
        (Decimal("-12.5"), "currency", "en", "−¥12.50"),
        (Decimal("63534.5"), "currency", "zh", "+¥63,534.50"),
        (0, "count", "en", "±0"),
        (None, "count", "zh", "不适用"),
    ],
    ids=lambda v: str(v),
)
def test_format_change(change, unit: str, lang: str, expected: str) -> None:
    assert format_change(change, unit, lang=lang) == expected


@pytest.mark.parametrize(
    ("period", "lang", "expected"),
    [
        ("2026-W48", "zh", "2026年第48周 · 11月23日–11月29日"),
        ("2026-W48", "en", "Week 48 · 23–29 Nov 2026"),
        # ISO week 1 of 2025 starts on Monday 30 December 2024.
        ("2025-W01", "zh", "2025年第1周 · 2024年12月30日–2025年1月5日"),
        ("2025-W01", "en", "Week 1 · 30 Dec 2024 – 5 Jan 2025"),
        ("2026-W45", "en", "Week 45 · 2–8 Nov 2026"),
        ("2026-W44", "en", "Week 44 · 26 Oct – 1 Nov 2026"),
        ("2026-11", "zh", "2026年11月"),
        ("2026-11", "en", "November 2026"),
        ("2026-Q4", "zh", "2026年第4季度"),
        ("2026-Q4", "en", "Q4 2026"),
        ("2026-11-30", "zh", "2026年11月30日 · 星期一"),
        ("2026", "en", "2026"),
    ],
    ids=lambda v: str(v),
)
def test_format_period(period: str, lang: str, expected: str) -> None:
    assert format_period(parse_period(period), lang) == expected


@pytest.mark.parametrize(
    ("period", "lang", "expected"),
    [
        ("2025-W01", "zh", "W01"),
        ("2026-11", "zh", "11月"),
        ("2026-11", "en", "Nov"),
        ("2026-Q4", "en", "Q4"),
        ("2026-11-30", "en", "11/30"),
        ("2026-11-30", "zh", "11-30"),
    ],
    ids=lambda v: str(v),
)
def test_format_period_short(period: str, lang: str, expected: str) -> None:
    assert format_period_short(parse_period(period), lang) == expected


def test_format_datetime() -> None:
    moment = dt.datetime(2026, 11, 29, 23, 58)

    assert format_datetime(moment, "zh") == "2026年11月29日 23:58"
    assert format_datetime(moment, "en") == "29 Nov 2026, 23:58"
    assert format_datetime(moment, "en", with_year=False) == "29 Nov, 23:58"


def test_an_unknown_loader_warning_is_shown_as_it_came() -> None:
    from kpi_cli.formatting import issue_text

    text = "orders.csv: something new the loader says"

    assert issue_text(text, "zh") == text
    assert issue_text(text, "en") == text
