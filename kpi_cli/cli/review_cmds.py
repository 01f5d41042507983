"""Commands that compute reviews: ``kpi review`` and ``kpi sql``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kpi_cli.cli.app import (
    AsOfOpt,
    DataOpt,
    EmailToOpt,
    FailOnOpt,
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
    fail_on: FailOnOpt = None,
    email_to: EmailToOpt = None,
    no_history: Annotated[
        bool,
        typer.Option("--no-history", help="Do not record this review in history."),
    ] = False,
) -> None:
    """Review every KPI for a period against its targets."""
    from kpi_cli import history
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period, run_review
    from kpi_cli.schedule import check_fail_on

    loaded = load_project(project, data_dir=data)
    # Mail settings are checked before the work, not discovered wrong after it.
    smtp = _smtp_for(loaded, email_to) if email_to else None
    chosen = choose_period(loaded, period, as_of=parse_date(as_of, "--as-of"))
    result = run_review(
        loaded, chosen, kpi_ids=kpi, language=lang.value if lang else None
    )
    if not no_history:
        result = history.annotate(loaded.history_path, result)
    written = emit(result, fmt, loaded, out)
    if written is not None:
        log.info("wrote %s", written)
    if not no_history:
        history.record_review(loaded.history_path, result)
    if smtp is not None:
        from kpi_cli.deliver import deliver_review

        deliver_review(result, smtp, email_to, template_dirs=loaded.template_dirs)
    check_fail_on(result, fail_on.value if fail_on else None)


def _smtp_for(project: Any, recipients: list[str]) -> Any:
    from kpi_cli.deliver import check_addresses, smtp_settings

    check_addresses(recipients)

    return smtp_settings(project.settings.email)


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
