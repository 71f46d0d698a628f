"""Rate limits across gunicorn workers, login timing, security headers and CORS.

The rate-limit tests run a real gunicorn (2 gevent workers) and pin one keep-alive
connection to each worker (see tests.test_faults.Pinned), so they can show which worker
served every request.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from tests.conftest import PASSWORD, bearer
from tests.support.faults import Pinned, pin_workers
from tests.support.live import auth_only, serve

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    return url


def assert_rate_limited(status: int, headers: Any, body: Any) -> None:
    assert status == 429, body
    assert body["error"] == "RATE_LIMITED"
    assert body["message"]
    assert int(headers["Retry-After"]) > 0
    for name in RATE_HEADERS:
        assert headers[name] is not None, name
    assert headers["X-RateLimit-Remaining"] == "0"


def get_sessions(worker: Pinned, headers: dict[str, str]) -> tuple[int, Any, Any]:
    import json

    status, response_headers, raw = worker.request("GET", "/sessions", headers=headers)
    return status, response_headers, json.loads(raw)


# --- the per-user limit ---------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.redis
def test_per_user_limit_is_shared_by_every_worker_with_redis(app, tmp_path, redis_url):
    env = {"REDIS_URL": redis_url, "WEB_CONCURRENCY": "2", "RATELIMIT_PER_USER": "10 per minute"}
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, EXPOSE_STATS="true", **env) as live:
        headers = auth_only(live.register("shared-limit@example.com"))
        a, b = pin_workers(live)
        try:
            served: list[tuple[int, str]] = []
            for i in range(10):  # 10 requests, alternating between the two workers
                worker = (a, b)[i % 2]
                status, response_headers, body = get_sessions(worker, headers)
                assert status == 200, body
                served.append((worker.pid, response_headers["X-RateLimit-Remaining"]))
            # One budget: the remaining count falls by one on every request, whichever worker.
            assert [remaining for _pid, remaining in served] == [str(9 - i) for i in range(10)]
            assert {pid for pid, _ in served} == {a.pid, b.pid}

            refused = 0
            for worker in (a, b):  # the 11th request in the minute, on either worker: 429
                assert_rate_limited(*get_sessions(worker, headers))
                refused += 1
            # The stats endpoint is not rate limited and names the pid: still the same workers.
            assert a.json("GET", "/internal/stats")[1]["pid"] == a.pid
            assert b.json("GET", "/internal/stats")[1]["pid"] == b.pid
        finally:
            a.close()
            b.close()
    print(
        f"\n[limits] redis: 10 requests served by workers {sorted({a.pid, b.pid})} "
        f"(5 each), then {refused} refused with 429"
    )


@pytest.mark.live
def test_without_redis_each_worker_keeps_its_own_counter(app, tmp_path):
    # Documented weakness: with the in-process memory:// storage a "10 per minute" limit is
    # 10 per worker (20 in all with WEB_CONCURRENCY=2). A limit still holds in each worker.
    env = {"REDIS_URL": "", "WEB_CONCURRENCY": "2", "RATELIMIT_PER_USER": "10 per minute"}
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, EXPOSE_STATS="true", **env) as live:
        headers = auth_only(live.register("memory-limit@example.com"))
        a, b = pin_workers(live)
        try:
            allowed = 0
            for worker in (a, b):
                for _ in range(10):
                    status, _headers, body = get_sessions(worker, headers)
                    assert status == 200, body
                    allowed += 1
            assert allowed == 20  # twice the limit, spread over two workers
            for worker in (a, b):
                assert_rate_limited(*get_sessions(worker, headers))
        finally:
            a.close()
            b.close()
    print(f"\n[limits] memory:// (no Redis): {allowed} requests allowed over 2 workers, then 429")


# --- failed logins --------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.redis
def test_five_failed_logins_lock_the_email_on_every_worker_with_redis(app, tmp_path, redis_url):
    env = {"REDIS_URL": redis_url, "WEB_CONCURRENCY": "2"}
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, EXPOSE_STATS="true", **env) as live:
        email = "locked@example.com"
        live.register(email)
        a, b = pin_workers(live)

        def login(worker: Pinned, password: str, fingerprint: str = "phone-1") -> Any:
            import json

            status, headers, raw = worker.request(
                "POST",
                "/auth/login",
                {"email": email, "password": password, "device_fingerprint": fingerprint},
            )
            return status, headers, json.loads(raw)

        try:
            for i in range(5):  # 3 failures on one worker, 2 on the other
                status, _headers, body = login((a, b)[i % 2], "Wrong-passw0rd")
                assert (status, body["error"]) == (401, "INVALID_CREDENTIALS")
            for worker in (b, a):  # the 6th, with the right password, on either worker
                status, headers, body = login(worker, PASSWORD)
                assert status == 429, body
                assert body["error"] == "RATE_LIMITED"
                assert int(headers["Retry-After"]) > 0
            # Another email is not affected.
            other = "free@example.com"
            live.register(other)
            status, _h, raw = a.request(
                "POST",
                "/auth/login",
                {"email": other, "password": PASSWORD, "device_fingerprint": "phone-1"},
            )
            assert status == 200, raw
        finally:
            a.close()
            b.close()


def test_failed_logins_lock_the_email_in_process(client, make_user):
    user = make_user()
    body = {"email": user["email"], "device_fingerprint": user["fingerprint"]}
    for _ in range(5):
        response = client.post("/auth/login", json={**body, "password": "Wrong-passw0rd"})
        assert response.status_code == 401
    response = client.post("/auth/login", json={**body, "password": PASSWORD})
    assert response.status_code == 429
    assert response.get_json()["error"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) > 0


def test_wrong_passwords_on_account_deletion_lock_it_and_the_login(client, make_user):
    """DELETE /auth/me shares the failed-password budget with login: a stolen access token
    buys no extra guesses at the password."""
    user, other = make_user(), make_user()
    auth = bearer(user["access"])
    for _ in range(5):
        response = client.delete("/auth/me", json={"password": "Wrong-passw0rd"}, headers=auth)
        assert response.status_code == 401
    response = client.delete("/auth/me", json={"password": PASSWORD}, headers=auth)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/auth/me", headers=auth).status_code == 200  # not deleted
    login = {"email": user["email"], "password": PASSWORD, "device_fingerprint": "phone-1"}
    assert client.post("/auth/login", json=login).status_code == 429
    # Someone else's account is not affected.
    mine = bearer(other["access"])
    assert client.delete("/auth/me", json={"password": PASSWORD}, headers=mine).status_code == 204


def test_failed_logins_count_against_account_deletion_too(client, make_user):
    user = make_user()
    body = {"email": user["email"], "device_fingerprint": "phone-1", "password": "Wrong-passw0rd"}
    for _ in range(5):
        assert client.post("/auth/login", json=body).status_code == 401
    auth = bearer(user["access"])
    response = client.delete("/auth/me", json={"password": PASSWORD}, headers=auth)
    assert response.status_code == 429
    assert response.get_json()["error"] == "RATE_LIMITED"


# --- login timing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config_overrides",
    [{"LOGIN_FAILURE_LIMIT": "1000 per minute", "RATELIMIT_PER_IP": "1000 per minute"}],
)
def test_unknown_email_costs_the_same_work_as_a_wrong_password(client, make_user, monkeypatch):
    """Both failures run exactly one argon2id verification with the same parameters, so they
    take the same time (measured, not asserted here: see docs/reliability.md)."""
    from argon2 import extract_parameters

    from clarity_api.services import hashing

    user = make_user()
    verified: list[str] = []
    real_verify = hashing._verify

    def spy(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(hashing, "_verify", spy)

    def attempt(email: str) -> list[str]:
        verified.clear()
        body = {"email": email, "password": "Wrong-passw0rd", "device_fingerprint": "phone-1"}
        response = client.post("/auth/login", json=body)
        assert response.status_code == 401
        assert response.get_json() == {
            "error": "INVALID_CREDENTIALS",
            "message": "The email or password is incorrect.",
        }
        return list(verified)

    unknown = attempt(f"nobody-{uuid.uuid4().hex[:12]}@example.com")
    wrong = attempt(user["email"])
    assert len(unknown) == len(wrong) == 1
    assert extract_parameters(unknown[0]) == extract_parameters(wrong[0])


# --- security headers -----------------------------------------------------------------------


def assert_security_headers(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/health", 200),
        ("get", "/nope", 404),
        ("get", "/sessions", 401),
        ("post", "/auth/login", 400),
    ],
)
def test_json_responses_carry_security_headers(client, method, path, status):
    kwargs = {"data": "{oops", "content_type": "application/json"} if method == "post" else {}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_authenticated_json_and_rate_limited_answers_carry_security_headers(client, user):
    response = client.get("/auth/me", headers=user["headers"])
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    for _ in range(6):
        response = client.post(
            "/auth/login",
            json={"email": user["email"], "password": "nope", "device_fingerprint": "phone-1"},
        )
    assert response.status_code == 429
    assert response.mimetype == "application/json"
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_stream_carries_security_headers(client, auth_headers):
    session_id = client.post("/sessions", headers=auth_headers).get_json()["session_id"]
    response = client.post(
        f"/sessions/{session_id}/messages", json={"content": "hello"}, headers=auth_headers
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-cache"  # the stream's own, per the contract
    assert response.headers["X-Accel-Buffering"] == "no"
    assert b"event: done" in response.get_data()


# --- CORS -----------------------------------------------------------------------------------

APP_ORIGIN = "https://app.example.com"


def preflight(client: Any, origin: str, path: str = "/sessions") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type, X-Device-Fingerprint",
        },
    )


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [APP_ORIGIN]}])
def test_cors_allows_the_configured_origin(client, auth_headers):
    response = preflight(client, APP_ORIGIN)
    assert response.status_code < 300
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    for name in ("authorization", "content-type", "x-device-fingerprint"):
        assert name in allowed
    assert response.headers.get("Access-Control-Allow-Origin") != "*"

    actual = client.get("/sessions", headers={**auth_headers, "Origin": APP_ORIGIN})
    assert actual.status_code == 200
    assert actual.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = actual.headers["Access-Control-Expose-Headers"].lower()
    assert "retry-after" in exposed and "x-ratelimit-remaining" in exposed


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [APP_ORIGIN]}])
def test_cors_refuses_other_origins(client, auth_headers):
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        response = preflight(client, origin)
        assert "Access-Control-Allow-Origin" not in response.headers, origin
        actual = client.get("/sessions", headers={**auth_headers, "Origin": origin})
        assert "Access-Control-Allow-Origin" not in actual.headers, origin


def test_no_cors_origins_means_no_cors_headers_at_all(client, auth_headers):
    for origin in (APP_ORIGIN, "https://evil.example"):
        for response in (
            preflight(client, origin),
            client.get("/sessions", headers={**auth_headers, "Origin": origin}),
            client.get("/health", headers={"Origin": origin}),
        ):
            cors = [
                h for h, _ in response.headers.items() if h.lower().startswith("access-control-")
            ]
            assert cors == [], (origin, cors)
