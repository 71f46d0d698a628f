"""/auth: register, login, refresh, logout."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_jwt_extended import get_jwt

from clarity_api.errors import RefreshTokenReused
from clarity_api.extensions import db
from clarity_api.models import User
from clarity_api.schemas.auth import LoginSchema, RefreshSchema, RegisterSchema, TokenSchema
from clarity_api.services import auth, tokens
from clarity_api.web.auth import signed_in_without_budget
from clarity_api.web.limits import login_failures, per_ip, signups_per_ip
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint
from clarity_api.web.transactions import commit_even_if

blp = ClarityBlueprint("auth", __name__, url_prefix="/auth", description="Accounts and tokens")


def _signed_in_body(user: User, access: str, refresh: str) -> dict[str, Any]:
    """What TokenSchema dumps for register, login and refresh."""
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": int(expires.total_seconds()),
        "user_id": user.id,
        "user": user,
    }


@blp.route("/register", methods=["POST"])
@per_ip
@signups_per_ip
@blp.arguments(RegisterSchema)
@blp.response(201, TokenSchema)
@errors(
    400,
    409,
    413,
    422,
    429,
    e400="WEAK_PASSWORD, or INVALID_JSON",
    e409="EMAIL_ALREADY_EXISTS",
)
def register(body: dict[str, Any]) -> Any:
    """Create an account (free tier) with its first device, and sign in."""
    user, access, refresh = auth.register(
        body["email"],
        body["password"],
        body["device_fingerprint"],
        body["device_name"],
        body["platform"],
    )
    db.session.commit()
    return _signed_in_body(user, access, refresh)


@blp.route("/login", methods=["POST"])
@per_ip
@login_failures
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@errors(
    400,
    401,
    403,
    413,
    422,
    429,
    e401="INVALID_CREDENTIALS: wrong email or password (the same answer for both)",
    e403="DEVICE_LIMIT_REACHED: details.devices_used and details.devices_limit",
    e429="RATE_LIMITED: too many requests, or five failed attempts for this email in a "
    "minute; Retry-After says how many seconds to wait",
)
def login(body: dict[str, Any]) -> Any:
    """Sign in on a device.

    A new device beyond the tier's limit is 403 DEVICE_LIMIT_REACHED. Five failed attempts
    for one email within a minute: further attempts get 429 until the minute has passed.
    """
    user, access, refresh = auth.login(
        body["email"],
        body["password"],
        body["device_fingerprint"],
        body["device_name"],
        body["platform"],
    )
    db.session.commit()
    return _signed_in_body(user, access, refresh)


@blp.route("/refresh", methods=["POST"])
@per_ip
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@errors(
    400,
    401,
    413,
    422,
    429,
    e401="INVALID_TOKEN (not a refresh token of ours), TOKEN_EXPIRED, or TOKEN_REVOKED "
    "(logged out, or a used refresh token: every token of that login is then revoked)",
)
def refresh(body: dict[str, Any]) -> Any:
    """Swap a refresh token for a new pair (rotation).

    A refresh token works once; presenting a used one revokes every token of that login.
    """
    with commit_even_if(RefreshTokenReused):  # the 401 leaves the login revoked
        user, access, new_refresh = tokens.rotate(body["refresh_token"])
    db.session.commit()
    return _signed_in_body(user, access, new_refresh)


@blp.route("/logout", methods=["POST"])
@signed_in_without_budget
@blp.response(204)
def logout() -> Any:
    """End this login: its access and refresh tokens stop working."""
    tokens.revoke(get_jwt()["lid"])
    db.session.commit()
    return None
