"""Outgoing email: SMTP_URL's server (plain, STARTTLS or TLS, with login), or the console.

Sending happens off the request, in a greenlet, with one deadline for the whole exchange,
so a slow or dead mail server never holds a request; a failure is logged without the
address.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import gevent

from clarity_api.errors import EmailUnavailable

log = logging.getLogger(__name__)

# scheme: (security, default port). smtp+starttls and smtps are how the URL asks for TLS.
SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
_pending: set[gevent.Greenlet] = set()


class MailError(Exception):
    """The message did not go out: bad SMTP_URL, unreachable, refused, or too slow."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls"
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://host:port`, `smtp+starttls://user:pw@host:port`, `smtps://user:pw@host:port`."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise MailError(f"SMTP_URL must start with one of {', '.join(SCHEMES)}:// and name a host")
    security, default_port = SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise MailError("SMTP_URL has a bad port") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpServer(parts.hostname, port, security, user, password)


def require_available(config: dict[str, Any]) -> None:
    """Production without a mail server cannot send codes; development prints them."""
    if not config.get("SMTP_URL") and config["CLARITY_ENV"] == "production":
        raise EmailUnavailable()


def compose(config: dict[str, Any], to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    return message


def _tls_context(config: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.get("SMTP_CA_FILE") or None)


def _exchange(server: SmtpServer, config: dict[str, Any], message: EmailMessage) -> None:
    timeout = config["SMTP_TIMEOUT_S"]
    smtp: smtplib.SMTP
    if server.security == "tls":
        smtp = smtplib.SMTP_SSL(
            server.host, server.port, timeout=timeout, context=_tls_context(config)
        )
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with smtp:
        if server.security == "starttls":
            smtp.starttls(context=_tls_context(config))
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)


def send(config: dict[str, Any], message: EmailMessage) -> None:
    """Deliver one message, or raise MailError within SMTP_TIMEOUT_S (the socket timeout
    bounds each step; the gevent deadline bounds a server that answers byte by byte)."""
    url = config.get("SMTP_URL")
    if not url:
        print_to_console(message)
        return
    server = parse_smtp_url(url)
    try:
        with gevent.Timeout(config["SMTP_TIMEOUT_S"], MailError("the mail server was too slow")):
            _exchange(server, config, message)
    except (OSError, smtplib.SMTPException) as exc:
        # The class and SMTP code only: a refusal's text can quote the recipient.
        code = getattr(exc, "smtp_code", None)
        raise MailError(type(exc).__name__ + (f" {code}" if code else "")) from None


def print_to_console(message: EmailMessage) -> None:
    """Development only (require_available keeps production out): the mail on stdout."""
    sys.stdout.write(f"--- email (no SMTP_URL set) ---\n{message}\n--- end of email ---\n")
    sys.stdout.flush()


def later(job: Callable[..., None], *args: Any) -> gevent.Greenlet:
    """Run job after the response, in its own greenlet; wait_for_pending() joins them."""
    greenlet = gevent.spawn(_guarded, job, *args)
    _pending.add(greenlet)
    greenlet.link(_pending.discard)
    return greenlet


def _guarded(job: Callable[..., None], *args: Any) -> None:
    try:
        job(*args)
    except MailError as exc:
        log.warning("email not sent: %s", exc)  # never the address, never the code
    except Exception:
        log.exception("email job failed")


def wait_for_pending(timeout: float | None = None) -> None:
    """Join the mail jobs still running (tests; a worker that shuts down)."""
    gevent.joinall(list(_pending), timeout=timeout)
