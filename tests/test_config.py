"""The project file: validation messages name the file, the KPI and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_cli.config import load_settings
from kpi_cli.errors import ConfigError

HEAD = '[project]\nname = "t"\n'
KPI = '[[kpis]]\nid = "gmv"\nname = "GMV"\nmodel = "orders"\nmeasure = "sum(x)"\n'


def check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "kpi.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)

    return str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + KPI + 'mesure = "sum(y)"\n',
            ["kpis[gmv].mesure", "did you mean 'measure'"],
        ),
        (HEAD + KPI + 'unit = "money"\n', ["kpis[gmv].unit", "'money'"]),
        (HEAD + KPI + 'direction = "up"\n', ["kpis[gmv].direction", "'up'"]),
        (
            HEAD + KPI + "[kpis.target]\nvalue = 10\nwarm = 0.1\n",
            ["kpis[gmv].target.warm", "did you mean 'warn'"],
        ),
        (HEAD + KPI + '[kpis.target]\nvalue = "lots"\n', ["kpis[gmv].target.value"]),
        (
            HEAD + 'timezone = "China/Beijing"\n',
            ["project.timezone", "unknown time zone"],
        ),
        (HEAD + 'week_start = "funday"\n', ["project.week_start", "funday"]),
        ('[project]\ntimezone = "UTC"\n', ["project.name", "required"]),
        (
            HEAD + '[sources.orders]\npth = "x.csv"\n',
            ["sources.orders.pth", "did you mean 'path'"],
        ),
        (
            HEAD + '[[kpis]]\nid = "gmv"\nname = "GMV"\nmodel = "orders"\n',
            ["kpis[gmv].measure", "required"],
        ),
        (HEAD + KPI + KPI, ["declared twice"]),
        (
            HEAD
            + '[[kpis]]\nid = "gross sales"\nname = "x"\nmodel = "m"\nmeasure = "1"\n',
            ["not a valid id"],
        ),
        (HEAD + "[project.extra]\n", ["project.extra", "unknown key"]),
        ("[project\nname = 1", ["invalid TOML"]),
    ],
    ids=[
        "typo-with-suggestion",
        "bad-unit",
        "bad-direction",
        "target-typo",
        "target-type",
        "time-zone",
        "week-start",
        "missing-name",
        "source-typo",
        "missing-measure",
        "duplicate-id",
        "bad-id",
        "unknown-table",
        "not-toml",
    ],
)
def test_errors_name_file_kpi_and_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = check(tmp_path, text)

    assert str(tmp_path / "kpi.toml") in message
    for part in expected:
        assert part in message, message


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        HEAD + KPI + 'name_en = "x"\n'.replace("name_en", "owner"), encoding="utf-8"
    )

    settings = load_settings(path)

    assert settings.kpis[0].owner == "x"
    assert settings.kpis[0].name.get("en") == "GMV"
    assert settings.project.week_start_index == 0
