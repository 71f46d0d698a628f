"""GET /sessions/{id}/reply: resuming a dropped reply; the claim; revoked logins mid-stream."""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest

from clarity_api.coach.prompts import SCRIPTED_REPLIES
from tests.conftest import bearer, open_session, open_stream, read_events

RECEIVE = SCRIPTED_REPLIES["receive"]


def ids(body: bytes) -> list[str]:
    return [line[4:] for line in body.decode().split("\n") if line.startswith("id: ")]


def text(body: bytes) -> str:
    return "".join(d["content"] for name, d in read_events(body) if name == "token")


def step_of(client, person, session_id) -> str:
    return client.get(f"/sessions/{session_id}", headers=person["headers"]).get_json()[
        "current_step"
    ]


def resume(client, person, session_id, last: str | None = None) -> Any:
    headers = dict(bearer(person["access"]))
    if last is not None:
        headers["Last-Event-ID"] = last
    return client.get(f"/sessions/{session_id}/reply", headers=headers, buffered=False)


def drop_after(client, person, session_id, chunks: int) -> tuple[str, bytes]:
    """Start a reply, read `chunks` chunks, go away; the reply id and what was read."""
    response = open_stream(client, person["headers"], session_id)
    body = iter(response.response)
    got = b"".join(next(body) for _ in range(chunks))
    response.close()
    return response.headers["X-Reply-Id"], got


def settled(app, reply_id: str) -> None:
    """Wait (cooperatively, bounded) until the kept reply's last event is written: after a
    drop it is written by a greenlet, whose database write yields on PostgreSQL."""
    reply = app.extensions["clarity_kept_replies"].store.get(reply_id)
    deadline = time.monotonic() + 5
    while reply is not None and reply.end is None and time.monotonic() < deadline:
        gevent.sleep(0.001)


@pytest.fixture
def session_id(client, user):
    return open_session(client, user["headers"])["session_id"]


def test_a_dropped_reply_resumes_after_the_last_event_with_the_rest_exactly(
    client, user, session_id
):
    reply_id, got = drop_after(client, user, session_id, 3)
    assert ids(got) == [f"{reply_id}:{n}" for n in (1, 2, 3)]
    assert step_of(client, user, session_id) == "receive"  # done has reached no one
    response = resume(client, user, session_id, f"{reply_id}:3")
    assert response.status_code == 200
    assert response.headers["X-Reply-Id"] == reply_id
    assert response.headers["Content-Type"].startswith("text/event-stream")
    rest = b"".join(response.response)
    assert ids(rest) == [f"{reply_id}:{n}" for n in range(4, 14)]
    assert text(got) + text(rest) == RECEIVE
    assert read_events(rest)[-1][1]["next_step"] == "clarify"
    assert step_of(client, user, session_id) == "clarify"


def test_without_last_event_id_the_whole_reply_is_replayed_and_a_replay_advances_nothing(
    client, user, session_id
):
    open_stream(client, user["headers"], session_id).get_data()  # read to its end
    assert step_of(client, user, session_id) == "clarify"
    for _ in range(2):
        body = b"".join(resume(client, user, session_id).response)
        assert text(body) == RECEIVE and read_events(body)[-1][0] == "done"
    assert step_of(client, user, session_id) == "clarify"
    after = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "ok"}
    )
    assert read_events(after.get_data())[-1][1]["next_step"] == "reframe"


def test_a_last_event_id_at_or_past_the_end_is_204(app, client, user, session_id):
    reply_id, _ = drop_after(client, user, session_id, 1)
    settled(app, reply_id)
    assert resume(client, user, session_id, f"{reply_id}:13").status_code == 204
    assert resume(client, user, session_id, f"{reply_id}:99").status_code == 204


@pytest.mark.parametrize("last", ["nonsense", "00000000-0000-0000-0000-000000000000:2", ":3"])
def test_a_last_event_id_not_naming_the_latest_reply_is_reply_not_found(
    client, user, session_id, last
):
    drop_after(client, user, session_id, 1)
    response = resume(client, user, session_id, last)
    assert response.status_code == 404
    assert response.get_json()["error"] == "REPLY_NOT_FOUND"


def test_a_session_without_a_reply_has_none_to_resume(client, user, session_id):
    response = resume(client, user, session_id)
    assert (response.status_code, response.get_json()["error"]) == (404, "REPLY_NOT_FOUND")


def test_someone_elses_session_is_not_found(client, user, make_user, session_id):
    drop_after(client, user, session_id, 1)
    for sid in (session_id, "not-an-id"):
        response = resume(client, make_user(), sid)
        assert (response.status_code, response.get_json()["error"]) == (404, "SESSION_NOT_FOUND")


def test_an_older_reply_is_not_the_latest(client, user, session_id):
    old, _ = drop_after(client, user, session_id, 1)
    b"".join(resume(client, user, session_id, f"{old}:1").response)  # delivers done: clarify
    newer = open_stream(client, user["headers"], session_id)
    newer.get_data()
    response = resume(client, user, session_id, f"{old}:1")
    assert (response.status_code, response.get_json()["error"]) == (404, "REPLY_NOT_FOUND")


@pytest.mark.parametrize("config_overrides", [{"STREAM_TOKEN_DELAY_MS": 5}])
def test_a_resume_follows_the_live_reply_to_its_end(client, user, session_id):
    reply_id, got = drop_after(client, user, session_id, 2)
    body = b"".join(resume(client, user, session_id, f"{reply_id}:2").response)
    assert ids(body) == [f"{reply_id}:{n}" for n in range(3, 14)]
    assert text(got) + text(body) == RECEIVE
    assert step_of(client, user, session_id) == "clarify"


@pytest.mark.parametrize("config_overrides", [{"STREAM_TOKEN_DELAY_MS": 5}])
def test_a_message_during_a_live_reply_is_409_with_its_id_and_reaches_no_coach(
    client, user, session_id
):
    reply_id, _ = drop_after(client, user, session_id, 1)
    again = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "again"}
    )
    assert again.status_code == 409
    assert again.get_json()["details"] == {"reply_id": reply_id}
    b"".join(resume(client, user, session_id, f"{reply_id}:1").response)
    assert step_of(client, user, session_id) == "clarify"


@pytest.mark.parametrize(
    "config_overrides", [{"STREAM_TOKEN_DELAY_MS": 20, "REPLY_RESUME_WINDOW_S": 0.01}]
)
def test_a_reply_no_one_resumes_within_the_window_ends_abandoned(app, client, user, session_id):
    reply_id, _got = drop_after(client, user, session_id, 1)
    kept = app.extensions["clarity_kept_replies"].store.get(reply_id)
    kept.producer.join(timeout=5)  # the window is 10 ms; the reply needs 240 ms
    body = b"".join(resume(client, user, session_id, f"{reply_id}:1").response)
    last = read_events(body)[-1]
    assert last[0] == "error" and last[1]["error"] == "REPLY_ABANDONED"
    assert last[1]["retryable"] is True
    assert len(ids(body)) < 12
    assert step_of(client, user, session_id) == "receive"
    fresh = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "again"}
    )
    assert read_events(fresh.get_data())[-1][0] == "done"


@pytest.mark.parametrize(
    "config_overrides", [{"STREAM_TOKEN_DELAY_MS": 50, "REVOCATION_CHECK_S": 0.05}]
)
def test_a_login_revoked_mid_stream_ends_it_with_token_revoked_within_a_second(
    client, user, session_id
):
    response = open_stream(client, user["headers"], session_id)
    body = iter(response.response)
    first = next(body)
    assert client.post("/auth/logout", headers=bearer(user["access"])).status_code == 204
    revoked_at = time.monotonic()
    rest = b"".join(body)
    assert time.monotonic() - revoked_at < 1.0
    last = read_events(rest)[-1]
    assert last == (
        "error",
        {
            "error": "TOKEN_REVOKED",
            "message": "This login was revoked while the reply was streaming.",
            "retryable": False,
        },
    )
    assert len(ids(first + rest)) < 13
    # The session did not advance, and its claim is free for the next login.
    login = client.post(
        "/auth/login",
        json={
            "email": user["email"],
            "password": user["password"],
            "device_fingerprint": "phone-1",
        },
    ).get_json()
    headers = {**user["headers"], **bearer(login["access_token"])}
    assert client.get(f"/sessions/{session_id}", headers=headers).get_json()["current_step"] == (
        "receive"
    )
    again = client.post(f"/sessions/{session_id}/messages", headers=headers, json={"content": "x"})
    assert again.status_code == 200
    assert read_events(again.get_data())[-1][0] == "done"


def test_resumes_issue_a_fixed_number_of_sql_statements(app, client, user, session_id):
    from tests.test_streaming import count_statements

    reply_id, _ = drop_after(client, user, session_id, 2)
    settled(app, reply_id)
    statements = count_statements(app)
    # token check, the session's latest reply, and the advance the first delivery owed
    b"".join(resume(client, user, session_id, f"{reply_id}:2").response)
    assert len(statements) == 3, statements
    statements.clear()
    b"".join(resume(client, user, session_id).response)  # a replay: nothing owed
    assert len(statements) == 2, statements
