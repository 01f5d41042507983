"""Where the built-in queries, report templates and sample data live.

In a wheel they are package data under ``kpi_cli/_builtin``; in a source
checkout (and an editable install) they are the top-level folders of the
repository. Both layouts are supported so tests run against the checkout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    """Return the folder of built-in ``queries``, ``report_templates`` or ``sample_data``."""
    packaged = _PACKAGE / "_builtin" / name
    if packaged.is_dir():
        return packaged

    return _PACKAGE.parent / name
