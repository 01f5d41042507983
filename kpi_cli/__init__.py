"""kpi: weekly KPI reviews for e-commerce merchants.

The package is a library first: ``kpi_cli.project.load_project`` reads a
project, ``kpi_cli.review.run_review`` computes a review, and the ``render_*``
modules turn a review into text. ``kpi_cli.cli`` is a thin Typer layer on top.
"""

__version__ = "0.1.0"
