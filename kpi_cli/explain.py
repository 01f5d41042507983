"""Why did a KPI change? Split the change across the values of a dimension.

The change is ``value - base``, the base being the previous period, the same
period a year ago, or the target. Every split adds up EXACTLY to the change:
the arithmetic runs on exact fractions (money is DECIMAL, counts integers),
and whatever no single value explains is shown as an ``unattributed`` row
rather than dropped.

Additive KPIs (sums, counts): a value's contribution is its own difference,
``v1 - v0``. Against a target it is ``v - t`` with ``t`` the value's target
(``target.by``); per-value targets that do not add up to the total target
leave an ``unallocated_target`` row.

Ratio KPIs ``R = N / D`` (conversion, AOV, repurchase rate): with
``w = d / D`` a value's share of the denominator and ``r = n / d`` its own
rate, ``R = sum(w * r)``. The symmetric midpoint split gives each value

    rate effect  = (w0 + w1) / 2 * (r1 - r0)
    mix effect   = (w1 - w0) * ((r0 + r1) / 2 - (R0 + R1) / 2)
    contribution = rate effect + mix effect

which sums to ``R1 - R0`` exactly, because ``w1 r1 - w0 r0`` equals
``w̄ Δr + r̄ Δw`` and the shares change by zero in total (so subtracting the
mean overall rate moves nothing; it makes growth of an above-average value
count as positive mix, and of an average one as no mix). A value present in
one period only takes the same rate in the other (``r0 = r1``): its rate
effect is zero and its mix effect ``±w (r - R̄)``.

Against a target ``T`` with per-value targets ``t`` (``T`` where unset),
``R - T = sum(w (r - t)) + sum(w (t - T))``: rate effect ``w (r - t)`` is the
value's own miss, mix effect ``w (t - T)`` how its weight in the total pulls
the total target.

Numerator and denominator come from the KPI's ``numerator``/``denominator``
settings, else from a measure of the form ``A / nullif(B, 0)`` or
``avg(X)`` (= ``sum(X) / count(X)``). Distinct counts do not add up across
values (a customer buying in two channels counts once in total), so their
overlap is reported as unattributed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from kpi_cli import compile as compiler
from kpi_cli.config import KpiSettings
from kpi_cli.errors import ConfigError, DataError, UsageError
from kpi_cli.periods import Period
from kpi_cli.review_model import Contribution, Explanation, KpiResult

log = logging.getLogger(__name__)

Against = Literal["previous", "year_ago", "target"]
AGAINST: tuple[str, ...] = ("previous", "year_ago", "target")
# Per-part numerator and denominator, as fractions.
Ratio = tuple[Fraction, Fraction]

_NULLIF = re.compile(r"^nullif\s*\((.*),\s*0\s*\)$", re.IGNORECASE | re.DOTALL)
_AVG = re.compile(r"^avg\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_VALUE, _NUM, _DEN = "__explain_value", "__explain_num", "__explain_den"
TOP = 3  # contributors kept on a review's off-track KPI


def exact(value: Any) -> Fraction | None:
    """A number as an exact fraction (floats by their decimal text)."""
    if value is None:
        return None
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))

    return Fraction(value)


# ---------------------------------------------------------------- the math


def split_difference(
    now: Mapping[Any, Fraction], before: Mapping[Any, Fraction]
) -> dict[Any, Fraction]:
    """Each key's ``now - before``; a key missing on one side counts as zero."""
    keys = set(now) | set(before)

    return {k: now.get(k, Fraction(0)) - before.get(k, Fraction(0)) for k in keys}


def _overall(parts: Mapping[Any, Ratio]) -> Fraction:
    den = sum((d for _, d in parts.values() if d), Fraction(0))
    if den == 0:
        raise DataError("the denominator is zero for every value; nothing to split")

    return sum((n for n, d in parts.values() if d), Fraction(0)) / den


def split_ratio(
    now: Mapping[Any, Ratio], before: Mapping[Any, Ratio]
) -> dict[Any, tuple[Fraction, Fraction]]:
    """``{key: (mix effect, rate effect)}`` of a ratio's change (module docstring).

    Keys whose denominator is zero in both periods are left out; their
    numerators (if any) are not part of the split and show up as unattributed.

    Raises:
        DataError: a period has no denominator at all.
    """
    rate_now, rate_before = _overall(now), _overall(before)
    mean_rate = (rate_now + rate_before) / 2
    den_now = sum((d for _, d in now.values()), Fraction(0))
    den_before = sum((d for _, d in before.values()), Fraction(0))
    effects = {}
    for key in set(now) | set(before):
        n1, d1 = now.get(key, (Fraction(0), Fraction(0)))
        n0, d0 = before.get(key, (Fraction(0), Fraction(0)))
        if d0 == 0 and d1 == 0:
            continue
        r1 = n1 / d1 if d1 else n0 / d0
        r0 = n0 / d0 if d0 else r1
        w1, w0 = d1 / den_now, d0 / den_before
        rate = (w0 + w1) / 2 * (r1 - r0)
        mix = (w1 - w0) * ((r0 + r1) / 2 - mean_rate)
        effects[key] = (mix, rate)

    return effects


def split_ratio_target(
    now: Mapping[Any, Ratio], targets: Mapping[Any, Fraction], total: Fraction
) -> dict[Any, tuple[Fraction, Fraction]]:
    """``{key: (mix effect, rate effect)}`` of a ratio's miss against ``total``.

    ``targets`` holds per-key target rates; a key without one is held to
    ``total``.
    """
    den = sum((d for _, d in now.values()), Fraction(0))
    if den == 0:
        raise DataError("the denominator is zero for every value; nothing to split")
    effects = {}
    for key, (n, d) in now.items():
        if d == 0:
            continue
        weight = d / den
        goal = targets.get(key, total)
        effects[key] = (weight * (goal - total), weight * (n / d - goal))

    return effects


# ------------------------------------------------------- what a KPI splits


def ratio_parts(kpi: KpiSettings) -> tuple[str, str] | None:
    """The numerator and denominator SQL of a ratio KPI, or None.

    Raises:
        ConfigError: only one of ``numerator`` and ``denominator`` is set.
    """
    if (kpi.numerator is None) != (kpi.denominator is None):
        raise ConfigError(
            f"kpis[{kpi.id}]: set both numerator and denominator, or neither"
        )
    if kpi.numerator is not None and kpi.denominator is not None:
        return kpi.numerator, kpi.denominator
    measure = kpi.measure.strip()
    average = _AVG.match(measure)
    if average and _balanced(average.group(1)):
        inner = average.group(1).strip()
        return f"sum({inner})", f"count({inner})"
    slashes = _top_level_slashes(measure)
    if len(slashes) != 1:
        return None
    left, right = measure[: slashes[0]].strip(), measure[slashes[0] + 1 :].strip()
    guarded = _NULLIF.match(right)
    if guarded and _balanced(guarded.group(1)):
        right = guarded.group(1).strip()

    return left, right


def _top_level_slashes(sql: str) -> list[int]:
    """Positions of ``/`` outside parentheses and string literals."""
    depth, quoted, found = 0, False, []
    for i, char in enumerate(sql):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "/" and depth == 0:
            found.append(i)

    return found


def _balanced(sql: str) -> bool:
    depth = 0
    for char in sql:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False

    return depth == 0


def method_of(kpi: KpiSettings) -> Literal["difference", "mix_rate"]:
    """How a KPI's change is split.

    Raises:
        ConfigError: a non-additive KPI that is not a recognisable ratio.
    """
    if kpi.is_additive:
        return "difference"
    if ratio_parts(kpi) is not None:
        return "mix_rate"
    if kpi.unit in ("count", "currency"):
        # A distinct count: differences per value, the overlap unattributed.
        return "difference"
    raise ConfigError(
        f"kpis[{kpi.id}]: cannot split measure {kpi.measure!r} across values; "
        'declare its numerator and denominator (numerator = "...", '
        'denominator = "...") so its change splits into mix and rate effects'
    )


def support_kpis(
    kpi: KpiSettings, dimension: str, *, with_value: bool = True
) -> tuple[KpiSettings, ...]:
    """Synthetic KPIs computing the KPI's value (unless ``with_value`` is
    false), and for ratios its numerator and denominator, by ``dimension``."""
    base = kpi.model_copy(update={"dimension": dimension})
    wanted = (
        [base.model_copy(update={"id": f"{_VALUE}_{kpi.id}"})] if with_value else []
    )
    parts = ratio_parts(kpi) if method_of(kpi) == "mix_rate" else None
    if parts is not None:
        wanted.append(
            base.model_copy(update={"id": f"{_NUM}_{kpi.id}", "measure": parts[0]})
        )
        wanted.append(
            base.model_copy(update={"id": f"{_DEN}_{kpi.id}", "measure": parts[1]})
        )

    return tuple(wanted)


# Looks up a computed value: (period, synthetic id prefix, dimension, key).
Lookup = Callable[[Period, str, str | None, Any], Any]


def build(
    kpi: KpiSettings,
    period: Period,
    dimension: str,
    keys: Sequence[Any],
    lookup: Lookup,
    *,
    against: Against,
    comparison: Period | None,
    targets: Mapping[Any, float] | None = None,
    total_target: float | None = None,
) -> Explanation:
    """Split the KPI's change from computed values (see the module docstring).

    ``keys`` are the dimension's values seen in either period; ``targets`` the
    per-value targets and ``total_target`` the KPI's, when ``against`` is
    ``target``.

    Raises:
        DataError: the KPI has no value in one of the periods.
        UsageError: an additive KPI against a target without per-value targets.
    """
    method = method_of(kpi)
    value = lookup(period, _VALUE, None, None)
    if against == "target":
        base = total_target
    else:
        assert comparison is not None
        base = lookup(comparison, _VALUE, None, None)
    if value is None or base is None:
        missing = (
            period.label
            if value is None
            else (comparison.label if comparison else "the target")
        )
        what = "target" if base is None and against == "target" else "value"
        raise DataError(
            f"KPI {kpi.id}: no {what} for {missing}; nothing to explain "
            "(choose another period or --against)"
        )

    def part(p: Period, prefix: str, key: Any, dim: str | None = dimension) -> Fraction:
        return exact(lookup(p, prefix, dim, key)) or Fraction(0)

    total_change = exact(value) - exact(base)
    if method == "mix_rate":
        # The ratio's own value is a DOUBLE; its exact numerator and
        # denominator make the change exact, so only real overlap remains.
        ratios = [(part(period, _NUM, None, None), part(period, _DEN, None, None))]
        if comparison is not None:
            ratios.append(
                (part(comparison, _NUM, None, None), part(comparison, _DEN, None, None))
            )
        if all(d for _, d in ratios):
            exact_now = ratios[0][0] / ratios[0][1]
            exact_base = ratios[1][0] / ratios[1][1] if comparison else exact(base)
            total_change = exact_now - exact_base

    rows: list[Contribution] = []
    if method == "difference":
        now = {k: part(period, _VALUE, k) for k in keys}
        if against == "target":
            if not targets:
                raise UsageError(
                    f"--against target: KPI {kpi.id} has no per-value targets "
                    f"(target.by) for {dimension}; explain it against previous "
                    "or year_ago, or set them in the project file"
                )
            before = {k: exact(t) for k, t in targets.items()}
        else:
            assert comparison is not None
            before = {k: part(comparison, _VALUE, k) for k in keys}
        for key, diff in split_difference(now, before).items():
            rows.append(
                Contribution(key, diff, now.get(key, Fraction(0)), before.get(key))
            )
        explained = sum((r.contribution for r in rows), Fraction(0))
        if against == "target":
            allocated = sum(before.values(), Fraction(0))
            gap = allocated - exact(base)
            if gap:
                rows.append(_unattributed(gap, "unallocated_target"))
            explained += gap
    else:
        now_parts = {k: (part(period, _NUM, k), part(period, _DEN, k)) for k in keys}
        total_target_exact = exact(base)
        if against == "target":
            goals = {k: exact(t) for k, t in (targets or {}).items()}
            effects = split_ratio_target(now_parts, goals, exact(base))
        else:
            assert comparison is not None
            before_parts = {
                k: (part(comparison, _NUM, k), part(comparison, _DEN, k)) for k in keys
            }
            effects = split_ratio(now_parts, before_parts)
        for key, (mix, rate) in effects.items():
            n, d = now_parts.get(key, (Fraction(0), Fraction(0)))
            if against == "target":
                rate_before = exact(targets.get(key)) if targets else None
                rate_before = total_target_exact if rate_before is None else rate_before
            else:
                n0, d0 = before_parts.get(key, (Fraction(0), Fraction(0)))
                rate_before = n0 / d0 if d0 else None
            rows.append(
                Contribution(
                    key, mix + rate, n / d if d else None, rate_before, mix, rate
                )
            )
        explained = sum((r.contribution for r in rows), Fraction(0))
    rest = total_change - explained
    if rest:
        rows.append(_unattributed(rest, "overlap"))

    ranked = sorted(rows, key=lambda r: (-abs(r.contribution), r.kind, str(r.key)))
    return Explanation(
        kpi_id=kpi.id,
        period=period,
        against=against,
        comparison=comparison,
        dimension=dimension,
        method=method,
        value=value,
        base=base,
        total_change=_out(total_change, kpi),
        contributions=tuple(_finish(r, total_change, kpi) for r in ranked),
    )


def _unattributed(amount: Fraction, reason: str) -> Contribution:
    return Contribution(None, amount, kind="unattributed", reason=reason)


def _out(value: Fraction | None, kpi: KpiSettings) -> Any:
    """An exact fraction as the KPI's number type (Decimal money, else float)."""
    if value is None:
        return None
    if value.denominator == 1 and kpi.unit == "count":
        return int(value)
    if kpi.unit == "currency" and kpi.is_additive:
        # Differences of DECIMAL money are exact decimals.
        return Decimal(value.numerator) / Decimal(value.denominator)

    return float(value)


def _finish(row: Contribution, total: Fraction, kpi: KpiSettings) -> Contribution:
    share = float(row.contribution / total) if total else None
    value_kind = kpi if row.mix_effect is None else _AS_RATE

    return Contribution(
        key=row.key,
        contribution=_out(row.contribution, kpi),
        value=_out(row.value, value_kind),
        base=_out(row.base, value_kind),
        mix_effect=_out(row.mix_effect, kpi),
        rate_effect=_out(row.rate_effect, kpi),
        share=share,
        kind=row.kind,
        reason=row.reason,
    )


_AS_RATE = KpiSettings(id="rate", name="rate", model="-", measure="-", unit="ratio")


# ------------------------------------------------------------- entry points


def comparison_of(period: Period, against: str) -> Period | None:
    """The period compared with, or None against a target.

    Raises:
        UsageError: ``against`` is not one of ``AGAINST``.
    """
    if against == "previous":
        return period.previous()
    if against == "year_ago":
        return period.year_ago()
    if against == "target":
        return None
    raise UsageError(
        f"--against: expected one of {', '.join(AGAINST)}, got {against!r}"
    )


def explain_kpi(
    session: Any,
    period: Period,
    kpi: KpiSettings,
    *,
    against: str = "previous",
    dimension: str | None = None,
) -> Explanation:
    """Compute and split ``kpi``'s change in an open review session.

    Raises:
        UsageError: no dimension to split by, or an unknown column or
            comparison.
        ConfigError: a non-additive KPI without a numerator and denominator.
        DataError, QueryError: see ``compile.execute``.
    """
    from kpi_cli import review

    by = dimension or kpi.dimension
    if by is None:
        raise UsageError(
            f"KPI {kpi.id} has no dimension; pass --by COLUMN to choose one"
        )
    _check_column(session, kpi.model, by)
    comparison = comparison_of(period, against)
    periods = [period] if comparison is None else [period, comparison]
    time_columns = {
        name: info.time_column
        for name, info in session.sources.items()
        if info.time_column
    }
    results: compiler.Results = {}
    for query in compiler.plan(support_kpis(kpi, by), periods, time_columns):
        for key, values in compiler.execute(session.con, query).items():
            results.setdefault(key, {}).update(values)
    index = {(p.start, p.end): i for i, p in enumerate(periods)}

    def lookup(p: Period, prefix: str, dim: str | None, key: Any) -> Any:
        row = results.get((index[(p.start, p.end)], dim, key))
        value = None if row is None else row.get(f"{prefix}_{kpi.id}")
        if value is None and dim is None and prefix == _VALUE:
            value = results.get(compiler.EMPTY, {}).get(f"{prefix}_{kpi.id}")
        return value

    keys = sorted({k for (pid, dim, k) in results if dim == by and pid >= 0}, key=str)
    targets: dict[Any, float] = {}
    total_target = None
    if against == "target":
        evaluated = review.compute(session, period, [kpi])
        result = evaluated.kpis[0]
        total_target = result.target
        if total_target is None:
            raise UsageError(
                f"--against target: KPI {kpi.id} has no target for {period.label}; "
                "explain it against previous or year_ago"
            )
        if by == kpi.dimension and result.breakdown is not None:
            targets = {
                row.key: row.target
                for row in result.breakdown.rows
                if row.target is not None
            }
        keys = sorted(set(keys) | set(targets), key=str)

    return build(
        kpi,
        period,
        by,
        keys,
        lookup,
        against=against,  # type: ignore[arg-type]
        comparison=comparison,
        targets=targets,
        total_target=total_target,
    )


def _check_column(session: Any, model: str, column: str) -> None:
    """Raise UsageError naming the model's columns when ``column`` is not one."""
    rows = session.con.execute(
        f"DESCRIBE SELECT * FROM {compiler.quote(model)}"
    ).fetchall()
    columns = [r[0] for r in rows]
    if column not in columns:
        raise UsageError(
            f"--by {column!r}: model {model!r} has no such column; columns: "
            f"{', '.join(columns)}"
        )


def run_explain(
    project: Any,
    period: Period,
    kpi_id: str,
    *,
    against: str = "previous",
    dimension: str | None = None,
) -> Explanation:
    """Open a session for ``kpi_id``, explain its change, close the session."""
    from kpi_cli.review import open_session, select_kpis

    (kpi,) = select_kpis(project, [kpi_id])
    session = open_session(project, [kpi])
    try:
        return explain_kpi(session, period, kpi, against=against, dimension=dimension)
    finally:
        session.close()


def review_support(kpis: Sequence[KpiSettings]) -> list[KpiSettings]:
    """Numerator and denominator measures of the review's ratio KPIs.

    They join their KPI's grouped query (same model, time column and filter),
    so explaining an off-track KPI in a review costs no extra scan.
    """
    extra: list[KpiSettings] = []
    for kpi in kpis:
        if kpi.dimension is None:
            continue
        try:
            extra += support_kpis(kpi, kpi.dimension, with_value=False)
        except ConfigError:
            continue

    return extra


def attach_all(
    evaluated: Sequence[KpiResult],
    results: compiler.Results,
    index: Mapping[tuple[Any, Any], int],
) -> list[KpiResult]:
    """Each off-track KPI with a breakdown gets its top contributors.

    Against its target when per-value targets exist (or it is a ratio with a
    target), else against the previous period.
    """
    finished = []
    for result in evaluated:
        breakdown = result.breakdown
        if result.status != "off_track" or breakdown is None:
            finished.append(result)
            continue
        kpi = result.kpi

        def lookup(p: Period, prefix: str, dim: str | None, key: Any, kpi=kpi) -> Any:
            name = kpi.id if prefix == _VALUE else f"{prefix}_{kpi.id}"
            row = results.get((index[(p.start, p.end)], dim, key))
            return None if row is None else row.get(name)

        targets = {r.key: r.target for r in breakdown.rows if r.target is not None}
        ratio = method_of_or_none(kpi) == "mix_rate"
        against = "target" if targets or (ratio and result.target) else "previous"
        try:
            explanation = build(
                kpi,
                result.period,
                breakdown.dimension,
                [r.key for r in breakdown.rows],
                lambda p, prefix, dim, key, lookup=lookup, result=result: (
                    result.value
                    if dim is None and prefix == _VALUE and p == result.period
                    else lookup(p, prefix, dim, key)
                ),
                against=against,
                comparison=None if against == "target" else result.period.previous(),
                targets=targets,
                total_target=result.target,
            )
        except (DataError, UsageError, ConfigError) as e:
            log.debug("no explanation for %s: %s", kpi.id, e)
            finished.append(result)
            continue
        top = dataclasses.replace(
            explanation, contributions=explanation.contributions[:TOP]
        )
        finished.append(dataclasses.replace(result, explanation=top))

    return finished


def method_of_or_none(kpi: KpiSettings) -> str | None:
    """``method_of`` without raising."""
    try:
        return method_of(kpi)
    except ConfigError:
        return None
