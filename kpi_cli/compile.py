"""Turn KPI definitions into grouped DuckDB queries and run them.

KPIs that share a model, time column and filter are computed together in ONE
query that covers every period the review needs (the period, its
comparisons and the trend) and every breakdown (GROUPING SETS). Rows join the
periods by a range join, so overlapping periods (a partial week and the full
week before it) still come from a single scan of the model.

Inside a measure or filter the columns ``period_start`` and ``period_end``
(local timestamps, end exclusive) hold the bounds of the period being
computed, so "customers whose first order was before this period" is
``count(DISTINCT customer_id) FILTER (WHERE first_order_at < period_start)``.
Model columns of those two names are therefore shadowed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from kpi_cli.config import KpiSettings
from kpi_cli.errors import ConfigError, DataError, QueryError
from kpi_cli.models import duckdb_message
from kpi_cli.periods import Period

log = logging.getLogger(__name__)

# (period index, dimension or None for the total, dimension value) -> {kpi id: value}
Results = dict[tuple[int, str | None, Any], dict[str, Any]]
# A placeholder period, so one KPI's query can be bound alone to find errors.
_ANY_PERIOD = (Period("day", dt.date(2000, 1, 1), dt.date(2000, 1, 1)),)
# Results key of each measure's value over no rows at all (count -> 0, sum -> NULL).
EMPTY = (-1, None, None)


@dataclass(frozen=True)
class Query:
    """One grouped query: several KPIs over one model, all periods at once."""

    model: str
    time_column: str
    filter: str | None
    kpis: tuple[KpiSettings, ...]
    dimensions: tuple[str, ...]
    sql: str
    params: tuple[Any, ...]
    empty_sql: str = ""


def quote(name: str) -> str:
    """A SQL identifier, quoted (headers may be Chinese or hold spaces)."""
    return '"' + name.replace('"', '""') + '"'


def plan(
    kpis: Sequence[KpiSettings],
    periods: Sequence[Period],
    time_columns: dict[str, str],
) -> list[Query]:
    """Group KPIs into queries.

    ``time_columns`` gives the default time column of each model or source.

    Raises:
        ConfigError: a KPI has no time column to place rows in periods.
    """
    groups: dict[tuple[str, str, str | None], list[KpiSettings]] = {}
    for kpi in kpis:
        column = kpi.time_column or time_columns.get(kpi.model)
        if not column:
            raise ConfigError(
                f"kpis[{kpi.id}].time_column: required, because {kpi.model!r} has "
                "no time_column of its own (set one on the KPI or its source)"
            )
        groups.setdefault((kpi.model, column, kpi.filter), []).append(kpi)

    return [
        build(model, column, where, tuple(members), periods)
        for (model, column, where), members in groups.items()
    ]


def build(
    model: str,
    time_column: str,
    where: str | None,
    kpis: tuple[KpiSettings, ...],
    periods: Sequence[Period],
) -> Query:
    """The SQL of one grouped query (see the module docstring)."""
    dimensions = tuple(dict.fromkeys(k.dimension for k in kpis if k.dimension))
    values = ", ".join("(?, ?::TIMESTAMP, ?::TIMESTAMP)" for _ in periods)
    params: list[Any] = []
    for index, period in enumerate(periods):
        params += [index, period.start_ts(), period.end_ts()]

    sets = ["(__pid)"] + [f"(__pid, {quote(d)})" for d in dimensions]
    grouping = ", ".join(
        f"GROUPING({quote(d)}) AS {quote('__g_' + d)}" for d in dimensions
    )
    keys = ", ".join(f"{quote(d)}::VARCHAR AS {quote('__k_' + d)}" for d in dimensions)
    measures = ",\n       ".join(f"({k.measure}) AS {quote(k.id)}" for k in kpis)
    select_dims = "".join(f"{grouping}, {keys}, " if dimensions else "")
    condition = f"\n  WHERE ({where})" if where else ""
    sql = (
        f"WITH __periods(__pid, period_start, period_end) AS (VALUES {values}),\n"
        "__rows AS (\n"
        f"  SELECT __p.__pid, __p.period_start, __p.period_end, __m.*\n"
        f"  FROM {quote(model)} AS __m\n"
        f"  JOIN __periods AS __p\n"
        f"    ON __m.{quote(time_column)} >= __p.period_start\n"
        f"   AND __m.{quote(time_column)} < __p.period_end{condition}\n"
        ")\n"
        f"SELECT __pid, {select_dims}\n       {measures}\n"
        "FROM __rows\n"
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    )

    # What each measure gives over no rows: a period or channel without rows
    # gets that value (0 for counts) where the data covers the period.
    empty_sql = (
        f"SELECT {measures}\n"
        "FROM (SELECT NULL::TIMESTAMP AS period_start, NULL::TIMESTAMP AS "
        f"period_end, __m.* FROM {quote(model)} AS __m WHERE false)"
    )

    return Query(
        model, time_column, where, kpis, dimensions, sql, tuple(params), empty_sql
    )


def execute(con: duckdb.DuckDBPyConnection, query: Query) -> Results:
    """Run a query and index its rows by period, dimension and key.

    Raises:
        QueryError: the SQL does not compile (a measure, filter or column is wrong).
        DataError: the data cannot be converted while running.
    """
    started = time.perf_counter()
    try:
        cursor = con.execute(query.sql, list(query.params))
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        empty = con.execute(query.empty_sql).fetchone() or ()
    except (duckdb.ConversionException, duckdb.InvalidInputException) as e:
        raise DataError(f"model {query.model!r}: {duckdb_message(e)}") from e
    except duckdb.Error as e:
        raise QueryError(_explain_failure(con, query, e)) from e
    _check_numeric(query, names, rows)
    log.info(
        "computed %d KPI(s) over %s in %.3fs",
        len([k for k in query.kpis if not k.id.startswith("__")]),
        query.model,
        time.perf_counter() - started,
    )

    results: Results = {
        EMPTY: dict(zip((k.id for k in query.kpis), empty, strict=True))
    }
    for row in rows:
        record = dict(zip(names, row, strict=True))
        dimension, key = None, None
        for dim in query.dimensions:
            if record[f"__g_{dim}"] == 0:
                dimension, key = dim, record[f"__k_{dim}"]
        values = {k.id: record[k.id] for k in query.kpis}
        results[(record["__pid"], dimension, key)] = values

    return results


def _check_numeric(query: Query, names: list[str], rows: list[tuple]) -> None:
    """A measure must give a number; text or dates would fail later, obscurely."""
    for kpi in query.kpis:
        column = names.index(kpi.id)
        for row in rows:
            value = row[column]
            if value is not None and not isinstance(value, int | float | Decimal):
                raise QueryError(
                    f"{_who(kpi)}: the measure {kpi.measure!r} returns "
                    f"{type(value).__name__} values such as {str(value)[:40]!r}; "
                    "a measure must return a number"
                )


def _who(kpi: KpiSettings) -> str:
    # Helper measures added for explanations are named after the KPI they serve.
    if kpi.id.startswith("__"):
        return f"KPI {kpi.id.rsplit('_', 1)[-1]!r} (its numerator or denominator)"
    return f"KPI {kpi.id!r}"


def _explain_failure(
    con: duckdb.DuckDBPyConnection, query: Query, error: duckdb.Error
) -> str:
    """Name the KPI whose measure, filter or dimension breaks the query."""
    message = duckdb_message(error)
    where = f"model {query.model!r}, time column {query.time_column!r}"
    for kpi in query.kpis:
        alone = build(query.model, query.time_column, query.filter, (kpi,), _ANY_PERIOD)
        try:
            con.execute(f"SELECT * FROM ({alone.sql}) LIMIT 0", list(alone.params))
        except duckdb.Error as own:
            return (
                f"{_who(kpi)} over {where}: {duckdb_message(own)}; check its "
                "measure, filter and dimension (kpi sql KPI shows the query)"
            )
    ids = ", ".join(k.id for k in query.kpis if not k.id.startswith("__"))

    return (
        f"KPI(s) {ids} over {where}: {message}; check the filter and time_column "
        "(kpi sql KPI shows the query)"
    )
