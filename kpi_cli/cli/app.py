"""The Typer application, its error handling and the options commands share.

Each command parses its options, calls one library function, renders, and
returns. Errors from the library (``KpiError``) are turned into one message on
stderr and the exit code of their class by ``KpiGroup``; tracebacks only with
``--debug``. Heavy modules (DuckDB, PyArrow, Jinja) are imported inside the
commands so ``kpi --help`` stays instant.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kpi_cli.errors import (
    EXIT_DATA,
    EXIT_DELIVERY,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    KpiError,
)

EXIT_CODES_HELP = (
    f"Exit codes: {EXIT_OK} success; {EXIT_FAILED} the run failed, KPIs matched "
    f"--fail-on, lint found a failed SMART check or check found a data issue; "
    f"{EXIT_USAGE} bad usage, project file or project SQL; {EXIT_DATA} "
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
        except KeyboardInterrupt:
            _print_error("Interrupted", "stopped before finishing; nothing was written")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:  # an unexpected failure: still no locals shown
            if STATE.debug or _is_cli_control(error):
                raise
            if _is_interrupt(error):
                _print_error(
                    "Interrupted", "stopped before finishing; nothing was written"
                )
                raise typer.Exit(EXIT_INTERRUPTED) from None
            if isinstance(error, OSError):
                where = f" ({error.filename})" if error.filename else ""
                _print_error("Error", f"{error.strerror or error}{where}")
                raise typer.Exit(EXIT_FAILED) from None
            _print_error(
                "Internal error",
                f"{type(error).__name__}: {error} (run again with --debug for "
                "the traceback)",
            )
            raise typer.Exit(EXIT_FAILED) from None


def _is_interrupt(error: Exception) -> bool:
    """DuckDB turns Ctrl-C during a query into its own exception."""
    name = type(error).__name__
    return name == "InterruptException" or (
        isinstance(error, RuntimeError) and "interrupted" in str(error).lower()
    )


def _is_cli_control(error: Exception) -> bool:
    """Usage errors and exits of the CLI framework, which it reports itself."""
    if isinstance(error, typer.Exit | typer.Abort | typer.TyperException):
        return True

    return type(error).__module__.startswith(("typer.", "click."))


def _print_error(title: str, message: str) -> None:
    typer.echo(f"{title}: {message}", err=True)
    _log_error_to_files(title, message)


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


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    html = "html"


class Language(StrEnum):
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
    typer.Option(
        "--data", help="Read the exports from this folder instead.", show_default=False
    ),
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
    typer.Option(
        "--lang", help="Report language (default: the project's).", show_default=False
    ),
]


class FailOn(StrEnum):
    off_track = "off-track"
    at_risk = "at-risk"


FailOnOpt = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 (after writing every output) when any KPI is off track; "
        "at-risk also counts at-risk KPIs.",
        show_default=False,
    ),
]
EmailToOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--email-to",
        help="Email the review to this address (repeatable); SMTP settings from "
        "[email] in kpi.toml or KPI_SMTP_* variables.",
        show_default=False,
    ),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each step to stderr.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors.")
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Append log records with timestamps to this file (INFO and up, "
            "whatever --quiet says); errors are recorded there too.",
            show_default=False,
        ),
    ] = None,
) -> None:
    STATE.debug = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    if quiet:
        level = logging.ERROR
    _configure_logging(level, log_file, debug=debug)
    _configure_progress(quiet)
    log.debug("kpi %s", " ".join(sys.argv[1:]))


def interactive_stderr() -> bool:
    """Whether stderr is a terminal that may show colour and progress bars.

    NO_COLOR (any value) and TERM=dumb turn both off, as does a pipe or a file.
    """
    import os

    if os.environ.get("NO_COLOR") is not None or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _configure_logging(level: int, log_file: Path | None, *, debug: bool) -> None:
    root = logging.getLogger("kpi_cli")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    console: logging.Handler
    if interactive_stderr():
        from rich.console import Console
        from rich.logging import RichHandler

        console = RichHandler(
            console=Console(stderr=True),
            markup=False,
            show_path=False,
            rich_tracebacks=False,
        )
    else:
        # Cron mail and log collectors want one plain line per record.
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.setLevel(level)
    root.addHandler(console)
    root.setLevel(level)
    if log_file is not None:
        from kpi_cli.errors import UsageError

        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        except OSError as e:
            raise UsageError(
                f"--log-file {log_file}: cannot open for appending: {e.strerror}"
            ) from e
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
            )
        )
        handler.setLevel(logging.DEBUG if debug else logging.INFO)
        root.addHandler(handler)
        root.setLevel(min(level, handler.level))


def _configure_progress(quiet: bool) -> None:
    from kpi_cli import progress

    if quiet or not interactive_stderr():
        progress.install(None)
        return
    from rich.console import Console

    progress.install(progress.RichReporter(Console(stderr=True)))


def _log_error_to_files(title: str, message: str) -> None:
    """Errors go to the console by ``_print_error``; log files get them too."""
    for handler in logging.getLogger("kpi_cli").handlers:
        if isinstance(handler, logging.FileHandler):
            record = log.makeRecord(
                log.name, logging.ERROR, __file__, 0, f"{title}: {message}", (), None
            )
            handler.handle(record)


def parse_date(text: str | None, option: str) -> Any:
    import datetime as dt

    from kpi_cli.errors import UsageError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: expected a date YYYY-MM-DD, got {text!r}"
        ) from None


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

        dirs = project.template_dirs if project is not None else ()
        return render_html(review, template_dirs=dirs)

    return None


PIPE_WIDTH = 120


def stdout_console() -> Any:
    """The console for results on stdout.

    Piped or mailed by cron, output keeps a fixed readable width (COLUMNS
    still wins) instead of Rich's 80 columns, which wraps every KPI name.
    """
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ

    return Console(width=PIPE_WIDTH if piped else None)


def emit(review: Any, fmt: OutputFormat, project: Any, out: str | None) -> Path | None:
    """Print or write a review; returns the file written, if any."""
    from rich.console import Console

    from kpi_cli.atomic import expand_out, write_atomic

    text = render(review, fmt, project)
    if text is None:
        from kpi_cli.render_terminal import review_renderable

        if out is None:
            stdout_console().print(review_renderable(review))
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="kpi")
