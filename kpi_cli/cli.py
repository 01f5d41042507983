"""The ``kpi`` command line: thin Typer commands over the library.

Each command parses its options, calls one library function, renders, and
returns. Errors from the library (``KpiError``) are turned into one message on
stderr and the exit code of their class by ``KpiGroup``; tracebacks only with
``--debug``. Heavy modules (DuckDB, PyArrow, Jinja) are imported inside the
commands so ``kpi --help`` stays instant.
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kpi_cli.errors import (
    EXIT_DATA,
    EXIT_DELIVERY,
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    KpiError,
)

EXIT_CODES_HELP = (
    f"Exit codes: {EXIT_OK} success; {EXIT_FAILED} the run failed, or KPIs matched "
    f"--fail-on; {EXIT_USAGE} bad usage, project file or project SQL; {EXIT_DATA} "
    f"data error (an export cannot be read or parsed); {EXIT_DELIVERY} the report "
    f"could not be delivered; {EXIT_LOCKED} another run holds the history lock."
)


class _State:
    debug = False


STATE = _State()
log = logging.getLogger("kpi_cli")


class KpiGroup(TyperGroup):
    """Turns library errors into one stderr line and a documented exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KpiError as error:
            if STATE.debug:
                raise
            _print_error(error.title, str(error))
            raise typer.Exit(error.exit_code) from None
        except Exception as error:  # an unexpected failure: still no locals shown
            if STATE.debug or _is_cli_control(error):
                raise
            _print_error(
                "Internal error",
                f"{type(error).__name__}: {error} (run again with --debug for "
                "the traceback)",
            )
            raise typer.Exit(EXIT_FAILED) from None


def _is_cli_control(error: Exception) -> bool:
    """Usage errors and exits of the CLI framework, which it reports itself."""
    if isinstance(error, typer.Exit | typer.Abort | typer.TyperException):
        return True

    return type(error).__module__.startswith(("typer.", "click."))


def _print_error(title: str, message: str) -> None:
    typer.echo(f"{title}: {message}", err=True)


app = typer.Typer(
    cls=KpiGroup,
    help="Weekly KPI reviews for e-commerce merchants: exports in, KPIs against "
    "SMART targets out, in the terminal, JSON, CSV, Markdown or HTML.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    html = "html"


class Language(str, Enum):
    zh = "zh"
    en = "en"


ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder (default: $KPI_PROJECT, else the current folder).",
        show_default=False,
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Read the exports from this folder instead.", show_default=False),
]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="2026-11-30, 2026-W48, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15 "
        "(default: the last complete period in the project's time zone).",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Data is complete through this date (YYYY-MM-DD); a period not yet "
        "over is reviewed to date and compared with the same elapsed days.",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format.")
]
OutOpt = Annotated[
    str | None,
    typer.Option(
        "--out",
        "-o",
        help="Write to this file instead of stdout; may use {project}, {period}, "
        "{format} and {date}, e.g. reports/{project}-{period}.html.",
        show_default=False,
    ),
]
LangOpt = Annotated[
    Language | None,
    typer.Option("--lang", help="Report language (default: the project's).", show_default=False),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each step to stderr.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    STATE.debug = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    if quiet:
        level = logging.ERROR
    _configure_logging(level)


def _configure_logging(level: int) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    root = logging.getLogger("kpi_cli")
    root.handlers.clear()
    handler = RichHandler(
        console=Console(stderr=True),
        markup=False,
        show_path=False,
        rich_tracebacks=False,
    )
    root.addHandler(handler)
    root.setLevel(level)


def _parse_date(text: str | None, option: str) -> Any:
    import datetime as dt

    from kpi_cli.errors import UsageError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: expected a date YYYY-MM-DD, got {text!r}") from None


def render(review: Any, fmt: OutputFormat, project: Any) -> str | None:
    """Text of a review in a file format; None for the terminal table."""
    if fmt is OutputFormat.json:
        from kpi_cli.render_data import render_json

        return render_json(review)
    if fmt is OutputFormat.csv:
        from kpi_cli.render_data import render_csv

        return render_csv(review)
    if fmt is OutputFormat.md:
        from kpi_cli.render_data import render_markdown

        return render_markdown(review)
    if fmt is OutputFormat.html:
        from kpi_cli.render_html import render_html

        return render_html(review, template_dirs=project.template_dirs)

    return None


def emit(review: Any, fmt: OutputFormat, project: Any, out: str | None) -> Path | None:
    """Print or write a review; returns the file written, if any."""
    from rich.console import Console

    from kpi_cli.atomic import expand_out, write_atomic

    text = render(review, fmt, project)
    if text is None:
        from kpi_cli.render_terminal import review_renderable

        if out is None:
            Console().print(review_renderable(review))
            return None
        console = Console(record=True, width=120, color_system=None, file=_Null())
        console.print(review_renderable(review))
        text = console.export_text()
    if out is None:
        sys.stdout.write(text)
        return None
    path = expand_out(
        out, project=review.project.name, period=review.period.label, fmt=fmt.value
    )
    write_atomic(path, text)

    return path


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


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
        typer.Option("--kpi", help="Only these KPI ids (repeatable).", show_default=False),
    ] = None,
) -> None:
    """Review every KPI for a period against its targets."""
    from kpi_cli.project import load_project
    from kpi_cli.review import choose_period, run_review

    loaded = load_project(project, data_dir=data)
    chosen = choose_period(loaded, period, as_of=_parse_date(as_of, "--as-of"))
    result = run_review(loaded, chosen, kpi_ids=kpi, language=lang.value if lang else None)
    written = emit(result, fmt, loaded, out)
    if written is not None:
        log.info("wrote %s", written)


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
    import tempfile

    from kpi_cli.atomic import write_atomic
    from kpi_cli.render_html import render_html
    from kpi_cli.review import choose_period, run_review
    from kpi_cli.scaffold import SAMPLE_END, create_project

    with tempfile.TemporaryDirectory(prefix="kpi-demo-") as folder:
        project = create_project(Path(folder) / "sample-shop", language=lang.value if lang else "zh")
        period = choose_period(project, None, today=SAMPLE_END)
        result = run_review(project, period)
        emit(result, fmt, project, out)
        report = html or Path("kpi-demo-report.html")
        write_atomic(report, render_html(result))
    typer.echo(f"HTML report: {report.resolve()}", err=True)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    name: Annotated[str | None, typer.Option(help="Project name.", show_default=False)] = None,
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


@app.command()
def sample(
    directory: Annotated[Path, typer.Argument(help="Folder to write the exports to.")],
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 730,
    scale: Annotated[float, typer.Option(min=0.01, help="Order volume multiplier.")] = 1.0,
    end: Annotated[
        str | None, typer.Option(help="Last day (YYYY-MM-DD).", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Write synthetic exports of the sample shop (deterministic, any size)."""
    from kpi_cli.sample import SAMPLE_END, generate

    last = _parse_date(end, "--end") or SAMPLE_END
    files = generate(directory, end=last, days=days, scale=scale, seed=seed)
    for name, path in files.items():
        typer.echo(f"{name}: {path}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="kpi")
