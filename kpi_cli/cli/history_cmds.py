"""Commands for unattended use: ``kpi history`` and ``kpi schedule``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kpi_cli.cli.app import (
    EmailToOpt,
    FailOnOpt,
    OutputFormat,
    ProjectOpt,
    app,
    stdout_console,
)


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"


class Grain(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


@app.command()
def history(
    kpi_id: Annotated[
        str | None,
        typer.Argument(metavar="[KPI]", help="One KPI id (default: every KPI)."),
    ] = None,
    project: ProjectOpt = None,
    last: Annotated[
        int, typer.Option("--last", "-n", min=1, help="Latest N periods per KPI.")
    ] = 12,
    grain: Annotated[
        Grain | None,
        typer.Option(
            "--grain",
            help="Periods of this grain (default: the project's).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        HistoryFormat, typer.Option("--format", "-f", help="Output format.")
    ] = HistoryFormat.table,
) -> None:
    """Show how each KPI and its target evolved across recorded reviews."""
    import json

    from kpi_cli.history import history_json, load_history
    from kpi_cli.project import load_project
    from kpi_cli.review import select_kpis

    loaded = load_project(project)
    settings = loaded.settings.project
    ids = [k.id for k in select_kpis(loaded, [kpi_id])] if kpi_id else None
    chosen = grain.value if grain else settings.grain
    found = load_history(loaded.history_path, grain=chosen, kpi_ids=ids, last=last)
    order = [k.id for k in loaded.settings.kpis]
    items = sorted(
        found.values(),
        key=lambda h: order.index(h.kpi_id) if h.kpi_id in order else len(order),
    )
    if fmt is HistoryFormat.json:
        typer.echo(json.dumps(history_json(items), ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo(
            f"No {chosen} reviews recorded in {loaded.history_path} yet; "
            "'kpi review' records one each run.",
            err=True,
        )
        return
    _print_history(loaded, items, single=kpi_id is not None)


def _print_history(loaded: object, items: list, *, single: bool) -> None:

    from kpi_cli.render_terminal import history_periods_table, history_table

    settings = loaded.settings  # type: ignore[attr-defined]
    lang, currency = settings.project.language, settings.project.currency
    kpis = {k.id: k for k in settings.kpis}
    console = stdout_console()
    if single:
        item = items[0]
        kpi = kpis.get(item.kpi_id)
        console.print(
            history_periods_table(
                item,
                lang=lang,
                currency=currency,
                title=kpi.title(lang) if kpi else item.kpi_id,
                places=kpi.decimals if kpi else None,
                timezone=settings.project.timezone,
            )
        )
        return
    console.print(
        history_table(
            items,
            lang=lang,
            currency=currency,
            titles={k: v.title(lang) for k, v in kpis.items()},
            decimals={k: v.decimals for k, v in kpis.items()},
        )
    )


@app.command()
def schedule(
    expression: Annotated[
        str,
        typer.Argument(
            metavar="CRON",
            help="Five cron fields, e.g. '0 8 * * MON' (Mondays 08:00), or @daily.",
        ),
    ],
    project: ProjectOpt = None,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Report file template (relative paths are taken from the current "
            "folder and printed absolute).",
        ),
    ] = "reports/{project}-{period}.html",
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutputFormat.html,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Log file for the scheduled runs (default: .kpi/kpi.log in the "
            "project).",
            show_default=False,
        ),
    ] = None,
    fail_on: FailOnOpt = None,
    email_to: EmailToOpt = None,
) -> None:
    """Print the crontab line that runs the review, and the next five run times.

    The crontab itself is not changed: paste the lines with 'crontab -e'.
    """
    from kpi_cli.deliver import check_addresses
    from kpi_cli.project import load_project
    from kpi_cli.schedule import crontab_entry

    loaded = load_project(project)
    check_addresses(email_to or [])
    args = ["--format", fmt.value, "--out", _absolute(out)]
    if fail_on is not None:
        args += ["--fail-on", fail_on.value]
    for address in email_to or []:
        args += ["--email-to", address]
    logs = log_file.absolute() if log_file else loaded.state_dir / "kpi.log"
    timezone = loaded.settings.project.timezone
    entry = crontab_entry(
        expression,
        executable=_kpi_executable(),
        project_dir=loaded.root,
        project_name=loaded.name,
        timezone=timezone,
        review_args=args,
        global_args=["--quiet", "--log-file", str(logs)],
    )
    typer.echo(entry.text, nl=False)
    typer.echo(f"\n# next runs ({timezone}):")
    for when in entry.next_runs:
        typer.echo(f"#   {when.strftime('%Y-%m-%d %H:%M %a')}")


def _absolute(template: str) -> str:
    path = Path(template)
    return template if path.is_absolute() else str(Path.cwd() / path)


def _kpi_executable() -> Path:
    """The ``kpi`` script this process runs as, else the one beside Python."""
    import shutil

    argv0 = Path(sys.argv[0])
    if argv0.name == "kpi" and argv0.is_file():
        return argv0.absolute()
    beside = Path(sys.executable).parent / "kpi"
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("kpi")

    return Path(found).absolute() if found else beside
