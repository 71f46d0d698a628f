"""Nothing a person writes is stored or logged; secrets never reach the logs."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text

from clarity_api.extensions import db
from tests.conftest import read_events
from tests.support.live import serve


def database_dump(app) -> str:
    rows = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            rows += [
                repr(tuple(r)) for r in db.session.execute(text(f"SELECT * FROM {table.name}"))
            ]
    return "\n".join(rows)


def test_message_content_is_never_stored_or_logged(app, client, auth_headers, caplog):
    caplog.set_level(logging.DEBUG)
    marker = f"secret-marker-{uuid.uuid4().hex}"
    session_id = client.post("/sessions", headers=auth_headers).get_json()["session_id"]
    body = {"content": f"I feel {marker}", "history": [{"role": "user", "content": marker}]}
    response = client.post(f"/sessions/{session_id}/messages", headers=auth_headers, json=body)
    assert read_events(response.get_data())[-1][0] == "done"
    assert marker not in database_dump(app)
    assert marker not in caplog.text


def test_rejected_message_content_is_not_logged(client, auth_headers, caplog):
    caplog.set_level(logging.DEBUG)
    marker = f"secret-marker-{uuid.uuid4().hex}"
    session_id = client.post("/sessions", headers=auth_headers).get_json()["session_id"]
    response = client.post(
        f"/sessions/{session_id}/messages",
        headers=auth_headers,
        json={"content": marker * 200, "step": "receive"},
    )
    assert response.status_code == 422
    assert marker not in caplog.text
    assert marker not in response.get_data(as_text=True)


@pytest.mark.live
def test_a_full_walk_through_logs_no_secret_and_no_content(app, tmp_path):
    """Structured logs of a real server: passwords, tokens and messages never appear."""
    marker = f"private-{uuid.uuid4().hex}"
    password = "Sup3rSecret!"
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path) as live:
        tokens = live.register("walk@example.com")
        headers = {k: v for k, v in tokens.items() if k != "refresh"}
        _s, created = live.json("POST", "/sessions", {}, headers=headers)
        for _ in range(5):
            live.request(
                "POST",
                f"/sessions/{created['session_id']}/messages",
                {"content": f"{marker} hello"},
                headers=headers,
            )
        _s, pair = live.json("POST", "/auth/refresh", {"refresh_token": tokens["refresh"]})
        live.request(
            "POST",
            "/auth/login",
            {"email": "walk@example.com", "password": "Wr0ngPass", "device_fingerprint": "phone-1"},
        )
        status, response_headers, _raw = live.request("GET", "/auth/me", headers=headers)
        assert status == 200 and response_headers["X-Request-ID"]
        logs = live.logs()
    secrets = [
        marker,
        password,
        "Wr0ngPass",
        tokens["refresh"],
        pair["access_token"],
        headers["Authorization"].split()[1],
    ]
    for secret in secrets:
        assert secret not in logs
    request_lines = [line for line in logs.splitlines() if '"msg": "request"' in line]
    assert len(request_lines) >= 9
    assert response_headers["X-Request-ID"] in logs
