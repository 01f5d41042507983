"""Data health and source listings for ``kpi check`` and ``kpi sources``.

``check_renderable`` and ``sources_renderable`` build Rich renderables (pure);
``check_json`` and ``sources_json`` build the JSON-ready dicts. The CLI prints
them. Times are shown as ISO local times: these are tables for whoever fixes
the exports, who compares them with file contents.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kpi_cli.formatting import issue_text
from kpi_cli.health import HealthReport
from kpi_cli.render_data import (
    JSON_VERSION,
    file_json,
    json_number,
    period_json,
    source_json,
)
from kpi_cli.review_model import FileHealth, SourceHealth
from kpi_cli.sources import SourceInfo

_WORDS = {
    "zh": {
        "source": "数据源",
        "rows": "期内行数",
        "first": "最早",
        "range": "期内时间范围",
        "last": "最晚",
        "empty_days": "空白天数",
        "duplicates": "重复键",
        "null_keys": "空键",
        "null_time": "无时间",
        "volume": "对比中位数",
        "state": "状态",
        "complete": "完整",
        "incomplete": "不完整",
        "file": "文件",
        "file_state": "文件状态",
        "file_rows": "行数",
        "encoding": "编码",
        "delimiter": "分隔符",
        "issues": "问题",
        "healthy": "全部数据源正常",
        "files": "文件数",
        "total_rows": "总行数",
        "time_column": "时间列",
        "key": "键",
        "columns": "列",
    },
    "en": {
        "source": "Source",
        "rows": "Rows",
        "first": "First",
        "range": "Time range in period",
        "last": "Last",
        "empty_days": "Empty days",
        "duplicates": "Dup. keys",
        "null_keys": "Null keys",
        "null_time": "No time",
        "volume": "vs median",
        "state": "State",
        "complete": "complete",
        "incomplete": "incomplete",
        "file": "File",
        "file_state": "State",
        "file_rows": "Rows",
        "encoding": "Encoding",
        "delimiter": "Delim.",
        "issues": "Issues",
        "healthy": "All sources healthy",
        "files": "Files",
        "total_rows": "Rows",
        "time_column": "Time column",
        "key": "Key",
        "columns": "Columns",
    },
}
_DASH = "—"


def check_renderable(report: HealthReport, lang: str = "en") -> RenderableType:
    """What ``kpi check`` shows: per-source health, their files, the issues."""
    words = _WORDS.get(lang, _WORDS["en"])
    title = f"{report.project} · {report.period.label}"
    summary = Table(title=title, title_justify="left")
    for head, justify in (
        ("source", "left"),
        ("rows", "right"),
        ("range", "left"),
        ("empty_days", "right"),
        ("duplicates", "right"),
        ("null_keys", "right"),
        ("null_time", "right"),
        ("volume", "right"),
        ("state", "left"),
    ):
        summary.add_column(words[head], justify=justify)  # type: ignore[arg-type]
    for source in report.sources:
        summary.add_row(
            source.name,
            _count(source.period_rows),
            _range(source, report.period.start.year),
            _count(len(source.empty_days) if source.time_column else None),
            _count(source.duplicate_keys),
            _share(source.null_key_share),
            _count(source.null_time_rows),
            _volume(source, lang),
            _state(source, words),
        )

    parts: list[RenderableType] = [summary, _files_table(report.sources, words)]
    parts.append(_issues_text(report.sources, words, lang))

    return Group(*parts)


def _files_table(sources: tuple[SourceHealth, ...], words: dict[str, str]) -> Table:
    table = Table()
    table.add_column(words["source"])
    table.add_column(words["file"])
    table.add_column(words["file_state"])
    table.add_column(words["file_rows"], justify="right")
    table.add_column(words["encoding"])
    table.add_column(words["delimiter"])
    for source in sources:
        for file in source.files:
            table.add_row(source.name, *_file_cells(file))

    return table


def _file_cells(file: FileHealth) -> tuple[str, ...]:
    return (
        file.path,
        file.state,
        _count(file.rows),
        file.encoding or _DASH,
        _delimiter(file.delimiter),
    )


def _issues_text(
    sources: tuple[SourceHealth, ...], words: dict[str, str], lang: str
) -> Text:
    lines = [
        f"  {s.name}: {issue_text(issue, lang)}"
        for s in sources
        for issue in s.coded_issues or s.issues
    ]
    if not lines:
        return Text(f"✓ {words['healthy']}")

    return Text("\n".join([f"{words['issues']}:", *lines]))


def _state(source: SourceHealth, words: dict[str, str]) -> str:
    word = words["complete"] if source.complete else words["incomplete"]
    mark = "✗" if not source.complete else "⚠" if source.issues else "✓"

    return f"{mark} {word}"


def _range(source: SourceHealth, year: int) -> str:
    """First … last row of the period; the year only when it is not the period's."""
    if source.period_first is None or source.period_last is None:
        return _DASH

    return f"{_short(source.period_first, year)} … {_short(source.period_last, year)}"


def _short(value: Any, year: int) -> str:
    text = _time(value)

    return text[5:] if text.startswith(f"{year}-") else text


def _volume(source: SourceHealth, lang: str) -> str:
    """The period's rows as a share of the trailing median: "89% of 370"."""
    if source.volume_ratio is None or source.trailing_median_rows is None:
        return _DASH
    share = f"{source.volume_ratio:.0%}"
    median = f"{source.trailing_median_rows:g}"
    text = f"{median} 的 {share}" if lang == "zh" else f"{share} of {median}"

    return text + (" ⚠" if source.volume_drop else "")


def sources_renderable(infos: list[SourceInfo], lang: str = "en") -> RenderableType:
    """What ``kpi sources`` shows: each source, its files, its typed columns."""
    words = _WORDS.get(lang, _WORDS["en"])
    summary = Table()
    summary.add_column(words["source"])
    summary.add_column(words["files"], justify="right")
    summary.add_column(words["total_rows"], justify="right")
    summary.add_column(words["time_column"])
    summary.add_column(words["first"])
    summary.add_column(words["last"])
    for info in infos:
        summary.add_row(
            info.name,
            str(len(info.files)),
            _count(info.rows),
            info.time_column or _DASH,
            _time(info.first),
            _time(info.last),
        )
    files = Table()
    for head in ("source", "file", "file_state", "file_rows", "encoding", "delimiter"):
        files.add_column(
            words[head], justify="right" if head == "file_rows" else "left"
        )
    for info in infos:
        for file in info.files:
            files.add_row(info.name, *_file_cells(file))
    columns = [
        f"  {info.name}: " + ", ".join(f"{name} {kind}" for name, kind in info.columns)
        for info in infos
    ]
    parts = [summary, files, Text("\n".join([f"{words['columns']}:", *columns]))]

    return Group(*parts)


def check_json(report: HealthReport) -> dict[str, Any]:
    """``kpi check --format json``: the period, overall health, each source."""
    return {
        "version": JSON_VERSION,
        "project": report.project,
        "period": period_json(report.period),
        "healthy": report.healthy,
        "sources": [source_json(s) for s in report.sources],
    }


def sources_json(project: str, infos: list[SourceInfo]) -> dict[str, Any]:
    """``kpi sources --format json``: each source's files, columns and range."""
    return {
        "version": JSON_VERSION,
        "project": project,
        "sources": [
            {
                "name": info.name,
                "rows": info.rows,
                "time_column": info.time_column,
                "first": _iso(info.first),
                "last": _iso(info.last),
                "columns": [{"name": n, "type": t} for n, t in info.columns],
                "files": [file_json(f) for f in info.files],
                "warnings": list(info.warnings),
            }
            for info in infos
        ],
    }


def _count(value: int | None) -> str:
    return _DASH if value is None else f"{value:,}"


def _share(value: float | None) -> str:
    return _DASH if value is None else f"{json_number(value):.1%}"


def _time(value: Any) -> str:
    if value is None:
        return _DASH
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")

    return str(value)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def _delimiter(value: str | None) -> str:
    if value is None:
        return _DASH

    return {"\t": "tab", " ": "space"}.get(value, value)
