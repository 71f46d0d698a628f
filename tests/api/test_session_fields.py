"""PATCH /sessions/{id} with what the shipped app sends at the commit step, and updated_at."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from clarity_api.extensions import db
from clarity_api.models import SolveSession
from tests.conftest import open_session

FIRST_STEP = "Call my manager tomorrow morning and ask for the meeting"


def patch(client: FlaskClient, person: dict[str, Any], session_id: str, body: Any) -> Any:
    return client.patch(f"/sessions/{session_id}", headers=person["headers"], json=body)


def test_commit_form_completes_the_session(client: FlaskClient, user: dict[str, Any]) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    body = {
        "status": "completed",
        "first_step_action": FIRST_STEP,
        "reminder_time": "2026-12-02T09:30:00+01:00",
    }
    response = patch(client, user, session_id, body)
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert set(got) == {
        "id",
        "status",
        "current_step",
        "created_at",
        "completed_at",
        "updated_at",
        "reminder_time",
        "locale",
    }
    assert got["id"] == session_id and got["status"] == "completed"
    assert got["reminder_time"] == "2026-12-02T08:30:00Z"  # stored and shown in UTC
    assert got["completed_at"] is not None and got["updated_at"] >= got["created_at"]
    assert client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json() == got


def test_first_step_is_never_stored_only_when(
    app: Any, client: FlaskClient, user: dict[str, Any]
) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    patch(client, user, session_id, {"first_step_action": FIRST_STEP})
    with app.app_context():
        row = db.session.get(SolveSession, uuid.UUID(session_id))
        assert row is not None and row.committed_at is not None
        values = [str(getattr(row, c.key)) for c in SolveSession.__table__.columns]
    assert not any(FIRST_STEP in v or "manager" in v for v in values)
    export = client.get("/auth/me/export", headers=user["headers"]).get_data(as_text=True)
    assert "manager" not in export


@pytest.mark.parametrize("status", ["completed", "abandoned"])
def test_reminder_and_locale_can_be_set_on_a_closed_session(
    client: FlaskClient, user: dict[str, Any], status: str
) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    assert patch(client, user, session_id, {"status": status}).status_code == 200
    response = patch(client, user, session_id, {"locale": "es-MX", "reminder_time": None})
    assert response.status_code == 200
    assert response.get_json()["locale"] == "es-MX"
    assert response.get_json()["status"] == status


def test_reminder_can_be_cleared(client: FlaskClient, user: dict[str, Any]) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    patch(client, user, session_id, {"reminder_time": "2026-12-02T09:30:00Z"})
    response = patch(client, user, session_id, {"reminder_time": None})
    assert response.get_json()["reminder_time"] is None


def test_a_refused_status_change_changes_no_field(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    patch(client, user, session_id, {"status": "abandoned"})
    before = client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json()
    response = patch(client, user, session_id, {"status": "completed", "locale": "es"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "INVALID_TRANSITION"
    after = client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json()
    assert after == before


@pytest.mark.parametrize(
    "body",
    [
        {"first_step_action": "   "},
        {"first_step_action": "x" * 501},
        {"first_step_action": 5},
        {"reminder_time": "tomorrow"},
        {"reminder_time": "2026-12-02T09:30:00"},  # no offset: not an instant
        {"locale": "english please"},
        {"locale": "e"},
        {"locale": 7},
        {"mood": "good"},
    ],
    ids=["blank", "long", "int", "words", "naive", "spaces", "short", "int-locale", "unknown"],
)
def test_bad_fields_are_422_and_change_nothing(
    client: FlaskClient, user: dict[str, Any], body: dict[str, Any]
) -> None:
    session_id = open_session(client, user["headers"])["session_id"]
    before = client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json()
    response = patch(client, user, session_id, body)
    assert response.status_code == 422
    assert response.get_json()["error"] == "VALIDATION_ERROR"
    assert set(response.get_json()["details"]) <= set(body) | {"status"}
    assert client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json() == before


def test_someone_elses_session_is_404(client: FlaskClient, make_user: Any) -> None:
    ana, ben = make_user(), make_user()
    session_id = open_session(client, ben["headers"])["session_id"]
    response = patch(client, ana, session_id, {"locale": "en"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "SESSION_NOT_FOUND"


def test_updated_at_moves_with_the_step(
    client: FlaskClient, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from clarity_api.clock import isoformat, utcnow
    from clarity_api.services import turns

    session_id = open_session(client, user["headers"])["session_id"]
    created = client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json()
    later = utcnow() + timedelta(minutes=5)
    monkeypatch.setattr(turns, "utcnow", lambda: later)
    stream = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "hi"}
    )
    assert b"event: done" in stream.get_data()
    after = client.get(f"/sessions/{session_id}", headers=user["headers"]).get_json()
    assert after["current_step"] == "clarify"
    assert after["updated_at"] == isoformat(later) != created["updated_at"]
    listed = client.get("/sessions", headers=user["headers"]).get_json()["sessions"]
    assert listed[0]["updated_at"] == after["updated_at"]


def test_an_early_year_is_shown_as_iso_8601(client: FlaskClient, user: dict[str, Any]) -> None:
    """Found by the fuzzer: year 177 came back as "177-01-01…", which is no date-time."""
    session_id = open_session(client, user["headers"])["session_id"]
    response = patch(client, user, session_id, {"reminder_time": "0177-01-01T01:04:24-08:16"})
    assert response.get_json()["reminder_time"] == "0177-01-01T09:20:24Z"
