"""Budgets (rate limits): their keys and their sizes, read from config per request."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt_identity

from clarity_api.extensions import limiter
from clarity_api.services import auth
from clarity_api.web.auth import signed_in_user


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
