"""SQL models: ``queries/*.sql`` files registered as DuckDB views.

Each file holds one ``SELECT``; the view is named after the file. A model may
read sources and other models; the order is resolved from the names the SQL
mentions. Only the models a review needs are registered, so a built-in model
over a source this project lacks does no harm until something uses it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kpi_cli.errors import ConfigError, QueryError

log = logging.getLogger(__name__)

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'")
_WORD = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*)')


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    sql: str
    builtin: bool = False


def discover(
    query_dirs: tuple[Path, ...], sources: set[str] | frozenset[str] = frozenset()
) -> dict[str, Model]:
    """All models by name; a file in an earlier folder hides one of the same name.

    The last folder holds the built-in models; a source of the project hides a
    built-in model of the same name (the project's declaration wins).
    """
    models: dict[str, Model] = {}
    for position, folder in enumerate(query_dirs):
        builtin = position == len(query_dirs) - 1
        if builtin and len(query_dirs) > 1 and folder == query_dirs[0]:
            continue
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.sql")):
            if path.stem in models or builtin and path.stem in sources:
                continue
            sql = path.read_text(encoding="utf-8").strip().rstrip(";").strip()
            models[path.stem] = Model(path.stem, path, sql, builtin)

    return models


def referenced_names(sql: str) -> set[str]:
    """Identifiers a query mentions, outside comments and string literals."""
    text = _STRING.sub("''", _COMMENT.sub(" ", sql))
    names = set()
    for quoted, bare in _WORD.findall(text):
        names.add(quoted.replace('""', '"') if quoted else bare)

    return names


def dependencies(model: Model, models: dict[str, Model]) -> set[str]:
    """Names of other models this model reads."""
    return {name for name in referenced_names(model.sql) if name in models} - {
        model.name
    }


def register(
    con: duckdb.DuckDBPyConnection,
    wanted: set[str],
    models: dict[str, Model],
    sources: set[str],
) -> list[str]:
    """Create views for ``wanted`` models and what they depend on, in order.

    Returns the registered model names in creation order.

    Raises:
        ConfigError: a wanted name is neither a model nor a source, or models
            depend on each other in a cycle.
        QueryError: a model's SQL does not compile.
    """
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in sources and name not in models:
            return
        if name not in models:
            known = ", ".join(sorted(set(models) | sources)) or "none"
            raise ConfigError(f"unknown model {name!r}; models and sources: {known}")
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ConfigError(f"models depend on each other in a cycle: {cycle}")
        visiting.append(name)
        for dep in sorted(dependencies(models[name], models)):
            visit(dep)
        visiting.pop()
        _create_view(con, models[name])
        order.append(name)

    for name in sorted(wanted):
        visit(name)

    return order


def _create_view(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    log.debug("registering model %s from %s", model.name, model.path)
    try:
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{model.name}" AS {model.sql}')
        # Binding catches unknown columns and tables now, naming this file.
        con.execute(f'SELECT * FROM "{model.name}" LIMIT 0')
    except duckdb.Error as e:
        raise QueryError(f"{model.path}: {duckdb_message(e)}") from e


def duckdb_message(error: Exception) -> str:
    """DuckDB's message without the blank lines and the repeated SQL text."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # The SQL excerpt and its caret marker mean nothing without the SQL shown.
    kept = [
        line
        for line in lines
        if not line.startswith("LINE ") and line.strip("^ ") != ""
    ][:3]

    return " ".join(kept) if kept else type(error).__name__
