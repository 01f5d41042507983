"""Commands that compute reviews: ``kpi review`` and ``kpi sql``."""

from __future__ import annotations

from typing import Annotated

import typer

from kpi_cli.cli.app import (
    AsOfOpt,
    DataOpt,
    FormatOpt,
    LangOpt,
    OutOpt,
    OutputFormat,
    PeriodOpt,
    ProjectOpt,
    app,
    emit,
    log,
    parse_date,
)


@app.command()
def review(
    project: ProjectOpt = None,
    data: DataOpt = None,
    period: PeriodOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    out: OutOpt = None,
    lang: LangOpt = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi", help="Only these KPI ids (repeatable).", show_default=False
        ),
    ] = None,
) -> None:
    """Review every KPI for a period against its targets."""
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period, run_review

    loaded = load_project(project, data_dir=data)
    chosen = choose_period(loaded, period, as_of=parse_date(as_of, "--as-of"))
    result = run_review(
        loaded, chosen, kpi_ids=kpi, language=lang.value if lang else None
    )
    written = emit(result, fmt, loaded, out)
    if written is not None:
        log.info("wrote %s", written)


@app.command()
def sql(
    kpi_id: Annotated[str, typer.Argument(metavar="KPI", help="KPI id.")],
    project: ProjectOpt = None,
    period: PeriodOpt = None,
) -> None:
    """Print the SQL that computes a KPI, with its bound parameters."""
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period, kpi_sql

    loaded = load_project(project)
    chosen = choose_period(loaded, period)
    typer.echo(kpi_sql(loaded, chosen, kpi_id))
