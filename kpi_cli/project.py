"""A project: its settings, folders, and the SQL models it can use.

A project folder holds ``kpi.toml``, optional ``queries/`` and
``report_templates/`` that override the built-in ones file by file, and the
export files (under ``data_dir``, or wherever ``--data`` points).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kpi_cli.config import Settings, find_project_file, load_settings
from kpi_cli.errors import ConfigError
from kpi_cli.resources import builtin_dir

PROJECT_ENV = "KPI_PROJECT"


@dataclass(frozen=True)
class Project:
    """A loaded, validated project."""

    settings: Settings
    file: Path
    root: Path
    data_dir: Path

    @property
    def name(self) -> str:
        return self.settings.project.name

    @property
    def query_dirs(self) -> tuple[Path, ...]:
        """Model folders, the project's own first."""
        return (self.root / "queries", builtin_dir("queries"))

    @property
    def template_dirs(self) -> tuple[Path, ...]:
        """The project's own report templates (built-ins are added by the renderer)."""
        own = self.root / "report_templates"
        return (own,) if own.is_dir() else ()

    @property
    def state_dir(self) -> Path:
        """Project-local folder for caches and history."""
        return self.root / ".kpi"

    @property
    def history_path(self) -> Path:
        return (self.root / self.settings.project.history).resolve()


def resolve_project_dir(project: Path | None) -> Path:
    """The project folder: the argument, else $KPI_PROJECT, else the working folder."""
    if project is not None:
        return project
    env = os.environ.get(PROJECT_ENV)

    return Path(env) if env else Path.cwd()


def load_project(
    project: Path | None = None, *, data_dir: Path | None = None
) -> Project:
    """Load and validate the project in ``project`` (see ``resolve_project_dir``).

    Raises:
        ConfigError: the project file is missing or invalid, or the data folder
            does not exist.
    """
    file = find_project_file(resolve_project_dir(project)).resolve()
    settings = load_settings(file)
    root = file.parent
    data = (data_dir or root / settings.project.data_dir).resolve()
    if not data.is_dir():
        origin = "--data" if data_dir else f"{file.name}: project.data_dir"
        raise ConfigError(f"{origin}: data folder {data} does not exist")

    return Project(settings=settings, file=file, root=root, data_dir=data)
