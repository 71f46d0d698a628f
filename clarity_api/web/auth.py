"""Who is calling: the JWT callbacks, the `signed_in` guard, and the signed-in person."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g
from flask_jwt_extended import get_jwt, get_jwt_identity, jwt_required

from clarity_api.errors import InvalidToken, TokenExpired, TokenRevoked
from clarity_api.extensions import jwt
from clarity_api.models import User
from clarity_api.services import tokens
from clarity_api.web import openapi
from clarity_api.web.errors import render_clarity_error

View = TypeVar("View", bound=Callable[..., Any])


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


def signed_in(view: View) -> View:
    """For views of a signed-in person: a live access token (else 401), then the per-user
    budget (else 429), both documented in OpenAPI with the bearer scheme.

    Put it above the view's other decorators; a view's own 401 or 429 note wins.
    """
    # Imported here: limits reads the signed-in person through this module.
    from clarity_api.web.limits import per_user

    guarded = jwt_required()(per_user(view))
    return openapi.bearer(openapi.document_errors(guarded, (401, 429), {}))  # type: ignore[no-any-return]


def signed_in_without_budget(view: View) -> View:
    """`signed_in` without the shared per-user budget, for signing out, ending a login or
    device and deleting the account: API.md says they never fail because the person's other
    requests spent a budget. They carry their own instead: REVOCATION_LIMIT per login
    (web/limits.py), which a thief holding another login of the person cannot spend."""
    from clarity_api.web.limits import revocations

    notes = {"e429": "RATE_LIMITED: this operation's own budget, which no other request spends"}
    guarded = jwt_required()(revocations(view))
    return openapi.bearer(openapi.document_errors(guarded, (401, 429), notes))  # type: ignore[no-any-return]


def signed_in_user_id() -> uuid.UUID:
    """The id of the person behind this request's (already verified) access token."""
    return uuid.UUID(get_jwt_identity())


def signed_in_login_id() -> uuid.UUID | None:
    """The login (sign-in) behind this request's access token, watched while its reply runs."""
    try:
        return uuid.UUID(str(get_jwt()["lid"]))
    except (KeyError, ValueError):
        return None


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


def init_app(app: Flask) -> None:
    register_jwt_callbacks()
