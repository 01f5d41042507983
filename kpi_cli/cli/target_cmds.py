"""Commands about targets: ``kpi lint`` and ``kpi scorecard``."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from kpi_cli.cli.app import (
    AsOfOpt,
    LangOpt,
    PeriodOpt,
    ProjectOpt,
    app,
    parse_date,
    stdout_console,
)


class LintFormat(StrEnum):
    table = "table"
    json = "json"


class ScorecardFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


@app.command()
def lint(
    project: ProjectOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on warnings too.")
    ] = False,
    fmt: Annotated[
        LintFormat, typer.Option("--format", "-f", help="Output format.")
    ] = LintFormat.table,
    history: Annotated[
        int | None,
        typer.Option(
            "--history",
            min=2,
            help="Periods of history per KPI (default: 91 days, 52 weeks, "
            "24 months, 8 quarters, 5 years).",
            show_default=False,
        ),
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Check the project's definitions and grade each KPI's SMART-ness.

    Exit 0 when every check passes, 1 when one fails (or warns, with
    --strict), 2 when the project file is invalid.
    """

    from kpi_cli.lint import lint_json, lint_project, lint_renderable
    from kpi_cli.project import load_project

    loaded = load_project(project)
    language = lang.value if lang else loaded.settings.project.language
    report = lint_project(loaded, history=history)
    if fmt is LintFormat.json:
        data = lint_json(report, language)
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
    else:
        stdout_console().print(lint_renderable(report, language))
    raise typer.Exit(report.exit_code(strict))


@app.command()
def scorecard(
    project: ProjectOpt = None,
    period: PeriodOpt = None,
    as_of: AsOfOpt = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner", help="Only this owner (team or person).", show_default=False
        ),
    ] = None,
    fmt: Annotated[
        ScorecardFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ScorecardFormat.table,
    lang: LangOpt = None,
) -> None:
    """Weighted, capped attainment of each owner's KPIs for a period."""

    from kpi_cli import scorecard as cards
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period

    loaded = load_project(project)
    chosen = choose_period(loaded, period, as_of=parse_date(as_of, "--as-of"))
    card = cards.scorecard(
        loaded, chosen, owner=owner, language=lang.value if lang else None
    )
    currency = loaded.settings.project.currency
    if fmt is ScorecardFormat.table:
        stdout_console().print(cards.scorecard_renderable(card, currency))
    elif fmt is ScorecardFormat.json:
        sys.stdout.write(cards.render_json(card))
    elif fmt is ScorecardFormat.csv:
        sys.stdout.write(cards.render_csv(card))
    else:
        sys.stdout.write(cards.render_markdown(card, currency))
