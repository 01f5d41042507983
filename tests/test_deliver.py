"""Email delivery against a real SMTP server on 127.0.0.1 (aiosmtpd).

STARTTLS and implicit TLS run against the same server with a self-signed
certificate made by the ``openssl`` command for the test; the client trusts it
through SSL_CERT_FILE, as a user with a company CA would.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest_html import make_review

from kpi_cli.config import EmailSettings
from kpi_cli.deliver import (
    SmtpSettings,
    build_message,
    check_addresses,
    deliver_review,
    smtp_settings,
    subject_for,
)
from kpi_cli.errors import EXIT_DELIVERY, ConfigError, DeliveryError, UsageError
from kpi_cli.periods import parse_period
from kpi_cli.review_model import Streak


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """Keeps every message; refuses the recipients it is told to."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login,
        auth_data.password,
    ) == (b"ops", b"s3cret")
    # handled=False: let the server answer 535 for a failure.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[int, Recorder]]]:
    """Start servers on free ports; each call returns (port, recorder)."""
    running: list[Controller] = []

    def start(refuse: tuple[str, ...] = (), **options: Any) -> tuple[int, Recorder]:
        recorder = Recorder(refuse)
        port = free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, ready_timeout=10, **options
        )
        controller.start()
        running.append(controller)
        return port, recorder

    yield start
    for controller in running:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    assert openssl, "the TLS tests need the openssl command"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def settings(port: int, tls: str = "none", **changes: Any) -> SmtpSettings:
    return replace(
        SmtpSettings(
            host="127.0.0.1",
            port=port,
            tls=tls,  # type: ignore[arg-type]
            sender="kpi@shop.example.com",
            timeout=10,
        ),
        **changes,
    )


def parsed(envelope: Any) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


# ---------------------------------------------------------------------------
# What is sent.


def test_the_message_has_text_html_and_the_report_attached(smtp_server) -> None:
    port, recorder = smtp_server()
    review = make_review("en")

    deliver_review(
        review, settings(port), ["boss@shop.example.com", "ops@shop.example.com"]
    )

    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "kpi@shop.example.com"
    assert envelope.rcpt_tos == ["boss@shop.example.com", "ops@shop.example.com"]
    message = parsed(envelope)
    assert message["Subject"] == "杭州旗舰店 & <Co> KPI review · Week 48 2026"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_filename() == "杭州旗舰店-&-Co-2026-W48.html"
    report = attachment.get_content()
    assert report.lstrip().lower().startswith("<!doctype html>")
    assert "1,285,634.50" in report

    # Core KPIs with value / target / attainment, worked by hand:
    # 1,285,634.50 / 1,400,000 = 91.8%; 9,876 / 9,000 = 109.7%;
    # 3.96% / 4.50% = 88.0%; lower is better: 80 / 98.40 = 81.3%.
    for cells in [
        ("Sales (GMV)", "¥1,285,634.50", "¥1,400,000.00", "91.8%", "At risk"),
        ("Orders", "9,876", "9,000", "109.7%", "On track"),
        ("Conversion rate", "3.96%", "4.50%", "88.0%", "Off track"),
        ("New-customer CAC", "¥98.40", "¥80.00", "81.3%", "Off track"),
    ]:
        line = next(line for line in text.splitlines() if cells[0] + ":" in line)
        assert all(cell in line for cell in cells), line
        assert all(cell.replace("&", "&amp;") in html for cell in cells)
    attention = text.split("Needs attention:")[1]
    assert [
        name
        for name in ("New-customer CAC", "Conversion rate", "Sales (GMV)")
        if name in attention
    ] == ["New-customer CAC", "Conversion rate", "Sales (GMV)"]
    assert "Orders" not in attention


@pytest.mark.parametrize(
    ("lang", "period", "subject"),
    [
        ("zh", "2026-W48", "杭州旗舰店 & <Co> KPI 周报 · 2026年第48周"),
        ("en", "2026-W48", "杭州旗舰店 & <Co> KPI review · Week 48 2026"),
        ("zh", "2026-11", "杭州旗舰店 & <Co> KPI 月报 · 2026年11月"),
        ("en", "2026-11", "杭州旗舰店 & <Co> KPI review · November 2026"),
        ("zh", "2026-Q4", "杭州旗舰店 & <Co> KPI 季报 · 2026年第4季度"),
        ("zh", "2026-11-30", "杭州旗舰店 & <Co> KPI 日报 · 2026年11月30日"),
    ],
    ids=["zh-week", "en-week", "zh-month", "en-month", "zh-quarter", "zh-day"],
)
def test_default_subject_speaks_the_review_language(
    lang: str, period: str, subject: str
) -> None:
    review = replace(make_review(lang), period=parse_period(period))

    assert subject_for(review) == subject


def test_a_subject_template_may_name_the_period_both_ways() -> None:
    review = make_review("zh")
    template = "{project}: {period} / {period_name}, {off_track} off, {at_risk} risk"
    # The fixture review has conversion and CAC off track, GMV at risk.

    assert subject_for(review, template) == (
        "杭州旗舰店 & <Co>: 2026-W48 / 2026年第48周, 2 off, 1 risk"
    )


def test_the_html_body_is_email_safe_and_escaped() -> None:
    from bs4 import BeautifulSoup

    review = make_review("zh")
    message = build_message(
        review, settings(25), ["boss@shop.example.com"], report_html=None
    )
    html = message.get_body(("html",)).get_content()
    soup = BeautifulSoup(html, "html.parser")

    assert soup.find("style") is None
    assert soup.find("svg") is None
    assert soup.find("script") is None
    assert not soup.find_all(class_=True)
    assert soup.find("h1").get_text() == "杭州旗舰店 & <Co>"
    assert "&lt;Co&gt;" in html
    rows = [
        [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
        for row in soup.find_all("table")[1].find_all("tr")[1:]
    ]
    assert rows[0] == ["销售额", "¥1,285,634.50", "¥1,400,000.00", "91.8%", "! 有风险"]
    assert list(message.iter_attachments()) == []


def test_a_streak_is_named_in_the_attention_list() -> None:
    review = make_review("en")
    kpis = tuple(
        replace(k, streak=Streak("off_track", 3)) if k.id == "cac" else k
        for k in review.kpis
    )
    message = build_message(
        replace(review, kpis=kpis),
        settings(25),
        ["boss@shop.example.com"],
        report_html=None,
    )
    text = message.get_body(("plain",)).get_content()

    assert "New-customer CAC ¥98.40 / ¥80.00 (Off track 3 periods in a row)" in text


# ---------------------------------------------------------------------------
# TLS modes and authentication.


def test_starttls_with_login(smtp_server, certificate, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    port, recorder = smtp_server(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=_authenticator,
    )

    deliver_review(
        make_review("en"),
        settings(port, "starttls", user="ops", password="s3cret"),
        ["boss@shop.example.com"],
    )

    assert len(recorder.envelopes) == 1


def test_implicit_tls(smtp_server, certificate, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    port, recorder = smtp_server(ssl_context=server_context(certificate))

    deliver_review(make_review("en"), settings(port, "ssl"), ["boss@shop.example.com"])

    assert len(recorder.envelopes) == 1


def test_an_untrusted_certificate_is_refused(smtp_server, certificate) -> None:
    port, recorder = smtp_server(tls_context=server_context(certificate))

    with pytest.raises(DeliveryError, match="TLS failed: CERTIFICATE_VERIFY_FAILED"):
        deliver_review(
            make_review("en"), settings(port, "starttls"), ["boss@shop.example.com"]
        )
    assert recorder.envelopes == []


def test_starttls_against_a_server_without_it(smtp_server) -> None:
    port, _ = smtp_server()

    with pytest.raises(DeliveryError) as caught:
        deliver_review(
            make_review("en"), settings(port, "starttls"), ["boss@shop.example.com"]
        )

    assert f"127.0.0.1:{port} (starttls)" in str(caught.value)
    assert "STARTTLS extension not supported" in str(caught.value)


# ---------------------------------------------------------------------------
# Failures: one line naming host:port and the reason, exit code 4.


def test_connection_refused(smtp_server) -> None:
    port = free_port()  # nothing listens there

    with pytest.raises(DeliveryError) as caught:
        deliver_review(make_review("en"), settings(port), ["boss@shop.example.com"])

    assert caught.value.exit_code == EXIT_DELIVERY
    assert str(caught.value) == (
        f"cannot send the review via 127.0.0.1:{port} (none): connection refused"
    )


def test_wrong_password(smtp_server) -> None:
    port, recorder = smtp_server(authenticator=_authenticator, auth_require_tls=False)

    with pytest.raises(DeliveryError, match=r"authentication failed \(535 "):
        deliver_review(
            make_review("en"),
            settings(port, user="ops", password="wrong"),
            ["boss@shop.example.com"],
        )
    assert recorder.envelopes == []


def test_a_refused_recipient_fails_the_delivery(smtp_server) -> None:
    port, recorder = smtp_server(refuse=("gone@shop.example.com",))

    with pytest.raises(DeliveryError) as caught:
        deliver_review(
            make_review("en"),
            settings(port),
            ["boss@shop.example.com", "gone@shop.example.com"],
        )

    assert "recipient refused: gone@shop.example.com (550 5.1.1" in str(caught.value)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------
# Settings.


def test_environment_overrides_the_project_file() -> None:
    table = EmailSettings(host="smtp.file.example.com", sender="a@file.example.com")
    env = {
        "KPI_SMTP_HOST": "smtp.env.example.com",
        "KPI_SMTP_PORT": "2525",
        "KPI_SMTP_TLS": "SSL",
        "KPI_SMTP_USER": "ops",
        "KPI_SMTP_FROM": "kpi@env.example.com",
        "KPI_SMTP_PASSWORD": "pw",
    }

    resolved = smtp_settings(table, env)

    assert (resolved.host, resolved.port, resolved.tls) == (
        "smtp.env.example.com",
        2525,
        "ssl",
    )
    assert (resolved.user, resolved.sender, resolved.password) == (
        "ops",
        "kpi@env.example.com",
        "pw",
    )


@pytest.mark.parametrize(
    ("tls", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)], ids=str
)
def test_default_port_follows_the_tls_mode(tls: str, port: int) -> None:
    table = EmailSettings(host="smtp.example.com", sender="a@example.com", tls=tls)

    assert smtp_settings(table, {}).port == port


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({"sender": "a@example.com"}, {}, "no SMTP server"),
        ({"host": "h.example.com"}, {}, "no sender address"),
        (
            {"host": "h.example.com", "sender": "a@example.com", "user": "ops"},
            {},
            "KPI_SMTP_PASSWORD is not",
        ),
        (
            {"host": "h.example.com", "sender": "a@example.com"},
            {"KPI_SMTP_TLS": "tls1.3"},
            "KPI_SMTP_TLS='tls1.3': expected starttls, ssl or none",
        ),
        (
            {"host": "h.example.com", "sender": "a@example.com"},
            {"KPI_SMTP_PORT": "http"},
            "KPI_SMTP_PORT='http'",
        ),
        (
            {"host": "h", "sender": "a@example.com", "subject": "{project} {week}"},
            {},
            "unknown placeholder {week}",
        ),
    ],
    ids=["no-host", "no-sender", "no-password", "bad-tls", "bad-port", "subject"],
)
def test_bad_settings_are_config_errors(table: dict, env: dict, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")
    ):
        smtp_settings(EmailSettings(**table), env)


def test_a_password_in_the_project_file_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="KPI_SMTP_PASSWORD"):
        EmailSettings.model_validate({"host": "h", "password": "x"})


@pytest.mark.parametrize(
    "address", ["boss", "boss@localhost", "a@x.com, b@y.com", ""], ids=repr
)
def test_bad_addresses_are_usage_errors(address: str) -> None:
    with pytest.raises(UsageError, match="is not an email address"):
        check_addresses([address])
