"""Sending a review by email: settings, the message, and the SMTP conversation.

The message has a short email-safe HTML body (tables and inline styles only,
since mail clients drop ``<style>`` blocks and SVG), a plain-text
alternative, and the full HTML report attached. Bodies come from
``report_templates/email.html`` and ``email.txt``; a project may override
them in its own ``report_templates/``.

Settings come from the project's ``[email]`` table, each overridden by an
environment variable; the password only from ``KPI_SMTP_PASSWORD``. Server
certificates are checked against the system's CA bundle (``SSL_CERT_FILE``
points OpenSSL at another, e.g. a company CA).
"""

from __future__ import annotations

import email.utils
import logging
import os
import smtplib
import ssl
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from kpi_cli.atomic import slug
from kpi_cli.config import EmailSettings
from kpi_cli.errors import ConfigError, DeliveryError, UsageError
from kpi_cli.formatting import (
    format_pct,
    format_period,
    format_period_name,
    format_value,
    status_label,
    status_symbol,
)
from kpi_cli.resources import builtin_dir
from kpi_cli.review_model import KpiResult, Review

log = logging.getLogger(__name__)

TlsMode = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
SUBJECT_FIELDS = ("project", "period", "period_name", "off_track", "at_risk")
# The subject when [email] sets none, in the review's language; 周报 (weekly
# report) and its kin say the grain the way a Chinese manager's inbox expects.
DEFAULT_SUBJECTS = {
    "zh": "{project} KPI {report} · {period_name}",
    "en": "{project} KPI review · {period_name}",
}
_REPORT_ZH = {
    "day": "日报",
    "week": "周报",
    "month": "月报",
    "quarter": "季报",
    "year": "年报",
}
ENV = {
    "host": "KPI_SMTP_HOST",
    "port": "KPI_SMTP_PORT",
    "tls": "KPI_SMTP_TLS",
    "user": "KPI_SMTP_USER",
    "sender": "KPI_SMTP_FROM",
}
PASSWORD_ENV = "KPI_SMTP_PASSWORD"
TIMEOUT = 30.0
# Inline colours per status: mail clients ignore classes without a <style>.
STATUS_COLOURS = {
    "on_track": "#1a7f37",
    "at_risk": "#9a6700",
    "off_track": "#cf222e",
    "incomplete_data": "#8250df",
    "no_target": "#57606a",
    "no_data": "#57606a",
}


@dataclass(frozen=True)
class SmtpSettings:
    """Everything needed to talk to the mail server."""

    host: str
    port: int
    tls: TlsMode
    sender: str
    user: str | None = None
    password: str | None = None
    subject: str | None = None
    timeout: float = TIMEOUT

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_settings(
    table: EmailSettings, env: Mapping[str, str] | None = None
) -> SmtpSettings:
    """Resolve the ``[email]`` table with environment overrides.

    Raises:
        ConfigError: no host or sender, a bad port or TLS mode in the
            environment, a user without a password, or a bad subject template.
    """
    env = os.environ if env is None else env
    host = env.get(ENV["host"]) or table.host
    sender = env.get(ENV["sender"]) or table.sender
    user = env.get(ENV["user"]) or table.user
    tls = (env.get(ENV["tls"]) or table.tls).lower()
    if tls not in DEFAULT_PORTS:
        raise ConfigError(f"{ENV['tls']}={tls!r}: expected starttls, ssl or none")
    port_text = env.get(ENV["port"])
    port = table.port or DEFAULT_PORTS[tls]
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ConfigError(
                f"{ENV['port']}={port_text!r}: expected a port number 1-65535"
            )
        port = int(port_text)
    if not host:
        raise ConfigError(
            f"--email-to: no SMTP server; set [email] host in kpi.toml or {ENV['host']}"
        )
    if not sender:
        raise ConfigError(
            f"--email-to: no sender address; set [email] sender in kpi.toml or "
            f"{ENV['sender']}"
        )
    check_addresses([sender], "sender")
    password = env.get(PASSWORD_ENV)
    if user and not password:
        raise ConfigError(
            f"--email-to: SMTP user {user!r} is set but {PASSWORD_ENV} is not; "
            "the password is read only from the environment"
        )
    if table.subject is not None:
        _check_subject(table.subject)
    if tls == "none" and user:
        log.warning(
            "sending the SMTP password to %s:%d without TLS (tls = none)", host, port
        )

    return SmtpSettings(
        host=host,
        port=port,
        tls=tls,  # type: ignore[arg-type]
        sender=sender,
        user=user,
        password=password,
        subject=table.subject,
    )


def check_addresses(addresses: Sequence[str], what: str = "--email-to") -> None:
    """Reject anything that is not one plain address per entry.

    A domain must contain a dot, so ``ops@localhost`` is refused: a report
    for managers goes to real mailboxes, and a missing dot is usually a typo.

    Raises:
        UsageError: naming the first bad address.
    """
    for address in addresses:
        _, parsed = email.utils.parseaddr(address)
        local, _, domain = parsed.rpartition("@")
        if not parsed or not local or "." not in domain or "," in address:
            raise UsageError(
                f"{what}: {address!r} is not an email address (expected one "
                "address such as ops@example.com per option)"
            )


def _check_subject(template: str) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template)]
    except ValueError as e:
        raise ConfigError(f"[email] subject {template!r}: {e}") from e
    for name in names:
        if name is not None and name not in SUBJECT_FIELDS:
            raise ConfigError(
                f"[email] subject {template!r}: unknown placeholder {{{name}}}; "
                f"use {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
            )


# ---------------------------------------------------------------------------
# The message.


def subject_for(review: Review, template: str | None = None) -> str:
    """The subject line: the template (by default one in the review's
    language) filled with project, period and counts."""
    lang = review.language
    if template is None:
        template = DEFAULT_SUBJECTS["zh" if lang == "zh" else "en"]
    return template.format(
        project=review.project.name,
        period=review.period.label,
        period_name=format_period_name(review.period, lang),
        report=_REPORT_ZH.get(review.period.grain, "报告"),
        off_track=sum(k.status == "off_track" for k in review.kpis),
        at_risk=sum(k.status == "at_risk" for k in review.kpis),
    )


def email_context(review: Review) -> dict[str, Any]:
    """What the email templates show: core KPIs and the ones needing attention."""
    lang = review.language
    currency = review.project.currency

    def row(result: KpiResult) -> dict[str, Any]:
        kpi = result.kpi

        def fmt(value: Any) -> str:
            if value is None:
                return "—"
            return format_value(
                value, kpi.unit, lang=lang, currency=currency, decimals=kpi.decimals
            )

        return {
            "id": kpi.id,
            "name": kpi.title(lang),
            "value": fmt(result.value),
            "target": fmt(result.target),
            "attainment": "—"
            if result.attainment is None
            else format_pct(result.attainment, lang=lang, signed=False),
            "status": status_label(result.status, lang),
            "symbol": status_symbol(result.status),
            "colour": STATUS_COLOURS.get(result.status, "#57606a"),
            "streak": _streak_text(result, lang),
        }

    zh = lang == "zh"
    return {
        "zh": zh,
        "project": review.project.name,
        "period": format_period(review.period, lang),
        "period_label": review.period.label,
        "generated_at": review.generated_at.strftime("%Y-%m-%d %H:%M"),
        "core": [row(k) for k in (review.core or review.kpis)],
        "attention": [row(k) for k in review.attention],
        "warnings": list(review.warnings),
    }


def _streak_text(result: KpiResult, lang: str) -> str:
    streak = result.streak
    if streak is None:
        return ""
    label = status_label(streak.status, lang)
    if lang == "zh":
        return f"连续 {streak.length} 期{label}"

    return f"{label} {streak.length} periods in a row"


def render_bodies(
    review: Review, template_dirs: Sequence[Path] = ()
) -> tuple[str, str]:
    """The HTML and plain-text email bodies.

    Raises:
        TemplateError: a body template is missing or fails.
    """
    import jinja2

    from kpi_cli.errors import TemplateError

    loader = jinja2.FileSystemLoader(
        [str(d) for d in template_dirs] + [str(builtin_dir("report_templates"))]
    )
    context = email_context(review)
    bodies = []
    for name, escape in (("email.html", True), ("email.txt", False)):
        env = jinja2.Environment(
            loader=loader,
            autoescape=escape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        try:
            bodies.append(env.get_template(name).render(context))
        except jinja2.TemplateNotFound as e:
            raise TemplateError(f"email template {e.name} not found") from e
        except jinja2.TemplateError as e:
            where = getattr(e, "filename", None) or name
            line = getattr(e, "lineno", None)
            at = f"{where}:{line}" if line else where
            raise TemplateError(f"email template {at}: {e}") from e

    return bodies[0], bodies[1]


def build_message(
    review: Review,
    settings: SmtpSettings,
    recipients: Sequence[str],
    *,
    report_html: str | None,
    template_dirs: Sequence[Path] = (),
) -> EmailMessage:
    """The email: plain text, the HTML alternative, the report attached."""
    html, text = render_bodies(review, template_dirs)
    message = EmailMessage()
    message["Subject"] = subject_for(review, settings.subject)
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.formatdate(localtime=True)
    domain = settings.sender.rpartition("@")[2] or None
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if report_html is not None:
        name = f"{slug(review.project.name)}-{slug(review.period.label)}.html"
        message.add_attachment(
            report_html.encode("utf-8"),
            maintype="text",
            subtype="html",
            filename=name,
        )

    return message


# ---------------------------------------------------------------------------
# Sending.


def send(
    message: EmailMessage, settings: SmtpSettings, recipients: Sequence[str]
) -> None:
    """Hand ``message`` to the SMTP server for ``recipients``.

    Raises:
        DeliveryError: naming host:port and why (refused connection, TLS,
            authentication, a rejected sender or recipient, a timeout).
    """
    started = time.perf_counter()
    try:
        _converse(message, settings, recipients)
    except smtplib.SMTPAuthenticationError as e:
        raise _failed(settings, f"authentication failed ({_reply(e)})") from e
    except smtplib.SMTPRecipientsRefused as e:
        refused = "; ".join(
            f"{addr} ({_code_text(code, text)})"
            for addr, (code, text) in e.recipients.items()
        )
        raise _failed(settings, f"recipient refused: {refused}") from e
    except smtplib.SMTPSenderRefused as e:
        raise _failed(
            settings,
            f"sender {e.sender} refused ({_code_text(e.smtp_code, e.smtp_error)})",
        ) from e
    except smtplib.SMTPNotSupportedError as e:
        raise _failed(settings, f"{e} (check [email] tls)") from e
    except smtplib.SMTPResponseException as e:
        raise _failed(settings, _code_text(e.smtp_code, e.smtp_error)) from e
    except ssl.SSLError as e:
        raise _failed(settings, f"TLS failed: {e.reason or e}") from e
    except TimeoutError as e:
        raise _failed(settings, f"timed out after {settings.timeout:g} s") from e
    except ConnectionRefusedError as e:
        raise _failed(settings, "connection refused") from e
    except (smtplib.SMTPException, OSError) as e:
        raise _failed(settings, str(e) or type(e).__name__) from e
    log.info(
        "sent the review to %d recipient(s) via %s in %.3fs",
        len(recipients),
        settings.address,
        time.perf_counter() - started,
    )


def _converse(
    message: EmailMessage, settings: SmtpSettings, recipients: Sequence[str]
) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.tls == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        smtp.ehlo()
        if settings.tls == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        refused = smtp.send_message(
            message, from_addr=settings.sender, to_addrs=list(recipients)
        )
    if refused:
        # Some recipients got it and some did not: still a failed delivery.
        raise smtplib.SMTPRecipientsRefused(refused)


def _failed(settings: SmtpSettings, reason: str) -> DeliveryError:
    return DeliveryError(
        f"cannot send the review via {settings.address} ({settings.tls}): {reason}"
    )


def _code_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")

    return f"{code} {' '.join(text.split())}"


def _reply(error: smtplib.SMTPResponseException) -> str:
    return _code_text(error.smtp_code, error.smtp_error)


def deliver_review(
    review: Review,
    settings: SmtpSettings,
    recipients: Sequence[str],
    *,
    template_dirs: Sequence[Path] = (),
) -> EmailMessage:
    """Render the report, build the email and send it; returns the message sent.

    Raises:
        DeliveryError: see ``send``.
        TemplateError: a template fails.
    """
    from kpi_cli.render_html import render_html

    report = render_html(review, template_dirs=template_dirs)
    message = build_message(
        review, settings, recipients, report_html=report, template_dirs=template_dirs
    )
    send(message, settings, recipients)

    return message


__all__ = [
    "DEFAULT_PORTS",
    "PASSWORD_ENV",
    "SmtpSettings",
    "build_message",
    "check_addresses",
    "deliver_review",
    "email_context",
    "render_bodies",
    "send",
    "smtp_settings",
    "subject_for",
]
