"""SQL that turns exported text into typed values: money, counts, dates.

Everything here builds DuckDB expressions as strings; nothing reads data. The
loader applies them inside DuckDB so a large export is converted while it
streams, never row by row in Python. Every conversion uses ``try_`` functions
and yields NULL for a value it cannot read, so the loader can count and locate
the bad values before it exposes the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Declared type names the loader converts from text itself; any other type is
# a plain TRY_CAST of the trimmed text.
_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "INT",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "INT1",
    "INT2",
    "INT4",
    "INT8",
    "LONG",
    "SHORT",
}
_FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"}
_DATE_TYPES = {"DATE"}
_TIMESTAMP_TYPES = {"TIMESTAMP", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"}
_TYPE_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$")

EPOCH_SECONDS = "epoch_s"
EPOCH_MILLIS = "epoch_ms"

# Characters an export puts around a number that carry no value: spaces
# (including no-break and ideographic ones), currency symbols and units.
_NOISE = r"[\s\x{00A0}\x{3000}¥￥$€£]|元|RMB|CNY|USD"
_NUMBER = r"^(\(?)([+-]?)(\d{1,3}(?:,\d{3})+|\d+|)(\.\d*|)(%?)(\)?)$"

# The exact intermediate type: wide enough for any money amount, with room
# for a percentage of a 2-place amount to stay exact before the final cast.
_EXACT = "DECIMAL(38,12)"


def quote_ident(name: str) -> str:
    """Return ``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Return ``value`` as a single-quoted SQL string literal.

    Used only where DuckDB takes no bound parameters: view definitions.
    """
    return "'" + value.replace("'", "''") + "'"


def type_kind(sql_type: str) -> str:
    """Classify a declared type: integer, decimal, float, date, timestamp, text
    or other."""
    base = sql_type.strip().upper().split("(")[0].strip()
    if base in _INTEGER_TYPES:
        return "integer"
    if base in ("DECIMAL", "NUMERIC"):
        return "decimal"
    if base in _FLOAT_TYPES:
        return "float"
    if base in _DATE_TYPES:
        return "date"
    if base in _TIMESTAMP_TYPES:
        return "timestamp"
    if base in ("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"):
        return "text"

    return "other"


def check_type_text(sql_type: str) -> bool:
    """Whether a declared type looks like a type name (it is spliced into SQL)."""
    return bool(_TYPE_TEXT.match(sql_type.strip()))


def number_parts_sql(raw: str) -> str:
    """Expression splitting the text ``raw`` into the parts of a number.

    The result is a struct (open, sign, int, frac, pct, close) of strings, all
    empty when the text is not a number. It is computed once per value in an
    inner query so that :func:`number_sql` reads it without running the
    regular expressions again.
    """
    cleaned = f"regexp_replace({raw}, '{_NOISE}', '', 'g')"
    fields = "['open', 'sign', 'int', 'frac', 'pct', 'close']"

    return f"regexp_extract({cleaned}, '{_NUMBER}', {fields})"


def number_sql(parts: str, sql_type: str) -> str:
    """Expression reading a number of ``sql_type`` from :func:`number_parts_sql`.

    Accepts thousands separators, currency symbols and units (``¥1,234.50``,
    ``￥88.00``, ``¥ 12.35``, ``12.00元``, ``-¥20.00``), parenthesised negatives
    ``(12.00)`` and percentages (``12.5%`` is 0.125). Empty text is NULL. A
    value that does not fit the type exactly (``12.345`` as DECIMAL(18,2),
    ``12.5`` as BIGINT) is NULL too, so it is reported instead of rounded.
    """
    p = parts
    valid = (
        f"({p}.int <> '' OR length({p}.frac) > 1) "
        f"AND ({p}.open = '') = ({p}.close = '')"
    )
    # Parentheses mean a negative amount in accounting exports.
    text = (
        f"CASE WHEN {valid} THEN (CASE WHEN {p}.open = '(' THEN '-' ELSE '' END) "
        f"|| {p}.sign || replace({p}.int, ',', '') || {p}.frac END"
    )
    if type_kind(sql_type) == "float":
        scale = f"CASE WHEN {p}.pct = '%' THEN 100 ELSE 1 END"
        return f"CAST(try_cast({text} AS DOUBLE) / {scale} AS {sql_type})"

    # Exact path for decimals and integers: parse into a wide decimal, scale
    # percentages there, then keep the result only if the declared type holds
    # it without rounding.
    scale = f"CASE WHEN {p}.pct = '%' THEN 0.01 ELSE 1 END"
    exact = f"(try_cast({text} AS {_EXACT}) * {scale})"
    final = f"try_cast({exact} AS {sql_type})"

    return f"CASE WHEN {final} = {exact} THEN {final} END"


def plain_sql(raw: str, sql_type: str) -> str:
    """Expression casting the trimmed text ``raw`` to ``sql_type``."""
    return f"try_cast(nullif(trim({raw}), '') AS {sql_type})"


# Detection candidates, in order of preference when several read every value
# of a file the same way. Day-first forms take part so that a file whose
# values fit both month-first and day-first is reported as ambiguous.
_DATE_PARTS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%Y年%m月%d日")
_TIME_PARTS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f")


def _candidates() -> tuple[str, ...]:
    found: list[str] = []
    for date in _DATE_PARTS:
        for time in _TIME_PARTS:
            found.append(f"{date} {time}")
            if date == "%Y-%m-%d":
                found.append(f"{date}T{time}")
                found.append(f"{date} {time}%z")
                found.append(f"{date}T{time}%z")
        found.append(date)
    found += ["%Y%m%d", EPOCH_SECONDS, EPOCH_MILLIS]

    return tuple(found)


DATE_CANDIDATES = _candidates()

EXPECTED_DATES = (
    "2024-03-05 21:30:00, 2024-03-05T21:30:00, 2024-03-05, 2024/3/5 21:30, "
    "3/5/2024 21:30 (month first), 2024年3月5日 21:30, Unix seconds or "
    "milliseconds, ISO with an offset (+08:00 or Z)"
)

_SHAPE_PARTS = {
    "%Y": "9999",
    "%m": "9{1,2}",
    "%d": "9{1,2}",
    "%H": "9{1,2}",
    "%M": "99",
    "%S": "99",
    "%f": "9{1,9}",
    "%z": "(Z|z|[+-]99(:?99)?)",
}


@dataclass(frozen=True)
class DateFormat:
    """A way to read one column of one file as a timestamp."""

    format: str

    @property
    def has_offset(self) -> bool:
        return "%z" in self.format or self.format in (EPOCH_SECONDS, EPOCH_MILLIS)

    def shape_regex(self) -> re.Pattern[str]:
        """Regex over the value's shape (digits replaced by ``9``)."""
        if self.format == EPOCH_SECONDS:
            return re.compile(r"-?9{9,10}")
        if self.format == EPOCH_MILLIS:
            return re.compile(r"-?9{12,13}")
        out = []
        i = 0
        text = self.format
        while i < len(text):
            part = text[i : i + 2]
            if part in _SHAPE_PARTS:
                out.append(_SHAPE_PARTS[part])
                i += 2
            else:
                out.append(re.escape(text[i]))
                i += 1

        return re.compile("".join(out))

    def sql(self, raw: str, timezone: str) -> str:
        """Expression reading text ``raw`` as a naive local TIMESTAMP.

        Values with an offset, and Unix times, are converted to ``timezone``;
        values without one are taken as already local.
        """
        value = f"trim({raw})"
        zone = quote_literal(timezone)
        if self.format == EPOCH_SECONDS:
            micros = f"try_cast({value} AS BIGINT) * 1000000"
            utc = f"timezone('UTC', make_timestamp({micros}))"
            return f"CASE WHEN regexp_full_match({value}, '-?\\d+') THEN timezone({zone}, {utc}) END"  # noqa: E501
        if self.format == EPOCH_MILLIS:
            utc = f"timezone('UTC', epoch_ms(try_cast({value} AS BIGINT)))"
            return f"CASE WHEN regexp_full_match({value}, '-?\\d+') THEN timezone({zone}, {utc}) END"  # noqa: E501
        fmt = quote_literal(self.format)
        if "%z" in self.format:
            # DuckDB's %z wants a numeric offset; exports write UTC as Z.
            zulu = f"regexp_replace({value}, '[Zz]$', '+00:00')"
            return f"timezone({zone}, try_strptime({zulu}, {fmt}))"

        return f"try_strptime({value}, {fmt})"

    def field_order(self) -> str:
        """The order of the date fields, plus whether the value carries a zone.

        ``%Y-%m-%d %H:%M`` and ``%Y/%m/%d`` give ``Ymd``; ``%m/%d/%Y`` gives
        ``mdY``; a Unix time is its own order. Forms of one order read a value
        the same way whatever their separators, padding or time part, so a
        column may mix them; forms of different orders may not (``3/6/2024``).
        """
        if self.format in (EPOCH_SECONDS, EPOCH_MILLIS):
            return self.format
        fields = sorted(
            (self.format.find(f"%{c}"), c) for c in "Ymd" if f"%{c}" in self.format
        )
        # An offset changes what the digits mean (UTC, not local), so values
        # with and without one are never taken for the same form.
        zone = "+zone" if self.has_offset else ""

        return "".join(c for _, c in fields) + zone


@dataclass(frozen=True)
class DateReader:
    """How one column of one file is read: one or more forms, tried in turn.

    Several forms come from a column whose values mix forms of one field order
    (Excel re-saves drop seconds and zero padding on some rows), or from a
    list declared in ``time_format`` / ``formats``.
    """

    forms: tuple[DateFormat, ...]

    @classmethod
    def of(cls, *formats: str) -> DateReader:
        """A reader over the strptime ``formats``, first one first."""
        return cls(tuple(DateFormat(f) for f in formats))

    @property
    def formats(self) -> tuple[str, ...]:
        """The forms' strptime formats, in the order they are tried."""
        return tuple(f.format for f in self.forms)

    def toml(self) -> str:
        """The forms as a kpi.toml value: a string, or a list of them."""
        quoted = [f'"{f}"' for f in self.formats]

        return quoted[0] if len(quoted) == 1 else f"[{', '.join(quoted)}]"

    def sql(self, raw: str, timezone: str) -> str:
        """Expression reading text ``raw`` as a naive local TIMESTAMP.

        With several forms, the first one that reads a value gives it: each
        ``try_strptime`` is NULL for a value not written in its form. A declared
        list is taken in its own order, and DuckDB's ``%Y`` also reads a year of
        two digits, so ``%y`` forms must come before ``%Y`` ones; detected forms
        never meet this, their shapes asking for four-digit years.
        """
        parts = [f.sql(raw, timezone) for f in self.forms]

        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


SHAPE_SQL = "translate(trim({raw}), '0123456789', '9999999999')"


def expected_number(sql_type: str) -> str:
    """How a number of ``sql_type`` may be written, for error messages."""
    kind = type_kind(sql_type)
    if kind == "integer":
        return "a whole number such as 1234, 1,234 or -12"
    if kind == "decimal":
        return (
            f"a number that fits {sql_type} exactly, such as 1234.50, ¥1,234.50, "
            "￥88.00, 12.00元, -¥20.00, (12.00) or 12.5%"
        )

    return "a number such as 1234.5, 1,234.5, ¥12.00 or 12.5%"
