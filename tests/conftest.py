"""Shared fixtures: a fresh app and database per test, clients, users and their headers."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clarity_api import create_app
from clarity_api.config import Config
from clarity_api.extensions import db
from clarity_api.web import lifecycle
from tests.support.fake_provider import fake_provider  # noqa: F401  (a fixture for every module)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "Sup3rSecret!"
# The steps in API.md's order, written out: the code's own order (SolveStep) is tested against it.
STEPS = ("receive", "clarify", "reframe", "options", "commit")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgres"):
        return
    skip = pytest.mark.skip(reason="needs TEST_DATABASE_URL pointing at PostgreSQL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def make_config(tmp_path: Any, **overrides: Any) -> type[Config]:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.db'}"
    from clarity_api.config import database_url

    attrs = {
        "CLARITY_ENV": "testing",
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url(url),
        "STREAM_TOKEN_DELAY_MS": 0,
        "COACH_PROVIDER": "scripted",
        # Counters may live in a shared Redis: keep each test's apart.
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        **overrides,
    }
    return type("TestConfig", (Config,), attrs)


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change the app's config."""
    return {}


@pytest.fixture
def app(tmp_path: Any, config_overrides: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(make_config(tmp_path, **config_overrides))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    lifecycle.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


class Users:
    """Registers people through the real API and remembers what a client would."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def __call__(
        self, email: str | None = None, fingerprint: str = "phone-1", **extra: Any
    ) -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD, "device_fingerprint": fingerprint, **extra}
        response = self.client.post("/auth/register", json=body)
        assert response.status_code == 201, response.get_json()
        data = response.get_json()
        return {
            "id": data["user"]["id"],
            "email": email,
            "password": PASSWORD,
            "fingerprint": fingerprint,
            "access": data["access_token"],
            "refresh": data["refresh_token"],
            "headers": {
                "Authorization": f"Bearer {data['access_token']}",
                "X-Device-Fingerprint": fingerprint,
            },
        }


@pytest.fixture
def make_user(client: FlaskClient) -> Users:
    return Users(client)


@pytest.fixture
def user(make_user: Users) -> dict[str, Any]:
    return make_user()


@pytest.fixture
def auth_headers(user: dict[str, Any]) -> dict[str, str]:
    return user["headers"]  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_session(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    """A new session for the person with these headers (token and fingerprint): the 201 body."""
    response = client.post("/sessions", headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def session_id(client: FlaskClient, auth_headers: dict[str, str]) -> str:
    """A new session of `user`'s."""
    return open_session(client, auth_headers)["session_id"]  # type: ignore[no-any-return]


def send_message(
    client: FlaskClient,
    headers: dict[str, str],
    session_id: str,
    content: str = "I feel stuck at work",
    **extra: Any,
) -> Any:
    """One message, its whole reply read (a stream runs only as it is read, as over the wire)."""
    response = client.post(
        f"/sessions/{session_id}/messages", headers=headers, json={"content": content, **extra}
    )
    response.get_data()
    return response


def message_events(
    client: FlaskClient, headers: dict[str, str], session_id: str, *args: Any, **kw: Any
) -> list[tuple[str, Any]]:
    """`send_message`, answered 200: the reply's (event, data) pairs."""
    response = send_message(client, headers, session_id, *args, **kw)
    assert response.status_code == 200, response.get_data()
    return read_events(response.get_data())


def set_tier(runner: Any, email: str, tier: str) -> None:
    result = runner.invoke(args=["users", "set-tier", email, tier])
    assert result.exit_code == 0, result.output


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    """(seconds taken, result) of one call."""
    started = time.monotonic()
    result = fn(*args, **kw)
    return time.monotonic() - started, result


def open_stream(
    client: FlaskClient, headers: dict[str, str], session_id: str, content: str = "hello"
) -> Any:
    """A stream the test reads chunk by chunk (iter(response.response)), as a client would."""
    return client.post(
        f"/sessions/{session_id}/messages",
        headers=headers,
        json={"content": content},
        buffered=False,
    )


def read_events(body: bytes) -> list[tuple[str, Any]]:
    """Parse an SSE body into (event, data) pairs; comments come back as (":", text)."""
    import json

    events: list[tuple[str, Any]] = []
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        event, data = "message", None
        for line in block.split("\n"):
            if line.startswith(":"):
                events.append((":", line[1:].strip()))
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
        if data is not None:
            events.append((event, data))
    return events
