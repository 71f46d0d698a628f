"""The stream with a language-model coach (a real streaming peer) and the crisis check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clarity_api.coach import make_coach
from clarity_api.extensions import db
from clarity_api.models import BlockedMessageCount
from clarity_api.safety.crisis import RESOURCES, SAFETY_MESSAGE
from tests.conftest import message_events

CRISIS = [
    "I want to kill myself",
    "Sometimes I think about ending my life",
    "Quiero suicidarme, ya no puedo más",
    "No quiero vivir, me quiero morir",
    "I want to k1ll myself",
    "I want to k\u0456ll myself",  # a Cyrillic "і"
    "k i l l m y s e l f",
]


@pytest.fixture
def config_overrides(fake_provider):
    return {
        "COACH_PROVIDER": "openai",
        "COACH_BASE_URL": fake_provider.base_url,
        "COACH_API_KEY": "test-key",
        "COACH_MODEL": "test-model",
        "COACH_TIMEOUT_S": 2.0,
        "STREAM_PING_INTERVAL_S": 0.05,
    }


def current_step(client, headers, session_id):
    return client.get(f"/sessions/{session_id}", headers=headers).get_json()["current_step"]


def test_model_pieces_stream_as_tokens_and_done_carries_usage(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    fake_provider.behave(pieces=["You sound", " tired", " of it", "."], usage=(40, 6))
    events = message_events(client, auth_headers, session_id)
    tokens = [data["content"] for name, data in events if name == "token"]
    assert tokens == ["You sound", " tired", " of it", "."]
    name, done = events[-1]
    assert name == "done"
    assert done["usage"] == {"input_tokens": 40, "output_tokens": 6}
    assert done["next_step"] == "clarify"
    assert current_step(client, auth_headers, session_id) == "clarify"


def test_provider_receives_step_prompt_history_and_placeholders_only(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    history = [
        {"role": "user", "content": "Write to me at ana.lopez@example.com"},
        {"role": "assistant", "content": "Thanks for telling me."},
    ]
    message_events(
        client,
        auth_headers,
        session_id,
        "Call me on +34 612 345 678 or see https://ana.example.com, card 4111 1111 1111 1111",
        history=history,
    )
    sent = fake_provider.requests[-1]["messages"]
    text = repr(sent)
    for secret in ("ana.lopez@example.com", "612 345 678", "ana.example.com", "4111 1111"):
        assert secret not in text
    for placeholder in ("[email]", "[phone]", "[url]", "[card]"):
        assert placeholder in text
    assert sent[0]["role"] == "system"
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "user"]


def test_provider_failure_ends_with_retryable_error_and_session_stays(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    fake_provider.behave(status=500)
    events = message_events(client, auth_headers, session_id)
    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == "COACH_UNAVAILABLE"
    assert events[-1][1]["retryable"] is True
    assert current_step(client, auth_headers, session_id) == "receive"


def test_provider_dropping_mid_reply_ends_with_error(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    fake_provider.behave(pieces=["One", " two", " three"], drop_after=1)
    events = message_events(client, auth_headers, session_id)
    assert events[0] == ("token", {"content": "One"})
    assert events[-1][1]["error"] == "COACH_UNAVAILABLE"
    assert not any(name == "done" for name, _ in events)
    assert current_step(client, auth_headers, session_id) == "receive"


def test_a_runaway_reply_ends_with_a_final_error_and_session_stays(
    app,
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    bounded = make_coach({**app.config, "COACH_MAX_REPLY_CHARS": 50})
    app.extensions["clarity_replies"] = replace(app.extensions["clarity_replies"], coach=bounded)
    fake_provider.behave(pieces=["word " * 4] * 100)  # 2,000 characters, past the bound
    events = message_events(client, auth_headers, session_id)
    tokens = "".join(data["content"] for name, data in events if name == "token")
    assert tokens == "word " * 8  # two pieces fit in 50 characters, the third would not
    assert events[-1] == (
        "error",
        {
            "error": "COACH_REPLY_TOO_LONG",
            "message": events[-1][1]["message"],
            "retryable": False,
        },
    )
    assert current_step(client, auth_headers, session_id) == "receive"


def test_silent_provider_gets_pings_then_a_timeout_error(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    fake_provider.behave(hang=True)
    events = message_events(client, auth_headers, session_id)
    assert (":", "ping") in events
    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == "COACH_TIMEOUT"
    assert events[-1][1]["retryable"] is True
    assert current_step(client, auth_headers, session_id) == "receive"


@pytest.mark.parametrize("content", CRISIS)
def test_crisis_message_gets_safety_reply_and_never_reaches_the_provider(
    app,
    client,
    auth_headers,
    session_id,
    fake_provider,
    content,
):
    events = message_events(client, auth_headers, session_id, content)
    assert fake_provider.requests == []
    assert any(name == "token" for name, _ in events)
    name, done = events[-1]
    assert name == "done"
    assert done["blocked"] is True
    assert done["reason"] == "CRISIS"
    assert done["resources"] == RESOURCES
    assert done["next_step"] == "receive"
    assert done["session_status"] == "active"
    assert {"emotion_detected", "confidence"} <= set(done)
    assert current_step(client, auth_headers, session_id) == "receive"
    with app.app_context():
        assert sum(row.count for row in db.session.query(BlockedMessageCount)) == 1


def test_crisis_done_carries_the_safety_message_its_tokens_spell(
    client, auth_headers, session_id, fake_provider
):
    events = message_events(client, auth_headers, session_id, "I want to kill myself")
    text = "".join(data["content"] for name, data in events if name == "token")
    name, done = events[-1]
    assert name == "done"
    assert done["message"] == text == SAFETY_MESSAGE


def test_negated_self_harm_is_not_blocked(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    events = message_events(
        client, auth_headers, session_id, "I would never hurt myself, I'm just tired"
    )
    assert "blocked" not in events[-1][1]
    assert len(fake_provider.requests) == 1


def test_crisis_turns_in_history_are_kept_from_the_provider(
    client,
    auth_headers,
    session_id,
    fake_provider,
):
    history = [
        {"role": "user", "content": "I want to kill myself"},
        {"role": "assistant", "content": "I'm glad you told me."},
    ]
    message_events(client, auth_headers, session_id, "Today is a bit better", history=history)
    assert "kill myself" not in repr(fake_provider.requests[-1]["messages"])
