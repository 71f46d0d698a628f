"""The reply stream, read whole through the test client: framing, text, steps, emotion."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from clarity_api.coach.prompts import SCRIPTED_REPLIES
from clarity_api.extensions import db
from clarity_api.web import lifecycle
from tests.api.test_replies import settled
from tests.conftest import STEPS, message_events, open_stream, read_events, send_message


def test_first_reply_is_the_scripted_line_word_by_word(client, auth_headers, session_id):
    events = message_events(client, auth_headers, session_id)
    tokens = [data["content"] for name, data in events if name == "token"]
    assert tokens[:3] == ["I", " understand", " how"]
    assert "".join(tokens) == "I understand how you feel. Let me help you work through this."
    assert len(tokens) == 12


def test_token_contents_concatenate_exactly_to_each_steps_reply(client, auth_headers, session_id):
    for step in STEPS:
        events = message_events(client, auth_headers, session_id, step=step)
        text = "".join(data["content"] for name, data in events if name == "token")
        assert text == SCRIPTED_REPLIES[step]


def test_stream_framing_is_one_line_json_per_event_and_one_done_last(
    client, auth_headers, session_id
):
    response = send_message(client, auth_headers, session_id)
    reply_id = response.headers["X-Reply-Id"]
    body = response.get_data().decode()
    assert body.endswith("\n\n")
    blocks = body[:-2].split("\n\n")
    for n, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert len(lines) == 3
        assert lines[0] == f"id: {reply_id}:{n}"
        assert lines[1] in {"event: token", "event: done"}
        assert lines[2].startswith("data: {")
    assert [b.split("\n")[1] for b in blocks].count("event: done") == 1
    assert blocks[-1].split("\n")[1] == "event: done"


def test_done_reports_next_step_emotion_and_status(client, auth_headers, session_id):
    events = message_events(client, auth_headers, session_id, "I'm frustrated with my job")
    name, done = events[-1]
    assert name == "done"
    assert done["next_step"] == "clarify"
    assert done["session_status"] == "active"
    assert done["emotion_detected"] == "anxious"
    assert 0 <= done["confidence"] <= 1


@pytest.mark.parametrize(
    ("content", "emotion"),
    [
        ("I'm furious and I can't stand my boss", "anxious"),
        ("I feel so sad and hopeless", "sad"),
        ("Thank you, I feel better now", "calm"),
        ("I don't know what to do, I'm torn", "confused"),
        ("I need to plan my week", "neutral"),
        ("Estoy muy preocupado por el trabajo", "anxious"),
    ],
)
def test_emotion_is_read_from_the_message(client, auth_headers, session_id, content, emotion):
    _name, done = message_events(client, auth_headers, session_id, content)[-1]
    assert done["emotion_detected"] == emotion


@pytest.mark.parametrize(
    "config_overrides", [{"STREAM_TOKEN_DELAY_MS": 30, "STREAM_PING_INTERVAL_S": 0.01}]
)
def test_silent_gaps_longer_than_the_ping_interval_carry_ping_comments(
    client, auth_headers, session_id
):
    events = message_events(client, auth_headers, session_id)
    assert (":", "ping") in events
    assert events[-1][0] == "done"
    tokens = "".join(data["content"] for name, data in events if name == "token")
    assert tokens == SCRIPTED_REPLIES["receive"]


@pytest.mark.parametrize("config_overrides", [{"STREAM_TOKEN_DELAY_MS": 5}])
def test_no_database_connection_is_checked_out_while_tokens_are_paced(
    app, client, auth_headers, session_id
):
    response = open_stream(client, auth_headers, session_id, "hello")
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(b"id: ") and b"\nevent: token\n" in first
    with app.app_context():
        pool = db.engine.pool
        assert pool.checkedout() == 0
        next(chunks)
        assert pool.checkedout() == 0
    rest = b"".join(chunks)
    assert b"event: done" in rest


def test_client_gone_mid_stream_leaves_the_session_where_it_was(
    app, client, auth_headers, session_id
):
    response = open_stream(client, auth_headers, session_id, "hello")
    chunks = iter(response.response)
    next(chunks)
    next(chunks)
    response.close()  # what the server does when a write to the socket fails
    settled(app, response.headers["X-Reply-Id"])  # the reply goes on; its end is kept
    current = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert current["current_step"] == "receive"
    again = send_message(client, auth_headers, session_id, step="receive")
    assert read_events(again.get_data())[-1][1]["next_step"] == "clarify"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c, h, sid: c.delete(f"/sessions/{sid}", headers=h), "SESSION_NOT_FOUND"),
        (
            lambda c, h, sid: c.patch(f"/sessions/{sid}", headers=h, json={"status": "abandoned"}),
            "SESSION_COMPLETED",
        ),
        (
            lambda c, h, sid: c.patch(f"/sessions/{sid}", headers=h, json={"status": "completed"}),
            "SESSION_COMPLETED",
        ),
    ],
)
def test_session_closed_mid_stream_ends_with_error_not_done(
    client, auth_headers, session_id, change, error
):
    response = open_stream(client, auth_headers, session_id, "hello")
    chunks = iter(response.response)
    next(chunks)
    assert change(client, auth_headers, session_id).status_code in (200, 204)
    events = read_events(b"".join(chunks))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == error
    assert events[-1][1]["retryable"] is False
    assert not any(name == "done" for name, _ in events)


def test_a_message_while_a_reply_is_live_is_refused_with_its_reply_id(
    client, auth_headers, session_id
):
    first = open_stream(client, auth_headers, session_id, "one")
    second = open_stream(client, auth_headers, session_id, "two")
    assert second.status_code == 409
    assert second.get_json()["error"] == "REPLY_IN_PROGRESS"
    assert second.get_json()["details"] == {"reply_id": first.headers["X-Reply-Id"]}
    assert read_events(b"".join(first.response))[-1][0] == "done"
    current = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert current["current_step"] == "clarify"
    third = send_message(client, auth_headers, session_id, "three", step="clarify")
    assert read_events(third.get_data())[-1][1]["next_step"] == "reframe"


@pytest.mark.parametrize("config_overrides", [{"STREAM_TOKEN_DELAY_MS": 5}])
def test_draining_server_ends_streams_with_retryable_error(client, auth_headers, session_id):
    response = open_stream(client, auth_headers, session_id, "hello")
    chunks = iter(response.response)
    next(chunks)
    lifecycle.start_draining(0)
    events = read_events(b"".join(chunks))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == "SERVER_RESTARTING"
    assert events[-1][1]["retryable"] is True
    lifecycle.reset()
    current = client.get(f"/sessions/{session_id}", headers=auth_headers).get_json()
    assert current["current_step"] == "receive"


def count_statements(app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return statements


def test_requests_issue_a_fixed_number_of_sql_statements(app, client, auth_headers):
    """A regression to N+1 (or a new query on the hot path) fails here."""
    statements = count_statements(app)

    def count(method, path, **kw):
        statements.clear()
        response = getattr(client, method)(path, headers=auth_headers, **kw)
        response.get_data()
        assert response.status_code < 300, response.get_data()
        return len(statements)

    # token check, user + tier, device, quota, insert, device seen
    assert count("post", "/sessions") == 6
    session_id = client.get("/sessions", headers=auth_headers).get_json()["sessions"][0]["id"]
    for _ in range(6):
        client.post("/sessions", headers=auth_headers)
    assert count("get", "/sessions") == 3  # token check, count, page
    assert count("get", f"/sessions/{session_id}") == 2  # token check, row
    assert count("post", f"/sessions/{session_id}/messages", json={"content": "hi"}) == 3
