"""Against a real gunicorn + gevent server: concurrency, disconnects and shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import update

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models import SolveSession
from tests.conftest import read_events
from tests.support.live import ROOT, auth_only, serve, stop

pytestmark = pytest.mark.live


@pytest.fixture
def live_env():
    return {}


@pytest.fixture
def live(app, tmp_path, live_env):
    """The app fixture made the schema; the server uses the same database."""
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **live_env) as server:
        yield server


def in_parallel(count, fn):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: fn(), range(count)))


def test_fifty_simultaneous_creates_on_a_free_account_make_exactly_ten(live):
    headers = auth_only(live.register("quota@example.com"))
    results = in_parallel(50, lambda: live.json("POST", "/sessions", {}, headers=headers))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 10
    assert statuses.count(403) == 40
    refused = [body for status, body in results if status == 403]
    assert all(body["error"] == "QUOTA_EXCEEDED" for body in refused)
    _status, listing = live.json("GET", "/sessions?limit=100", headers=headers)
    assert listing["total"] == 10
    _status, me = live.json("GET", "/auth/me", headers=headers)
    assert me["usage"]["sessions_used"] == 10


def test_concurrent_messages_advance_a_session_at_most_once(live):
    headers = auth_only(live.register("race@example.com"))
    _status, created = live.json("POST", "/sessions", {}, headers=headers)
    session_id = created["session_id"]

    def one():
        status, _headers, raw = live.request(
            "POST",
            f"/sessions/{session_id}/messages",
            {"content": "go", "step": "receive"},
            headers=headers,
        )
        return status, (read_events(raw)[-1] if status == 200 else json.loads(raw))

    results = in_parallel(10, one)
    # One reply per session: the others are refused before reaching a coach, while it is
    # live (REPLY_IN_PROGRESS) or once it advanced the session (STEP_MISMATCH).
    assert [status for status, _ in results].count(200) == 1
    dones = [r for r in results if r[0] == 200 and r[1][0] == "done"]
    assert len(dones) == 1
    for status, last in results:
        if status != 200:
            assert (status, last["error"]) in {(409, "STEP_MISMATCH"), (409, "REPLY_IN_PROGRESS")}
    _status, session = live.json("GET", f"/sessions/{session_id}", headers=headers)
    assert session["current_step"] == "clarify"


def test_concurrent_refreshes_of_one_token_give_exactly_one_new_pair(live):
    tokens = live.register("refresh@example.com")
    results = in_parallel(
        10, lambda: live.json("POST", "/auth/refresh", {"refresh_token": tokens["refresh"]})
    )
    assert [s for s, _ in results].count(200) == 1
    assert all(b["error"] == "TOKEN_REVOKED" for s, b in results if s != 200)


@pytest.mark.parametrize("live_env", [{"STREAM_TOKEN_DELAY_MS": "50"}])
def test_dropped_streams_do_not_advance_their_sessions(live):
    headers = auth_only(live.register("drop@example.com"))
    sessions = [
        live.json("POST", "/sessions", {}, headers=headers)[1]["session_id"] for _ in range(10)
    ]

    def drop(session_id):
        conn, response = live.open_stream(headers, session_id)
        assert response.status == 200
        response.read1(64)  # the first token has arrived
        conn.sock.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(drop, sessions))
    time.sleep(1.0)  # longer than the whole reply: a stream that went on would have finished
    for session_id in sessions:
        _status, session = live.json("GET", f"/sessions/{session_id}", headers=headers)
        assert session["current_step"] == "receive"


@pytest.mark.parametrize("live_env", [{"STREAM_TOKEN_DELAY_MS": "500", "GRACEFUL_TIMEOUT": "5"}])
def test_sigterm_ends_live_streams_with_a_whole_error_event(live):
    headers = auth_only(live.register("term@example.com"))
    session_id = live.json("POST", "/sessions", {}, headers=headers)[1]["session_id"]
    _conn, response = live.open_stream(headers, session_id)
    assert response.status == 200
    live.process.send_signal(signal.SIGTERM)
    body = response.read()  # the server ends the stream within the graceful timeout
    events = read_events(body)
    assert body.endswith(b"\n\n")
    assert events[0][0] == "token"
    assert events[-1][0] == "error"
    assert events[-1][1]["retryable"] is True
    assert stop(live) == 0


def test_terminal_chat_walks_a_session_to_completed(live, runner):
    lines = "\n".join(["I'm frustrated", "my boss", "maybe", "A or B", "call him"]) + "\n"
    result = runner.invoke(
        args=[
            "chat",
            "--url",
            live.base_url,
            "--email",
            "cli@example.com",
            "--password",
            "Sup3rSecret!",
        ],
        input=lines,
    )
    assert result.exit_code == 0, result.output
    assert "I understand how you feel. Let me help you work through this." in result.output
    assert result.output.count("coach: ") == 5
    assert "Session completed." in result.output


def test_terminal_chat_streams_a_five_step_conversation_from_a_model(
    app, tmp_path, runner, fake_provider
):
    fake_provider.behave(pieces=["Tell", " me", " more", "."], usage=(20, 4))
    env = {
        "COACH_PROVIDER": "openai",
        "COACH_BASE_URL": fake_provider.base_url,
        "COACH_API_KEY": "k",
        "COACH_MODEL": "m",
        "COACH_TIMEOUT_S": "10",
    }
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as server:
        lines = "\n".join(["I'm stuck", "my boss", "maybe", "A or B", "call him"]) + "\n"
        result = runner.invoke(
            args=[
                "chat",
                "--url",
                server.base_url,
                "--email",
                "model@example.com",
                "--password",
                "Sup3rSecret!",
            ],
            input=lines,
        )
        crisis = server.register("crisis@example.com")
        headers = {k: v for k, v in crisis.items() if k != "refresh"}
        _s, created = server.json("POST", "/sessions", {}, headers=headers)
        before = len(fake_provider.requests)
        status, _h, raw = server.request(
            "POST",
            f"/sessions/{created['session_id']}/messages",
            {"content": "Quiero morir, no puedo más"},
            headers=headers,
        )
    assert result.exit_code == 0, result.output
    assert result.output.count("coach: Tell me more.") == 5
    assert "Session completed." in result.output
    assert len(fake_provider.requests) == before == 5
    assert status == 200
    assert read_events(raw)[-1][1]["blocked"] is True


def flask_cli(app, *args):
    """A `flask` command in its own process against the live server's database, as a
    scheduler would run it."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_life_of_sessions_and_an_account_erased_through_the_real_server(live, app):
    headers = auth_only(live.register("life@example.com"))
    ids = [live.json("POST", "/sessions", {}, headers=headers)[1]["session_id"] for _ in "12345"]
    walked, abandoned, completed, deleted, idle = ids
    for _ in range(5):
        _conn, response = live.open_stream(headers, walked)
        assert read_events(response.read())[-1][0] == "done"
    assert (
        live.json("PATCH", f"/sessions/{abandoned}", {"status": "abandoned"}, headers=headers)[0]
        == 200
    )
    assert (
        live.json("PATCH", f"/sessions/{completed}", {"status": "completed"}, headers=headers)[0]
        == 200
    )
    assert live.json("DELETE", f"/sessions/{deleted}", headers=headers)[0] == 204
    assert live.json("GET", f"/sessions/{deleted}", headers=headers)[0] == 404
    with app.app_context():  # nobody has touched this one for eight days
        db.session.execute(
            update(SolveSession)
            .where(SolveSession.id == uuid.UUID(idle))
            .values(last_active_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()

    assert flask_cli(app, "sessions", "expire", "--older-than", "7d").startswith(
        "Abandoned 1 session idle since before"
    )
    _status, export = live.json("GET", "/auth/me/export", headers=headers)
    assert {s["id"]: s["status"] for s in export["sessions"]} == {
        walked: "completed",
        abandoned: "abandoned",
        completed: "completed",
        idle: "abandoned",
    }
    assert export["usage"]["sessions_used"] == 5  # the deleted one stays counted
    report = json.loads(flask_cli(app, "sessions", "report", "--all", "--json"))
    assert (report["sessions_opened"], report["status"]) == (
        4,
        {"active": 0, "completed": 2, "abandoned": 2},
    )
    assert report["reached_step"]["commit"] == 1

    status, _ = live.json("DELETE", "/auth/me", {"password": "Sup3rSecret!"}, headers=headers)
    assert status == 204
    status, body = live.json("GET", "/auth/me", headers=headers)
    assert (status, body["error"]) == (401, "TOKEN_REVOKED")
    assert flask_cli(app, "sessions", "report", "--all", "--json").startswith(
        '{"since": null, "sessions_opened": 0,'
    )
    live.register("life@example.com")  # the email is free again
