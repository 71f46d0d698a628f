"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout and the bearer checks."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, set_tier

PASSWORD = "Str0ng-Lantern-42"  # what a person signing up in these tests picks
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def register_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": f"person-{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "device_fingerprint": "phone-1",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def login_body(
    email: str, password: str = PASSWORD, fingerprint: str = "phone-1"
) -> dict[str, str]:
    return {"email": email, "password": password, "device_fingerprint": fingerprint}


def login_as(person: dict[str, Any], fingerprint: str = "phone-1", **overrides: str) -> dict:
    """The login body of a person made by `make_user`, who knows their own password."""
    return {**login_body(person["email"], person["password"], fingerprint), **overrides}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    if status == 401:
        assert response.headers.get("WWW-Authenticate") == "Bearer"
    return body  # type: ignore[no-any-return]


def assert_token_shape(body: dict[str, Any], email: str) -> None:
    assert set(body) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "user_id",
        "user",
    }
    assert body["user_id"] == body["user"]["id"]  # the shipped app reads it at the top
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    user = body["user"]
    assert set(user) == {"id", "email", "tier", "created_at"}
    uuid.UUID(user["id"])
    assert user["email"] == email
    assert user["tier"] == "free"
    assert ISO_Z.match(user["created_at"]), user["created_at"]


# --- register ---------------------------------------------------------------------------


def test_register_returns_tokens_and_user(client: FlaskClient) -> None:
    body = register_body(device_name="Ana's phone", platform="ios")
    response = client.post("/auth/register", json=body)
    assert response.status_code == 201
    assert_token_shape(response.get_json(), body["email"])


def test_register_access_token_opens_protected_route(client: FlaskClient) -> None:
    body = register_body()
    tokens = client.post("/auth/register", json=body).get_json()
    me = client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == tokens["user"]["id"]


def test_register_trims_and_lowercases_email(client: FlaskClient) -> None:
    response = client.post("/auth/register", json=register_body(email="  Ana.Lopez@Example.COM "))
    assert response.status_code == 201
    assert response.get_json()["user"]["email"] == "ana.lopez@example.com"
    login = client.post("/auth/login", json=login_body("ana.lopez@example.com"))
    assert login.status_code == 200


@pytest.mark.parametrize(
    "password",
    ["Short1A", "alllowercase1", "NoDigitsHere", "12345678", "ALLUPPER", ""],
    ids=["too-short", "no-upper", "no-digit", "digits-only", "no-digit-upper", "empty"],
)
def test_register_rejects_weak_password(client: FlaskClient, password: str) -> None:
    response = client.post("/auth/register", json=register_body(password=password))
    assert_error(response, 400, "WEAK_PASSWORD")


@pytest.mark.parametrize("password", ["Password1", "Qwerty123", "Abcdefg1", "Ana-Lopez-2026"])
def test_register_rejects_guessable_password(client: FlaskClient, password: str) -> None:
    body = register_body(email="ana.lopez@example.com", password=password)
    body = assert_error(client.post("/auth/register", json=body), 400, "WEAK_PASSWORD")
    assert "guess" in body["message"]


def test_register_weak_password_creates_nothing(client: FlaskClient) -> None:
    body = register_body(password="weak")
    client.post("/auth/register", json=body)
    response = client.post("/auth/register", json={**body, "password": PASSWORD})
    assert response.status_code == 201


def test_register_accepts_password_of_128_characters(client: FlaskClient) -> None:
    password = "Tr0ub4dor&3-" + "x" * 116
    body = register_body(password=password)
    assert client.post("/auth/register", json=body).status_code == 201
    assert client.post("/auth/login", json=login_body(body["email"], password)).status_code == 200


def test_register_rejects_password_over_128_characters(client: FlaskClient) -> None:
    response = client.post("/auth/register", json=register_body(password="A1" + "x" * 127))
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert "password" in body["details"]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"email": 42}, {"email"}),
        ({"platform": "windows"}, {"platform"}),
        ({"device_fingerprint": ""}, {"device_fingerprint"}),
        ({"device_fingerprint": "x" * 256}, {"device_fingerprint"}),
        ({"device_name": "x" * 101}, {"device_name"}),
        ({"password": 12345678}, {"password"}),
        ({"email": "bad", "platform": "windows"}, {"email", "platform"}),
    ],
    ids=[
        "bad-email",
        "email-not-string",
        "bad-platform",
        "empty-fingerprint",
        "long-fingerprint",
        "long-device-name",
        "password-not-string",
        "two-bad-fields",
    ],
)
def test_register_rejects_invalid_fields(
    client: FlaskClient, overrides: dict[str, Any], fields: set[str]
) -> None:
    response = client.post("/auth/register", json=register_body(**overrides))
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert set(body["details"]) == fields


@pytest.mark.parametrize(
    "missing",
    [{"email"}, {"password"}, {"device_fingerprint"}, {"email", "password", "device_fingerprint"}],
    ids=["email", "password", "fingerprint", "all"],
)
def test_register_names_each_missing_field(client: FlaskClient, missing: set[str]) -> None:
    body = {k: v for k, v in register_body().items() if k not in missing}
    response = client.post("/auth/register", json=body)
    details = assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert set(details) == missing


def test_register_rejects_unknown_field(client: FlaskClient) -> None:
    response = client.post("/auth/register", json=register_body(is_admin=True))
    details = assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert set(details) == {"is_admin"}


@pytest.mark.parametrize(
    "email",
    ["taken@example.com", "TAKEN@Example.com", "  taken@example.com  "],
    ids=["same", "other-case", "whitespace"],
)
def test_register_rejects_taken_email(client: FlaskClient, email: str) -> None:
    first = client.post("/auth/register", json=register_body(email="taken@example.com"))
    assert first.status_code == 201
    response = client.post(
        "/auth/register", json=register_body(email=email, device_fingerprint="phone-2")
    )
    assert_error(response, 409, "EMAIL_ALREADY_EXISTS")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"email": ', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        ("email=a@b.c", "application/x-www-form-urlencoded"),
        ('["a", "b"]', "application/json"),
        ('"a string"', "application/json"),
        ("42", "application/json"),
        ("null", "application/json"),
    ],
    ids=["garbage", "truncated", "not-utf8", "form", "array", "string", "number", "null"],
)
def test_register_rejects_body_that_is_not_a_json_object(
    client: FlaskClient, data: Any, content_type: str
) -> None:
    response = client.post("/auth/register", data=data, content_type=content_type)
    assert_error(response, 400, "INVALID_JSON")


def test_register_rejects_too_large_body(client: FlaskClient) -> None:
    body = register_body(device_name="x" * (1100 * 1024))
    response = client.post("/auth/register", json=body)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# --- login ------------------------------------------------------------------------------


def test_login_returns_tokens_and_user(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.post("/auth/login", json=login_as(user))
    assert response.status_code == 200
    body = response.get_json()
    assert_token_shape(body, user["email"])
    assert body["user"]["id"] == user["id"]


def test_login_accepts_email_in_any_case(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.post("/auth/login", json=login_as(user, email=f"  {user['email'].upper()} "))
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == user["id"]


def test_login_same_device_again_is_allowed(client: FlaskClient, user: dict[str, Any]) -> None:
    for _ in range(3):
        response = client.post("/auth/login", json=login_as(user))
        assert response.status_code == 200


def test_login_wrong_password_and_unknown_email_answer_the_same(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    wrong_password = client.post("/auth/login", json=login_body(user["email"], "Wr0ngPassword"))
    unknown_email = client.post("/auth/login", json=login_body("nobody@example.com"))
    assert_error(wrong_password, 401, "INVALID_CREDENTIALS")
    assert_error(unknown_email, 401, "INVALID_CREDENTIALS")
    assert wrong_password.get_json() == unknown_email.get_json()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"password": PASSWORD, "device_fingerprint": "p"}, {"email"}),
        ({"email": "a@example.com", "device_fingerprint": "p"}, {"password"}),
        ({"email": "a@example.com", "password": PASSWORD}, {"device_fingerprint"}),
        (
            {"email": "a@example.com", "password": PASSWORD, "device_fingerprint": "p", "x": 1},
            {"x"},
        ),
    ],
    ids=["no-email", "no-password", "no-fingerprint", "unknown-field"],
)
def test_login_rejects_invalid_body(
    client: FlaskClient, body: dict[str, Any], fields: set[str]
) -> None:
    response = client.post("/auth/login", json=body)
    details = assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert set(details) == fields


def test_login_rejects_array_body(client: FlaskClient) -> None:
    response = client.post("/auth/login", data="[]", content_type="application/json")
    assert_error(response, 400, "INVALID_JSON")


@pytest.mark.parametrize(("tier", "limit"), [("free", 1), ("standard", 2), ("pro", 3)])
def test_login_on_new_device_beyond_tier_limit_is_refused(
    client: FlaskClient, runner: Any, make_user: Any, tier: str, limit: int
) -> None:
    person = make_user(fingerprint="device-0")
    if tier != "free":
        set_tier(runner, person["email"], tier)
    for n in range(1, limit):
        response = client.post("/auth/login", json=login_as(person, f"device-{n}"))
        assert response.status_code == 200, response.get_json()
    response = client.post("/auth/login", json=login_as(person, f"device-{limit}"))
    body = assert_error(response, 403, "DEVICE_LIMIT_REACHED")
    assert body["details"] == {"devices_used": limit, "devices_limit": limit}


def test_login_on_known_device_at_limit_is_allowed(client: FlaskClient, make_user: Any) -> None:
    person = make_user(fingerprint="device-0")
    client.post("/auth/login", json=login_as(person, "device-1"))
    response = client.post("/auth/login", json=login_as(person, "device-0"))
    assert response.status_code == 200


def test_login_refused_device_is_not_added(client: FlaskClient, make_user: Any) -> None:
    person = make_user(fingerprint="device-0")
    client.post("/auth/login", json=login_as(person, "device-1"))
    devices = client.get("/auth/devices", headers=bearer(person["access"])).get_json()
    assert len(devices) == 1


def test_login_with_wrong_password_on_new_device_is_invalid_credentials(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    response = client.post(
        "/auth/login", json=login_body(user["email"], "Wr0ngPassword", fingerprint="device-9")
    )
    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_login_is_rate_limited_after_five_failures(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    for _ in range(5):
        response = client.post("/auth/login", json=login_body(user["email"], "Wr0ngPassword"))
        assert_error(response, 401, "INVALID_CREDENTIALS")
    response = client.post("/auth/login", json=login_as(user))
    assert_error(response, 429, "RATE_LIMITED")
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None and int(retry_after) > 0


def test_login_failure_limit_counts_email_case_insensitively(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    for n in range(5):
        email = user["email"].upper() if n % 2 else user["email"]
        client.post("/auth/login", json=login_body(email, "Wr0ngPassword"))
    response = client.post("/auth/login", json=login_as(user, email=f" {user['email'].title()}"))
    assert_error(response, 429, "RATE_LIMITED")


def test_login_failure_limit_does_not_affect_other_emails(
    client: FlaskClient, make_user: Any
) -> None:
    victim, other = make_user(), make_user()
    for _ in range(5):
        client.post("/auth/login", json=login_body(victim["email"], "Wr0ngPassword"))
    response = client.post("/auth/login", json=login_as(other))
    assert response.status_code == 200


def test_login_successes_do_not_count_as_failures(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    for _ in range(6):
        response = client.post("/auth/login", json=login_as(user))
        assert response.status_code == 200


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_ENABLED": False}])
def test_login_failure_limit_is_off_when_rate_limits_are_disabled(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    for _ in range(7):
        response = client.post("/auth/login", json=login_body(user["email"], "Wr0ngPassword"))
        assert_error(response, 401, "INVALID_CREDENTIALS")


# --- refresh ----------------------------------------------------------------------------


def refresh(client: FlaskClient, token: str) -> Any:
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_refresh_returns_a_new_pair(client: FlaskClient, user: dict[str, Any]) -> None:
    response = refresh(client, user["refresh"])
    assert response.status_code == 200
    body = response.get_json()
    assert_token_shape(body, user["email"])
    assert body["access_token"] != user["access"]
    assert body["refresh_token"] != user["refresh"]


def test_refresh_new_tokens_work(client: FlaskClient, user: dict[str, Any]) -> None:
    body = refresh(client, user["refresh"]).get_json()
    assert client.get("/auth/me", headers=bearer(body["access_token"])).status_code == 200
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_refresh_keeps_earlier_access_token_working(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    refresh(client, user["refresh"])
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 200


def test_refresh_reuse_of_old_token_is_revoked(client: FlaskClient, user: dict[str, Any]) -> None:
    refresh(client, user["refresh"])
    assert_error(refresh(client, user["refresh"]), 401, "TOKEN_REVOKED")


def test_refresh_reuse_revokes_the_whole_login(client: FlaskClient, user: dict[str, Any]) -> None:
    rotated = refresh(client, user["refresh"]).get_json()
    refresh(client, user["refresh"])  # the stolen copy comes back
    for token in (rotated["access_token"], user["access"]):
        assert_error(client.get("/auth/me", headers=bearer(token)), 401, "TOKEN_REVOKED")
    assert_error(refresh(client, rotated["refresh_token"]), 401, "TOKEN_REVOKED")


def test_refresh_reuse_leaves_other_logins_alone(client: FlaskClient, user: dict[str, Any]) -> None:
    other = client.post("/auth/login", json=login_as(user)).get_json()
    refresh(client, user["refresh"])
    refresh(client, user["refresh"])
    assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200


def test_refresh_rejects_access_token(client: FlaskClient, user: dict[str, Any]) -> None:
    assert_error(refresh(client, user["access"]), 401, "INVALID_TOKEN")


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x"], ids=["word", "dots", "bad-sig"]
)
def test_refresh_rejects_garbage(client: FlaskClient, token: str) -> None:
    assert_error(refresh(client, token), 401, "INVALID_TOKEN")


def test_refresh_rejects_token_signed_with_another_key(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    claims = pyjwt.decode(user["refresh"], options={"verify_signature": False})
    forged = pyjwt.encode(claims, "another-key-" + "x" * 32, algorithm="HS256")
    assert_error(refresh(client, forged), 401, "INVALID_TOKEN")


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x", "extra": 1}],
    ids=["missing", "empty", "not-string", "unknown-field"],
)
def test_refresh_rejects_invalid_body(client: FlaskClient, body: dict[str, Any]) -> None:
    response = client.post("/auth/refresh", json=body)
    assert_error(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("config_overrides", [{"JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=-1)}])
def test_refresh_rejects_expired_token(client: FlaskClient, user: dict[str, Any]) -> None:
    assert_error(refresh(client, user["refresh"]), 401, "TOKEN_EXPIRED")


def test_refresh_after_logout_is_revoked(client: FlaskClient, user: dict[str, Any]) -> None:
    client.post("/auth/logout", headers=bearer(user["access"]))
    assert_error(refresh(client, user["refresh"]), 401, "TOKEN_REVOKED")


# --- logout -----------------------------------------------------------------------------


def test_logout_answers_no_content(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.post("/auth/logout", headers=bearer(user["access"]))
    assert response.status_code == 204
    assert response.get_data() == b""


def test_logout_revokes_access_token(client: FlaskClient, user: dict[str, Any]) -> None:
    client.post("/auth/logout", headers=bearer(user["access"]))
    assert_error(client.get("/auth/me", headers=bearer(user["access"])), 401, "TOKEN_REVOKED")


def test_logout_revokes_refresh_token(client: FlaskClient, user: dict[str, Any]) -> None:
    client.post("/auth/logout", headers=bearer(user["access"]))
    response = refresh(client, user["refresh"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_logout_twice_is_revoked(client: FlaskClient, user: dict[str, Any]) -> None:
    client.post("/auth/logout", headers=bearer(user["access"]))
    response = client.post("/auth/logout", headers=bearer(user["access"]))
    assert_error(response, 401, "TOKEN_REVOKED")


def test_logout_leaves_other_logins_of_the_user_working(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    other = client.post("/auth/login", json=login_as(user)).get_json()
    client.post("/auth/logout", headers=bearer(user["access"]))
    assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_logout_requires_a_token(client: FlaskClient) -> None:
    assert_error(client.post("/auth/logout"), 401, "INVALID_TOKEN")


# --- bearer checks on a protected route -------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    return f"{header}.{_b64(claims)}.{signature}"


def _alg_none(token: str) -> str:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _other_key(token: str) -> str:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    return pyjwt.encode(claims, "not-the-server-key-" + "x" * 32, algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token {access}",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer {access} extra",
        "Bearer {other_key}",
        "Bearer {alg_none}",
        "Bearer {tampered}",
        "Bearer {refresh}",
    ],
    ids=[
        "missing",
        "empty",
        "bearer-only",
        "bearer-space",
        "other-scheme",
        "basic",
        "not-a-jwt",
        "three-garbage-parts",
        "trailing-part",
        "wrong-signature",
        "alg-none",
        "tampered-payload",
        "refresh-token",
    ],
)
def test_protected_route_rejects_bad_bearer(
    client: FlaskClient, user: dict[str, Any], authorization: str | None
) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(
            access=user["access"],
            refresh=user["refresh"],
            other_key=_other_key(user["access"]),
            alg_none=_alg_none(user["access"]),
            tampered=_tampered(user["access"]),
        )
    assert_error(client.get("/auth/me", headers=headers), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("config_overrides", [{"JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=-1)}])
def test_protected_route_rejects_expired_token(client: FlaskClient, app: Flask) -> None:
    body = register_body()
    tokens = client.post("/auth/register", json=body).get_json()
    assert_error(
        client.get("/auth/me", headers=bearer(tokens["access_token"])), 401, "TOKEN_EXPIRED"
    )


def test_protected_route_rejects_token_without_login(client: FlaskClient, app: Flask) -> None:
    from flask_jwt_extended import create_access_token

    user_id = client.post("/auth/register", json=register_body()).get_json()["user"]["id"]
    with app.app_context():
        token = create_access_token(identity=user_id)  # well signed, but no login behind it
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] in {"INVALID_TOKEN", "TOKEN_REVOKED"}
