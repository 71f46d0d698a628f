"""services/mail.py: SMTP_URL's spellings, and TLS with login against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clarity_api.services import mail
from tests.support import smtp


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.local", mail.SmtpServer("mail.local", 25, "plain")),
        ("smtp://127.0.0.1:2525", mail.SmtpServer("127.0.0.1", 2525, "plain")),
        (
            "smtp+starttls://me:p%40ss@smtp.example.com",
            mail.SmtpServer("smtp.example.com", 587, "starttls", "me", "p@ss"),
        ),
        (
            "smtps://apikey:s3cret@smtp.example.com:2465",
            mail.SmtpServer("smtp.example.com", 2465, "tls", "apikey", "s3cret"),
        ),
    ],
)
def test_smtp_url_spellings(url: str, expected: mail.SmtpServer) -> None:
    assert mail.parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.local", "smtp://", "smtps://host:notaport"])
def test_a_bad_smtp_url_is_a_mail_error(url: str) -> None:
    with pytest.raises(mail.MailError):
        mail.parse_smtp_url(url)


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "SMTP_URL": url,
        "MAIL_FROM": "Clarity <no-reply@example.com>",
        "SMTP_TIMEOUT_S": 5.0,
        **extra,
    }


def message(cfg: dict[str, Any]) -> Any:
    return mail.compose(cfg, "ana@example.com", "Hello", "Your code is ABCD-EFGH")


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_tls_and_login_when_the_url_says_so(tmp_path: Path, scheme: str) -> None:
    server, cert = smtp.tls_server(tmp_path, smtps=scheme == "smtps")
    try:
        cfg = config(server.url(scheme, login=True), SMTP_CA_FILE=str(cert))
        mail.send(cfg, message(cfg))
        (received,) = server.messages()
        assert received["To"] == "ana@example.com"
        assert "ABCD-EFGH" in received.get_content()
    finally:
        smtp.stop(server)


def test_a_wrong_login_is_a_mail_error(tmp_path: Path) -> None:
    server, cert = smtp.tls_server(tmp_path, smtps=False)
    try:
        url = server.url("smtp+starttls").replace("://", "://clarity:wrong@")
        cfg = config(url, SMTP_CA_FILE=str(cert))
        with pytest.raises(mail.MailError, match="SMTPAuthenticationError 535"):
            mail.send(cfg, message(cfg))
        assert server.messages() == []
    finally:
        smtp.stop(server)


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    server, _cert = smtp.tls_server(tmp_path, smtps=True)
    try:
        cfg = config(server.url("smtps", login=True))  # no SMTP_CA_FILE: the system's CAs
        with pytest.raises(mail.MailError, match="SSLCertVerificationError"):
            mail.send(cfg, message(cfg))
    finally:
        smtp.stop(server)


def test_a_server_that_never_answers_is_given_up_on_in_time() -> None:
    import time

    with smtp.silent_port() as port:
        cfg = config(f"smtp://127.0.0.1:{port}", SMTP_TIMEOUT_S=0.3)
        started = time.monotonic()
        with pytest.raises(mail.MailError):
            mail.send(cfg, message(cfg))
    assert time.monotonic() - started < 2
