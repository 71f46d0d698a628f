"""GET /auth/sessions, DELETE /auth/sessions/{id} and DELETE /auth/sessions: sign-ins."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import bearer

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def sign_in(client: FlaskClient, person: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    body = {"email": person["email"], "password": person["password"]}
    response = client.post("/auth/login", json={**body, "device_fingerprint": fingerprint})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def logins(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/auth/sessions", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert isinstance(body, list)
    return body


def test_list_shape_and_order(client: FlaskClient, user: dict[str, Any]) -> None:
    second = sign_in(client, user, user["fingerprint"])
    listed = logins(client, second["access_token"])
    assert len(listed) == 2
    newest, oldest = listed
    assert set(newest) == {
        "id",
        "device_id",
        "device_name",
        "created_at",
        "last_used_at",
        "expires_at",
        "is_current",
    }
    assert newest["created_at"] >= oldest["created_at"]
    assert [x["is_current"] for x in listed] == [True, False]
    for login in listed:
        uuid.UUID(login["id"])
        assert ISO_Z.match(login["created_at"]) and ISO_Z.match(login["expires_at"])
    assert "refresh_token" not in str(listed) and user["refresh"] not in str(listed)


def test_expires_at_is_when_the_refresh_token_lapses(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    from datetime import datetime

    [login] = logins(client, user["access"])
    created = datetime.fromisoformat(login["created_at"])
    assert datetime.fromisoformat(login["expires_at"]) - created == timedelta(days=30)
    assert login["last_used_at"] == login["created_at"]
    refreshed = client.post("/auth/refresh", json={"refresh_token": user["refresh"]}).get_json()
    [after] = logins(client, refreshed["access_token"])
    assert after["id"] == login["id"] and after["expires_at"] >= login["expires_at"]


def test_ending_a_login_stops_its_tokens_at_once(client: FlaskClient, user: dict[str, Any]) -> None:
    other = sign_in(client, user, user["fingerprint"])
    [mine, theirs] = sorted(logins(client, user["access"]), key=lambda x: not x["is_current"])
    response = client.delete(f"/auth/sessions/{theirs['id']}", headers=bearer(user["access"]))
    assert response.status_code == 204 and response.get_data() == b""
    gone = client.get("/auth/me", headers=bearer(other["access_token"]))
    assert gone.status_code == 401 and gone.get_json()["error"] == "TOKEN_REVOKED"
    refresh = client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refresh.status_code == 401
    assert [x["id"] for x in logins(client, user["access"])] == [mine["id"]]


def test_ending_the_own_login_is_a_logout(client: FlaskClient, user: dict[str, Any]) -> None:
    [mine] = logins(client, user["access"])
    assert (
        client.delete(f"/auth/sessions/{mine['id']}", headers=bearer(user["access"])).status_code
        == 204
    )
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 401


@pytest.mark.parametrize("login_id", [str(uuid.uuid4()), "nope", "123"])
def test_unknown_or_malformed_login_is_not_found(
    client: FlaskClient, user: dict[str, Any], login_id: str
) -> None:
    response = client.delete(f"/auth/sessions/{login_id}", headers=bearer(user["access"]))
    assert response.status_code == 404
    assert response.get_json()["error"] == "LOGIN_NOT_FOUND"


def test_someone_elses_login_is_not_found_and_stays(client: FlaskClient, make_user: Any) -> None:
    ana, ben = make_user(), make_user()
    [bens] = logins(client, ben["access"])
    response = client.delete(f"/auth/sessions/{bens['id']}", headers=bearer(ana["access"]))
    assert response.status_code == 404
    assert response.get_json()["error"] == "LOGIN_NOT_FOUND"
    assert client.get("/auth/me", headers=bearer(ben["access"])).status_code == 200


def test_revoked_logins_are_not_listed(client: FlaskClient, user: dict[str, Any]) -> None:
    other = sign_in(client, user, user["fingerprint"])
    client.post("/auth/logout", headers=bearer(other["access_token"]))
    listed = logins(client, user["access"])
    assert len(listed) == 1 and listed[0]["is_current"]


def test_expired_logins_are_not_listed(
    client: FlaskClient, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from clarity_api.clock import utcnow
    from clarity_api.services import logins as service

    later = utcnow() + timedelta(days=30, seconds=1)
    monkeypatch.setattr(service, "utcnow", lambda: later)
    assert logins(client, user["access"]) == []


def test_sign_out_everywhere_else_keeps_only_this_login(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    others = [sign_in(client, user, user["fingerprint"]) for _ in range(3)]
    response = client.delete("/auth/sessions", headers=bearer(user["access"]))
    assert response.status_code == 204
    for other in others:
        assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 401
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 200
    [only] = logins(client, user["access"])
    assert only["is_current"]


def test_sign_out_everywhere_else_leaves_other_accounts(
    client: FlaskClient, make_user: Any
) -> None:
    ana, ben = make_user(), make_user()
    assert client.delete("/auth/sessions", headers=bearer(ana["access"])).status_code == 204
    assert client.get("/auth/me", headers=bearer(ben["access"])).status_code == 200


@pytest.mark.parametrize("method", ["get", "delete"])
def test_needs_a_token(client: FlaskClient, method: str) -> None:
    response = getattr(client, method)("/auth/sessions")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"
