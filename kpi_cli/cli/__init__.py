"""The ``kpi`` command line: thin Typer commands over the library.

``app`` holds the application, its error handling and shared options; each
command group lives in a module of its own, registered here by import.
"""

from kpi_cli.cli import (  # noqa: F401  (registers commands)
    data_cmds,
    explain_cmds,
    history_cmds,
    project_cmds,
    review_cmds,
    target_cmds,
)
from kpi_cli.cli.app import app, main

__all__ = ["app", "main"]
