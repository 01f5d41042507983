"""Unattended runs: the crontab line for a review, and when a run should fail.

``crontab_entry`` builds the lines to paste into a crontab (it never edits
one): absolute paths, shell-quoted arguments, ``%`` escaped (cron turns a bare
``%`` into a newline), and the project's time zone as ``CRON_TZ`` with a
comment, since cron otherwise reads the expression in the system's zone.
``fail_on_matches`` decides ``--fail-on``.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

from kpi_cli.errors import EXIT_FAILED, KpiError, UsageError
from kpi_cli.review_model import KpiResult, Review

# The macros cron understands that have a next run time (@reboot has none).
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight")
MACROS += ("@hourly",)
FAIL_ON = {
    "off-track": ("off_track",),
    "at-risk": ("off_track", "at_risk"),
}


class FailOnMatched(KpiError):
    """The review ran and its outputs were written, but KPIs matched --fail-on."""

    exit_code = EXIT_FAILED
    title = "Failed"


@dataclass(frozen=True)
class CrontabEntry:
    """What ``kpi schedule`` prints: the lines and the next run times."""

    expression: str
    timezone: str
    lines: tuple[str, ...]
    next_runs: tuple[dt.datetime, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def validate_expression(expression: str) -> str:
    """``expression`` normalised to single spaces.

    Raises:
        UsageError: not five cron fields (or a macro such as @daily), or a
            field out of range; the message names the expression.
    """
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise UsageError(
                f"cron expression {expression!r}: unknown macro; use five fields "
                f"or one of {', '.join(MACROS)}"
            )
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        raise UsageError(
            f"cron expression {expression!r} has {len(fields)} field(s); expected "
            "five: minute hour day-of-month month day-of-week, e.g. '0 8 * * MON'"
        )
    if not croniter.is_valid(text):
        raise UsageError(
            f"cron expression {expression!r} is not valid: check each field's "
            "range (minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, "
            "weekday 0-7 or MON-SUN)"
        )

    return text


def next_runs(
    expression: str, timezone: str, start: dt.datetime, count: int = 5
) -> tuple[dt.datetime, ...]:
    """The next ``count`` times ``expression`` fires after ``start``, in ``timezone``.

    Raises:
        UsageError: see ``validate_expression``.
    """
    text = validate_expression(expression)
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone) if start.tzinfo else start.replace(tzinfo=zone)
    it = croniter(text, local)

    return tuple(it.get_next(dt.datetime) for _ in range(count))


def crontab_entry(
    expression: str,
    *,
    executable: Path,
    project_dir: Path,
    project_name: str,
    timezone: str,
    review_args: Sequence[str] = (),
    global_args: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> CrontabEntry:
    """The crontab lines that run ``kpi review`` on ``project_dir``.

    ``global_args`` go before the ``review`` command (``--quiet``,
    ``--log-file``), ``review_args`` after it. Paths should be absolute: cron
    starts in the user's home folder with a minimal environment.

    Raises:
        UsageError: see ``validate_expression``.
    """
    text = validate_expression(expression)
    argv = [
        str(executable),
        *global_args,
        "review",
        "--project",
        str(project_dir),
        *review_args,
    ]
    command = " ".join(_cron_quote(arg) for arg in argv)
    lines = (
        f"# kpi review of {project_name}, written by 'kpi schedule'. Times are "
        f"read in {timezone} where cron honours CRON_TZ (cronie does);",
        "# other crons use the system time zone: convert the hours, or set TZ "
        "for the whole crontab.",
        f"CRON_TZ={timezone}",
        f"{text} {command}",
    )
    start = now or dt.datetime.now(ZoneInfo(timezone))

    return CrontabEntry(
        expression=text,
        timezone=timezone,
        lines=lines,
        next_runs=next_runs(text, timezone, start),
    )


def _cron_quote(arg: str) -> str:
    # cron ends the command at an unescaped % and feeds the rest to stdin.
    return shlex.quote(arg).replace("%", "\\%")


def fail_on_matches(review: Review, level: str) -> tuple[KpiResult, ...]:
    """KPIs whose status meets ``--fail-on level`` (at-risk includes off-track).

    Raises:
        UsageError: an unknown level.
    """
    if level not in FAIL_ON:
        raise UsageError(f"--fail-on {level!r}: expected one of {', '.join(FAIL_ON)}")
    statuses = FAIL_ON[level]

    return tuple(k for k in review.kpis if k.status in statuses)


def check_fail_on(review: Review, level: str | None) -> None:
    """Raise when the review's KPIs match ``level``; nothing for None.

    Raises:
        FailOnMatched: naming the KPIs and their statuses.
    """
    if level is None:
        return
    matched = fail_on_matches(review, level)
    if not matched:
        return
    names = ", ".join(f"{k.id} ({k.status.replace('_', ' ')})" for k in matched)

    raise FailOnMatched(
        f"{len(matched)} KPI(s) matched --fail-on {level} for "
        f"{review.period.label}: {names}"
    )


__all__ = [
    "CrontabEntry",
    "FAIL_ON",
    "FailOnMatched",
    "check_fail_on",
    "crontab_entry",
    "fail_on_matches",
    "next_runs",
    "validate_expression",
]
