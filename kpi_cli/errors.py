"""The exception family raised by the library.

Every error the user can cause maps to one class here, and each class carries
the process exit code the CLI uses for it. The CLI prints ``str(error)``;
messages therefore say what went wrong, where, and what to try next.
"""

from __future__ import annotations

# Exit codes, documented in the README and in ``kpi --help``.
EXIT_OK = 0
EXIT_FAILED = 1  # the run completed but --fail-on matched, or a check failed
EXIT_USAGE = 2  # bad command line, project file or project SQL
EXIT_DATA = 3  # an export could not be read or parsed
EXIT_DELIVERY = 4  # the report was written but could not be delivered
EXIT_LOCKED = 5  # another run holds the project's history lock
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C / SIGINT, as shells report it


class KpiError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = EXIT_FAILED
    title = "Error"


class UsageError(KpiError):
    """A command-line argument is invalid."""

    exit_code = EXIT_USAGE
    title = "Usage error"


class ConfigError(KpiError):
    """The project file is missing or does not validate."""

    exit_code = EXIT_USAGE
    title = "Project error"


class PeriodError(UsageError):
    """A period could not be parsed or is out of range."""

    title = "Period error"


class QueryError(KpiError):
    """A model, measure or filter does not compile or fails to run."""

    exit_code = EXIT_USAGE
    title = "Query error"


class DataError(KpiError):
    """An export file is missing, unreadable, or holds a value that cannot be parsed."""

    exit_code = EXIT_DATA
    title = "Data error"


class TemplateError(KpiError):
    """A report template is missing or fails to render."""

    exit_code = EXIT_USAGE
    title = "Template error"


class OutputError(KpiError):
    """A report or history file cannot be written where it was asked for."""

    exit_code = EXIT_FAILED
    title = "Output error"


class DeliveryError(KpiError):
    """A report could not be sent."""

    exit_code = EXIT_DELIVERY
    title = "Delivery error"


class LockedError(KpiError):
    """Another run is writing the project's history."""

    exit_code = EXIT_LOCKED
    title = "Busy"
