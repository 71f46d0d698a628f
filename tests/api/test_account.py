"""GET /auth/me, GET /auth/me/export and DELETE /auth/me."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clarity_api.extensions import db
from clarity_api.models import User
from tests.conftest import bearer, open_session, set_tier

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def delete_me(client: FlaskClient, person: dict[str, Any], password: str | None = None) -> Any:
    return client.delete(
        "/auth/me",
        json={"password": person["password"] if password is None else password},
        headers=bearer(person["access"]),
    )


# --- GET /auth/me -----------------------------------------------------------------------


def test_me_shape(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.get("/auth/me", headers=bearer(user["access"]))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "email", "tier", "created_at", "usage", "subscription"}
    assert body["id"] == user["id"]
    assert body["email"] == user["email"]
    assert body["tier"] == "free"
    assert ISO_Z.match(body["created_at"])
    assert body["usage"] == {"sessions_used": 0, "sessions_limit": 10, "tier": "free"}
    assert body["subscription"] == {"tier": "free", "expires_at": None, "will_renew": False}


def test_me_counts_sessions_used(client: FlaskClient, user: dict[str, Any]) -> None:
    open_session(client, user["headers"])["session_id"]
    open_session(client, user["headers"])["session_id"]
    usage = client.get("/auth/me", headers=bearer(user["access"])).get_json()["usage"]
    assert usage["sessions_used"] == 2


@pytest.mark.parametrize(("tier", "limit"), [("standard", 100), ("pro", None)])
def test_me_shows_tier_limits(
    client: FlaskClient, runner: Any, user: dict[str, Any], tier: str, limit: int | None
) -> None:
    set_tier(runner, user["email"], tier)
    body = client.get("/auth/me", headers=bearer(user["access"])).get_json()
    assert body["tier"] == tier
    assert body["usage"] == {"sessions_used": 0, "sessions_limit": limit, "tier": tier}


def test_me_requires_a_token(client: FlaskClient) -> None:
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- GET /auth/me/export ----------------------------------------------------------------


def test_export_holds_everything_kept(client: FlaskClient, user: dict[str, Any]) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    response = client.get("/auth/me/export", headers=bearer(user["access"]))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert {"account", "tier", "usage", "devices", "logins", "sessions"} <= set(body)
    assert body["account"]["id"] == user["id"]
    assert body["account"]["email"] == user["email"]
    assert body["tier"] == "free"
    assert body["usage"] == {"sessions_used": 1, "sessions_limit": 10, "tier": "free"}
    assert [d["fingerprint"] for d in body["devices"]] == [user["fingerprint"]]
    assert len(body["logins"]) == 1
    assert body["logins"][0]["device_id"] == body["devices"][0]["id"]
    assert [s["id"] for s in body["sessions"]] == [session_id]
    assert body["sessions"][0]["status"] == "active"


def test_export_lists_every_login(client: FlaskClient, user: dict[str, Any]) -> None:
    login = {"email": user["email"], "password": user["password"], "device_fingerprint": "phone-1"}
    client.post("/auth/login", json=login)
    client.post("/auth/logout", headers=bearer(user["access"]))
    other = client.post("/auth/login", json=login).get_json()
    logins = client.get("/auth/me/export", headers=bearer(other["access_token"])).get_json()[
        "logins"
    ]
    assert len(logins) == 3
    assert sum(lg["revoked_at"] is not None for lg in logins) == 1


def test_export_timestamps_are_utc_with_z(client: FlaskClient, user: dict[str, Any]) -> None:
    open_session(client, user["headers"])["session_id"]
    body = client.get("/auth/me/export", headers=bearer(user["access"])).get_json()
    stamps = [body["account"]["created_at"], body["devices"][0]["created_at"]]
    stamps += [body["logins"][0]["created_at"], body["sessions"][0]["created_at"]]
    assert all(ISO_Z.match(s) for s in stamps), stamps


def test_export_holds_no_token_material(
    client: FlaskClient, app: Flask, user: dict[str, Any]
) -> None:
    rotated = client.post("/auth/refresh", json={"refresh_token": user["refresh"]}).get_json()
    response = client.get("/auth/me/export", headers=bearer(rotated["access_token"]))
    text = response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(User, uuid.UUID(user["id"]))
        assert stored is not None
        password_hash = stored.password_hash
    secrets = [
        user["access"],
        user["refresh"],
        rotated["access_token"],
        rotated["refresh_token"],
        hashlib.sha256(rotated["refresh_token"].encode()).hexdigest(),
        password_hash,
        user["password"],
    ]
    for secret in secrets:
        assert secret not in text
    keys = set(_keys(response.get_json()))
    assert not {k for k in keys if "password" in k or "hash" in k or "token" in k}, keys


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_export_shows_only_own_data(client: FlaskClient, make_user: Any) -> None:
    ana, ben = make_user(), make_user()
    open_session(client, ben["headers"])["session_id"]
    body = client.get("/auth/me/export", headers=bearer(ana["access"])).get_json()
    assert body["sessions"] == []
    assert ben["email"] not in json.dumps(body)


def test_export_requires_a_token(client: FlaskClient) -> None:
    response = client.get("/auth/me/export")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"


# --- DELETE /auth/me --------------------------------------------------------------------


def test_delete_me_answers_no_content(client: FlaskClient, user: dict[str, Any]) -> None:
    response = delete_me(client, user)
    assert response.status_code == 204
    assert response.get_data() == b""


@pytest.mark.parametrize("password", ["Wr0ngPassword", ""], ids=["wrong", "empty"])
def test_delete_me_rejects_wrong_password(
    client: FlaskClient, user: dict[str, Any], password: str
) -> None:
    response = delete_me(client, user, password)
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_CREDENTIALS"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 200


@pytest.mark.parametrize(
    "body", [{"password": 5}, {"password": "x", "extra": 1}], ids=["int", "extra"]
)
def test_delete_me_rejects_invalid_body(
    client: FlaskClient, user: dict[str, Any], body: dict[str, Any]
) -> None:
    response = client.delete("/auth/me", json=body, headers=bearer(user["access"]))
    assert response.status_code == 422
    assert response.get_json()["error"] == "VALIDATION_ERROR"


def test_delete_me_requires_a_token(client: FlaskClient) -> None:
    response = client.delete("/auth/me", json={"password": "Str0ng-Lantern-42"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"


def test_delete_me_stops_every_token(client: FlaskClient, user: dict[str, Any]) -> None:
    login = {"email": user["email"], "password": user["password"], "device_fingerprint": "phone-1"}
    other = client.post("/auth/login", json=login).get_json()
    delete_me(client, user)
    for token in (user["access"], other["access_token"]):
        response = client.get("/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    for token in (user["refresh"], other["refresh_token"]):
        assert client.post("/auth/refresh", json={"refresh_token": token}).status_code == 401


def test_delete_me_old_credentials_no_longer_sign_in(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    delete_me(client, user)
    login = {"email": user["email"], "password": user["password"], "device_fingerprint": "phone-1"}
    response = client.post("/auth/login", json=login)
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_CREDENTIALS"


def test_delete_me_lets_the_email_register_again(
    client: FlaskClient, make_user: Any, user: dict[str, Any]
) -> None:
    delete_me(client, user)
    again = make_user(email=user["email"])
    assert again["id"] != user["id"]
    me = client.get("/auth/me", headers=bearer(again["access"])).get_json()
    assert me["usage"]["sessions_used"] == 0
