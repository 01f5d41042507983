"""Commands that explain: ``kpi explain`` (why a KPI changed) and
``kpi segments`` (member segments and how members moved)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from kpi_cli.cli.app import (
    AsOfOpt,
    DataOpt,
    LangOpt,
    PeriodOpt,
    ProjectOpt,
    app,
    parse_date,
    stdout_console,
)


class TextFormat(StrEnum):
    table = "table"
    json = "json"
    md = "md"


class Against(StrEnum):
    previous = "previous"
    year_ago = "year_ago"
    target = "target"


TextFormatOpt = Annotated[
    TextFormat, typer.Option("--format", "-f", help="Output format.")
]


def _print(renderable: Any) -> None:

    stdout_console().print(renderable)


@app.command()
def explain(
    kpi_id: Annotated[str, typer.Argument(metavar="KPI", help="KPI id.")],
    project: ProjectOpt = None,
    data: DataOpt = None,
    period: PeriodOpt = None,
    as_of: AsOfOpt = None,
    against: Annotated[
        Against, typer.Option("--against", help="What the period is compared with.")
    ] = Against.previous,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Column to split by (default: the KPI's dimension).",
            show_default=False,
        ),
    ] = None,
    fmt: TextFormatOpt = TextFormat.table,
    lang: LangOpt = None,
) -> None:
    """Split a KPI's change into the contributions of each value of a dimension."""
    import json

    from kpi_cli.explain import run_explain
    from kpi_cli.project import load_project
    from kpi_cli.render_insights import (
        explanation_json,
        explanation_markdown,
        explanation_table,
    )
    from kpi_cli.review import choose_period, select_kpis

    loaded = load_project(project, data_dir=data)
    chosen = choose_period(loaded, period, as_of=parse_date(as_of, "--as-of"))
    result = run_explain(loaded, chosen, kpi_id, against=against.value, dimension=by)
    (kpi,) = select_kpis(loaded, [kpi_id])
    language = lang.value if lang else loaded.settings.project.language
    currency = loaded.settings.project.currency
    if fmt is TextFormat.json:
        text = json.dumps(explanation_json(result, kpi), ensure_ascii=False, indent=2)
        typer.echo(text)
    elif fmt is TextFormat.md:
        typer.echo(explanation_markdown(result, kpi, language, currency), nl=False)
    else:
        _print(explanation_table(result, kpi, language, currency))


@app.command()
def segments(
    project: ProjectOpt = None,
    data: DataOpt = None,
    period: PeriodOpt = None,
    as_of: AsOfOpt = None,
    fmt: TextFormatOpt = TextFormat.table,
    lang: LangOpt = None,
) -> None:
    """Member segments (high value / regular / dormant) and how members moved."""
    import json

    from kpi_cli.project import load_project
    from kpi_cli.render_insights import (
        segments_json,
        segments_markdown,
        segments_renderable,
    )
    from kpi_cli.review import choose_period
    from kpi_cli.segments import run_segments

    loaded = load_project(project, data_dir=data)
    chosen = choose_period(loaded, period, as_of=parse_date(as_of, "--as-of"))
    report = run_segments(loaded, chosen)
    language = lang.value if lang else loaded.settings.project.language
    currency = loaded.settings.project.currency
    if fmt is TextFormat.json:
        typer.echo(json.dumps(segments_json(report), ensure_ascii=False, indent=2))
    elif fmt is TextFormat.md:
        typer.echo(segments_markdown(report, language, currency), nl=False)
    else:
        _print(segments_renderable(report, language, currency))
