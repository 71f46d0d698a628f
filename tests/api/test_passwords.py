"""POST /auth/password (change), /auth/password/forgot and /auth/password/reset, against a
real SMTP server started by the tests."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clarity_api.clock import utcnow
from clarity_api.services import mail
from clarity_api.services import passwords as password_service
from tests.api.test_auth import assert_error
from tests.conftest import bearer
from tests.support import smtp
from tests.support.smtp import SmtpServer

NEW = "Blue-Kite-Harbor-7"
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def login(client: FlaskClient, person: dict[str, Any], password: str) -> Any:
    body = {"email": person["email"], "password": password, "device_fingerprint": "phone-1"}
    return client.post("/auth/login", json=body)


def change(client: FlaskClient, access: str, current: str, new: str = NEW) -> Any:
    body = {"current_password": current, "new_password": new}
    return client.post("/auth/password", json=body, headers=bearer(access))


# --- change -------------------------------------------------------------------------------


def test_change_keeps_this_login_and_revokes_every_other(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    other = login(client, user, user["password"]).get_json()
    assert change(client, user["access"], user["password"]).status_code == 204

    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 200
    assert_error(
        client.get("/auth/me", headers=bearer(other["access_token"])), 401, "TOKEN_REVOKED"
    )
    refreshed = client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert_error(refreshed, 401, "TOKEN_REVOKED")
    assert_error(login(client, user, user["password"]), 401, "INVALID_CREDENTIALS")
    assert login(client, user, NEW).status_code == 200


def test_change_with_a_wrong_current_password_changes_nothing(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    other = login(client, user, user["password"]).get_json()
    assert_error(change(client, user["access"], "Wr0ng-Password-1"), 401, "INVALID_CREDENTIALS")
    assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200
    assert login(client, user, user["password"]).status_code == 200


@pytest.mark.parametrize("new", ["Password1", "Qwerty123", "short"])
def test_change_to_a_weak_password_is_refused(
    client: FlaskClient, user: dict[str, Any], new: str
) -> None:
    assert_error(change(client, user["access"], user["password"], new), 400, "WEAK_PASSWORD")
    assert login(client, user, user["password"]).status_code == 200


def test_wrong_current_passwords_spend_the_login_failure_budget(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    for _ in range(5):
        change(client, user["access"], "Wr0ng-Password-1")
    response = login(client, user, user["password"])
    assert_error(response, 429, "RATE_LIMITED")
    assert_error(change(client, user["access"], user["password"]), 429, "RATE_LIMITED")


@pytest.mark.parametrize(
    "config_overrides", [{"RATELIMIT_PER_USER": "2 per minute"}], indirect=True
)
def test_other_requests_do_not_spend_the_change_budget(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    while client.get("/auth/me", headers=bearer(user["access"])).status_code != 429:
        pass
    assert change(client, user["access"], user["password"]).status_code == 204


@pytest.mark.parametrize(
    "body",
    [{}, {"current_password": "x"}, {"current_password": 1, "new_password": NEW}],
    ids=["empty", "no-new", "not-text"],
)
def test_change_validates_its_body(client: FlaskClient, user: dict[str, Any], body: Any) -> None:
    response = client.post("/auth/password", json=body, headers=bearer(user["access"]))
    assert_error(response, 422, "VALIDATION_ERROR")


def test_change_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/auth/password", json={"current_password": "a", "new_password": NEW})
    assert_error(response, 401, "INVALID_TOKEN")


# --- forgot and reset through a real mail server --------------------------------------------


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """One server for the module; each test's people have their own addresses."""
    server = smtp.start(tmp_path_factory.mktemp("mail"))
    yield server
    smtp.stop(server)


@pytest.fixture
def config_overrides(smtp_server: SmtpServer, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every app here mails through the test's server; parametrize indirectly to add more."""
    return {"SMTP_URL": smtp_server.url(), "SMTP_TIMEOUT_S": 5.0, **getattr(request, "param", {})}


def forgot(client: FlaskClient, email: str) -> Any:
    response = client.post("/auth/password/forgot", json={"email": email})
    mail.wait_for_pending(timeout=10)  # the code is made and sent after the response
    return response


def mailed_code(server: SmtpServer, to: str) -> str:
    message = server.messages(to)[-1]
    found = CODE.search(message.get_content())
    assert found, message.get_content()
    return found.group(1)


def reset(client: FlaskClient, email: str, code: str, new: str = NEW) -> Any:
    body = {"email": email, "code": code, "new_password": new}
    return client.post("/auth/password/reset", json=body)


def test_a_forgotten_password_is_reset_with_the_mailed_code(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    other = login(client, user, user["password"]).get_json()
    response = forgot(client, user["email"])
    assert response.status_code == 202
    assert response.get_json() == {}
    (message,) = smtp_server.messages(user["email"])
    assert message["From"] == "Clarity <no-reply@localhost>"

    assert reset(client, user["email"], mailed_code(smtp_server, user["email"])).status_code == 204
    for access in (user["access"], other["access_token"]):
        assert_error(client.get("/auth/me", headers=bearer(access)), 401, "TOKEN_REVOKED")
    assert_error(login(client, user, user["password"]), 401, "INVALID_CREDENTIALS")
    assert login(client, user, NEW).status_code == 200


def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    known = forgot(client, user["email"])
    unknown = forgot(client, "nobody@example.com")
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json())
    assert len(smtp_server.messages(user["email"])) == 1
    assert smtp_server.messages("nobody@example.com") == []


def test_a_code_works_once(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    assert reset(client, user["email"], code).status_code == 204
    assert_error(
        reset(client, user["email"], code, "Green-Ferry-Lamp-3"), 400, "INVALID_RESET_CODE"
    )


def test_the_code_is_read_without_case_spaces_or_hyphen(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    typed = " " + code.replace("-", " ").lower()
    assert reset(client, user["email"], typed).status_code == 204


def test_five_wrong_codes_void_the_code(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    for _ in range(5):
        assert_error(reset(client, user["email"], "AAAA-AAAA"), 400, "INVALID_RESET_CODE")
    assert_error(reset(client, user["email"], code), 400, "INVALID_RESET_CODE")
    assert login(client, user, user["password"]).status_code == 200


def test_four_wrong_codes_still_leave_the_right_one(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    for _ in range(4):
        reset(client, user["email"], "AAAA-AAAA")
    assert reset(client, user["email"], mailed_code(smtp_server, user["email"])).status_code == 204


def test_a_code_expires_after_30_minutes(
    client: FlaskClient,
    smtp_server: SmtpServer,
    user: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    later = utcnow() + timedelta(minutes=30, seconds=1)
    monkeypatch.setattr(password_service, "utcnow", lambda: later)
    assert_error(reset(client, user["email"], code), 400, "INVALID_RESET_CODE")


def test_a_new_code_replaces_the_old(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    first = mailed_code(smtp_server, user["email"])
    forgot(client, user["email"])
    second = mailed_code(smtp_server, user["email"])
    assert first != second
    assert_error(reset(client, user["email"], first), 400, "INVALID_RESET_CODE")
    assert reset(client, user["email"], second).status_code == 204


def test_a_weak_new_password_keeps_the_code(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    assert_error(reset(client, user["email"], code, "Password1"), 400, "WEAK_PASSWORD")
    assert reset(client, user["email"], code).status_code == 204


def test_a_code_is_only_for_its_own_account(
    client: FlaskClient, smtp_server: SmtpServer, make_user: Any
) -> None:
    ana, kim = make_user(), make_user()
    forgot(client, ana["email"])
    code = mailed_code(smtp_server, ana["email"])
    assert_error(reset(client, kim["email"], code), 400, "INVALID_RESET_CODE")
    assert_error(reset(client, "nobody@example.com", code), 400, "INVALID_RESET_CODE")


def test_the_stored_code_is_only_a_hash(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    from tests.test_data_rights import all_rows

    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    with app.app_context():
        dump = repr(all_rows())
    assert code not in dump and code.replace("-", "") not in dump


def test_changing_the_password_voids_a_pending_code(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    forgot(client, user["email"])
    code = mailed_code(smtp_server, user["email"])
    assert change(client, user["access"], user["password"]).status_code == 204
    assert_error(
        reset(client, user["email"], code, "Green-Ferry-Lamp-3"), 400, "INVALID_RESET_CODE"
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not-an-email"}, {"email": "a@example.com", "x": 1}],
    ids=["empty", "bad-email", "extra"],
)
def test_forgot_validates_its_body(client: FlaskClient, body: Any) -> None:
    assert_error(client.post("/auth/password/forgot", json=body), 422, "VALIDATION_ERROR")


def test_reset_validates_its_body(client: FlaskClient) -> None:
    body = {"email": "a@example.com", "code": "", "new_password": NEW}
    assert_error(client.post("/auth/password/reset", json=body), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "config_overrides", [{"RESET_EMAIL_LIMIT": "2 per minute"}], ids=["2-per-minute"], indirect=True
)
def test_codes_asked_for_one_email_are_limited(
    client: FlaskClient, smtp_server: SmtpServer, user: dict[str, Any]
) -> None:
    assert forgot(client, user["email"]).status_code == 202
    assert forgot(client, user["email"]).status_code == 202
    assert_error(forgot(client, user["email"]), 429, "RATE_LIMITED")
    assert forgot(client, "someone-else@example.com").status_code == 202
    assert len(smtp_server.messages(user["email"])) == 2
    assert smtp_server.messages("someone-else@example.com") == []


@pytest.mark.parametrize(
    "config_overrides", [{"RATELIMIT_PER_IP": "2 per minute"}], ids=["2-per-minute"], indirect=True
)
def test_codes_asked_from_one_address_are_limited(client: FlaskClient) -> None:
    assert forgot(client, "a@example.com").status_code == 202
    assert forgot(client, "b@example.com").status_code == 202
    assert_error(forgot(client, "c@example.com"), 429, "RATE_LIMITED")
    assert_error(reset(client, "a@example.com", "AAAA-AAAA"), 429, "RATE_LIMITED")


# --- no mail server -----------------------------------------------------------------------


KEY = secrets.token_urlsafe(48)
PRODUCTION = {"CLARITY_ENV": "production", "JWT_SECRET_KEY": KEY, "SECRET_KEY": KEY}


@pytest.mark.parametrize("config_overrides", [{**PRODUCTION, "SMTP_URL": None}], indirect=True)
def test_production_without_a_mail_server_says_so(client: FlaskClient) -> None:
    response = client.post("/auth/password/forgot", json={"email": "a@example.com"})
    assert_error(response, 503, "EMAIL_UNAVAILABLE")


@pytest.mark.parametrize(
    "config_overrides", [{"CLARITY_ENV": "development", "SMTP_URL": None}], indirect=True
)
def test_development_without_a_mail_server_prints_the_email(
    client: FlaskClient, user: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert forgot(client, user["email"]).status_code == 202
    printed = capsys.readouterr().out
    assert f"To: {user['email']}" in printed
    code = CODE.search(printed)
    assert code
    assert reset(client, user["email"], code.group(1)).status_code == 204


def test_a_dead_mail_server_is_answered_quickly_and_logged(
    app: Flask, client: FlaskClient, user: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.closed_port()}"
    started = time.monotonic()
    assert forgot(client, user["email"]).status_code == 202
    assert time.monotonic() - started < 2
    assert "email not sent: ConnectionRefusedError" in caplog.text
    assert user["email"] not in caplog.text


def test_a_silent_mail_server_never_holds_the_request(
    app: Flask, client: FlaskClient, user: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with smtp.silent_port() as port:
        app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_TIMEOUT_S=0.5)
        started = time.monotonic()
        response = client.post("/auth/password/forgot", json={"email": user["email"]})
        answered = time.monotonic() - started
        mail.wait_for_pending(timeout=5)
        gave_up = time.monotonic() - started
    assert response.status_code == 202
    assert answered < 0.5  # the answer does not wait for the mail server at all
    assert 0.4 < gave_up < 3  # the send gives up at SMTP_TIMEOUT_S
    assert "email not sent:" in caplog.text
    assert user["email"] not in caplog.text
