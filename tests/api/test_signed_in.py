"""web.auth.signed_in: one guard for signed-in views, with its OpenAPI docs."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from clarity_api.web.openapi import DESCRIPTIONS


def operation(client: FlaskClient, path: str, method: str) -> dict[str, Any]:
    return client.get("/openapi.json").get_json()["paths"][path][method]  # type: ignore[no-any-return]


def test_signed_in_documents_bearer_401_429_and_503(client: FlaskClient) -> None:
    me = operation(client, "/auth/me", "get")
    assert me["security"] == [{"bearerAuth": []}]
    assert me["responses"]["401"]["description"] == DESCRIPTIONS[401]
    assert me["responses"]["429"]["description"] == DESCRIPTIONS[429]
    assert "503" in me["responses"]


def test_a_views_own_note_on_401_wins(client: FlaskClient) -> None:
    delete_me = operation(client, "/auth/me", "delete")
    assert "RECENT_LOGIN_REQUIRED" in delete_me["responses"]["401"]["description"]


def test_signed_in_refuses_a_missing_token_before_the_view(client: FlaskClient) -> None:
    response = client.get("/auth/me/export")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == "Bearer"
