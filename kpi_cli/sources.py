"""Sources: export files exposed to SQL as views with canonical columns.

Each source's glob is expanded and every file is looked at on its own: its
size (DuckDB skips zero-byte files without a word), its encoding (GBK exports
are transcoded to a UTF-8 copy in the cache, streaming), its dialect, and its
headers, which are mapped to canonical names. Declared types are converted in
SQL from the text, so the view streams over the files like ``read_csv`` does
and a large export never passes through Python. Before a view is created every
declared value is checked, so a bad value stops the run with its file, line,
column and text instead of turning into a NULL.

Files are read one by one and combined with ``UNION ALL BY NAME``: DuckDB's
multi-file read with explicit columns drops rows when files differ in line
endings, and per-file reads also let each file keep its own date format.

Known limits, each for a reason:

- With ``key`` set, the view keeps the last file's rows per key with a window
  over all files, which DuckDB recomputes on every query; ``kpi load`` is the
  way to pay for it once on large sources.
- "Later" file means later in sorted path order (globs in the order given):
  exports are named by date far more reliably than their mtimes survive a copy.
- A decimal comma (``1,5`` for one and a half) is rejected, not guessed: the
  comma is read only as a thousands separator.
- JSON numbers pass through DOUBLE in DuckDB's JSON reader, so a JSON amount
  is exact only up to 15 significant digits; CSV and Parquet are exact.
- Bad values in JSON files are reported by file and value, without a record
  number: DuckDB's JSON reader exposes none.
- A date column may mix forms of one field order (``2024-03-06 09:07:00``
  with ``2024-03-07``), never month-first with day-first, and never values
  with an offset with local ones: the first would be a guess, the second reads
  the same digits as two different clocks.
- Auto-detection prefers GB18030 for any non-UTF-8 bytes it can decode; a
  Big5 or Shift-JIS export may decode too, and needs ``encoding`` set.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import glob
import gzip
import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import duckdb

from kpi_cli.config import SourceSettings
from kpi_cli.errors import ConfigError, DataError
from kpi_cli.parsing import (
    DATE_CANDIDATES,
    EXPECTED_DATES,
    SHAPE_SQL,
    DateFormat,
    DateReader,
    check_type_text,
    expected_number,
    number_parts_sql,
    number_sql,
    plain_sql,
    quote_ident,
    quote_literal,
    type_kind,
)
from kpi_cli.review_model import FileHealth

logger = logging.getLogger(__name__)

Format = Literal["csv", "parquet", "json"]

_SAMPLE_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20
_MAX_SHAPES = 200
# Sources smaller than this are read once into memory: every model, KPI query
# and health check of a review then reuses the parsed rows instead of parsing
# the files again. Larger ones stay views over the files, so memory does not
# grow with them.
MATERIALIZE_BYTES = 256 * 2**20
_FILE_INDEX = "__kpi_file_index"
_PARTS = "__kpi_number_"
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".tab": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_UTF8 = ("utf-8", "utf-8-sig")
_TEXT_TYPES = ("VARCHAR",)


@dataclass(frozen=True)
class SourceInfo:
    """What :func:`register_sources` exposed for one source.

    ``columns`` holds (canonical name, DuckDB type) of the view; ``first`` and
    ``last`` are the min and max of the time column as naive local times.
    """

    name: str
    files: tuple[FileHealth, ...]
    columns: tuple[tuple[str, str], ...]
    time_column: str | None
    rows: int
    first: dt.datetime | None
    last: dt.datetime | None
    warnings: tuple[str, ...]


@dataclass
class _File:
    """One matched file while it is being read."""

    path: Path
    label: str
    format: Format
    state: Literal["ok", "header_only", "empty"] = "ok"
    encoding: str | None = None
    delimiter: str | None = None
    quote: str | None = None
    header: bool = True
    read_path: Path | None = None
    raw: list[tuple[str, str]] = field(default_factory=list)
    relation: str = ""
    source: str = ""
    rows: int | None = None
    date_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Column:
    """A canonical column of one file: its header and the SQL producing it."""

    name: str
    header: str
    raw_type: str
    sql: str
    declared: str | None
    prepare: str | None = None


def register_sources(
    con: duckdb.DuckDBPyConnection,
    sources: dict[str, SourceSettings],
    *,
    base_dir: Path,
    timezone: str,
    cache_dir: Path,
) -> dict[str, SourceInfo]:
    """Create one view per source in ``con``, named after the source.

    Globs are relative to ``base_dir``; ``timezone`` is the project's IANA
    zone, used to turn offsets and Unix times into naive local times;
    ``cache_dir`` holds UTF-8 copies of files in other encodings.

    Returns:
        The sources' infos, by name, in the order given.

    Raises:
        DataError: a glob matches nothing, a file cannot be read, a declared
            column is missing, or a value cannot be read as its type.
        ConfigError: a source's settings cannot be applied (unknown type or
            encoding, format that cannot be told from the extension).
    """
    infos: dict[str, SourceInfo] = {}
    for name, settings in sources.items():
        infos[name] = register_source(
            con,
            name,
            settings,
            base_dir=base_dir,
            timezone=timezone,
            cache_dir=cache_dir,
        )

    return infos


def register_source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    settings: SourceSettings,
    *,
    base_dir: Path,
    timezone: str,
    cache_dir: Path,
) -> SourceInfo:
    """Create the view of one source; see :func:`register_sources`."""
    types = _declared_types(con, name, settings)
    files = [
        _File(path=p, label=_label(p, base_dir), format=_format_of(name, p, settings))
        for p in resolve_files(name, settings, base_dir)
    ]
    warnings: list[str] = []
    selects: list[str] = []
    empty_columns: dict[str, str] = {}
    for index, file in enumerate(files):
        _inspect(con, file, settings, cache_dir)
        if file.state == "empty":
            warnings.append(
                f"{file.label} is empty (no header, no rows): its rows are missing from "
                f"source {name!r}; re-export the file if it should hold data"
            )
            continue
        columns = _map_columns(con, name, file, settings, types, timezone)
        file.rows, duplicates = _validate(con, file, columns, settings)
        if duplicates:
            warnings.append(
                f"{file.label}: {duplicates} row(s) repeat a key "
                f"({', '.join(settings.key)}) already seen in the same file; "
                "they are kept"
            )
        if file.rows == 0:
            file.state = "header_only"
            for column in columns:
                empty_columns.setdefault(column.name, column.declared or "VARCHAR")
            continue
        selects.append(_select(file, columns, index))

    for column, sql_type in types.items():
        empty_columns.setdefault(column, sql_type)
    size = sum(f.path.stat().st_size for f in files)
    _create_view(
        con, name, selects, empty_columns, settings.key, size < MATERIALIZE_BYTES
    )

    return _describe(con, name, settings, files, warnings)


def resolve_files(name: str, settings: SourceSettings, base_dir: Path) -> list[Path]:
    """Expand a source's globs, each sorted by name, without repeats.

    Raises:
        DataError: a glob matches no file.
    """
    found: dict[Path, None] = {}
    for pattern in settings.paths:
        expanded = os.path.expanduser(pattern)
        full = expanded if os.path.isabs(expanded) else str(base_dir / expanded)
        matches = sorted(
            Path(m) for m in glob.glob(full, recursive=True) if os.path.isfile(m)
        )
        if not matches:
            raise DataError(
                f"source {name!r}: no file matches {pattern!r} in {base_dir}; "
                f"check [sources.{name}].path or the data folder (--data)"
            )
        for match in matches:
            found.setdefault(match, None)

    return list(found)


def _label(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)


def _format_of(name: str, path: Path, settings: SourceSettings) -> Format:
    if settings.format:
        return settings.format
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]

    raise ConfigError(
        f"source {name!r}: cannot tell the format of {path.name} from its "
        f'extension; set format = "csv", "parquet" or "json" in [sources.{name}]'
    )


def _declared_types(
    con: duckdb.DuckDBPyConnection, name: str, settings: SourceSettings
) -> dict[str, str]:
    """Canonical column -> declared type; the time column defaults to TIMESTAMP."""
    types = dict(settings.types)
    if settings.time_column and settings.time_column not in types:
        types[settings.time_column] = "TIMESTAMP"
    for column, sql_type in types.items():
        try:
            # The type is spliced into SQL: it must look like a type name
            # before DuckDB is asked whether it is one.
            if not check_type_text(sql_type):
                raise ValueError(sql_type)
            con.execute(f"SELECT CAST(NULL AS {sql_type})")
        except (duckdb.Error, ValueError) as e:
            raise ConfigError(
                f"[sources.{name}].types: {sql_type!r} for column {column!r} is "
                "not a DuckDB type; try decimal(18,2), bigint, double, date, "
                "timestamp or varchar"
            ) from e
    for column in [*settings.columns.values(), *settings.key]:
        types.setdefault(column, "")
    # An empty string marks a column that must exist but keeps its own type.

    return types


# --- reading one file -----------------------------------------------------


def _inspect(
    con: duckdb.DuckDBPyConnection,
    file: _File,
    settings: SourceSettings,
    cache_dir: Path,
) -> None:
    """Fill in the state, encoding, dialect, raw columns and relation of a file."""
    try:
        size = file.path.stat().st_size
    except OSError as e:
        raise DataError(f"{file.label}: cannot read: {e.strerror}") from e
    if size == 0:
        file.state = "empty"
        return

    path = quote_literal(str(file.path))
    if file.format == "parquet":
        file.relation = f"read_parquet({path})"
    elif file.format == "json":
        file.relation = f"read_json({path})"
    else:
        if not _prepare_text(file, settings, cache_dir):
            file.state = "empty"
            return
        _sniff_csv(con, file, settings)
        return

    file.raw = _describe_relation(con, file)


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")

    return path.open("rb")


def _prepare_text(file: _File, settings: SourceSettings, cache_dir: Path) -> bool:
    """Detect the encoding and make a UTF-8 file DuckDB can read.

    Returns False when the file holds nothing but whitespace.
    """
    with _open_binary(file.path) as handle:
        sample = handle.read(_SAMPLE_BYTES)
        complete = not handle.read(1)
    if settings.encoding.lower() != "auto":
        encoding = _codec_name(settings.encoding)
    else:
        encoding = detect_encoding(sample, complete=complete, label=file.label)
    file.encoding = encoding
    if complete and not sample.decode(encoding, errors="replace").strip(
        "\ufeff \t\r\n"
    ):
        return False

    if encoding in _UTF8 and file.path.suffix.lower() != ".gz":
        file.read_path = file.path
    else:
        file.read_path = transcode(file.path, encoding, cache_dir, label=file.label)

    return True


def _codec_name(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError as e:
        raise ConfigError(
            f"unknown encoding {encoding!r}; use auto, utf-8, gbk, gb18030 or utf-16"
        ) from e
    # GB18030 is a superset of GBK and GB2312: decoding with it never loses a
    # character that the narrower codec would read.
    if name in ("gbk", "gb2312"):
        return "gb18030"

    return name


def detect_encoding(sample: bytes, *, complete: bool, label: str = "file") -> str:
    """Guess the encoding of a file from its first bytes.

    A byte-order mark decides; then valid UTF-8; then GB18030 when the bytes
    decode as such (Chinese exports are the common non-UTF-8 case and
    detectors often mistake short GBK text for other code pages); then
    charset-normalizer's best guess.

    Raises:
        DataError: no encoding fits the sample.
    """
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # NUL bytes are valid UTF-8 but mean UTF-16/32 text without a BOM.
    if b"\x00" not in sample:
        for encoding in ("utf-8", "gb18030"):
            if _decodes(sample, encoding, complete):
                return encoding

    import charset_normalizer  # slow to import; only needed for the rare case

    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise DataError(
            f"{label}: cannot tell the text encoding; set encoding = "
            '"utf-8", "gbk" or "utf-16" for this source'
        )
    logger.debug("%s: charset-normalizer guessed %s", label, best.encoding)

    return _codec_name(best.encoding)


def _decodes(sample: bytes, encoding: str, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        # A sample cut mid-character is fine unless it is the whole file.
        decoder.decode(sample, final=complete)
    except UnicodeDecodeError:
        return False

    return True


def transcode(path: Path, encoding: str, cache_dir: Path, *, label: str) -> Path:
    """Return a UTF-8 copy of ``path`` in ``cache_dir``, made if not current.

    The copy is keyed by the file's path, size and modification time, and is
    written chunk by chunk, so memory does not grow with the file.

    Raises:
        DataError: the file is not valid in ``encoding``.
    """
    stat = path.stat()
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    target = cache_dir / f"{digest}-{stat.st_size}-{stat.st_mtime_ns}-{encoding}.csv"
    if target.exists():
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{digest}-*.csv"):
        stale.unlink(missing_ok=True)
    partial = target.with_suffix(".partial")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = 1
    try:
        with _open_binary(path) as source, partial.open("wb") as sink:
            while chunk := source.read(_CHUNK_BYTES):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    head = chunk[: e.start].decode(encoding, errors="replace")
                    raise DataError(
                        f"{label}, line {lines + head.count(chr(10))}: bytes "
                        f"{chunk[e.start : e.start + 4]!r} are not valid {encoding}; "
                        "set encoding for this source (utf-8, gbk, utf-16)"
                    ) from e
                lines += text.count("\n")
                sink.write(text.encode("utf-8"))
            sink.write(decoder.decode(b"", final=True).encode("utf-8"))
        os.replace(partial, target)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{label}: the file ends inside a character; is it cut off?"
        ) from e
    finally:
        partial.unlink(missing_ok=True)
    logger.debug("transcoded %s from %s to %s", label, encoding, target)

    return target


def _sniff_csv(
    con: duckdb.DuckDBPyConnection, file: _File, settings: SourceSettings
) -> None:
    assert file.read_path is not None
    options = {"header": settings.header}
    if settings.delimiter:
        options["delim"] = settings.delimiter
    named = "".join(f", {key} := ?" for key in options)
    try:
        row = con.execute(
            f"SELECT Delimiter, Quote, Columns FROM sniff_csv(?{named})",
            [str(file.read_path), *options.values()],
        ).fetchone()
    except duckdb.Error as e:
        raise DataError(f"{file.label}: cannot read as CSV: {_first_line(e)}") from e
    assert row is not None
    file.delimiter = settings.delimiter or row[0]
    file.header = settings.header
    file.quote = None if row[1] == "(empty)" else row[1]
    file.raw = [(c["name"], c["type"]) for c in row[2]]


def _csv_relation(file: _File, text_columns: Iterable[str]) -> str:
    assert file.read_path is not None and file.delimiter is not None
    overrides = ", ".join(
        f"{quote_literal(c)}: 'VARCHAR'" for c in dict.fromkeys(text_columns)
    )
    types = f", types={{{overrides}}}" if overrides else ""

    return (
        f"read_csv({quote_literal(str(file.read_path))}, "
        f"header={str(file.header).lower()}, delim={quote_literal(file.delimiter)}"
        f"{types})"
    )


def _json_relation(file: _File, text: set[str]) -> str:
    columns = ", ".join(
        f"{quote_literal(raw)}: {quote_literal('VARCHAR' if raw in text else t)}"
        for raw, t in file.raw
    )

    return f"read_json({quote_literal(str(file.path))}, columns={{{columns}}})"


def _describe_relation(
    con: duckdb.DuckDBPyConnection, file: _File
) -> list[tuple[str, str]]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {file.relation}").fetchall()
    except duckdb.Error as e:
        raise DataError(
            f"{file.label}: cannot read as {file.format}: {_first_line(e)}"
        ) from e

    return [(r[0], r[1]) for r in rows]


# --- columns ----------------------------------------------------------------


def clean_header(header: str) -> str:
    """A header without BOM, surrounding whitespace or quotes."""
    return header.replace("\ufeff", "").strip().strip("\"'").strip()


def _map_columns(
    con: duckdb.DuckDBPyConnection,
    name: str,
    file: _File,
    settings: SourceSettings,
    types: dict[str, str],
    timezone: str,
) -> list[_Column]:
    """Map a file's headers to canonical columns with the SQL producing each."""
    renames = {clean_header(k): v for k, v in settings.columns.items()}
    headers: dict[str, tuple[str, str]] = {}
    for raw_name, raw_type in file.raw:
        canonical = renames.get(clean_header(raw_name), clean_header(raw_name))
        if canonical in headers:
            raise DataError(
                f"{file.label}: headers {headers[canonical][0]!r} and {raw_name!r} "
                f"both give column {canonical!r} of source {name!r}; keep one of "
                f"them in [sources.{name}].columns"
            )
        headers[canonical] = (raw_name, raw_type)

    for column in types:
        if column not in headers:
            raise DataError(_missing_message(name, file, column, settings))

    if file.format == "csv":
        # Declared columns are read as text and converted below, so DuckDB's
        # sniffer never turns money into DOUBLE or drops a date it cannot read.
        text = {c for c, t in types.items() if t}
        file.relation = _csv_relation(file, [headers[c][0] for c in text])
    elif file.format == "json":
        # As for CSV, and because JSON readers also sniff ISO strings as
        # timestamps without their offset and mixed values as type JSON.
        text = {c for c, t in types.items() if t}
        file.relation = _json_relation(file, {headers[c][0] for c in text})
    else:
        text = set()
    headers = {
        c: (raw, "VARCHAR" if c in text else raw_type)
        for c, (raw, raw_type) in headers.items()
    }

    columns: list[_Column] = []
    for canonical, (raw_name, raw_type) in headers.items():
        sql_type = types.get(canonical) or None
        prepare = None
        if (
            sql_type
            and raw_type.upper() in _TEXT_TYPES
            and type_kind(sql_type) in ("integer", "decimal", "float")
        ):
            prepare = number_parts_sql(quote_ident(raw_name))
            parts = quote_ident(f"{_PARTS}{len(columns)}")
            sql = number_sql(parts, sql_type)
        else:
            sql = _convert_sql(
                con, file, canonical, raw_name, raw_type, sql_type, settings, timezone
            )
        columns.append(_Column(canonical, raw_name, raw_type, sql, sql_type, prepare))

    # Text split into number parts once per value, in an inner query, so the
    # conversion does not run its regular expressions once per reference.
    prepared = [
        f"{c.prepare} AS {quote_ident(f'{_PARTS}{i}')}"
        for i, c in enumerate(columns)
        if c.prepare
    ]
    file.source = (
        f"(SELECT *, {', '.join(prepared)} FROM {file.relation})"
        if prepared
        else file.relation
    )

    return columns


def _missing_message(
    name: str, file: _File, column: str, settings: SourceSettings
) -> str:
    aliases = [k for k, v in settings.columns.items() if v == column]
    present = [clean_header(raw) for raw, _ in file.raw]
    best: tuple[float, str] | None = None
    for wanted in [column, *aliases]:
        for header in present:
            ratio = difflib.SequenceMatcher(None, wanted, header).ratio()
            if ratio >= 0.4 and (best is None or ratio > best[0]):
                best = (ratio, header)
    looked_for = f" (header {' or '.join(map(repr, aliases))})" if aliases else ""
    closest = f" The closest is {best[1]!r}." if best else ""

    return (
        f"{file.label}: column {column!r}{looked_for} of source {name!r} is "
        f"missing. The file has: {', '.join(present)}.{closest} Rename the header "
        f"or map it in [sources.{name}].columns"
    )


def _convert_sql(
    con: duckdb.DuckDBPyConnection,
    file: _File,
    canonical: str,
    raw_name: str,
    raw_type: str,
    sql_type: str | None,
    settings: SourceSettings,
    timezone: str,
) -> str:
    """SQL giving the column its declared type; NULL where a value does not fit."""
    raw = quote_ident(raw_name)
    if sql_type is None:
        return raw

    kind = type_kind(sql_type)
    text = raw_type.upper() in _TEXT_TYPES
    zone = quote_literal(timezone)
    if kind in ("date", "timestamp"):
        if raw_type.upper().startswith("TIMESTAMP WITH TIME ZONE"):
            value = f"timezone({zone}, {raw})"
        elif raw_type.upper().startswith(("TIMESTAMP", "DATE")):
            value = f"CAST({raw} AS TIMESTAMP)"
        else:
            source = raw if text else f"CAST({raw} AS VARCHAR)"
            reader = _date_format(
                con, file, canonical, raw_name, source, settings, timezone
            )
            file.date_formats[canonical] = reader.formats
            logger.debug(
                "%s, column %s: dates read as %s",
                file.label,
                raw_name,
                " or ".join(reader.formats),
            )
            value = reader.sql(source, timezone)
        return f"CAST({value} AS {sql_type})"
    if kind in ("integer", "decimal", "float"):
        # Text goes through number_sql (see _map_columns); a typed value from
        # Parquet is kept only if the declared type holds it exactly.
        cast = f"try_cast({raw} AS {sql_type})"
        return f"CASE WHEN {cast} = {raw} THEN {cast} END"
    if kind == "text":
        return f"CAST({raw} AS VARCHAR)"

    return plain_sql(raw, sql_type) if text else f"try_cast({raw} AS {sql_type})"


def _date_format(
    con: duckdb.DuckDBPyConnection,
    file: _File,
    canonical: str,
    raw_name: str,
    source: str,
    settings: SourceSettings,
    timezone: str,
) -> DateReader:
    """How to read every value of this column of this file as a timestamp.

    One format when one fits every value; otherwise the forms of one field
    order (year-month-day with and without seconds, padding or time, say)
    that together fit every value. Forms of different orders are never mixed.

    Raises:
        ConfigError: a declared list of formats is empty.
        DataError: no forms of one order fit every value, or two orders read
            the values differently (ambiguous month and day).
    """
    declared = settings.formats.get(canonical, settings.time_format)
    if isinstance(declared, list):
        if not declared:
            raise ConfigError(
                f"{file.label}, column {raw_name!r}: the list of date formats for "
                f"{canonical!r} is empty; give at least one strptime format"
            )
        return DateReader.of(*declared)
    if declared:
        return DateReader.of(declared)

    # Values reduced to their shape (digits as 9) tell the candidates apart
    # in one grouped pass; only month/day order needs the values themselves.
    shapes = _fetch(
        con,
        file,
        f"SELECT {SHAPE_SQL.format(raw=source)} AS shape, count(*) AS n, "
        f"min({source}) FROM {file.relation} WHERE nullif(trim({source}), '') "
        f"IS NOT NULL GROUP BY shape ORDER BY n DESC LIMIT {_MAX_SHAPES}",
    )
    if not shapes:
        return DateReader.of(DATE_CANDIDATES[0])

    candidates = [DateFormat(f) for f in DATE_CANDIDATES]
    fitting = [
        DateReader((c,))
        for c in candidates
        if all(c.shape_regex().fullmatch(s) for s, _, _ in shapes)
    ]
    if not fitting:
        fitting = _mixed_readers(file, canonical, raw_name, con, candidates, shapes)
    if len(fitting) == 1:
        return fitting[0]

    parsed = [c.sql(source, timezone) for c in fitting]
    failures = _fetch(
        con,
        file,
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {p} IS NULL)" for p in parsed)
        + f" FROM {file.relation} WHERE nullif(trim({source}), '') IS NOT NULL",
    )[0]
    readers = [c for c, n in zip(fitting, failures, strict=True) if n == 0]
    if len(readers) <= 1:
        # None reads all: the first fitting one reports the bad value later.
        return readers[0] if readers else fitting[0]

    first = readers[0].sql(source, timezone)
    differ = [
        _fetch(
            con,
            file,
            f"SELECT min({source}) FROM {file.relation} "
            f"WHERE ({other.sql(source, timezone)}) IS DISTINCT FROM ({first})",
        )[0][0]
        for other in readers[1:]
    ]
    conflicts = [(c, v) for c, v in zip(readers[1:], differ, strict=True) if v]
    if conflicts:
        other, sample = conflicts[0]
        raise DataError(
            f"{file.label}, column {raw_name!r}: ambiguous date format: every "
            f"value fits both {_forms(readers[0])} and {_forms(other)} "
            f"(for example {sample!r}); set time_format = {readers[0].toml()} "
            f"(or formats = {{ {canonical} = {other.toml()} }}) in the source"
        )

    return readers[0]


def _mixed_readers(
    file: _File,
    canonical: str,
    raw_name: str,
    con: duckdb.DuckDBPyConnection,
    candidates: list[DateFormat],
    shapes: list[tuple],
) -> list[DateReader]:
    """Readers mixing forms of one field order that together fit every shape.

    Each reader holds, for each shape, the first candidate of its order that
    fits it. Month-first and day-first both qualify for ``3/6/2024 8:15`` next
    to ``3/7/2024``; the caller decides between them on the values.

    Raises:
        DataError: no field order has forms for every shape; the message names
            the first value outside the order that covers the most rows.
    """
    orders: dict[str, list[DateFormat]] = {}
    for candidate in candidates:
        orders.setdefault(candidate.field_order(), []).append(candidate)

    readers: list[DateReader] = []
    best: tuple[int, list[DateFormat], str] | None = None
    for forms in orders.values():
        used: dict[DateFormat, None] = {}
        covered = 0
        outside = None
        for shape, count, value in shapes:
            form = next((f for f in forms if f.shape_regex().fullmatch(shape)), None)
            if form is None:
                outside = outside or value
                continue
            used[form] = None
            covered += count
        # Candidate order, not shape frequency, fixes the order of the forms,
        # so a file reads the same way whichever form its rows mostly use.
        chosen = [f for f in forms if f in used]
        if outside is None:
            readers.append(DateReader(tuple(chosen)))
        elif best is None or covered > best[0]:
            best = (covered, chosen, outside)
    if readers:
        return readers

    assert best is not None
    _, chosen, sample = best
    hint = DateReader(tuple(chosen) or (candidates[0],)).formats
    listed = ", ".join(f'"{f}"' for f in hint)
    raise DataError(
        f"{_where(con, file, raw_name, sample)}, column {raw_name!r}: "
        f"{sample!r} is not a date/time form this file's other values share; "
        f"expected forms of one field order per file: {EXPECTED_DATES}; or set "
        f'formats = {{ {canonical} = [{listed}, "..."] }} in the source'
    )


def _forms(reader: DateReader) -> str:
    return " + ".join(reader.formats)


def _fetch(con: duckdb.DuckDBPyConnection, file: _File, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as e:
        raise DataError(f"{file.label}: cannot read: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


# --- checking values ------------------------------------------------------


def _validate(
    con: duckdb.DuckDBPyConnection,
    file: _File,
    columns: list[_Column],
    settings: SourceSettings,
) -> tuple[int, int]:
    """Count rows and in-file key repeats; stop at the first unreadable value.

    Returns:
        (rows, rows repeating a key of an earlier row of the same file)

    Raises:
        DataError: a declared column holds a value its type cannot read.
    """
    checked = [c for c in columns if c.declared]
    bad = [_bad_sql(c) for c in checked]
    parts = ["count(*)"] + [f"count(*) FILTER (WHERE {b})" for b in bad]
    by_name = {c.name: c for c in columns}
    if settings.key:
        key = ", ".join(by_name[k].sql for k in settings.key)
        parts.append(f"count(*) - count(DISTINCT row({key}))")
    else:
        parts.append("0")
    row = _fetch(con, file, f"SELECT {', '.join(parts)} FROM {file.source}")[0]
    rows, counts, duplicates = row[0], row[1:-1], row[-1]
    for column, predicate, count in zip(checked, bad, counts, strict=True):
        if not count:
            continue
        value = _fetch(
            con,
            file,
            f"SELECT CAST({quote_ident(column.header)} AS VARCHAR) "
            f"FROM {file.source} WHERE {predicate} LIMIT 1",
        )[0][0]
        assert column.declared is not None
        kind = type_kind(column.declared)
        expected = (
            EXPECTED_DATES
            if kind in ("date", "timestamp")
            else expected_number(column.declared)
            if kind in ("integer", "decimal", "float")
            else f"a {column.declared} value"
        )
        shown = (
            repr(column.header)
            if column.header == column.name
            else f"{column.header!r} ({column.name})"
        )
        more = f" ({count} values in this column cannot be read)" if count > 1 else ""
        raise DataError(
            f"{_where(con, file, column.header, value)}, column {shown}: cannot read "
            f"{value!r} as {column.declared}{more}; expected {expected}"
        )

    return rows, duplicates


def _bad_sql(column: _Column) -> str:
    raw = quote_ident(column.header)
    return (
        f"({column.sql}) IS NULL AND nullif(trim(CAST({raw} AS VARCHAR)), '') "
        "IS NOT NULL"
    )


def _where(con: duckdb.DuckDBPyConnection, file: _File, header: str, value: str) -> str:
    """``file, line N`` for the first row holding ``value`` under ``header``.

    CSV lines are physical lines of the file (the header is line 1), found by
    streaming the file with Python's csv reader; this runs only on the error
    path. Parquet rows are counted from 1; JSON records are not located.
    """
    if file.format == "parquet":
        found = con.execute(
            f"SELECT file_row_number FROM read_parquet(?, file_row_number = true) "
            f"WHERE CAST({quote_ident(header)} AS VARCHAR) = ? LIMIT 1",
            [str(file.path), value],
        ).fetchone()
        return f"{file.label}, row {found[0] + 1}" if found else file.label
    if file.format != "csv" or file.read_path is None:
        return file.label

    index = [raw for raw, _ in file.raw].index(header)
    csv.field_size_limit(1 << 30)
    quoting = csv.QUOTE_MINIMAL if file.quote else csv.QUOTE_NONE
    with file.read_path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(
            handle,
            delimiter=file.delimiter or ",",
            quotechar=file.quote or '"',
            quoting=quoting,
        )
        start = 1
        for number, record in enumerate(reader):
            if (
                (number > 0 or not file.header)
                and len(record) > index
                and record[index].strip() == value.strip()
            ):
                return f"{file.label}, line {start}"
            start = reader.line_num + 1

    return file.label


# --- the view ---------------------------------------------------------------


def _select(file: _File, columns: list[_Column], index: int) -> str:
    items = [f"{c.sql} AS {quote_ident(c.name)}" for c in columns]
    items.append(f"{index} AS {_FILE_INDEX}")

    return f"SELECT {', '.join(items)} FROM {file.source}"


def _create_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    selects: list[str],
    empty_columns: dict[str, str],
    key: list[str],
    materialize: bool = False,
) -> None:
    view = quote_ident(name)
    if not selects:
        # Only empty or header-only files: keep the declared columns and types
        # so that sum(amount) over the source is NULL, not a type error.
        items = [
            f"CAST(NULL AS {t or 'VARCHAR'}) AS {quote_ident(c)}"
            for c, t in empty_columns.items()
        ]
        body = f"SELECT {', '.join(items) or 'NULL AS empty'} WHERE false"
    else:
        union = " UNION ALL BY NAME ".join(f"({s})" for s in selects)
        if key:
            # Overlapping exports: a key found in several files keeps the rows
            # of the last file that has it.
            keys = ", ".join(quote_ident(k) for k in key)
            body = (
                f"SELECT * EXCLUDE ({_FILE_INDEX}) FROM ({union}) "
                f"QUALIFY {_FILE_INDEX} = max({_FILE_INDEX}) OVER (PARTITION BY {keys})"
            )
        else:
            body = f"SELECT * EXCLUDE ({_FILE_INDEX}) FROM ({union})"
    kind = "TEMP TABLE" if materialize else "VIEW"
    con.execute(f"CREATE OR REPLACE {kind} {view} AS {body}")


def _describe(
    con: duckdb.DuckDBPyConnection,
    name: str,
    settings: SourceSettings,
    files: list[_File],
    warnings: list[str],
) -> SourceInfo:
    view = quote_ident(name)
    columns = tuple(
        (r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    )
    time_column = settings.time_column
    if time_column:
        t = quote_ident(time_column)
        query = f"SELECT count(*), min({t}), max({t}) FROM {view}"
    else:
        query = f"SELECT count(*), NULL, NULL FROM {view}"
    try:
        rows, first, last = con.execute(query).fetchone() or (0, None, None)
    except duckdb.Error as e:
        raise DataError(f"source {name!r}: cannot read: {_first_line(e)}") from e
    total = sum(f.rows or 0 for f in files)
    if total != rows:
        logger.info(
            "source %s: %d row(s) repeated across files were counted once",
            name,
            total - rows,
        )

    return SourceInfo(
        name=name,
        files=tuple(
            FileHealth(
                path=f.label,
                rows=f.rows,
                encoding=f.encoding,
                delimiter=f.delimiter,
                state=f.state,
                date_formats=tuple(f.date_formats.items()),
            )
            for f in files
        ),
        columns=columns,
        time_column=time_column,
        rows=rows,
        first=_as_datetime(first),
        last=_as_datetime(last),
        warnings=tuple(warnings),
    )


def _as_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())

    return None
