"""Shared fixtures: a ready-made sample project and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_cli.scaffold import create_project


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project written by ``kpi init`` (the built-in pack over the sample shop).

    Shared by the session: tests must not modify it; copy it to change it.
    """
    root = tmp_path_factory.mktemp("sample") / "shop"
    create_project(root, name="Sample shop", language="zh")

    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
