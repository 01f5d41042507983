"""Writing output files whole or not at all, and naming them from ``--out``.

A report is often written by cron into a folder a mail job or a web server
reads. Writing into a temporary file beside the target and renaming it over
the target means a reader sees either the previous report or the new one,
never half of one, even if the run is killed mid-write.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import string
import tempfile
import unicodedata
from pathlib import Path

from kpi_cli.errors import OutputError, UsageError

PLACEHOLDERS = ("project", "period", "format", "date")
# Characters that are unsafe or awkward in file names on Windows, macOS or Linux.
_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+')


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8 if a string) to ``path``, replacing it atomically.

    Parent folders are created. The data goes to a temporary file in the same
    folder (a rename is only atomic within one file system), is flushed to
    disk, then renamed over ``path``. On any error the temporary file is
    removed and a previous ``path`` is left untouched.

    Raises:
        OutputError: when the folder or file cannot be written.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        _write(path, data)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise OutputError(
            f"cannot write {path}: {reason}; choose a writable path for the output"
        ) from e


def _write(path: Path, data: bytes) -> None:
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; a report should get the usual mode.
        os.chmod(temp_name, 0o666 & ~_umask())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def expand_out(
    template: str, *, project: str, period: str, fmt: str, today: dt.date | None = None
) -> Path:
    """Expand an ``--out`` template such as ``reports/{project}-{period}.html``.

    Placeholders: ``{project}`` (the project name made safe for a file name,
    CJK characters kept), ``{period}`` (its label, e.g. ``2026-W48``),
    ``{format}`` (``html``, ``json`` ...) and ``{date}`` (today, ISO). ``{{``
    and ``}}`` stand for literal braces.

    Raises:
        UsageError: naming an unknown or malformed placeholder.
    """
    values = {
        "project": slug(project),
        "period": slug(period),
        "format": fmt,
        "date": (today or dt.date.today()).isoformat(),
    }
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as e:
        raise UsageError(
            f"--out {template!r}: {e}; write a literal brace as {{{{ or }}}}"
        ) from e
    parts: list[str] = []
    for literal, name, spec, conversion in fields:
        parts.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            raise UsageError(
                f"--out {template!r}: unknown placeholder {{{name}}}; "
                f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        parts.append(values[name])

    return Path("".join(parts))


def slug(name: str) -> str:
    """A file-name-safe form of ``name``: 杭州旗舰店 2026 → 杭州旗舰店-2026.

    Letters of any script are kept (so Chinese names stay readable); path
    separators, reserved characters and whitespace become single hyphens, and
    leading dots are dropped so the result is never hidden or ``..``.
    """
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("-", text).strip("-.")

    return text or "report"


def _umask() -> int:
    # Reading the umask means setting it; restore it at once.
    mask = os.umask(0)
    os.umask(mask)

    return mask
