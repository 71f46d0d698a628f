"""The shipped app's own paths: /account, /auth/config/features; deleting without a password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import bearer


def refreshed_token(client: FlaskClient, person: dict[str, Any]) -> str:
    response = client.post("/auth/refresh", json={"refresh_token": person["refresh"]})
    assert response.status_code == 200
    return response.get_json()["access_token"]  # type: ignore[no-any-return]


def test_account_export_is_the_same_answer(client: FlaskClient, user: dict[str, Any]) -> None:
    ours = client.get("/auth/me/export", headers=bearer(user["access"]))
    theirs = client.get("/account/export", headers=bearer(user["access"]))
    assert theirs.status_code == 200
    assert theirs.get_json() == ours.get_json()


@pytest.mark.parametrize("path", ["/account", "/auth/me"])
def test_delete_without_a_body_right_after_signing_in(
    client: FlaskClient, user: dict[str, Any], path: str
) -> None:
    response = client.delete(path, headers=bearer(user["access"]))
    assert response.status_code == 204
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 401
    again = client.post(
        "/auth/register",
        json={"email": user["email"], "password": user["password"], "device_fingerprint": "p"},
    )
    assert again.status_code == 201


@pytest.mark.parametrize("path", ["/account", "/auth/me"])
def test_delete_without_a_password_after_a_refresh_needs_a_recent_sign_in(
    client: FlaskClient, user: dict[str, Any], path: str
) -> None:
    token = refreshed_token(client, user)
    response = client.delete(path, headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == "RECENT_LOGIN_REQUIRED"
    assert "sign in again" in response.get_json()["message"].lower()
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200


def test_delete_without_a_password_ten_minutes_after_signing_in(
    client: FlaskClient, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from clarity_api.clock import utcnow
    from clarity_api.services import tokens

    later = utcnow() + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    response = client.delete("/account", headers=bearer(user["access"]))
    assert response.status_code == 401
    assert response.get_json()["error"] == "RECENT_LOGIN_REQUIRED"


def test_delete_with_the_password_works_after_a_refresh(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    token = refreshed_token(client, user)
    response = client.delete("/account", headers=bearer(token), json={"password": user["password"]})
    assert response.status_code == 204


def test_delete_with_a_wrong_password_is_refused_even_when_recent(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    response = client.delete("/account", headers=bearer(user["access"]), json={"password": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_CREDENTIALS"


def test_features_need_no_token(client: FlaskClient) -> None:
    response = client.get("/auth/config/features")
    assert response.status_code == 200
    assert response.get_json() == {
        "payments_enabled": False,
        "beta_mode": False,
        "app_version": "1.0.0",
    }


@pytest.mark.parametrize(
    "config_overrides", [{"REVENUECAT_WEBHOOK_AUTH": "Bearer s3cret", "APP_VERSION": "2.4.1"}]
)
def test_features_say_payments_when_the_webhook_is_configured(client: FlaskClient) -> None:
    body = client.get("/auth/config/features").get_json()
    assert body == {"payments_enabled": True, "beta_mode": False, "app_version": "2.4.1"}
