"""Request bodies at the edges: nested thousands deep, and the largest valid message."""

from __future__ import annotations

import json

import pytest

from tests.conftest import open_session, read_events

DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a": ' * 5000 + "1" + "}" * 5000
EMOJI = "\U0001f600"  # astral: JSON-escaped as the pair \ud83d\ude00, 12 bytes


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
def test_json_nested_thousands_deep_is_invalid_json(client, path, deep):
    response = client.post(path, data=deep, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_JSON"


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_on_signed_in_routes_is_invalid_json(client, user, deep):
    session_id = open_session(client, user["headers"])["session_id"]
    for method, path in (
        ("post", f"/sessions/{session_id}/messages"),
        ("patch", f"/sessions/{session_id}"),
        ("delete", "/auth/me"),
    ):
        response = getattr(client, method)(
            path, data=deep, content_type="application/json", headers=user["headers"]
        )
        assert response.status_code == 400, (path, response.get_json())
        assert response.get_json()["error"] == "INVALID_JSON"
    assert client.get("/auth/me", headers=user["headers"]).status_code == 200  # unchanged


def largest_valid_message(indent: int | None = None) -> bytes:
    """content and 20 history turns of 4,000 emoji each, escaped as JSON clients do."""
    history = [{"role": ("user", "assistant")[n % 2], "content": EMOJI * 4000} for n in range(20)]
    body = {"content": EMOJI * 4000, "step": "receive", "history": history}
    return json.dumps(body, ensure_ascii=True, indent=indent).encode()


def test_the_largest_valid_message_fits_the_body_limit(app, client, user):
    limit = app.config["MAX_CONTENT_LENGTH"]
    compact, pretty = largest_valid_message(), largest_valid_message(indent=2)
    assert len(compact) > 1_000_000  # 21 × 4,000 × 12 bytes of text alone
    assert len(compact) < len(pretty) < limit
    for body in (compact, pretty):
        session_id = open_session(client, user["headers"])["session_id"]
        response = client.post(
            f"/sessions/{session_id}/messages",
            data=body,
            content_type="application/json",
            headers=user["headers"],
        )
        assert response.status_code == 200, response.get_json()
        assert read_events(response.get_data())[-1][0] == "done"


def test_a_body_over_the_limit_is_413(app, client, user):
    session_id = open_session(client, user["headers"])["session_id"]
    body = largest_valid_message()
    padded = body[:-1] + b" " * (app.config["MAX_CONTENT_LENGTH"] - len(body) + 1) + b"}"
    assert len(padded) == app.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post(
        f"/sessions/{session_id}/messages",
        data=padded,
        content_type="application/json",
        headers=user["headers"],
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "PAYLOAD_TOO_LARGE"
