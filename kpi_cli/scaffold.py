"""``kpi init``: write a ready-to-run project from the built-in KPI pack.

The project gets ``kpi.toml`` (the pack's KPIs over the sample shop's
exports), a copy of the built-in models in ``queries/`` to edit, and the
sample exports in ``data/``. It is assembled in a temporary folder beside
the target and moved into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_cli.errors import UsageError
from kpi_cli.project import Project, load_project
from kpi_cli.resources import builtin_dir
from kpi_cli.sample import SAMPLE_END

if TYPE_CHECKING:
    from kpi_cli.review_model import Review

__all__ = ["DEMO_NAMES", "SAMPLE_END", "create_project", "demo_review"]

DEMO_NAMES = {"zh": "示例店铺", "en": "Sample shop"}

PACK_FILE = "pack.toml"


def pack_text(name: str, language: str) -> str:
    """The project file of the built-in pack, for a project called ``name``."""
    template = (builtin_dir("queries") / PACK_FILE).read_text(encoding="utf-8")
    safe_name = name.replace("\\", "\\\\").replace('"', '\\"')

    return template.replace("__NAME__", safe_name).replace("__LANGUAGE__", language)


def create_project(
    directory: Path,
    *,
    name: str | None = None,
    language: str = "zh",
    force: bool = False,
) -> Project:
    """Write the project and return it loaded.

    Raises:
        UsageError: ``directory`` exists and is not empty (unless ``force``).
    """
    target = directory.resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise UsageError(
            f"{directory} is not empty; choose a new folder or pass --force"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kpi-init-", dir=target.parent))
    # mkdtemp makes the folder private (0700); a project gets the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        _fill(staging, name or target.name, language)
        if target.exists():
            for item in staging.iterdir():
                destination = target / item.name
                if destination.is_dir():
                    shutil.rmtree(destination)
                os.replace(item, destination)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    return load_project(target)


def _fill(folder: Path, name: str, language: str) -> None:
    (folder / "kpi.toml").write_text(pack_text(name, language), encoding="utf-8")
    queries = folder / "queries"
    queries.mkdir()
    for sql in sorted(builtin_dir("queries").glob("*.sql")):
        shutil.copy2(sql, queries / sql.name)
    data = folder / "data"
    data.mkdir()
    for export in sorted(builtin_dir("sample_data").glob("*.csv")):
        shutil.copy2(export, data / export.name)


def demo_review(language: str = "zh") -> Review:
    """The weekly review of the sample shop's last complete week.

    The project lives in a temporary folder for the length of the call.
    """
    from kpi_cli.review import choose_period, run_review

    with tempfile.TemporaryDirectory(prefix="kpi-demo-") as folder:
        project = create_project(
            Path(folder) / "sample-shop",
            name=DEMO_NAMES.get(language, DEMO_NAMES["en"]),
            language=language,
        )
        # The sample ends on a Sunday: review the week that ends there.
        period = choose_period(project, None, today=SAMPLE_END + dt.timedelta(days=1))

        return run_review(project, period)
