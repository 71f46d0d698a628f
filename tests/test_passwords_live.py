"""Reset by email on a real gunicorn + gevent server, through a real SMTP server: the mail
goes out from the worker's greenlet, and `forgot` answers as fast for an unknown email."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import smtp
from tests.support.live import LiveServer, auth_only, serve, stop

CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
NEW = "Green-Ferry-Lamp-3"


def wait_for_code(server: smtp.SmtpServer, to: str, count: int, within_s: float = 15) -> str:
    """The code in the count-th mail to this address, once the worker has sent it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        received = server.messages(to)
        if len(received) >= count:
            found = CODE.search(received[count - 1].get_content())
            assert found
            return found.group(1)
        time.sleep(0.05)  # another process is delivering: poll, bounded
    raise AssertionError(f"no mail #{count} within {within_s} s")


def forgot_seconds(live: LiveServer, email: str) -> float:
    started = time.perf_counter()
    answer = live.json("POST", "/auth/password/forgot", {"email": email})
    elapsed = time.perf_counter() - started
    assert answer == (202, {})
    return elapsed


@pytest.mark.live
def test_reset_by_email_through_a_real_worker_and_mail_server(app: Any, tmp_path: Path) -> None:
    mailbox = smtp.start(tmp_path / "mail")
    env = {
        "SMTP_URL": mailbox.url(),
        "RESET_EMAIL_LIMIT": "1000 per minute",
        "RATELIMIT_PER_IP": "1000 per minute",
    }
    try:
        with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as live:
            ana = auth_only(live.register("ana-live@example.com"))
            forgot_seconds(live, "ana-live@example.com")
            code = wait_for_code(mailbox, "ana-live@example.com", 1)
            body = {"email": "ana-live@example.com", "code": code, "new_password": NEW}
            assert live.json("POST", "/auth/password/reset", body)[0] == 204
            assert live.json("GET", "/auth/me", headers=ana)[0] == 401
            login = {"email": "ana-live@example.com", "password": NEW, "device_fingerprint": "p"}
            assert (
                live.json("POST", "/auth/login", {**login, "device_fingerprint": "phone-1"})[0]
                == 200
            )

            known, unknown = [], []
            for i in range(20):  # interleaved, so load on the machine hits both alike
                known.append(forgot_seconds(live, "ana-live@example.com"))
                unknown.append(forgot_seconds(live, f"nobody-{i}@example.com"))
            wait_for_code(mailbox, "ana-live@example.com", 21)
    finally:
        smtp.stop(mailbox)
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"\nforgot, median of 20: known {k * 1000:.1f} ms, unknown {u * 1000:.1f} ms")
    assert abs(k - u) < 0.05
    assert mailbox.messages("nobody-0@example.com") == []


@pytest.mark.live
def test_a_reset_mail_in_flight_goes_out_before_the_worker_exits(app: Any, tmp_path: Path) -> None:
    # The mail server takes its time; SIGTERM arrives while the worker is still sending.
    mailbox = smtp.start(tmp_path / "mail", "--delay", "1.5")
    try:
        with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, SMTP_URL=mailbox.url()) as live:
            live.register("leaving@example.com")
            forgot_seconds(live, "leaving@example.com")
            assert stop(live) == 0
            assert len(mailbox.messages("leaving@example.com")) == 1
    finally:
        smtp.stop(mailbox)
