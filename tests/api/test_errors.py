"""Every error is the one JSON body: routing, methods, crashes, and an unreachable database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from sqlalchemy import text

from clarity_api import create_app
from clarity_api.extensions import db
from tests.conftest import make_config, timed

# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/x"


def assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) <= {"error", "message", "details"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body  # type: ignore[no-any-return]


# --- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/auth", "/auth/nope", "/sessions/x/y/z", "/health/", "/static/x.css"]
)
def test_unknown_route_is_json_not_found(client: FlaskClient, path: str) -> None:
    body = assert_json_error(client.get(path), 404, "NOT_FOUND")
    assert set(body) == {"error", "message"}


def test_unknown_route_never_answers_html(client: FlaskClient) -> None:
    response = client.get("/nope", headers={"Accept": "text/html"})
    assert response.mimetype == "application/json"
    assert b"<html" not in response.get_data().lower()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/auth/login", {"POST"}),
        ("put", "/auth/register", {"POST"}),
        ("get", "/auth/logout", {"POST"}),
        ("delete", "/health", {"GET"}),
        ("post", "/auth/me/export", {"GET"}),
        ("get", f"/auth/devices/{uuid.uuid4()}", {"DELETE"}),
        ("put", "/sessions", {"GET", "POST"}),
    ],
)
def test_wrong_method_is_json_405_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = getattr(client, method)(path)
    body = assert_json_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(body) == {"error", "message"}
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method.upper() not in allow


@pytest.mark.parametrize(
    ("path", "data"),
    [("/auth/register", "{oops"), ("/auth/login", "[1]"), ("/auth/refresh", "nope")],
)
def test_malformed_json_is_invalid_json_on_every_body_endpoint(
    client: FlaskClient, path: str, data: str
) -> None:
    response = client.post(path, data=data, content_type="application/json")
    assert_json_error(response, 400, "INVALID_JSON")


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
def test_too_large_body_is_json_413(client: FlaskClient, path: str) -> None:
    too_large = client.application.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post(path, data="x" * too_large, content_type="application/json")
    assert_json_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_rate_limited_answer_is_json_with_retry_after(client: FlaskClient) -> None:
    body = {"email": "nobody@example.com", "password": "Wr0ngPassword", "device_fingerprint": "p"}
    responses = [client.post("/auth/login", json=body) for _ in range(6)]
    limited = responses[-1]
    assert_json_error(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["Retry-After"]) > 0


# --- unexpected failures ----------------------------------------------------------------


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The test app with a route that crashes, and one whose SQL is wrong."""

    def crash() -> Any:
        raise RuntimeError("secret-internal-detail in crash()")

    def bad_sql() -> Any:
        db.session.execute(text("SELECT secret_column FROM no_such_table"))
        return {}

    app.add_url_rule("/_test/crash", "test_crash", crash)
    app.add_url_rule("/_test/bad-sql", "test_bad_sql", bad_sql)
    return app


def test_unexpected_failure_is_json_500(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/_test/crash")
    body = assert_json_error(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "Internal server error."


def test_unexpected_failure_hides_its_traceback(failing_app: Flask) -> None:
    text_body = failing_app.test_client().get("/_test/crash").get_data(as_text=True)
    for leak in ("Traceback", "secret-internal-detail", "RuntimeError", "crash()", ".py"):
        assert leak not in text_body


def test_unexpected_failure_is_logged(failing_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    failing_app.test_client().get("/_test/crash")
    assert any(r.exc_info and r.levelname == "ERROR" for r in caplog.records)


def test_database_error_text_never_reaches_the_client(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/_test/bad-sql")
    assert response.status_code >= 500
    assert response.mimetype == "application/json"
    text_body = response.get_data(as_text=True)
    for leak in ("no_such_table", "secret_column", "SELECT", "sqlalchemy", "psycopg"):
        assert leak.lower() not in text_body.lower()


# --- database unreachable ---------------------------------------------------------------


@pytest.fixture
def offline_app(tmp_path: Any) -> Iterator[Flask]:
    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=UNREACHABLE_DB))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def offline_token(offline_app: Flask) -> str:
    with offline_app.app_context():
        claims = {"lid": str(uuid.uuid4())}
        return create_access_token(identity=str(uuid.uuid4()), additional_claims=claims)


def test_protected_route_with_database_down_is_503(offline_app: Flask, offline_token: str) -> None:
    client = offline_app.test_client()
    elapsed, response = timed(
        lambda: client.get("/auth/me", headers={"Authorization": f"Bearer {offline_token}"})
    )
    assert_json_error(response, 503, "SERVICE_UNAVAILABLE")
    assert elapsed < 5


def test_login_with_database_down_is_503(offline_app: Flask) -> None:
    body = {"email": "a@example.com", "password": "Sup3rSecret!", "device_fingerprint": "p"}
    elapsed, response = timed(lambda: offline_app.test_client().post("/auth/login", json=body))
    assert_json_error(response, 503, "SERVICE_UNAVAILABLE")
    assert elapsed < 5


def test_database_down_answer_hides_connection_details(
    offline_app: Flask, offline_token: str
) -> None:
    response = offline_app.test_client().get(
        "/auth/me", headers={"Authorization": f"Bearer {offline_token}"}
    )
    text_body = response.get_data(as_text=True)
    for leak in ("127.0.0.1", "postgres", "refused", "psycopg", "Traceback"):
        assert leak not in text_body


def test_health_with_database_down_is_503_quickly(offline_app: Flask) -> None:
    elapsed, response = timed(lambda: offline_app.test_client().get("/health"))
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["database"] == "unavailable"
    assert body["status"] != "ok"
    assert elapsed < 5
