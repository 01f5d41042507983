"""Locale-aware formatting of KPI values, changes, dates and statuses.

The only place numbers become text. Babel does the locale work; this module
decides precision per unit and rounds half-up (四舍五入) on exact decimals, so
585.125 shows as 585.13 whatever float arithmetic would do.

Renminbi is written ``¥`` in every language. Babel's English symbol ``CN¥``
guards against confusion with the yen, but a project has exactly one currency,
named in the report header, and Chinese merchants and their managers read
``¥`` as yuan; showing ``CN¥`` on an English report and ``¥`` on a Chinese one
of the same shop looked like two currencies. Other currencies keep Babel's
symbol for the locale.

Unknown values (``None``, and NaN or infinity should one slip through) are
written as "n/a" / "不适用", never as ``nan`` or ``inf``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_symbol,
    parse_pattern,
)

from kpi_cli.periods import Period

LOCALES = {"zh": "zh_CN", "en": "en_US"}

_STATUS_LABELS = {
    "on_track": ("达成", "On track"),
    "at_risk": ("有风险", "At risk"),
    "off_track": ("未达成", "Off track"),
    "no_target": ("无目标", "No target"),
    "no_data": ("无数据", "No data"),
    "incomplete_data": ("数据不完整", "Incomplete data"),
}
_STATUS_SYMBOLS = {
    "on_track": "✓",
    "at_risk": "!",
    "off_track": "✗",
    "no_target": "·",
    "no_data": "–",
    "incomplete_data": "?",
}
_DEFAULT_DECIMALS = {
    "count": 0,
    "currency": 2,
    "percent": 2,
    "ratio": 2,
    "score": 2,
    "days": 1,
}
NOT_AVAILABLE = {"zh": "不适用", "en": "n/a"}
# Symbols used in every language, whatever the locale's own choice (see above).
_FIXED_SYMBOLS = {"CNY": "¥"}
# Empty days listed in a health sentence, as kpi_cli.health lists them.
_DAYS_SHOWN_IN_TEXT = 10
# Chinese large-number units, largest first: 亿 = 10^8, 万 = 10^4.
_ZH_UNITS = ((Decimal(10) ** 8, "亿", 2), (Decimal(10) ** 4, "万", 1))
# English compact units: only from a million up, below that full numbers read fine.
_EN_UNITS = ((Decimal(10) ** 9, "B", 2), (Decimal(10) ** 6, "M", 2))


def locale_of(lang: str) -> str:
    """Babel locale name for a report language."""
    return LOCALES.get(lang, "en_US")


@functools.lru_cache(maxsize=8)
def _locale(lang: str) -> Locale:
    # Babel parses a locale name on every call; a report formats thousands of
    # values, so hand it the parsed Locale (a third of the render time).
    return Locale.parse(locale_of(lang))


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


@functools.lru_cache(maxsize=64)
def _symbol(currency: str, lang: str) -> str:
    return get_currency_symbol(currency, locale=_locale(lang))


def is_known(value: Any) -> bool:
    """Whether a value can be shown as a number (not None, NaN or infinite)."""
    if value is None:
        return False
    if isinstance(value, float | Decimal):
        return math.isfinite(value)

    return True


def not_available(lang: str) -> str:
    """The word for an unknown value."""
    return NOT_AVAILABLE.get(lang, "n/a")


def to_decimal(value: Any) -> Decimal:
    """Exact decimal of an int, float or Decimal (floats via their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def round_half_up(value: Any, decimals: int) -> Decimal:
    """Round half-up, on the exact decimal value."""
    quantum = Decimal(1).scaleb(-decimals)
    return to_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def decimals_for(unit: str, decimals: int | None = None) -> int:
    """Display precision of a unit, unless the KPI sets its own."""
    return _DEFAULT_DECIMALS.get(unit, 2) if decimals is None else decimals


def format_number(value: Any, decimals: int, lang: str) -> str:
    """A plain number with grouping, rounded half-up."""
    rounded = round_half_up(value, decimals)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(rounded, format=_pattern(pattern), locale=_locale(lang))


def format_value(
    value: Any,
    unit: str,
    *,
    lang: str,
    currency: str = "CNY",
    decimals: int | None = None,
) -> str:
    """A KPI value in its unit: ¥1,234.50, 3.96%, 1,234, 4.52."""
    if not is_known(value):
        return not_available(lang)
    places = decimals_for(unit, decimals)
    if unit == "currency":
        rounded = round_half_up(value, places)
        # An explicit pattern: the locale's standard one forces two decimals.
        pattern = "¤#,##0" + ("." + "0" * places if places else "")
        text = format_currency(
            rounded,
            currency,
            format=_pattern(pattern),
            locale=_locale(lang),
            currency_digits=False,
            decimal_quantization=False,
        )
        return _fix_symbol(text, currency, lang)
    if unit == "percent":
        rounded = round_half_up(to_decimal(value) * 100, places) / 100
        pattern = "#,##0" + ("." + "0" * places if places else "") + "%"
        return format_percent(rounded, format=_pattern(pattern), locale=_locale(lang))
    if unit == "days":
        text = format_number(value, places, lang)
        return f"{text} 天" if lang == "zh" else f"{text} d"

    return format_number(value, places, lang)


def format_change(
    change: Any,
    unit: str,
    *,
    lang: str,
    currency: str = "CNY",
    decimals: int | None = None,
) -> str:
    """An absolute change with an explicit sign; percent-unit changes in points."""
    if not is_known(change):
        return not_available(lang)
    sign = "+" if to_decimal(change) > 0 else ("−" if to_decimal(change) < 0 else "±")
    magnitude = abs(to_decimal(change))
    if unit == "percent":
        points = format_number(magnitude * 100, decimals_for(unit, decimals), lang)
        # "pp" (percentage points) is the usual short form in zh business reports too.
        return f"{sign}{points} pp"
    text = format_value(
        magnitude, unit, lang=lang, currency=currency, decimals=decimals
    )

    return sign + text


def format_pct(pct: float | None, *, lang: str, signed: bool = True) -> str:
    """A relative change or attainment as a percentage; n/a when unknown."""
    if not is_known(pct):
        return not_available(lang)
    rounded = round_half_up(to_decimal(pct) * 100, 1)
    text = (
        format_decimal(abs(rounded), format=_pattern("#,##0.0"), locale=_locale(lang))
        + "%"
    )
    if not signed:
        return ("−" if rounded < 0 else "") + text
    if rounded > 0:
        return "+" + text
    if rounded < 0:
        return "−" + text

    return "±" + text


def format_compact(
    value: Any,
    unit: str,
    *,
    lang: str,
    currency: str = "CNY",
    decimals: int | None = None,
    trim: bool = False,
) -> str:
    """A short form of a large count or amount, for cards and chart axes.

    Chinese uses 万 and 亿 from ten thousand up (¥128.5万, ¥1.23亿); English
    uses M and B from a million up (¥1.29M). Smaller values, and units other
    than count and currency, are returned exactly as ``format_value`` writes
    them. Rounding is half-up on the scaled value; a value that rounds up to
    the next unit moves to it (99,999,999 → 1.00亿, not 10000.0万). ``trim``
    drops trailing zeros of the scaled number (¥150万 on an axis).
    """
    exact = format_value(value, unit, lang=lang, currency=currency, decimals=decimals)
    if not is_known(value) or unit not in ("count", "currency"):
        return exact
    magnitude = abs(to_decimal(value))
    units = _ZH_UNITS if lang == "zh" else _EN_UNITS
    if magnitude < units[-1][0]:
        return exact
    chosen = None
    for size, suffix, places in units:
        scaled = round_half_up(magnitude / size, places)
        if scaled >= 1:
            chosen = (scaled, suffix, places)
            break
    if chosen is None:
        return exact
    scaled, suffix, places = chosen
    if trim:
        scaled = scaled.normalize()
        places = max(0, -scaled.as_tuple().exponent)
    number = format_number(scaled, places, lang)
    sign = "-" if to_decimal(value) < 0 else ""
    if unit == "currency":
        return f"{sign}{currency_symbol(currency, lang)}{number}{suffix}"

    return f"{sign}{number}{suffix}"


def currency_symbol(currency: str, lang: str) -> str:
    """The symbol money is written with in a report language."""
    if currency in _FIXED_SYMBOLS:
        return _FIXED_SYMBOLS[currency]

    return _symbol(currency, lang)


def _fix_symbol(text: str, currency: str, lang: str) -> str:
    fixed = _FIXED_SYMBOLS.get(currency)
    if fixed is None:
        return text
    native = _symbol(currency, lang)

    return text.replace(native, fixed, 1) if native != fixed else text


def status_label(status: str, lang: str) -> str:
    """The status as a word in the report language."""
    zh, en = _STATUS_LABELS.get(status, (status, status))
    return zh if lang == "zh" else en


def status_symbol(status: str) -> str:
    """A symbol that carries the status without colour."""
    return _STATUS_SYMBOLS.get(status, "?")


def streak_label(status: str, length: int, lang: str) -> str:
    """The same status ``length`` periods running: "连续 3 期未达成" /
    "Off track 3 periods in a row"."""
    label = status_label(status, lang)
    if lang == "zh":
        return f"连续 {length} 期{label}"

    return f"{label} {length} periods in a row"


def format_date(day: dt.date, lang: str, *, with_year: bool = True) -> str:
    """A date as readers of the language write it."""
    if lang == "zh":
        pattern = "y年M月d日" if with_year else "M月d日"
    else:
        pattern = "d MMM y" if with_year else "d MMM"
    return _babel_date(day, format=pattern, locale=_locale(lang))


def format_datetime(value: dt.datetime, lang: str, *, with_year: bool = True) -> str:
    """A local time to the minute: 2026年11月29日 23:58 / 29 Nov 2026, 23:58."""
    if lang == "zh":
        pattern = "y年M月d日 HH:mm" if with_year else "M月d日 HH:mm"
    else:
        pattern = "d MMM y, HH:mm" if with_year else "d MMM, HH:mm"
    return _babel_datetime(value, format=pattern, locale=_locale(lang))


def format_period_short(period: Period, lang: str) -> str:
    """A label short enough for a chart axis: W48, 11月 / Nov, Q4, 11-23."""
    start = period.start
    if period.grain == "week":
        return "W" + period.label.split("-W")[1]
    if period.grain == "month":
        if lang == "zh":
            return f"{start.month}月"
        return _babel_date(start, format="MMM", locale=_locale(lang))
    if period.grain == "quarter":
        return f"Q{(start.month - 1) // 3 + 1}"
    if period.grain == "year":
        return str(start.year)

    return (
        f"{start.month}/{start.day}" if lang == "en" else f"{start.month}-{start.day}"
    )


def format_period(period: Period, lang: str) -> str:
    """A human title: 2026年第48周 · 11月23日–11月29日, or Week 48 · 23–29 Nov 2026."""
    start, end = period.start, period.complete_end
    span = _span(start, end, lang)
    if period.grain == "week":
        year, week = period.label.split("-W")
        head = f"{year}年第{int(week)}周" if lang == "zh" else f"Week {int(week)}"
        return f"{head} · {span}"
    if period.grain == "month":
        if lang == "zh":
            return f"{start.year}年{start.month}月"
        return _babel_date(start, format="MMMM y", locale=_locale(lang))
    if period.grain == "quarter":
        quarter = (start.month - 1) // 3 + 1
        return (
            f"{start.year}年第{quarter}季度"
            if lang == "zh"
            else f"Q{quarter} {start.year}"
        )
    if period.grain == "year":
        return f"{start.year}年" if lang == "zh" else str(start.year)
    if period.grain == "day":
        weekday = _babel_date(start, format="EEEE", locale=_locale(lang))
        return f"{format_date(start, lang)} · {weekday}"

    return span


def format_period_name(period: Period, lang: str) -> str:
    """The period without its dates, for a subject line: 2026年第48周 /
    Week 48 2026, 2026年11月 / November 2026; days and ranges keep their dates."""
    if period.grain == "week":
        year, week = period.label.split("-W")
        return (
            f"{year}年第{int(week)}周" if lang == "zh" else f"Week {int(week)} {year}"
        )
    if period.grain == "day":
        return format_date(period.start, lang)

    return format_period(period, lang)


def _span(start: dt.date, end: dt.date, lang: str) -> str:
    if lang == "zh":
        if start.year == end.year:
            first = format_date(start, lang, with_year=False)
            return f"{first}–{format_date(end, lang, with_year=False)}"
        return f"{format_date(start, lang)}–{format_date(end, lang)}"
    if start.year == end.year and start.month == end.month:
        return f"{start.day}–{format_date(end, lang)}"
    if start.year == end.year:
        return f"{format_date(start, lang, with_year=False)} – {format_date(end, lang)}"

    return f"{format_date(start, lang)} – {format_date(end, lang)}"


# Loader warnings arrive as English sentences (kpi_cli.sources); these two are
# known and worded again here. Any other warning is shown as it came.
_EMPTY_FILE = re.compile(
    r"^(?P<file>.+) is empty \(no header, no rows\): its rows are missing from "
    r"source '(?P<source>[^']*)'; re-export the file if it should hold data$"
)
_FILE_REPEATS = re.compile(
    r"^(?P<file>.+): (?P<rows>\d+) row\(s\) repeat a key \((?P<key>[^)]*)\) "
    r"already seen in the same file; they are kept$"
)
_GRAIN_ZH = {"day": "天", "week": "周", "month": "个月", "quarter": "个季度"}


def data_health_lines(review: Any, lang: str) -> list[str]:
    """The review's data warnings, then each source's issues, worded in ``lang``.

    A source issue that repeats a review warning (the loader's) is left out;
    the lines come once each, in order.
    """
    lines = [issue_text(w, lang) for w in review.warnings]
    for source in review.sources:
        lines += [
            f"{source.name}: {issue_text(issue, lang)}"
            for issue in source.coded_issues or source.issues
            if (issue if isinstance(issue, str) else issue.text) not in review.warnings
        ]

    return list(dict.fromkeys(lines))


def issue_text(issue: Any, lang: str) -> str:
    """A data-health finding or loader warning in the report language.

    ``issue`` is a ``HealthIssue`` (code, English text, params) or a plain
    English string. Returns the English text unchanged for English, and for a
    code or loader sentence this function does not know.
    """
    text = issue if isinstance(issue, str) else issue.text
    if lang != "zh":
        return text
    code = "loader" if isinstance(issue, str) else issue.code
    params = {} if isinstance(issue, str) else issue.params
    if code == "loader":
        return _loader_zh(text)
    if code == "stale":
        if params["last"] is None:
            return f"没有任何数据，本期截至 {params['period_end']}"
        return f"数据截至 {params['last']}，早于本期结束日 {params['period_end']}"
    if code == "late_start":
        return f"数据始于 {params['first']}，晚于本期开始日 {params['period_start']}"
    if code == "empty_days":
        days, total = params["days"], params["period_days"]
        if len(days) == total:
            return f"本期 {total} 天均无数据行"
        shown = "、".join(days[:_DAYS_SHOWN_IN_TEXT])
        more = (
            f" 等，另有 {len(days) - _DAYS_SHOWN_IN_TEXT} 天"
            if len(days) > _DAYS_SHOWN_IN_TEXT
            else ""
        )
        return f"{total} 天中有 {len(days)} 天无数据行：{shown}{more}"
    scope = "本期" if params.get("scope") == "period" else "该数据源"
    if code == "duplicate_keys":
        return (
            f"{scope}有 {params['rows']} 行与另一行的键（{params['key']}）重复，"
            "基于这些行的计数可能偏高"
        )
    if code == "null_keys":
        share = format_pct(params["share"], lang=lang, signed=False)
        return (
            f"{scope} {params['of']} 行中有 {params['rows']} 行（{share}）"
            f"缺少键（{params['key']}）"
        )
    if code == "null_time":
        return f"{params['rows']} 行的时间列 {params['column']} 为空，不计入任何周期"
    if code == "volume_drop":
        n = params["periods"]
        unit = _GRAIN_ZH.get(params["grain"], "个周期")
        span = f"{n} 年" if params["grain"] == "year" else f"{n} {unit}"
        return (
            f"本期 {params['rows']} 行，仅为前 {span}中位数 {params['median']:g} 行的 "
            f"{params['ratio']:.0%}；行数骤降通常意味着导出有问题，而不是业务变差"
        )

    return text


def _loader_zh(text: str) -> str:
    found = _EMPTY_FILE.match(text)
    if found:
        return (
            f"{found['file']} 是空文件（无表头、无数据行）：数据源 "
            f"{found['source']} 缺少其中的行；如应有数据，请重新导出该文件"
        )
    found = _FILE_REPEATS.match(text)
    if found:
        return (
            f"{found['file']}：{found['rows']} 行的键（{found['key']}）"
            "与同一文件中已有的行重复；这些行已保留"
        )

    return text


_GRAIN_WORDS = {
    "day": ("日", "day"),
    "week": ("周", "week"),
    "month": ("月", "month"),
    "quarter": ("季度", "quarter"),
    "year": ("年", "year"),
}
_NOTES = {
    "incomplete": (
        "数据源 {arg} 数据不完整：本期不判为未达成或有风险",
        "incomplete data in {arg}: this KPI is not called off track or at risk",
    ),
    "baseline_missing": (
        "增长目标的基期 {arg} 没有数据",
        "no value for the growth target's baseline {arg}",
    ),
    "pacing_fallback": (
        "去年同期没有可用的进度曲线，改按天线性折算",
        "last year had no usable curve; the target is paced linearly by days",
    ),
    "target_grain": (
        "目标按{arg}设定，本期不按目标判定",
        "the target is set per {arg}; this period is not judged against it",
    ),
    "partial_base": (
        "对比期 {arg} 开始后才有数据：对比值可能不完整",
        "the data begins after comparison period {arg} begins: its value may be partial",
    ),
}


def note_text(note: str, lang: str) -> str:
    """A review note (``code:argument``) in the reader's language.

    Notes of unknown codes, or free text, are returned as they are.
    """
    code, colon, argument = note.partition(":")
    if not colon or code not in _NOTES:
        return note
    if code == "target_grain" and argument in _GRAIN_WORDS:
        zh, en = _GRAIN_WORDS[argument]
        argument = zh if lang == "zh" else en
    elif code == "incomplete":
        argument = ("、" if lang == "zh" else ", ").join(argument.split(","))
    zh_text, en_text = _NOTES[code]

    return (zh_text if lang == "zh" else en_text).format(arg=argument)
