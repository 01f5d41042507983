"""Commands that create things: ``kpi init``, ``kpi demo`` and ``kpi sample``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpi_cli.cli.app import (
    FormatOpt,
    LangOpt,
    OutOpt,
    OutputFormat,
    app,
    emit,
    parse_date,
)


@app.command()
def demo(
    fmt: FormatOpt = OutputFormat.table,
    out: OutOpt = None,
    lang: LangOpt = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the HTML report here (default: kpi-demo-report.html).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Review the last week of the bundled sample shop (no project needed)."""
    from kpi_cli.atomic import write_atomic
    from kpi_cli.render_html import render_html
    from kpi_cli.scaffold import demo_review

    result = demo_review(lang.value if lang else "zh")
    emit(result, fmt, None, out)
    report = html or Path("kpi-demo-report.html")
    write_atomic(report, render_html(result))
    typer.echo(f"HTML report: {report.resolve()}", err=True)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    name: Annotated[
        str | None, typer.Option(help="Project name.", show_default=False)
    ] = None,
    lang: LangOpt = None,
    force: Annotated[bool, typer.Option(help="Write into a non-empty folder.")] = False,
) -> None:
    """Create a ready-to-run project: kpi.toml, the KPI pack and sample exports."""
    from kpi_cli.scaffold import create_project

    project = create_project(
        directory, name=name, language=lang.value if lang else "zh", force=force
    )
    typer.echo(f"Created {project.file}. Next: kpi review --project {directory}")


@app.command()
def sample(
    directory: Annotated[Path, typer.Argument(help="Folder to write the exports to.")],
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 730,
    scale: Annotated[
        float, typer.Option(min=0.01, help="Order volume multiplier.")
    ] = 1.0,
    end: Annotated[
        str | None, typer.Option(help="Last day (YYYY-MM-DD).", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Write synthetic exports of the sample shop (deterministic, any size)."""
    from kpi_cli.sample import SAMPLE_END, generate

    last = parse_date(end, "--end") or SAMPLE_END
    files = generate(directory, end=last, days=days, scale=scale, seed=seed)
    for name, path in files.items():
        typer.echo(f"{name}: {path}")
