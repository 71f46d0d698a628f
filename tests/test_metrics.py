"""GET /metrics and what the service records: streams, outcomes, coach failures, quotas, 429s.

Metric objects live for the process (as in a worker), so every test compares before/after.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import open_session, open_stream, read_events

TOKEN = "metrics-token-for-tests"
MESSAGES = "/sessions/<session_id>/messages"


@pytest.fixture
def config_overrides(fake_provider):
    return {
        "METRICS_TOKEN": TOKEN,
        "COACH_BASE_URL": fake_provider.base_url,
        "COACH_API_KEY": "test-key",
        "COACH_MODEL": "test-model",
        "COACH_TIMEOUT_S": 0.3,
        "STREAM_PING_INTERVAL_S": 0.05,
    }


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values now; `.of(name, **labels)` is how much each moved since."""

    def __init__(self, *samples: tuple[str, dict[str, str]]):
        self.before = {
            (name, tuple(sorted(labels.items()))): value(name, **labels) for name, labels in samples
        }

    def of(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self.before.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


@pytest.mark.parametrize("config_overrides", [{}], indirect=False)
def test_metrics_do_not_exist_without_a_token(client):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NOT_FOUND"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_metrics_need_the_bearer_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["error"] == "INVALID_TOKEN"


def test_a_reply_records_its_outcome_first_token_duration_and_route_latency(client, user):
    session_id = open_session(client, user["headers"])["session_id"]
    labels = {"method": "POST", "route": MESSAGES, "status": "200"}
    delta = Delta(
        ("clarity_replies_total", {"outcome": "done"}),
        ("clarity_reply_first_token_seconds_count", {}),
        ("clarity_stream_duration_seconds_count", {}),
        ("clarity_http_request_duration_seconds_count", labels),
    )
    response = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "hi"}
    )
    assert read_events(response.get_data())[-1][0] == "done"
    assert delta.of("clarity_replies_total", outcome="done") == 1
    assert delta.of("clarity_reply_first_token_seconds_count") == 1
    assert delta.of("clarity_stream_duration_seconds_count") == 1
    assert delta.of("clarity_http_request_duration_seconds_count", **labels) == 1
    assert value("clarity_live_streams") == 0
    # The endpoint serves the same numbers.
    scraped = scrape(client)
    assert scraped[("clarity_replies_total", (("outcome", "done"),))] == value(
        "clarity_replies_total", outcome="done"
    )


def test_a_stream_is_live_until_it_ends_and_a_client_leaving_is_an_outcome(client, user):
    session_id = open_session(client, user["headers"])["session_id"]
    delta = Delta(("clarity_replies_total", {"outcome": "disconnected"}))
    live_before = value("clarity_live_streams")
    response = open_stream(client, user["headers"], session_id)
    chunks = iter(response.response)
    assert b"event: token" in next(chunks)
    assert value("clarity_live_streams") == live_before + 1
    response.close()  # the client goes away before `done`
    assert value("clarity_live_streams") == live_before
    assert delta.of("clarity_replies_total", outcome="disconnected") == 1


def use_model_coach(app):
    """The language-model coach (against the fake provider) instead of the scripted one."""
    from clarity_api.coach import make_sources

    app.config["COACH_PROVIDER"] = "openai"
    app.extensions["clarity_replies"] = make_sources(app.config)


@pytest.mark.parametrize(
    ("behaviour", "error", "kind"),
    [
        ({"status": 500}, "COACH_UNAVAILABLE", "unavailable"),
        ({"hang": True}, "COACH_TIMEOUT", "timeout"),
    ],
)
def test_coach_failures_and_timeouts_are_counted(
    app, client, user, fake_provider, behaviour, error, kind
):
    use_model_coach(app)
    fake_provider.behave(**behaviour)
    session_id = open_session(client, user["headers"])["session_id"]
    delta = Delta(
        ("clarity_coach_failures_total", {"kind": kind}),
        ("clarity_replies_total", {"outcome": error.lower()}),
    )
    response = client.post(
        f"/sessions/{session_id}/messages", headers=user["headers"], json={"content": "hi"}
    )
    assert read_events(response.get_data())[-1][1]["error"] == error
    assert delta.of("clarity_coach_failures_total", kind=kind) == 1
    assert delta.of("clarity_replies_total", outcome=error.lower()) == 1


def test_a_safety_reply_is_counted_as_blocked(client, user):
    session_id = open_session(client, user["headers"])["session_id"]
    delta = Delta(
        ("clarity_replies_total", {"outcome": "blocked"}),
        ("clarity_replies_total", {"outcome": "done"}),
    )
    response = client.post(
        f"/sessions/{session_id}/messages",
        headers=user["headers"],
        json={"content": "I want to kill myself"},
    )
    assert read_events(response.get_data())[-1][1]["blocked"] is True
    assert delta.of("clarity_replies_total", outcome="blocked") == 1
    assert delta.of("clarity_replies_total", outcome="done") == 0


def test_quota_refusals_are_counted(client, user):
    delta = Delta(("clarity_quota_refusals_total", {"quota": "sessions"}))
    statuses = [client.post("/sessions", headers=user["headers"]).status_code for _ in range(11)]
    assert statuses.count(403) == 1
    assert delta.of("clarity_quota_refusals_total", quota="sessions") == 1


@pytest.mark.parametrize(
    "config_overrides", [{"METRICS_TOKEN": TOKEN, "RATELIMIT_PER_IP": "2 per minute"}]
)
def test_429s_are_counted_by_the_budget_that_ran_out(client):
    delta = Delta(("clarity_rate_limited_total", {"budget": "auth-ip"}))
    body = {"email": "nobody@example.com", "password": "wrong-password", "device_fingerprint": "p1"}
    statuses = [client.post("/auth/login", json=body).status_code for _ in range(4)]
    assert statuses.count(429) == 2
    assert delta.of("clarity_rate_limited_total", budget="auth-ip") == 2
