"""Who is calling: JWT loaders and error callbacks, rate-limit keys and limits."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from flask_jwt_extended import get_jwt, get_jwt_identity

from clarity_api.errors import InvalidToken, TokenExpired, TokenRevoked, render_clarity_error
from clarity_api.extensions import jwt, limiter
from clarity_api.models import User
from clarity_api.services import auth, tokens


def _user_limit() -> str:
    return current_app.config["RATELIMIT_PER_USER"]  # type: ignore[no-any-return]


def _ip_limit() -> str:
    return current_app.config["RATELIMIT_PER_IP"]  # type: ignore[no-any-return]


def _login_failure_limit() -> str:
    return current_app.config["LOGIN_FAILURE_LIMIT"]  # type: ignore[no-any-return]


def user_key() -> str:
    return f"user:{get_jwt_identity()}"


def _email_key(email: str) -> str:
    """A digest of the normalised email: no address sits in the limiter's storage, and any
    text (even a lone surrogate, which Redis cannot encode) makes a valid key."""
    normalised = auth.normalize_email(email).encode("utf-8", "surrogatepass")
    return "login:" + hashlib.sha256(normalised).hexdigest()[:32]


def login_email_key() -> str:
    body = request.get_json(silent=True, force=True)
    email = body.get("email") if isinstance(body, dict) else None
    return _email_key(email) if isinstance(email, str) else "login:-"


def account_email_key() -> str:
    return _email_key(signed_in_user().email)


def _failed(response: Response) -> bool:
    return response.status_code == 401


# One budget per user across every authenticated endpoint; put it under @jwt_required().
per_user = limiter.shared_limit(_user_limit, scope="user", key_func=user_key)
# Unauthenticated endpoints (register, login, refresh): one budget per client address.
per_ip = limiter.shared_limit(_ip_limit, scope="auth-ip")
# Wrong passwords for one account: only 401s count, and once over, every attempt waits. Login
# and DELETE /auth/me share the budget, so a stolen access token buys no extra guesses.
login_failures = limiter.shared_limit(
    _login_failure_limit, scope="password", key_func=login_email_key, deduct_when=_failed
)
account_password_failures = limiter.shared_limit(
    _login_failure_limit, scope="password", key_func=account_email_key, deduct_when=_failed
)


def register_jwt_callbacks() -> None:
    @jwt.token_in_blocklist_loader
    def _revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
        if payload.get("type") != "access":
            return False  # refresh tokens never reach a bearer-protected route
        return not tokens.login_is_live(payload)

    @jwt.expired_token_loader
    def _expired(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return render_clarity_error(TokenExpired())

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Response:
        return render_clarity_error(InvalidToken())

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Response:
        return render_clarity_error(InvalidToken("A bearer access token is required."))

    @jwt.revoked_token_loader
    def _revoked_answer(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return render_clarity_error(TokenRevoked())

    @jwt.needs_fresh_token_loader
    def _fresh(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return render_clarity_error(InvalidToken())


def signed_in_user_id() -> uuid.UUID:
    """The id of the person behind this request's (already verified) access token."""
    return uuid.UUID(get_jwt_identity())


def signed_in_user() -> User:
    """The signed-in person's row, loaded on first use in a request (most routes need only
    the id). Gone since the token check (account deleted meanwhile): TOKEN_REVOKED."""
    user = g.get("clarity_user")
    if user is None:
        user = tokens.load_user(get_jwt())
        if user is None:
            raise TokenRevoked()
        g.clarity_user = user
    return user  # type: ignore[no-any-return]


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "application/json":
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def init_app(app: Flask) -> None:
    register_jwt_callbacks()
    app.after_request(add_security_headers)
    origins = app.config["CORS_ORIGINS"]
    if origins:  # no origin configured: no CORS headers, so browsers keep other sites out
        CORS(
            app,
            origins=origins,
            allow_headers=["Authorization", "Content-Type", "X-Device-Fingerprint", "X-Request-ID"],
            expose_headers=[
                "Location",
                "Retry-After",
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
            methods=["GET", "POST", "PATCH", "DELETE"],
            max_age=600,
        )
