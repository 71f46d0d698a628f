"""HTTP behaviour of /sessions: open, list, read, close, delete, and the message checks."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import STEPS, open_session, read_events, send_message


# The seven behaviours the seed asked for.
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/sessions"),
        ("get", "/sessions"),
        ("get", f"/sessions/{uuid.uuid4()}"),
        ("patch", f"/sessions/{uuid.uuid4()}"),
        ("delete", f"/sessions/{uuid.uuid4()}"),
        ("post", f"/sessions/{uuid.uuid4()}/messages"),
    ],
)
def test_unauthenticated_request_returns_401(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_create_returns_201_with_location_and_usage(client, auth_headers):
    response = client.post("/sessions", headers=auth_headers, json={})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/sessions/{body['session_id']}"
    assert body["status"] == "active"
    assert body["current_step"] == "receive"
    assert body["created_at"].endswith("Z")
    assert body["usage"] == {"sessions_used": 1, "sessions_limit": 10, "tier": "free"}


def test_list_returns_array_of_sessions(client, auth_headers):
    created = open_session(client, auth_headers)
    body = client.get("/sessions", headers=auth_headers).get_json()
    assert body["total"] == 1 and body["limit"] == 20 and body["offset"] == 0
    assert isinstance(body["sessions"], list)
    assert body["sessions"][0]["id"] == created["session_id"]
    assert set(body["sessions"][0]) == {
        "id",
        "status",
        "current_step",
        "created_at",
        "completed_at",
        "updated_at",
    }


def test_get_returns_the_session(client, auth_headers):
    created = open_session(client, auth_headers)
    response = client.get(f"/sessions/{created['session_id']}", headers=auth_headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": created["session_id"],
        "status": "active",
        "current_step": "receive",
        "created_at": created["created_at"],
        "completed_at": None,
        "updated_at": created["created_at"],
        "reminder_time": None,
        "locale": None,
    }


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"status": "abandoned"}),
        ("delete", "", None),
        ("post", "/messages", {"content": "hello"}),
    ],
)
def test_another_users_session_returns_404(client, make_user, method, suffix, body):
    owner, other = make_user(), make_user()
    created = open_session(client, owner["headers"])
    response = getattr(client, method)(
        f"/sessions/{created['session_id']}{suffix}", headers=other["headers"], json=body
    )
    assert response.status_code == 404
    assert response.get_json()["error"] == "SESSION_NOT_FOUND"
    # ...and it is untouched for its owner.
    mine = client.get(f"/sessions/{created['session_id']}", headers=owner["headers"]).get_json()
    assert mine["status"] == "active" and mine["current_step"] == "receive"


def test_messages_endpoint_returns_event_stream(client, auth_headers):
    created = open_session(client, auth_headers)
    response = send_message(client, auth_headers, created["session_id"])
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    events = read_events(response.data)
    assert events[-1][0] == "done"


@pytest.mark.parametrize("session_id", [str(uuid.uuid4()), "not-a-uuid", "123", "%20"])
def test_invalid_session_returns_404(client, auth_headers, session_id):
    for response in (
        client.get(f"/sessions/{session_id}", headers=auth_headers),
        client.patch(f"/sessions/{session_id}", headers=auth_headers, json={"status": "abandoned"}),
        client.delete(f"/sessions/{session_id}", headers=auth_headers),
        send_message(client, auth_headers, session_id),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "SESSION_NOT_FOUND"


# Opening sessions.
def test_create_without_fingerprint_is_400(client, user):
    headers = {"Authorization": user["headers"]["Authorization"]}
    response = client.post("/sessions", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "MISSING_DEVICE_FINGERPRINT"


def test_create_with_unknown_fingerprint_is_403(client, user):
    headers = {**user["headers"], "X-Device-Fingerprint": "someone-elses-phone"}
    response = client.post("/sessions", headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "DEVICE_NOT_FOUND"


def test_create_with_another_users_fingerprint_is_403(client, make_user):
    me, other = make_user(fingerprint="mine"), make_user(fingerprint="theirs")
    headers = {**me["headers"], "X-Device-Fingerprint": other["fingerprint"]}
    assert client.post("/sessions", headers=headers).status_code == 403


def test_create_rejects_a_body_with_fields(client, auth_headers):
    response = client.post("/sessions", headers=auth_headers, json={"step": "commit"})
    assert response.status_code == 422
    assert "step" in response.get_json()["details"]


def test_free_quota_allows_ten_sessions_then_403(client, auth_headers):
    for used in range(1, 11):
        assert open_session(client, auth_headers)["usage"]["sessions_used"] == used
    response = client.post("/sessions", headers=auth_headers)
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "QUOTA_EXCEEDED"
    assert body["details"] == {"sessions_used": 10, "sessions_limit": 10, "tier": "free"}
    assert client.get("/sessions", headers=auth_headers).get_json()["total"] == 10


def test_deleted_sessions_still_count_against_quota(client, auth_headers):
    created = open_session(client, auth_headers)
    assert (
        client.delete(f"/sessions/{created['session_id']}", headers=auth_headers).status_code == 204
    )
    me = client.get("/auth/me", headers=auth_headers).get_json()
    assert me["usage"]["sessions_used"] == 1


def test_pro_tier_has_no_session_limit(client, runner, user):
    assert runner.invoke(args=["users", "set-tier", user["email"], "pro"]).exit_code == 0
    body = open_session(client, user["headers"])
    assert body["usage"] == {"sessions_used": 1, "sessions_limit": None, "tier": "pro"}


# Listing.
def test_pagination_walks_every_session_once_newest_first(client, runner, user):
    runner.invoke(args=["users", "set-tier", user["email"], "pro"])
    created = [open_session(client, user["headers"])["session_id"] for _ in range(7)]
    seen: list[str] = []
    for offset in range(0, 9, 3):
        page = client.get(f"/sessions?limit=3&offset={offset}", headers=user["headers"]).get_json()
        assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == offset
        seen += [s["id"] for s in page["sessions"]]
    assert seen == list(reversed(created))


def test_list_filters_by_status(client, auth_headers):
    first = open_session(client, auth_headers)["session_id"]
    open_session(client, auth_headers)
    client.patch(f"/sessions/{first}", headers=auth_headers, json={"status": "abandoned"})
    body = client.get("/sessions?status=abandoned", headers=auth_headers).get_json()
    assert body["total"] == 1 and body["sessions"][0]["id"] == first
    assert client.get("/sessions?status=active", headers=auth_headers).get_json()["total"] == 1


def test_list_only_shows_own_sessions(client, make_user):
    me, other = make_user(), make_user()
    open_session(client, other["headers"])
    assert client.get("/sessions", headers=me["headers"]).get_json() == {
        "sessions": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "offset=-1", "status=paused", "limit=1.5", "status="],
)
def test_list_rejects_bad_query_with_422(client, auth_headers, query):
    response = client.get(f"/sessions?{query}", headers=auth_headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "VALIDATION_ERROR"
    assert query.split("=")[0] in body["details"]


# Closing and deleting.
@pytest.mark.parametrize("status", ["completed", "abandoned"])
def test_patch_closes_an_active_session(client, auth_headers, status):
    session_id = open_session(client, auth_headers)["session_id"]
    response = client.patch(
        f"/sessions/{session_id}", headers=auth_headers, json={"status": status}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == status
    assert (body["completed_at"] is not None) == (status == "completed")


def test_patch_on_a_closed_session_is_409(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    client.patch(f"/sessions/{session_id}", headers=auth_headers, json={"status": "abandoned"})
    response = client.patch(
        f"/sessions/{session_id}", headers=auth_headers, json={"status": "completed"}
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "INVALID_TRANSITION"


def test_patch_on_a_session_walked_to_completion_is_409(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    for step in STEPS:
        send_message(client, auth_headers, session_id, step=step)
    response = client.patch(
        f"/sessions/{session_id}", headers=auth_headers, json={"status": "abandoned"}
    )
    assert response.status_code == 409
    assert response.get_json()["details"] == {"status": "completed"}
    body = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert body["status"] == "completed" and body["completed_at"] is not None


@pytest.mark.parametrize("body", [{"status": "active"}, {"status": "done"}, {}, {"status": 1}])
def test_patch_rejects_bad_status_with_422(client, auth_headers, body):
    session_id = open_session(client, auth_headers)["session_id"]
    response = client.patch(f"/sessions/{session_id}", headers=auth_headers, json=body)
    assert response.status_code == 422
    assert "status" in response.get_json()["details"]


def test_delete_removes_the_session(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    assert client.delete(f"/sessions/{session_id}", headers=auth_headers).status_code == 204
    assert client.get(f"/sessions/{session_id}", headers=auth_headers).status_code == 404
    assert client.delete(f"/sessions/{session_id}", headers=auth_headers).status_code == 404
    assert client.get("/sessions", headers=auth_headers).get_json()["total"] == 0


# Messages: the checks made before a stream starts.
def test_walk_through_all_five_steps_completes_the_session(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    for index, step in enumerate(STEPS):
        response = send_message(client, auth_headers, session_id, step=step)
        event, done = read_events(response.data)[-1]
        assert event == "done"
        expected_next = STEPS[index + 1] if index + 1 < len(STEPS) else None
        assert done["next_step"] == expected_next
        assert done["session_status"] == ("completed" if step == "commit" else "active")
    body = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert body["status"] == "completed"
    assert body["current_step"] == "commit"
    assert body["completed_at"].endswith("Z")


def test_message_to_completed_session_is_400(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    for step in STEPS:
        send_message(client, auth_headers, session_id, step=step)
    response = send_message(client, auth_headers, session_id)
    assert response.status_code == 400
    assert response.get_json()["error"] == "SESSION_COMPLETED"


def test_message_to_abandoned_session_is_400(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    client.patch(f"/sessions/{session_id}", headers=auth_headers, json={"status": "abandoned"})
    response = send_message(client, auth_headers, session_id)
    assert response.status_code == 400
    assert response.get_json()["error"] == "SESSION_COMPLETED"


def test_retried_message_for_an_earlier_step_is_409_and_changes_nothing(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    send_message(client, auth_headers, session_id, step="receive")
    response = send_message(client, auth_headers, session_id, step="receive")
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "STEP_MISMATCH"
    assert body["details"] == {"current_step": "clarify"}
    current = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert current["current_step"] == "clarify"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   \n\t "}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": 42}, "content"),
        ({"content": None}, "content"),
        ({"content": "hi", "step": "decide"}, "step"),
        ({"content": "hi", "history": [{"role": "coach", "content": "x"}]}, "history"),
        ({"content": "hi", "history": [{"role": "user", "content": ""}]}, "history"),
        ({"content": "hi", "history": [{"role": "user", "content": "x"}] * 21}, "history"),
        ({"content": "hi", "history": "nope"}, "history"),
        ({"content": "hi", "mood": "sad"}, "mood"),
    ],
)
def test_bad_message_is_422_and_changes_nothing(client, auth_headers, body, field):
    session_id = open_session(client, auth_headers)["session_id"]
    response = client.post(f"/sessions/{session_id}/messages", headers=auth_headers, json=body)
    assert response.status_code == 422
    assert response.get_json()["error"] == "VALIDATION_ERROR"
    assert field in response.get_json()["details"]
    current = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert current["current_step"] == "receive"


def test_content_of_4000_characters_after_trimming_is_accepted(client, auth_headers):
    session_id = open_session(client, auth_headers)["session_id"]
    response = send_message(client, auth_headers, session_id, content="  " + "a" * 4000 + "  ")
    assert response.status_code == 200


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_message_body_that_is_not_a_json_object_is_400(client, auth_headers, raw):
    session_id = open_session(client, auth_headers)["session_id"]
    response = client.post(
        f"/sessions/{session_id}/messages",
        headers=auth_headers,
        data=raw,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_JSON"
