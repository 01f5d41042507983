"""Commands about the exports themselves: ``kpi check`` and ``kpi sources``."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from kpi_cli.cli.app import DataOpt, PeriodOpt, ProjectOpt, app, stdout_console


class DataFormat(StrEnum):
    table = "table"
    json = "json"


DataFormatOpt = Annotated[
    DataFormat, typer.Option("--format", "-f", help="Output format.")
]


@app.command()
def check(
    project: ProjectOpt = None,
    data: DataOpt = None,
    period: PeriodOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
) -> None:
    """Load the exports and report their health for a period; no KPI is computed.

    Exit 0 when every source is healthy, 1 when any has an issue (empty days,
    repeated or missing keys, rows without a time, a volume drop, data ending
    early, an empty file), 3 when an export cannot be read.
    """
    from kpi_cli.health import check_project
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period

    loaded = load_project(project, data_dir=data)
    report = check_project(loaded, choose_period(loaded, period))
    if fmt is DataFormat.json:
        from kpi_cli.render_health import check_json

        typer.echo(json.dumps(check_json(report), ensure_ascii=False, indent=2))
    else:
        from kpi_cli.render_health import check_renderable

        language = loaded.settings.project.language
        stdout_console().print(check_renderable(report, language))
    report.raise_if_unhealthy()


@app.command()
def sources(
    project: ProjectOpt = None,
    data: DataOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
) -> None:
    """List each source: its files, detected encoding and delimiter, typed
    columns, row count and time range."""
    from kpi_cli.health import describe_sources
    from kpi_cli.project import load_project

    loaded = load_project(project, data_dir=data)
    infos = describe_sources(loaded)
    if fmt is DataFormat.json:
        from kpi_cli.render_health import sources_json

        payload = sources_json(loaded.name, infos)
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        from kpi_cli.render_health import sources_renderable

        language = loaded.settings.project.language
        stdout_console().print(sources_renderable(infos, language))
